/**
 * Model-level suites on the `tiny` and `small` presets, with inputs built the way training and
 * inference build them (synthetic corpus → compact tokenizer → CLaRa prompts):
 *
 *   stage1    one stage-1 step: compressionLoss + backward + gradient clipping + AdamW
 *   stage3    one stage-3 step: stage3Loss + backward + gradient clipping + AdamW
 *   compress  compressCorpus over a set of documents (documents per second)
 *   generate  generateGreedy with a key/value cache (new tokens per second)
 *
 * The token ids, masks, labels and memory positions of every case are handed to
 * reference/bench_torch.py, which runs the same step on a plain-PyTorch CLaRa of the same config.
 */
import { AdamW, clipAndStep, Generator, tidy, type Backend, type Tensor } from '../../engine/index.ts';
import { ClaraModel } from '../../clara/claraModel.ts';
import { compressionLoss, prepareCompressionStage } from '../../clara/compressionObjective.ts';
import { DECODER_ADAPTER } from '../../clara/adapters.ts';
import { idsTensor } from '../../clara/compressor.ts';
import { straightThroughTopK } from '../../clara/differentiableTopK.ts';
import { candidateBank, compressCorpus } from '../../clara/retrieval/documentBank.ts';
import { answerExample, collateBatch, stage1Example } from '../../clara/examples.ts';
import { generateSyntheticCorpus, type SyntheticCorpus } from '../../clara/data/synth.ts';
import type { Stage3Row } from '../../clara/data/stage3Data.ts';
import { generateGreedy } from '../../clara/model/generate.ts';
import { collateStage3, prepareStage3, stage3Loss } from '../../clara/endToEndObjective.ts';
import { buildEncoderBatch } from '../../clara/tokenizer/encoderInput.ts';
import { collateGeneratorInputs } from '../../clara/tokenizer/generatorBatch.ts';
import { claraTextsForVocabulary } from '../../clara/tokenizer/vocabularyTexts.ts';
import { activate, measure, sync, type BenchBackend, type Suite, type SuiteContext, type Timing } from '../lib.ts';

