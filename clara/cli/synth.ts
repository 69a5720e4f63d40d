import { writeSyntheticCorpus } from '../data/writeSynthCorpus.ts';
import { Options, UsageError, type OptionSpec } from './args.ts';
import { backendOption } from './backendOption.ts';

/** `clara synth`: writes the seeded synthetic corpus (clara/data/writeSynthCorpus.ts). */
const SYNTH_HELP = `Usage: clara synth --out DIR [options]

Writes a seeded synthetic corpus of invented people and their facts, in the formats of docs/clara.md §7:
  DIR/stage1.jsonl          qa and paraphrase rows (held-out facts excluded)
  DIR/stage2.jsonl          trained questions with k documents each
  DIR/stage3-train.jsonl    trained questions with N candidates and pos_index
  DIR/stage3-heldout.jsonl  held-out questions (evaluation only)
  DIR/documents.jsonl       the documents
  DIR/split.json            options, counts and every question's split
The same options give the same files, byte for byte.

  --out DIR               output directory (required)
  --seed S                (default 0)
  --entities N            people, one document each (default 300)
  --candidates N          stage-3 candidates per question (default 20)
  --top-k K               stage-2 documents per question (default 5)
  --held-out-share X      share of people with one fact held out (default 0.5)
  --min-facts N           facts per person, at least (default 2)
  --max-facts N           facts per person, at most, ≤ 5 (default 4)
  --qa-rows per-question|per-document
                          stage-1 qa rows: one per question (default) or one per document
  --no-paraphrase         write no stage-1 paraphrase rows
  --paraphrase-target reworded|reconstruction
                          paraphrase rows target the trained facts reworded (default) or the
                          document's own sentences for them (reconstruction)
  --name-pool P           first names and surnames from two pools of P words, only the full
                          name unique (P² ≥ entities); default 0: a new surname per person
  --pretrain-people N     N further people for stage 1 only: their qa and paraphrase rows are
                          appended to stage1.jsonl; they are in no other file (default 0)
  --counterfactuals C     C copies of every person with each value drawn anew, for stage 1
                          only: their qa and paraphrase rows are appended to stage1.jsonl, so a
                          name no longer tells its values and the generator has to read them
                          (default 0)
  --stage3-wordings one|both
                          stage-3 training rows ask each trained fact in its drawn wording
                          (default) or in both question wordings
  --backend B             accepted for uniformity; synth runs no model
  -h, --help              this help`;

const OPTIONS: OptionSpec = {
  out: { type: 'string' },
  seed: { type: 'string' },
  entities: { type: 'string' },
  candidates: { type: 'string' },
  'top-k': { type: 'string' },
  'held-out-share': { type: 'string' },
  'min-facts': { type: 'string' },
  'max-facts': { type: 'string' },
  'qa-rows': { type: 'string' },
  'no-paraphrase': { type: 'boolean' },
  'paraphrase-target': { type: 'string' },
  'name-pool': { type: 'string' },
  'stage3-wordings': { type: 'string' },
  'pretrain-people': { type: 'string' },
  counterfactuals: { type: 'string' },
  backend: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
};

export async function runSynth(argv: string[]): Promise<number> {
  const options = Options.parse('synth', argv, OPTIONS);
  if (options.flag('help')) {
    console.log(SYNTH_HELP);
    return 0;
  }
  if (options.positionals.length > 0) throw new UsageError(`clara synth: unexpected argument '${options.positionals[0]}' (see \`clara synth --help\`)`);
  backendOption('synth', options.string('backend')); // accepted like every command's, checked, but synth computes nothing
  const synthOptions = {
    seed: options.int('seed', 0),
    entities: options.int('entities', 1),
    candidates: options.int('candidates', 1),
    generationTopK: options.int('top-k', 1),
    heldOutShare: options.number('held-out-share', (x) => x >= 0 && x <= 1, 'a number in [0, 1]'),
    minFacts: options.int('min-facts', 1),
    maxFacts: options.int('max-facts', 1),
    qaRows: options.choice('qa-rows', ['per-question', 'per-document'] as const),
    paraphraseRows: options.flag('no-paraphrase') ? false : undefined,
    paraphraseTarget: options.choice('paraphrase-target', ['reworded', 'reconstruction'] as const),
    namePool: options.int('name-pool', 0),
    stage3Wordings: options.choice('stage3-wordings', ['one', 'both'] as const),
    pretrainEntities: options.int('pretrain-people', 0),
    counterfactuals: options.int('counterfactuals', 0),
  };
  const out = options.required('out');
  let written: ReturnType<typeof writeSyntheticCorpus>;
  try {
    written = writeSyntheticCorpus(out, Object.fromEntries(Object.entries(synthOptions).filter(([, v]) => v !== undefined)));
  } catch (error) {
    // The generator's option checks ("synth: candidates … cannot exceed entities") are usage errors.
    if ((error as Error).message.startsWith('synth: ')) throw new UsageError(`clara ${(error as Error).message}`);
    throw error;
  }
  const { corpus, files } = written;
  const heldOut = corpus.questions.filter((q) => q.heldOut).length;
  console.log(`wrote ${out}: ${corpus.entities.length} documents, ${corpus.questions.length} questions (${heldOut} held out)`);
  console.log(`  ${files.stage1}  ${corpus.stage1.length} rows`);
  console.log(`  ${files.stage2}  ${corpus.stage2.length} rows`);
  console.log(`  ${files.stage3Train}  ${corpus.stage3Train.length} rows`);
  console.log(`  ${files.stage3HeldOut}  ${corpus.stage3HeldOut.length} rows`);
  console.log(`  ${files.documents}, ${files.split}`);
  return 0;
}
