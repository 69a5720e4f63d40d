import type { ScratchTokenizerKind } from '../claraModel.ts';
import type { TopKEstimator } from '../differentiableTopK.ts';
import type { MistralConfig } from '../model/config.ts';
import { PRESETS } from '../model/config.ts';

/**
 * The demo's two sizes. The full run is tuned to finish in about ten minutes on 2 CPU cores with
 * WebGPU on llvmpipe; `quick` runs every step of the pipeline on a small corpus in under two minutes
 * and makes no quality claim. Everything a researcher would vary is here, in one place.
 */
export interface DemoSettings {
  /** A smoke test (`--quick`): it checks that the pipeline runs and says so; its numbers claim nothing. */
  smokeTest: boolean;
  /** People in the corpus, one document each. */
  entities: number;
  /** N, candidates per question. */
  candidates: number;
  heldOutShare: number;
  /**
   * Stage-1 rows of the corpus: one `qa` row per question or per document, and paraphrase rows or
   * not; `reconstruct` makes each paraphrase row's target the document's own sentences for its
   * trained facts (document reconstruction, as the toy-scale trial did, without the held-out
   * fact's sentence), so every token of them has to pass through the memory vectors. `namePool`:
   * first names and surnames from pools of that many words (synth's `namePool`), so no single
   * token names a person and reading is easier than memorising. Measured on the full demo (then
   * 700 stage-1 steps, no stage-3 hold), a new surname per person (0) against pools of 12: EM with
   * the gold document 0.62 against 0.89, recall@1 after stage 3 0.46 against 0.56.
   * `stage3Wordings`: stage 3 trains on each trained fact asked in one wording or in both (synth's
   * `stage3Wordings`); measured below, with `stage3.estimator`. `reconstructWhole`: the
   * reconstruction target is the whole document, the held-out fact's sentence included (synth's
   * `reconstructWhole`; its question stays out of every training target), as the paper's stage 1
   * reconstructs whole documents: without it the held-out value never has to pass through the
   * memory vectors, and the generator learns to look up the values it is trained to answer.
   * Measured on the full demo (seed 0, 2026-12-07, 1959 s with five jobs on the 2 cores), with
   * whole documents against without (the runs in the README): EM on held-out facts 0.16 / 0.14 /
   * 0.14 with the gold, the retrieved and no document (0.06 / 0.06 / 0.02), on trained questions
   * 0.99 / 1.00 / 0.15 (1.00 / 1.00 / 0.07), recall@1 after stage 3 0.94 (0.96). The held-out gain
   * is not reading (with no document it answers as well), so the full demo keeps it off.
   * `pretrainPeople`: further invented people whose rows only stage 1 sees (synth's
   * `pretrainEntities`), the paper's setting of a pretraining corpus nobody is asked about: seen
   * once or twice each, they cannot be memorised, so a generator that answers them reads. Measured
   * (stage 1 alone, 900 steps, seed 0, 2026-12-07; answers scored teacher-forced in the stage-1 QA
   * format, with the gold document and with another person's): with 3000 such people, with or
   * without the corpus's own rows, held-out facts 0.02–0.06 with the gold document and the same with
   * the wrong one, trained questions 0.05 (without them: 0.99 with the gold document, 0.07 with the
   * wrong one, held-out 0.06). At this size and step count the generator learns to look people up,
   * not to read; the full demo keeps it at 0. They are read in stage 2 at lr 1e-3 with one-fact
   * documents first (examples/readingProbe.ts --stage 2 --one-fact-steps 400, 2026-12-08: held-out
   * facts 0.26 to 0.42 with their own document after 1500 steps and 0.50 after 2800, a changed
   * document's new value 0.30 to 0.50 and its old one 0.02 to 0.06); the demo does not run that
   * recipe yet (README, *Reading, or looking up?*).
   * `counterfactuals`: copies of every person with new values, for stage 1 only (synth's
   * `counterfactuals`), so a name tells nothing about its values. Measured with the reading probe
   * (--long's stage 1, 2400 steps, seed 0, 2026-12-07; answers to a changed document scored on the
   * new value / the old): none, trained 0.01 / 0.98, held-out 0.14 / 0.28; one copy, 0.09 / 0.77
   * and 0.22 / 0.12; three copies, nothing learned (trained answers 0.17 with their own document);
   * three copies with 16 memory tokens, learned by step 1600 and recalled (0.12 / 0.52): the
   * person's other values tell the generator which copy it reads, so a finite set of copies is
   * memorised too. Twenty copies (each set of values seen about five times: close to values drawn
   * anew for every example) learned nothing, with 16 memory tokens by step 1600 as with 8 by step
   * 800 (every column 0.02–0.08): with nothing to recall, reading is not learned in this budget.
   * Run to the end with one copy (`clara demo --long --counterfactuals 1`), held-out EM with the
   * gold document was 0.42 on seed 0 and 0.18 on seed 1 (README); every setting keeps 0.
   */
  corpus: {
    qaRows: 'per-question' | 'per-document';
    paraphraseRows: boolean;
    reconstruct: boolean;
    reconstructWhole: boolean;
    namePool: number;
    stage3Wordings: 'one' | 'both';
    pretrainPeople: number;
    counterfactuals: number;
  };
  /** The vocabulary: `'word'` (one token per word, as the toy-scale trial had) or `'compact'` (Mistral's pieces). */
  tokenizer: ScratchTokenizerKind;
  backbone: MistralConfig;
  docMaxLength: number;
  compressionRate: number;
  lora: { r: number; alpha: number; dropout: number };
  /**
   * `compressorFrozenSteps`: the compressor is held still that long while the generator learns to
   * read it. `mseWeight`: λ of L = CE + λ·MSE (the paper's 0.1).
   */
  stage1: { steps: number; batchSize: number; lr: number; compressorFrozenSteps: number; mseWeight: number };
  /**
   * `generatorLrScale`: the generator's lr as a multiple of `lr` (the query reasoner's);
   * `queryReasonerFrozenSteps`: the query reasoner is held still that long while the generator
   * learns the answer prompt.
   *
   * `estimator`: the demo uses the soft top-k (the generator reads the softmax mixture, so every
   * candidate's score gets the exact gradient) rather than the official straight-through one,
   * whose gradient fades once the generator answers from the selected document. `clara demo
   * --estimator straight-through` runs the official one. Recall@1 on the 50 held-out questions,
   * one 900-step stage-1 model (2026-11-24), stage-3 seeds 0 / 1 / 2:
   *
   *     straight-through, one wording,   250 steps   0.88 / 0.90 / 0.80
   *     soft,             one wording,   250 steps   0.90 / 0.94 /  –
   *     soft,             both wordings, 250 steps   0.98 / 0.90 / 0.90
   *     soft,             both wordings, 400 steps   0.98 / 0.96 / 0.94   (500 steps: seed 2, 0.94)
   *
   * Trained with labels instead (a contrastive loss on the same frozen bank, a diagnostic only),
   * the query reasoner reaches 1.00 in 150 steps: the document vectors allow it; the label-free
   * signal is the limit.
   */
  stage3: {
    steps: number;
    batchSize: number;
    lr: number;
    generatorLrScale: number;
    queryReasonerFrozenSteps: number;
    k: number;
    temperature: number;
    /** A name from TOPK_ESTIMATORS, or an estimator of your own (examples/annealedTopK.ts). */
    estimator: string | TopKEstimator;
  };
  /** Held-out questions scored for the recall curve during stage 3, and every how many steps. */
  curve: { questions: number; every: number };
  /** Questions whose answers are generated and scored, per split. */
  answerQuestions: number;
}