export const PRESET_NAMES = ['tiny', 'small'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** CLaRa settings of every model-level case (those of bench/step.ts: n = 64 / 16 = 4 memory tokens). */
export const SETTINGS = { docMaxLength: 64, compressionRate: 16, questionMaxLength: 64, generationTopK: 1, lora: { r: 16, alpha: 32, dropout: 0 } };
export const ADAMW = { lr: 2e-3, betas: [0.9, 0.95] as [number, number], eps: 1e-8, weightDecay: 0 };
const CLIP = 1.0;
export const MSE_WEIGHT = 0.1;

interface Sizes {
  /** Examples per stage-1 step, questions per stage-3 step. */
  batch: number;
  /** N candidates per stage-3 question and k chosen (the demo's 20 and 1). */
  candidates: number;
  k: number;
  /** Documents per compressCorpus call (batches of 16). */
  documents: number;
  /** Prompts and new tokens of a greedy generation. */
  prompts: number;
  newTokens: number;
}

export const SIZES: Sizes = { batch: 8, candidates: 20, k: 1, documents: 64, prompts: 4, newTokens: 16 };
const QUICK_SIZES: Sizes = { batch: 4, candidates: 20, k: 1, documents: 32, prompts: 2, newTokens: 8 };

function modelTiming(ctx: SuiteContext): Timing {
  return ctx.quick ? { iterations: 2, time: 0, warmup: 1 } : { iterations: 3, time: 0, warmup: 1 };
}

let corpusCache: SyntheticCorpus | null = null;
function corpus(): SyntheticCorpus {
  corpusCache ??= generateSyntheticCorpus({ seed: 1, entities: 100 });
  return corpusCache;
}

/** A fresh CLaRa on `backend` with a compact vocabulary built from the corpus, both adapters added (stage 1 prepared). */
export function freshModel(preset: PresetName, backend: Backend): { clara: ClaraModel; params: ReturnType<typeof prepareCompressionStage>; g: Generator } {
  const c = corpus();
  const texts = claraTextsForVocabulary(
    { documents: c.documents, qa: c.questions.map((q) => ({ question: q.question, answer: q.answer })), paraphrases: [] },
    4,
  );
  const clara = ClaraModel.fromScratch({ texts, base: preset, settings: SETTINGS, seed: 1, backend });
  const g = new Generator(5);
  const params = prepareCompressionStage(clara, 1, g);
  return { clara, params, g };
}

/** The parts of the model every PyTorch case needs to build the same network. */
function modelSpec(clara: ClaraModel): Record<string, unknown> {
  const s = clara.tokenizer.special;
  return { config: clara.backbone.config, lora: SETTINGS.lora, nMem: clara.nMem, memIds: s.mem, padId: clara.tokenizer.padId };
}

function stage3Rows(): Stage3Row[] {
  return corpus().stage3Train;
}

/**
 * One training step as the trainer takes it (clara/train/trainer.ts): `loss()` and its backward,
 * then gradient clipping folded into the AdamW step (clipAndStep, which reads the norm back);
 * resolves to the loss once it is on the host (so the step's work has finished).
 */
export async function trainingStep(opt: AdamW, loss: () => Tensor): Promise<number> {
  const detached = tidy(() => {
    const out = loss();
    out.backward();
    return out.detach();
  });
  await clipAndStep(opt, CLIP);
  opt.zeroGrad();
  const value = await detached.item();
  detached.dispose();
  return value;
}

/** The stage-3 case: `sizes.batch` questions, each with its first `sizes.candidates` candidates, over a bank compressed once. */
export function stage3Inputs(clara: ClaraModel, sizes: Sizes) {
  const rows = stage3Rows().slice(0, sizes.batch);
  const groups = prepareStage3(clara);
  const params = [...groups.queryReasoner, ...groups.generator];
  const { bank, candidates } = candidateBank(clara, rows);
  const items = rows.map((r, i) => ({ question: r.question, candidates: candidates[i]!.slice(0, sizes.candidates), answer: r.answer }));
  const batch = collateStage3(clara.tokenizer, items, sizes.k);
  return { rows, params, bank, items, batch };
}

/** The stage-3 loss options of every case (the demo's τ and straight-through top-k). */
export function stage3Options(sizes: Sizes) {
  return { k: sizes.k, temperature: 0.02, estimator: straightThroughTopK };
}

/** `count` answer prompts (question + its gold document), left-padded into one generator batch. */
export function answerPrompts(clara: ClaraModel, count: number) {
  const prompts = stage3Rows()
    .slice(0, count)
    .map((r) => answerExample(clara.tokenizer, r.question, [r.docs[r.posIndex[0] ?? 0]!]).generator);
  return collateGeneratorInputs(prompts, clara.tokenizer.padId);
}

/** Runs `body` for every preset and backend, with a fresh model each time. */
async function perModel(ctx: SuiteContext, suite: string, body: (preset: PresetName, b: BenchBackend, first: boolean) => Promise<void>): Promise<void> {
  for (const preset of PRESET_NAMES) {
    let first = true;
    for (const b of ctx.backends) {
      ctx.log(`${suite} ${preset} on ${b.name}`);
      activate(b);
      await body(preset, b, first);
      first = false;
    }
  }
}

export const stage1Suite: Suite = {
  name: 'stage1',
  describe: 'one stage-1 training step (compress, splice, generator, L_ce + 0.1·L_mse, backward, clip, AdamW)',
  async run(ctx) {
    const sizes = ctx.quick ? QUICK_SIZES : SIZES;
    const rows = corpus().stage1.filter((r) => r.dataType === 'qa');
    await perModel(ctx, 'stage1', async (preset, b, first) => {
      const { clara, params, g } = freshModel(preset, b.backend);
      const examples = Array.from({ length: sizes.batch }, (_, i) => stage1Example(clara.tokenizer, rows[i % rows.length]!, g));
      const batch = collateBatch(clara.tokenizer, examples, SETTINGS.docMaxLength);
      const opt = new AdamW(params, ADAMW);
      const caseName = `${preset} B${sizes.batch}`;
      const key = `stage1:${caseName}`;
      const timing = modelTiming(ctx);
      if (first) {
        ctx.torchCase({
          key,
          suite: 'stage1',
          case: caseName,
          timing,
          spec: { ...modelSpec(clara), mseWeight: MSE_WEIGHT, adamw: ADAMW, clip: CLIP, encoder: batch.encoder, generator: batch.generator },
        });
      }
      const t = await measure(async () => {
        await trainingStep(opt, () => compressionLoss(clara, batch, MSE_WEIGHT).loss);
      }, timing);
      const tokens = batch.encoder.inputIds.flat().length + batch.generator.inputIds.flat().length;
      ctx.emit({
        suite: 'stage1',
        case: caseName,
        backend: b.name,
        ...t,
        work: tokens,
        unit: 'tokens',
        torchKey: key,
        note: `encoder ${shape(batch.encoder.inputIds)}, generator ${shape(batch.generator.inputIds)}`,
      });
      disposeModel(clara);
    });
  },
};

export const stage3Suite: Suite = {
  name: 'stage3',
  describe: 'one stage-3 step (query reasoner, cosine over N candidates, top-k, splice, generator, backward, clip, AdamW)',
  async run(ctx) {
    const sizes = ctx.quick ? QUICK_SIZES : SIZES;
    await perModel(ctx, 'stage3', async (preset, b, first) => {
      const { clara } = freshModel(preset, b.backend);
      const { rows, params, bank, items, batch } = stage3Inputs(clara, sizes);
      const opt = new AdamW(params, ADAMW);
      const caseName = `${preset} B${sizes.batch} N${items[0]!.candidates.length} k${sizes.k}`;
      const key = `stage3:${caseName}`;
      const timing = modelTiming(ctx);
      if (first) {
        const bankTexts = uniqueDocs(rows);
        const bankBatches = chunks(bankTexts, 16).map((texts) =>
          buildEncoderBatch(clara.tokenizer, texts, { maxTextLength: SETTINGS.docMaxLength, padding: 'longest' }),
        );
        const query = buildEncoderBatch(
          clara.tokenizer,
          items.map((it) => it.question),
          { maxTextLength: SETTINGS.questionMaxLength, padding: 'longest' },
        );
        ctx.torchCase({
          key,
          suite: 'stage3',
          case: caseName,
          timing,
          spec: {
            ...modelSpec(clara),
            adamw: ADAMW,
            clip: CLIP,
            k: sizes.k,
            temperature: 0.02,
            bank: bankBatches,
            query,
            candidates: items.map((it) => it.candidates),
            generator: batch.generator,
          },
        });
      }
      const t = await measure(async () => {
        await trainingStep(opt, () => stage3Loss(clara, bank, batch, stage3Options(sizes)).loss);
      }, timing);
      const queryTokens = buildEncoderBatch(
        clara.tokenizer,
        items.map((it) => it.question),
        { maxTextLength: SETTINGS.questionMaxLength, padding: 'longest' },
      ).inputIds.flat().length;
      ctx.emit({
        suite: 'stage3',
        case: caseName,
        backend: b.name,
        ...t,
        work: queryTokens + batch.generator.inputIds.flat().length,
        unit: 'tokens',
        torchKey: key,
        note: `query ${queryTokens} tokens, generator ${shape(batch.generator.inputIds)}`,
      });
      bank.dispose();
      disposeModel(clara);
    });
  },
};

export const compressSuite: Suite = {
  name: 'compress',
  describe: 'compressCorpus: documents compressed per second (no gradient, batches of 16)',
  async run(ctx) {
    const sizes = ctx.quick ? QUICK_SIZES : SIZES;
    const texts = corpus().documents.slice(0, sizes.documents);
    await perModel(ctx, 'compress', async (preset, b, first) => {
      const { clara } = freshModel(preset, b.backend);
      const caseName = `${preset} ${texts.length} docs`;
      const key = `compress:${caseName}`;
      const timing = modelTiming(ctx);
      if (first) {
        const batches = chunks(texts, 16).map((t) => buildEncoderBatch(clara.tokenizer, t, { maxTextLength: SETTINGS.docMaxLength, padding: 'longest' }));
        ctx.torchCase({ key, suite: 'compress', case: caseName, timing, spec: { ...modelSpec(clara), batches } });
      }
      const t = await measure(async () => {
        const bank = compressCorpus(clara, texts, { batchSize: 16 });
        await sync(b);
        bank.dispose();
      }, timing);
      ctx.emit({ suite: 'compress', case: caseName, backend: b.name, ...t, work: texts.length, unit: 'docs', torchKey: key });
      disposeModel(clara);
    });
  },
};

export const generateSuite: Suite = {
  name: 'generate',
  describe: 'generateGreedy with a KV cache on answer prompts (new tokens per second, prefill included)',
  async run(ctx) {
    const sizes = ctx.quick ? QUICK_SIZES : SIZES;
    await perModel(ctx, 'generate', async (preset, b, first) => {
      const { clara } = freshModel(preset, b.backend);
      const batch = answerPrompts(clara, sizes.prompts);
      const caseName = `${preset} B${sizes.prompts} +${sizes.newTokens} tokens`;
      const key = `generate:${caseName}`;
      const timing = modelTiming(ctx);
      if (first) {
        ctx.torchCase({
          key,
          suite: 'generate',
          case: caseName,
          timing,
          spec: { ...modelSpec(clara), inputIds: batch.inputIds, attentionMask: batch.attentionMask, maxNewTokens: sizes.newTokens },
        });
      }
      const ids = idsTensor(clara.backbone, batch.inputIds);
      const mask = batch.attentionMask.flat();
      const t = await measure(async () => {
        const out = await generateGreedy(clara.backbone, { inputIds: ids, attentionMask: mask, adapter: DECODER_ADAPTER, maxNewTokens: sizes.newTokens });
        if (out.some((o) => o.length !== sizes.newTokens)) throw new Error('generate: a row stopped early');
      }, timing);
      ids.dispose();
      ctx.emit({
        suite: 'generate',
        case: caseName,
        backend: b.name,
        ...t,
        work: sizes.prompts * sizes.newTokens,
        unit: 'tokens',
        torchKey: key,
        note: `prompt ${shape(batch.inputIds)}`,
      });
      disposeModel(clara);
    });
  },
};

function uniqueDocs(rows: readonly Stage3Row[]): string[] {
  // The order candidateBank gives the bank's rows.
  const seen = new Map<string, number>();
  for (const row of rows) for (const doc of row.docs) if (!seen.has(doc)) seen.set(doc, seen.size);
  return [...seen.keys()];
}

function chunks<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

function shape(rows: readonly (readonly number[])[]): string {
  return `${rows.length}x${rows[0]?.length ?? 0}`;
}

/** Frees the model's tensors (parameters and their gradients). */
export function disposeModel(clara: ClaraModel): void {
  for (const p of clara.backbone.parameters()) {
    p.grad?.dispose();
    p.grad = null;
    (p as Tensor).dispose();
  }
}
