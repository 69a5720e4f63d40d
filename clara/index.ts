/**
 * CLaRa as a library: what a researcher's script imports (`import { … } from 'clara-ts/clara'`;
 * the tensor engine is `clara-ts/engine`). Every `clara` command is a call to something here, so a
 * variant (another top-k estimator, loss weight, compression rate or number of candidates) is a
 * script, not a fork: see examples/ and the README's "Using it from code".
 */

// Choosing where tensors live: WebGPU when an adapter exists, else the CPU backend.
export { selectBackend, type BackendChoice, type SelectedBackend } from '../engine/index.ts';

// The model: a backbone with its three named LoRA adapters, and a tokenizer.
export { ENCODER_ADAPTER, DECODER_ADAPTER, QUERY_REASONER_ADAPTER } from './adapters.ts';
export { ClaraModel, DEFAULT_SETTINGS, memoryTokenCount, type ClaraSettings } from './claraModel.ts';
export { freshModel, type FreshModelOptions } from './freshModel.ts';
export { PRESETS, type MistralConfig } from './model/config.ts';
export { resolveModelDir } from './train/checkpoint.ts';

// Data: the synthetic corpus and the three JSON Lines formats.
export { generateSyntheticCorpus, type SynthOptions, type SyntheticCorpus } from './data/synth.ts';
export { writeSyntheticCorpus } from './data/writeSynthCorpus.ts';
export { answerRowsFromQa, type Stage2Row } from './data/stage2Data.ts';
export { loadStage3File, limitCandidates, type Stage3Row } from './data/stage3Data.ts';

// Training: stages 1 and 2, then stage 3 with a pluggable differentiable top-k.
export { trainCompressionStage, loadCompressionRows, type CompressionStageOptions } from './trainCompressionStage.ts';
export { prepareCompressionStage } from './compressionObjective.ts';
export { trainEndToEnd, type EndToEndOptions } from './trainEndToEnd.ts';
export {
  TOPK_ESTIMATORS,
  straightThroughTopK,
  gumbelTopK,
  softTopK,
  sparsemaxTopK,
  annealedTopK,
  sparsemax,
  type TopKEstimator,
  type TopKOptions,
  type TopKSelection,
} from './differentiableTopK.ts';

// Inference, retrieval and metrics.
export { rankCandidates, answerQuestions } from './answering.ts';
export { compressCorpus, saveDocumentBank, loadDocumentBank, checkBankCompressor, compressorFingerprint, type DocumentBank } from './retrieval/documentBank.ts';
export { rankCandidatesBm25 } from './retrieval/bm25.ts';
export { evaluateRows, queryEncoderOf, type AnswerDocuments } from './eval/evaluate.ts';
export { meanRecall, scoreAnswers, exactMatch, f1Score } from './eval/metrics.ts';
export { readingProbe, type ProbeFact } from './eval/readingProbe.ts';
export { counterfactualFacts } from './eval/counterfactualFacts.ts';

// Inspection: every hidden state, the logits, the loss and the gradients of a checkpoint.
export { traceModel, type TraceOptions } from './model/trace.ts';

// The demo: the whole pipeline on a generated corpus, and its settings.
export { runDemo, type DemoOptions } from './demo/runDemo.ts';
export { demoCorpusOptions, demoModel, demoOneFactCorpusOptions, demoStage1Options, demoStage2Phases, demoStage3Options } from './demo/demoModel.ts';
export { FULL_DEMO, LONG_DEMO, QUICK_DEMO, varyDemo, type DemoSettings, type DemoVariation } from './demo/demoSettings.ts';
export { demoTable, type DemoResult } from './demo/demoReport.ts';