/** The `small` preset: hidden 128, 2 layers, 4 heads over 2 key/value heads, SwiGLU 256. */
const backbone: MistralConfig = { ...PRESETS.small! };

export const FULL_DEMO: DemoSettings = {
  smokeTest: false,
  entities: 100,
  candidates: 20,
  heldOutShare: 0.5,
  corpus: {
    qaRows: 'per-question',
    paraphraseRows: true,
    reconstruct: true,
    reconstructWhole: false,
    namePool: 12,
    stage3Wordings: 'both',
    pretrainPeople: 0,
    counterfactuals: 0,
  },
  tokenizer: 'word',
  backbone,
  docMaxLength: 64,
  compressionRate: 16,
  lora: { r: 32, alpha: 64, dropout: 0 },
  stage1: { steps: 900, batchSize: 16, lr: 3e-3, compressorFrozenSteps: 300, mseWeight: 0.1 },
  stage3: { steps: 400, batchSize: 16, lr: 3e-3, generatorLrScale: 0.2, queryReasonerFrozenSteps: 60, k: 1, temperature: 0.02, estimator: 'soft' },
  curve: { questions: 60, every: 25 },
  answerQuestions: 150,
};

/**
 * `clara demo --long`: the full demo's corpus and design with whole documents reconstructed in
 * stage 1 (`reconstructWhole`, so every value passes through the memory vectors) for 2400 steps
 * instead of 900, and the generator at a smaller share of stage 3's lr (the toy trial: training the
 * generator in stage 3 lowered held-out EM from 0.64 to 0.53). The reading probe
 * (eval/readingProbe.ts) found this the one variation of stage 1 where held-out answers depend on
 * the document: twice as often right from their own document as from another's by step 1000.
 * Measured to the end (2026-12-07; seeds 0 / 1 side by side on the 2 cores, 2188 / 2116 s; seed 2
 * alone, 1267 s): recall@1 0.54 → 0.96 / 0.52 → 0.96 / 0.42 → 1.00; EM on trained questions
 * 1.00 / 0.11 / 1.00, 1.00 / 0.10 / 1.00 and 1.00 / 0.05 / 1.00 (retrieved / no doc / gold); on
 * held-out facts 0.24 / 0.08 / 0.26, 0.42 / 0.04 / 0.42 and 0.38 / 0.14 / 0.38. Those held-out
 * answers are mostly recalled, not read: given its own document with the value changed
 * (eval/counterfactualFacts.ts), seed 0's model answers the old value 0.22 of the time and the new
 * one 0.10 (trained questions: 0.96 and 0.01). Stage 1 reconstructed the whole text, held-out
 * sentence included, and the generator memorised it by name. (The earlier --long, 300 people and
 * 1600 steps, gave held-out EM 0.03 / 0.15 with the gold document and lost retrieval on seed 0.)
 * Without the MSE term (`--mse-weight 0`; seeds 0 / 1 side by side, 2579 / 2586 s): recall@1
 * 0.66 → 1.00 / 0.58 → 0.94, held-out EM with the gold document 0.38 / 0.36: it reads sooner
 * (the probe at step 1000: 0.32 against 0.22) but ends no better, so λ stays the paper's 0.1.
 */
