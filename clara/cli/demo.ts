import { join } from 'node:path';
import { demoTable } from '../demo/demoReport.ts';
import { demoSettingsProblem, FULL_DEMO, LONG_DEMO, QUICK_DEMO, varyDemo } from '../demo/demoSettings.ts';
import { runDemo } from '../demo/runDemo.ts';
import { TOPK_ESTIMATORS } from '../differentiableTopK.ts';
import { Options, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';

const DEMO_HELP = `Usage: clara demo [--quick | --long] [--json] [--out DIR] [--seed S] [options] [--backend auto|webgpu|cpu]

CLaRa end to end on a generated corpus: stage 1 (compressor pretraining), with --long stage 2
(instruction tuning), stage 3 (query reasoner and generator trained through the answer loss, no
relevance labels), then retrieval recall@1/3/5
among N candidates on held-out questions (before and after stage 3, against chance and BM25) and
EM/F1 of answers from retrieved compressed documents against no documents, the relevant one, and
the relevant one with the asked value changed (the new value is read, the old one recalled).
Writes a run folder (metrics.json with every setting and the seed, curves.svg, per-stage
metrics.jsonl and checkpoint, bank.safetensors: the corpus compressed) and prints the \`clara ask\`
command that questions the trained model about it.

Time: ${FULL_DEMO.stage1.steps} + ${FULL_DEMO.stage3.steps} steps, about 15 minutes on 2 CPU cores (WebGPU on llvmpipe;
measured 519 s to 881 s); the time grows with the steps and the batch, and roughly with the
people. Its generator looks answers up: it answers trained questions, and a changed document with
the old value. --quick runs every step of the pipeline on a small corpus in about a minute: a smoke
test that says so, whose numbers claim nothing. --long adds stage 2 (instruction tuning, the
question in the prompt) on ${LONG_DEMO.corpus.pretrainPeople} further invented people seen a few times each, one-fact
documents first: ${LONG_DEMO.stage1.steps} + ${LONG_DEMO.stage2.oneFactSteps} + ${LONG_DEMO.stage2.steps} + ${LONG_DEMO.stage3.steps} steps, 45 to 50 minutes with two runs sharing 2 CPU cores (measured 2695 s and 2999 s). Its
generator reads the memory: held-out facts EM 0.72 and 0.78 with their own document, 0.46 and
0.58 with the retrieved one, a changed document's new value 0.78 and its old one never (seeds 0
and 1); but recall@1 ends at 0.62 and 0.74, as stage 2 wears away the names stage 1 put in the
compressor (README, Status; docs/reading.md).

  --json                 the last line of output is one JSON object with recall, answers, seed,
                         compressionRate, backend, seconds, ask
  --seed S               the corpus, the initialisation and the data order (default 0)
Pipeline (default: the full demo's, or --quick's or --long's):
  --people N             people in the corpus, one document each (default ${FULL_DEMO.entities})
  --candidates N         N, candidates per question (default ${FULL_DEMO.candidates})
  --compression-rate R   document tokens per memory token (default ${FULL_DEMO.compressionRate})
  --mse-weight W         λ of stage 1's L = CE + λ·MSE (default ${FULL_DEMO.stage1.mseWeight})
  --stage1-steps N       stage-1 steps (default ${FULL_DEMO.stage1.steps}; the compressor is held still for the first third;
                         0: no stage 1, the compressor starts from the backbone)
  --stage2-steps N       stage 2's steps on the corpus (default ${FULL_DEMO.stage2.steps}: no stage 2; --long ${LONG_DEMO.stage2.steps})
  --one-fact-steps N     stage 2's first phase, on other people with one fact each (--long ${LONG_DEMO.stage2.oneFactSteps};
                         the compressor is held still for its first three quarters)
  --pretrain-people N    invented people whom only stage 1 (the default) or stage 2 (--long) trains on,
                         seen a few times each, so that their values cannot be memorised (--long ${LONG_DEMO.corpus.pretrainPeople})
  --stage3-steps N       stage-3 steps (default ${FULL_DEMO.stage3.steps}; the query reasoner is held still for the first 15%)
  --estimator NAME       stage 3's top-k estimator: ${Object.keys(TOPK_ESTIMATORS).join(', ')} (default ${FULL_DEMO.stage3.estimator},
                         measured best here; straight-through is the official one)
  --temperature T        τ of the top-k (default ${FULL_DEMO.stage3.temperature})
  --k K                  documents the generator reads (default ${FULL_DEMO.stage3.k})
  --counterfactuals C    stage 1 also trains on C copies of every person with each value drawn
                         anew, so a name does not tell its values (default ${FULL_DEMO.corpus.counterfactuals})`;

export async function runDemoCommand(argv: string[]): Promise<number> {
  const options = Options.parse('demo', argv, {
    quick: { type: 'boolean' },
    long: { type: 'boolean' },
    json: { type: 'boolean' },
    out: { type: 'string' },
    seed: { type: 'string' },
    people: { type: 'string' },
    candidates: { type: 'string' },
    'compression-rate': { type: 'string' },
    'mse-weight': { type: 'string' },
    'stage1-steps': { type: 'string' },
    'stage2-steps': { type: 'string' },
    'one-fact-steps': { type: 'string' },
    'stage3-steps': { type: 'string' },
    estimator: { type: 'string' },
    temperature: { type: 'string' },
    k: { type: 'string' },
    counterfactuals: { type: 'string' },
    'pretrain-people': { type: 'string' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(DEMO_HELP);
    return 0;
  }
  const seed = options.number('seed', Number.isInteger, 'an integer') ?? 0;
  if (options.flag('quick') && options.flag('long')) throw new UsageError('clara demo: --quick and --long exclude each other');
  const settings = varyDemo(options.flag('quick') ? QUICK_DEMO : options.flag('long') ? LONG_DEMO : FULL_DEMO, {
    people: options.int('people', 2),
    candidates: options.int('candidates', 2),
    compressionRate: options.int('compression-rate', 1),
    mseWeight: options.number('mse-weight', (x) => x >= 0, 'a non-negative number'),
    stage1Steps: options.int('stage1-steps', 0),
    stage2Steps: options.int('stage2-steps', 0),
    oneFactSteps: options.int('one-fact-steps', 0),
    stage3Steps: options.int('stage3-steps', 1),
    estimator: options.choice('estimator', Object.keys(TOPK_ESTIMATORS)),
    temperature: options.number('temperature', (x) => x > 0, 'a positive number'),
    k: options.int('k', 1),
    counterfactuals: options.int('counterfactuals', 0),
    pretrainPeople: options.int('pretrain-people', 0),
  });
  const problem = demoSettingsProblem(settings);
  if (problem !== null) throw new UsageError(`clara demo: ${problem}`);
  const backend = await useBackend('demo', options.string('backend'));
  const out = options.string('out') ?? join('runs', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const result = await runDemo({ settings, out, seed, backend, progress: true });
  console.log(demoTable(result));
  if (options.flag('json')) console.log(JSON.stringify(result));
  return 0;
}
