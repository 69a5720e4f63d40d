/**
 * Does stage 1 (or 2) teach the generator to read its memory tokens? Trains the demo's stage 1 (any
 * of its settings changed by a flag) and, every --every steps, scores the stage's answers teacher-forced
 * (clara/eval/readingProbe.ts) on trained and on held-out facts, three ways: with the fact's own
 * document, with the next person's, and with a counterfactual copy of its own document whose value
 * was replaced (clara/eval/counterfactualFacts.ts), asking for the new value and for the old.
 * Reading shows as the new value; looking up a memorised answer for the person the memory names
 * shows as the old one (and as right with the own document, wrong with another's, which reading
 * also gives).
 *
 *   npx tsx examples/readingProbe.ts [--steps 900] [--every 300] [--people 100] [--pretrain-people 0]
 *        [--counterfactuals 0] [--compression-rate 16] [--whole] [--qa-rows per-question|per-document]
 *        [--qa-only] [--facts-per-doc MIN-MAX] [--stage 1|2] [--one-fact-steps 0] [--frozen 300]
 *        [--mse 0.1] [--lr 3e-3] [--seed 0] [--facts 150]
 *
 * `--stage 2` trains stage 2 instead (docs/clara.md §5: the question in the answer prompt, the
 * answer the whole target) on the stage-1 `qa` rows, from a fresh compressor, and asks in that
 * prompt. `--facts-per-doc 1` gives every person one fact (so nobody has a held-out one);
 * `1-4` mixes one-fact documents into the corpus's 2-4. `--one-fact-steps N` (stage 2) is a
 * curriculum: N steps on as many new one-fact people as --pretrain-people, then --steps on the
 * corpus's rows with the same generator (`keepGenerator`); the probe runs in the second phase.
 *
 * (CLARA_BACKEND=cpu for the CPU backend.) What it measured on the full demo's settings is in
 * clara/demo/demoSettings.ts (`corpus.pretrainPeople`) and the README's status.
 */
import { parseArgs } from 'node:util';
import {
  answerRowsFromQa,
  compressCorpus,
  counterfactualFacts,
  demoCorpusOptions,
  demoModel,
  demoOneFactCorpusOptions,
  demoStage1Options,
  FULL_DEMO,
  generateSyntheticCorpus,
  prepareCompressionStage,
  readingProbe,
  selectBackend,
  trainCompressionStage,
  type BackendChoice,
  type DemoSettings,
  type ProbeFact,
  varyDemo,
} from 'clara-ts/clara';
import { Generator } from 'clara-ts/engine';