export const LONG_DEMO: DemoSettings = {
  ...FULL_DEMO,
  corpus: { ...FULL_DEMO.corpus, reconstructWhole: true },
  stage1: { ...FULL_DEMO.stage1, steps: 2400 },
  stage3: { ...FULL_DEMO.stage3, generatorLrScale: 0.1 },
};

export const QUICK_DEMO: DemoSettings = {
  ...FULL_DEMO,
  smokeTest: true,
  entities: 40,
  corpus: { ...FULL_DEMO.corpus, namePool: 7 },
  backbone: { ...backbone, hidden_size: 64, intermediate_size: 128, head_dim: 16 },
  lora: { r: 8, alpha: 16, dropout: 0 },
  stage1: { steps: 30, batchSize: 8, lr: 2e-3, compressorFrozenSteps: 10, mseWeight: 0.1 },
  stage3: { ...FULL_DEMO.stage3, steps: 15, batchSize: 8, queryReasonerFrozenSteps: 5 },
  curve: { questions: 20, every: 5 },
  answerQuestions: 20,
};

/** The demo's named settings: `clara demo`'s default, `--quick` and `--long`, and a sweep's `base`. */
export const DEMO_BASES = { full: FULL_DEMO, quick: QUICK_DEMO, long: LONG_DEMO } as const satisfies Record<string, DemoSettings>;
export type DemoBase = keyof typeof DEMO_BASES;

/** What `clara demo` lets a user change from the command line; each absent one keeps its setting. */
export interface DemoVariation {
  people?: number;
  /** N, candidates per question. */
  candidates?: number;
  compressionRate?: number;
  mseWeight?: number;
  stage1Steps?: number;
  stage3Steps?: number;
  estimator?: string | TopKEstimator;
  temperature?: number;
  k?: number;
  /** Counterfactual copies of the corpus for stage 1 (synth's `counterfactuals`). */
  counterfactuals?: number;
}

/**
 * `base` with `variation` applied. A changed number of steps keeps each hold's share of its stage
 * (the compressor a third of stage 1, the query reasoner 15% of stage 3 in the full demo), and more
 * people than the name pools can tell apart widen the pools.
 */
export function varyDemo(base: DemoSettings, variation: DemoVariation): DemoSettings {
  const v = variation;
  const entities = v.people ?? base.entities;
  const hold = (held: number, steps: number, newSteps: number | undefined) => (newSteps === undefined ? held : Math.round((held * newSteps) / steps));
  return {
    ...base,
    entities,
    candidates: v.candidates ?? base.candidates,
    compressionRate: v.compressionRate ?? base.compressionRate,
    corpus: {
      ...base.corpus,
      namePool: Math.max(base.corpus.namePool, Math.ceil(Math.sqrt(entities + base.corpus.pretrainPeople))),
      counterfactuals: v.counterfactuals ?? base.corpus.counterfactuals,
    },
    stage1: {
      ...base.stage1,
      steps: v.stage1Steps ?? base.stage1.steps,
      compressorFrozenSteps: hold(base.stage1.compressorFrozenSteps, base.stage1.steps, v.stage1Steps),
      mseWeight: v.mseWeight ?? base.stage1.mseWeight,
    },
    stage3: {
      ...base.stage3,
      steps: v.stage3Steps ?? base.stage3.steps,
      queryReasonerFrozenSteps: hold(base.stage3.queryReasonerFrozenSteps, base.stage3.steps, v.stage3Steps),
      estimator: v.estimator ?? base.stage3.estimator,
      temperature: v.temperature ?? base.stage3.temperature,
      k: v.k ?? base.stage3.k,
    },
  };
}
