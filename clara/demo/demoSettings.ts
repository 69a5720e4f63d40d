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
   * whole documents against without (docs/reading.md): EM on held-out facts 0.16 / 0.14 /
   * 0.14 with the gold, the retrieved and no document (0.06 / 0.06 / 0.02), on trained questions
   * 0.99 / 1.00 / 0.15 (1.00 / 1.00 / 0.07), recall@1 after stage 3 0.94 (0.96). The held-out gain
   * is not reading (with no document it answers as well), so the full demo keeps it off.
   * `pretrainPeople`: further invented people whom no question of the demo asks about, trained on
   * in stage 1 or in stage 2 (`pretrainIn`; synth's `pretrainEntities`), the paper's setting of a pretraining corpus nobody is asked about: seen
   * once or twice each, they cannot be memorised, so a generator that answers them reads. Measured
   * (stage 1 alone, 900 steps, seed 0, 2026-12-07; answers scored teacher-forced in the stage-1 QA
   * format, with the gold document and with another person's): with 3000 such people, with or
   * without the corpus's own rows, held-out facts 0.02–0.06 with the gold document and the same with
   * the wrong one, trained questions 0.05 (without them: 0.99 with the gold document, 0.07 with the
   * wrong one, held-out 0.06). At this size and step count the generator learns to look people up,
   * not to read; the full demo keeps it at 0. They are read in stage 2 at lr 1e-3 with one-fact
   * documents first (examples/readingProbe.ts --stage 2 --one-fact-steps 400, 2026-12-08: held-out
   * facts 0.26 to 0.42 with their own document after 1500 steps and 0.50 after 2800, a changed
   * document's new value 0.30 to 0.50 and its old one 0.02 to 0.06): `clara demo --long` runs
   * that recipe (`stage2`; docs/reading.md).
   * `counterfactuals`: copies of every person with new values, for stage 1 only (synth's
   * `counterfactuals`), so a name tells nothing about its values. Measured with the reading probe
   * (the earlier --long's stage 1, 2400 steps, seed 0, 2026-12-07; answers to a changed document scored on the
   * new value / the old): none, trained 0.01 / 0.98, held-out 0.14 / 0.28; one copy, 0.09 / 0.77
   * and 0.22 / 0.12; three copies, nothing learned (trained answers 0.17 with their own document);
   * three copies with 16 memory tokens, learned by step 1600 and recalled (0.12 / 0.52): the
   * person's other values tell the generator which copy it reads, so a finite set of copies is
   * memorised too. Twenty copies (each set of values seen about five times: close to values drawn
   * anew for every example) learned nothing, with 16 memory tokens by step 1600 as with 8 by step
   * 800 (every column 0.02–0.08): with nothing to recall, reading is not learned in this budget.
   * Run to the end with one copy (the earlier `clara demo --long --counterfactuals 1`), held-out EM
   * with the gold document was 0.42 on seed 0 and 0.18 on seed 1 (docs/reading.md); every setting
   * keeps 0, and with `pretrainIn: 'stage2'` copies are refused (they are stage 1's rows).
   */
  corpus: {
    qaRows: 'per-question' | 'per-document';
    paraphraseRows: boolean;
    reconstruct: boolean;
    reconstructWhole: boolean;
    namePool: number;
    stage3Wordings: 'one' | 'both';
    pretrainPeople: number;
    /** The stage that trains on the pretraining people: stage 1 (the other stages see the corpus's own), or stage 2 (then stage 1 sees only the corpus's). */
    pretrainIn: 'stage1' | 'stage2';
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
   * Stage 2 (compression instruction tuning, docs/clara.md §5: the question in the prompt, the
   * answer the whole target) on the stage-1 `qa` rows, each question with its own document, the
   * pretraining people's included (clara/data/stage2Data.ts `answerRowsFromQa`). `steps` 0: no
   * stage 2 (the default demo goes from stage 1 to stage 3). It runs in two phases, one generator:
   * `oneFactSteps` on other invented people with one fact each (as many as the corpus's people and
   * its pretraining people together, drawn from seed + 100; demoModel.ts `demoOneFactCorpusOptions`), the compressor held still for the
   * first `compressorFrozenSteps` of them, then `steps` on the corpus's rows, the corpus's own
   * people repeated `corpusRepeats` times among the pretraining people (when `corpus.pretrainIn`
   * is stage 2; else the corpus's rows alone). `headLrScale` > 0 trains lm_head too, at that
   * multiple of `lr` (trainCompressionStage's `trainHead`). Why this shape: the reading
   * probe (examples/readingProbe.ts, docs/reading.md) found a generator that reads
   * only with values drawn anew (pretraining people), this prompt at lr 1e-3, and one-fact
   * documents first.
   */
  stage2: {
    oneFactSteps: number;
    steps: number;
    batchSize: number;
    lr: number;
    compressorFrozenSteps: number;
    mseWeight: number;
    corpusRepeats: number;
    headLrScale: number;
    /** The compressor's lr as a multiple of `lr` (1: the same): lower keeps more of what stage 1 taught it. */
    compressorLrScale: number;
  };
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
    pretrainIn: 'stage1',
    counterfactuals: 0,
  },
  tokenizer: 'word',
  backbone,
  docMaxLength: 64,
  compressionRate: 16,
  lora: { r: 32, alpha: 64, dropout: 0 },
  stage1: { steps: 900, batchSize: 16, lr: 3e-3, compressorFrozenSteps: 300, mseWeight: 0.1 },
  stage2: {
    oneFactSteps: 0,
    steps: 0,
    batchSize: 16,
    lr: 1e-3,
    compressorFrozenSteps: 0,
    mseWeight: 0.1,
    corpusRepeats: 1,
    headLrScale: 0,
    compressorLrScale: 1,
  },
  stage3: { steps: 400, batchSize: 16, lr: 3e-3, generatorLrScale: 0.2, queryReasonerFrozenSteps: 60, k: 1, temperature: 0.02, estimator: 'soft' },
  curve: { questions: 60, every: 25 },
  answerQuestions: 150,
};

/**
 * `clara demo --long`: the generator learns to read. The full demo's stage 1 on the corpus's own
 * people (the compressor learns what tells documents apart; the generator learns to look up); then
 * stage 2 with a fresh generator on 3000 pretraining people and the corpus's trained questions,
 * one-fact documents first, lm_head trained (`stage2`: the recipe of docs/reading.md); then the full
 * demo's stage 3. Stage 1 cannot be left out: without it the compressor never carries names and
 * retrieval stays at chance (recall@1 0.10 → 0.12, seed 0). Measured: README, Status.
 *
 * (Until 2026-12-08 --long was the full demo with whole documents reconstructed for 2400 stage-1
 * steps: held-out EM with the gold document 0.24 to 0.42 on seeds 0 to 2, mostly recalled: a
 * changed document's old value 0.22, its new one 0.10.)
 */
export const LONG_DEMO: DemoSettings = {
  ...FULL_DEMO,
  corpus: { ...FULL_DEMO.corpus, pretrainPeople: 3000, pretrainIn: 'stage2', namePool: 56 },
  stage2: { ...FULL_DEMO.stage2, oneFactSteps: 400, steps: 2400, compressorFrozenSteps: 300, headLrScale: 3 },
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
  /** Stage 2's second phase (the corpus's rows); `oneFactSteps` its first. */
  stage2Steps?: number;
  oneFactSteps?: number;
  stage3Steps?: number;
  estimator?: string | TopKEstimator;
  temperature?: number;
  k?: number;
  /** Counterfactual copies of the corpus for stage 1 (synth's `counterfactuals`). */
  counterfactuals?: number;
  /** Invented people only stages 1 and 2 train on (synth's `pretrainEntities`). */
  pretrainPeople?: number;
}

/**
 * What no single setting shows wrong: the first combination that cannot run as asked, or null.
 * `clara demo`, `clara sweep` (before any cell runs) and `runDemo` all ask it, so a run never
 * drops a phase or a set of people without a word.
 */
export function demoSettingsProblem(s: DemoSettings): string | null {
  if (s.candidates > s.entities) return `${s.candidates} candidates exceed the ${s.entities} people`;
  if (s.stage3.k > s.candidates) return `k = ${s.stage3.k} exceeds the ${s.candidates} candidates`;
  for (const [name, steps, least] of [
    ['stage1.steps', s.stage1.steps, 0],
    ['stage2.steps', s.stage2.steps, 0],
    ['stage2.oneFactSteps', s.stage2.oneFactSteps, 0],
    ['stage3.steps', s.stage3.steps, 1],
    ['stage2.corpusRepeats', s.stage2.corpusRepeats, 1],
  ] as const) {
    if (!Number.isInteger(steps) || steps < least) return `${name} must be ${least === 0 ? 'a non-negative' : 'a positive'} integer; got ${steps}`;
  }
  for (const [name, scale] of [
    ['stage2.headLrScale', s.stage2.headLrScale],
    ['stage2.compressorLrScale', s.stage2.compressorLrScale],
  ] as const) {
    if (!(Number.isFinite(scale) && scale >= 0)) return `${name} must be a non-negative number; got ${scale}`;
  }
  if (s.corpus.pretrainIn !== 'stage1' && s.corpus.pretrainIn !== 'stage2')
    return `corpus.pretrainIn must be 'stage1' or 'stage2'; got ${JSON.stringify(s.corpus.pretrainIn)}`;
  if (s.stage1.steps + s.stage2.steps === 0) return 'stage1.steps and stage2.steps are both 0: the compressor would never train';
  if (s.stage2.oneFactSteps > 0 && s.stage2.steps === 0)
    return `stage2.oneFactSteps is ${s.stage2.oneFactSteps} but stage2.steps is 0: the one-fact phase is stage 2's first, give stage 2 its steps`;
  if (s.corpus.pretrainIn === 'stage2' && s.corpus.pretrainPeople > 0 && s.stage2.steps === 0)
    return `the ${s.corpus.pretrainPeople} pretraining people are for stage 2 (corpus.pretrainIn), which has 0 steps: nothing would train on them`;
  // Counterfactual copies are stage 1's; with the pretraining people in stage 2 they would go there too.
  if (s.corpus.pretrainIn === 'stage2' && s.corpus.counterfactuals > 0)
    return "corpus.counterfactuals are stage 1's rows, and corpus.pretrainIn 'stage2' would move them to stage 2";
  return null;
}

/**
 * `base` with `variation` applied. A changed number of steps keeps each hold's share of its stage
 * (the compressor a third of stage 1, the query reasoner 15% of stage 3 in the full demo; the
 * compressor three quarters of --long's one-fact phase), and more people than the name pools can
 * tell apart widen the pools.
 */
export function varyDemo(base: DemoSettings, variation: DemoVariation): DemoSettings {
  const v = variation;
  const entities = v.people ?? base.entities;
  const pretrainPeople = v.pretrainPeople ?? base.corpus.pretrainPeople;
  const hold = (held: number, steps: number, newSteps: number | undefined) =>
    newSteps === undefined || steps === 0 ? held : Math.round((held * newSteps) / steps);
  return {
    ...base,
    entities,
    candidates: v.candidates ?? base.candidates,
    compressionRate: v.compressionRate ?? base.compressionRate,
    corpus: {
      ...base.corpus,
      namePool: Math.max(base.corpus.namePool, Math.ceil(Math.sqrt(entities + pretrainPeople))),
      counterfactuals: v.counterfactuals ?? base.corpus.counterfactuals,
      pretrainPeople,
    },
    stage1: {
      ...base.stage1,
      steps: v.stage1Steps ?? base.stage1.steps,
      compressorFrozenSteps: hold(base.stage1.compressorFrozenSteps, base.stage1.steps, v.stage1Steps),
      mseWeight: v.mseWeight ?? base.stage1.mseWeight,
    },
    stage2: {
      ...base.stage2,
      steps: v.stage2Steps ?? base.stage2.steps,
      oneFactSteps: v.oneFactSteps ?? base.stage2.oneFactSteps,
      compressorFrozenSteps: hold(base.stage2.compressorFrozenSteps, base.stage2.oneFactSteps, v.oneFactSteps),
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
