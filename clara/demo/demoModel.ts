import type { Backend } from '../../engine/index.ts';
import { ENCODER_ADAPTER } from '../adapters.ts';
import { ClaraModel, memoryTokenCount } from '../claraModel.ts';
import { answerRowsFromQa } from '../data/stage2Data.ts';
import type { Stage3Row } from '../data/stage3Data.ts';
import type { SynthOptions, SyntheticCorpus } from '../data/synth.ts';
import { vocabularyTexts } from '../freshModel.ts';
import { claraTextsForVocabulary } from '../tokenizer/vocabularyTexts.ts';
import type { CompressionStageOptions } from '../trainCompressionStage.ts';
import type { EndToEndOptions } from '../trainEndToEnd.ts';
import type { DemoSettings } from './demoSettings.ts';

/**
 * The demo's corpus, model, stage-1, stage-2 and stage-3 runs, as settings: runDemo.ts runs them in Node, and the
 * browser page (web/) runs the same ones, so a seed gives the same model and losses in both.
 */

/** The synthetic corpus the demo generates for `seed`. */
export function demoCorpusOptions(s: DemoSettings, seed: number): SynthOptions {
  return {
    seed,
    entities: s.entities,
    candidates: s.candidates,
    heldOutShare: s.heldOutShare,
    qaRows: s.corpus.qaRows,
    paraphraseRows: s.corpus.paraphraseRows,
    paraphraseTarget: s.corpus.reconstruct ? 'reconstruction' : 'reworded',
    reconstructWhole: s.corpus.reconstructWhole,
    namePool: s.corpus.namePool,
    stage3Wordings: s.corpus.stage3Wordings,
    pretrainEntities: s.corpus.pretrainPeople,
    counterfactuals: s.corpus.counterfactuals,
  };
}

/**
 * Stage 2's first phase: other invented people, one fact each (so none is held out), as many as the
 * corpus and its pretraining people, drawn from another seed so that no value repeats a corpus's.
 */
export function demoOneFactCorpusOptions(s: DemoSettings, seed: number): SynthOptions {
  return { ...demoCorpusOptions(s, seed + 100), minFacts: 1, maxFacts: 1, heldOutShare: 0 };
}

/**
 * The untrained model. The vocabulary covers every text the run will tokenize (of each corpus:
 * the demo's and stage 2's one-fact people), held-out questions included (they are never trained
 * on, but must not become <unk>).
 */
export function demoModel(s: DemoSettings, corpora: SyntheticCorpus | readonly SyntheticCorpus[], seed: number, backend: Backend): ClaraModel {
  const settings = {
    docMaxLength: s.docMaxLength,
    compressionRate: s.compressionRate,
    questionMaxLength: s.docMaxLength,
    generationTopK: s.stage3.k,
    lora: s.lora,
    stage: 0,
  };
  const n = memoryTokenCount(settings);
  const texts = [corpora]
    .flat()
    .flatMap((corpus) => [
      ...vocabularyTexts(1, corpus.stage1, n),
      ...claraTextsForVocabulary({ documents: [], qa: corpus.questions.map((q) => ({ question: q.question, answer: q.answer })) }, n),
    ]);
  return ClaraModel.fromScratch({ texts, base: s.backbone, settings, seed, backend, tokenizer: s.tokenizer });
}

/** The stage-1 rows about the corpus's own people (not the pretraining people, not counterfactual copies). */
function ownRows(corpus: SyntheticCorpus): SyntheticCorpus['stage1'] {
  const own = new Set(corpus.documents);
  return corpus.stage1.filter((r) => own.has(r.docs[0]!));
}

/** Stage 1 as the demo runs it (the caller adds where to write and what to show). */
export function demoStage1Options(s: DemoSettings, clara: ClaraModel, corpus: SyntheticCorpus, seed: number): CompressionStageOptions {
  return {
    clara,
    stage: 1,
    rows: s.corpus.pretrainIn === 'stage2' ? ownRows(corpus) : corpus.stage1,
    steps: s.stage1.steps,
    batchSize: s.stage1.batchSize,
    lr: s.stage1.lr,
    compressorFrozenSteps: s.stage1.compressorFrozenSteps,
    mseWeight: s.stage1.mseWeight,
    seed,
  };
}

/**
 * Stage 2 as the demo runs it, phase by phase (`settings.stage2`): the one-fact people (when
 * `oneFact` is given), then the corpus's rows with the same generator.
 */
export function demoStage2Phases(
  s: DemoSettings,
  clara: ClaraModel,
  corpus: SyntheticCorpus,
  oneFact: SyntheticCorpus | null,
  seed: number,
): CompressionStageOptions[] {
  const { oneFactSteps, steps, corpusRepeats, compressorFrozenSteps, headLrScale, compressorLrScale, ...run } = s.stage2;
  const corpusRows = answerRowsFromQa(ownRows(corpus));
  // The corpus's own people, repeated, among the pretraining people (seen once or twice each).
  const rows =
    s.corpus.pretrainIn === 'stage2' ? [...answerRowsFromQa(corpus.stage1), ...Array.from({ length: corpusRepeats - 1 }, () => corpusRows).flat()] : corpusRows;
  const lrScales = {
    ...(headLrScale > 0 ? { 'lm_head.weight': headLrScale } : {}),
    ...(compressorLrScale !== 1 ? { [ENCODER_ADAPTER]: compressorLrScale } : {}),
  };
  const phase = { ...run, ...(headLrScale > 0 ? { trainHead: true } : {}), lrScales, clara, stage: 2 as const, seed };
  if (oneFact === null || oneFactSteps === 0) return [{ ...phase, rows, steps, compressorFrozenSteps }];
  return [
    { ...phase, rows: answerRowsFromQa(oneFact.stage1), steps: oneFactSteps, compressorFrozenSteps },
    // The compressor has been held once already, and the generator continues.
    { ...phase, rows, steps, keepGenerator: true, compressorFrozenSteps: 0 },
  ];
}

/** Stage 3 as the demo runs it, on the trained questions' candidates already compressed into `bank`. */
export function demoStage3Options(s: DemoSettings, clara: ClaraModel, rows: Stage3Row[], bank: EndToEndOptions['bank'], seed: number): EndToEndOptions {
  return {
    clara,
    rows,
    steps: s.stage3.steps,
    batchSize: s.stage3.batchSize,
    lr: s.stage3.lr,
    generatorLrScale: s.stage3.generatorLrScale,
    queryReasonerFrozenSteps: s.stage3.queryReasonerFrozenSteps,
    k: s.stage3.k,
    temperature: s.stage3.temperature,
    estimator: s.stage3.estimator,
    seed,
    bank,
  };
}