const { values } = parseArgs({
  options: {
    steps: { type: 'string', default: '900' },
    every: { type: 'string', default: '300' },
    people: { type: 'string', default: String(FULL_DEMO.entities) },
    'pretrain-people': { type: 'string', default: '0' },
    counterfactuals: { type: 'string', default: '0' },
    'compression-rate': { type: 'string', default: String(FULL_DEMO.compressionRate) },
    whole: { type: 'boolean', default: false },
    'qa-only': { type: 'boolean', default: false },
    'facts-per-doc': { type: 'string', default: '' },
    stage: { type: 'string', default: '1' },
    'one-fact-steps': { type: 'string', default: '0' },
    'qa-rows': { type: 'string', default: FULL_DEMO.corpus.qaRows },
    frozen: { type: 'string', default: String(FULL_DEMO.stage1.compressorFrozenSteps) },
    mse: { type: 'string', default: String(FULL_DEMO.stage1.mseWeight) },
    lr: { type: 'string', default: String(FULL_DEMO.stage1.lr) },
    seed: { type: 'string', default: '0' },
    facts: { type: 'string', default: '150' },
    tiny: { type: 'boolean', default: false },
  },
});
const int = (name: keyof typeof values) => {
  const n = Number(values[name]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name} must be a non-negative integer, got '${String(values[name])}'`);
  return n;
};
const real = (name: 'mse' | 'lr') => {
  const x = Number(values[name]);
  if (!Number.isFinite(x) || x < 0) throw new Error(`--${name} must be a non-negative number, got '${values[name]}'`);
  return x;
};
const qaRows = values['qa-rows'];
if (qaRows !== 'per-question' && qaRows !== 'per-document') throw new Error(`--qa-rows must be per-question or per-document, got '${qaRows}'`);
const people = values.tiny ? 12 : int('people');
const pretrainPeople = values.tiny ? 6 : int('pretrain-people');
const counterfactuals = values.tiny ? 1 : int('counterfactuals');
const steps = values.tiny ? 4 : int('steps');
// varyDemo widens the name pools for the corpus and the pretraining people together.
const varied = varyDemo(
  {
    ...FULL_DEMO,
    corpus: { ...FULL_DEMO.corpus, reconstructWhole: values.whole, paraphraseRows: !values['qa-only'], qaRows, pretrainPeople, counterfactuals },
  },
  { people, candidates: Math.min(FULL_DEMO.candidates, people), compressionRate: int('compression-rate'), stage1Steps: steps, mseWeight: real('mse') },
);
const settings: DemoSettings = { ...varied, stage1: { ...varied.stage1, lr: real('lr'), compressorFrozenSteps: values.tiny ? 1 : int('frozen') } };
const seed = int('seed');
const stage = values.stage === '1' ? 1 : values.stage === '2' ? 2 : null;
if (stage === null) throw new Error(`--stage must be 1 or 2, got '${values.stage}'`);
const factsPerDoc = /^(\d+)(?:-(\d+))?$/.exec(values['facts-per-doc']);
if (values['facts-per-doc'] !== '' && factsPerDoc === null) throw new Error(`--facts-per-doc must be N or MIN-MAX, got '${values['facts-per-doc']}'`);
const factRange = factsPerDoc ? { minFacts: Number(factsPerDoc[1]), maxFacts: Number(factsPerDoc[2] ?? factsPerDoc[1]) } : {};
const every = values.tiny ? 2 : int('every');
const { backend, warning } = await selectBackend((process.env.CLARA_BACKEND as BackendChoice | undefined) || 'auto');
if (warning) console.error(`warning: ${warning}`);

// One-fact people cannot have a fact held out: with none of two or more, nobody has.
const corpus = generateSyntheticCorpus({ ...demoCorpusOptions(settings, seed), ...factRange, ...(factRange.maxFacts === 1 ? { heldOutShare: 0 } : {}) });
const oneFactSteps = values.tiny && stage === 2 ? 2 : int('one-fact-steps');
if (oneFactSteps > 0 && stage !== 2) throw new Error('--one-fact-steps is a stage-2 curriculum: give --stage 2');
// The curriculum's first phase: other people, one fact each (none held out), drawn from another seed.
const oneFact = oneFactSteps > 0 ? generateSyntheticCorpus(demoOneFactCorpusOptions(settings, seed)) : null;
// The vocabulary covers both phases' texts.
const clara = demoModel(
  settings,
  oneFact ? { ...corpus, stage1: [...corpus.stage1, ...oneFact.stage1], questions: [...corpus.questions, ...oneFact.questions] } : corpus,
  seed,
  backend,
);
const questionsOf = (heldOut: boolean) => corpus.questions.filter((q) => q.heldOut === heldOut).slice(0, int('facts'));
const sets = { trained: questionsOf(false), heldOut: questionsOf(true) };
// The changed documents are text, the same at every probe; only their compression changes.
const changedDocuments = { trained: counterfactualFacts(corpus, sets.trained, seed), heldOut: counterfactualFacts(corpus, sets.heldOut, seed) };
const asked = (questions: typeof sets.trained, other = 0) =>
  questions.map((q) => ({ question: q.question, answer: q.answer, document: (q.entityId + other) % corpus.documents.length }));

console.log(
  `${corpus.documents.length} documents, ${pretrainPeople} pretraining people, ${counterfactuals} counterfactual ${counterfactuals === 1 ? 'copy' : 'copies'}, ${corpus.stage1.length} stage-1 rows, ${steps} steps of stage ${stage}`,
);
console.log('step      own doc / other doc / counterfactual doc: new value / old value');
const format = stage === 1 ? 'stage1' : 'answer';
const probe = async (step: number) => {
  const bank = compressCorpus(clara, corpus.documents);
  const score = async (facts: ProbeFact[], memory = bank) => (await readingProbe(clara, memory, facts, { format })).accuracy.toFixed(2);
  for (const [name, questions] of Object.entries(sets)) {
    if (questions.length === 0) continue;
    const counterfactual = changedDocuments[name as keyof typeof sets];
    const changed = compressCorpus(clara, counterfactual.documents);
    const cells = [
      await score(asked(questions)),
      await score(asked(questions, 1)),
      await score(counterfactual.swapped, changed),
      await score(counterfactual.original, changed),
    ];
    console.log(`${String(step).padStart(4)}  ${name.padEnd(9)}  ${cells[0]} / ${cells[1]} / ${cells[2]} / ${cells[3]}`);
    changed.dispose();
  }
  bank.dispose();
};
const onStep = async (m: { step: number }) => {
  if (m.step % every === 0 || m.step === steps) await probe(m.step);
};
const stage1 = demoStage1Options(settings, clara, corpus, seed);
if (stage === 1) {
  await trainCompressionStage({ ...stage1, progress: !values.tiny, onStep });
} else {
  // Stage 2 continues a compressor: here a fresh one (stage 1's adapters, untrained).
  prepareCompressionStage(clara, 1, new Generator(seed));
  if (oneFact) {
    await trainCompressionStage({ ...stage1, stage: 2, rows: answerRowsFromQa(oneFact.stage1), steps: oneFactSteps, progress: !values.tiny });
    console.log(`(${oneFactSteps} steps on ${oneFact.documents.length + pretrainPeople} one-fact people first)`);
  }
  await trainCompressionStage({
    ...stage1,
    stage: 2,
    rows: answerRowsFromQa(corpus.stage1),
    // After a first phase the compressor has been held once already.
    ...(oneFact ? { keepGenerator: true, compressorFrozenSteps: 0 } : {}),
    progress: !values.tiny,
    onStep,
  });
}
