import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, noGrad, normal, tidy, type Backend, type Tensor } from '../../../engine/index.ts';
import { answerCrossEntropy } from '../../../clara/answerLoss.ts';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { compressionLoss, prepareCompressionStage } from '../../../clara/compressionObjective.ts';
import { DECODER_ADAPTER, ENCODER_ADAPTER } from '../../../clara/adapters.ts';
import { compressDocuments } from '../../../clara/compressor.ts';
import type { Stage1Row } from '../../../clara/data/stage1Data.ts';
import { collateBatch, stage1Example, type Batch, type Example } from '../../../clara/examples.ts';
import { memoryMseLoss } from '../../../clara/memoryMseLoss.ts';
import { buildEncoderBatch } from '../../../clara/tokenizer/encoderInput.ts';
import { claraTextsForVocabulary } from '../../../clara/tokenizer/vocabularyTexts.ts';
import { availableBackends } from '../../helpers/backends.ts';
import { maxAbsDiff } from './helpers.ts';

/**
 * Padding is invisible (docs/clara.md §2–4): the compressor's rows are left-padded and masked, RoPE
 * positions start at each row's first real token, the generator's rows are left-padded with labels
 * −100, and both losses average over real positions only. So, on a stage-1 model built from scratch
 * (compact vocabulary, tiny backbone, random non-zero adapters, n = 4):
 *  - padding the encoder rows to doc_max_length + 3 (`'max_length'`) instead of the longest document
 *    (`'longest'`) changes neither the losses, nor the compressed vectors, nor the gradients;
 *  - batching an example with a longer one (more left padding on its generator and encoder rows)
 *    changes neither its own cross-entropy nor its own MSE term;
 *  - any subset, order and amount of extra left padding gives each example the losses it has alone
 *    (one document is longer than doc_max_length and is cut, losing its `</s>`),
 *    and the batch the token-weighted mean of its examples' cross-entropies plus 0.1 × the mean MSE;
 *  - the loss is invariant to the order of the examples.
 * Tolerance: 1e-5 absolute on losses (≈ 5) and compressed vectors (O(1)); gradients 1e-5 relative to
 * the largest. Observed on the CPU backend and on WebGPU (Dawn): padding and order change nothing at
 * all (bit-identical losses, compressed vectors and gradients: masked scores become exact zeros);
 * only the batch means recomputed here in float64 from per-example losses differ, by ≤ 5e-7.
 */

const TOL = 1e-5;
const MSE_WEIGHT = 0.1;
const DOC_MAX = 40;
const backends = await availableBackends();

const ROWS: Stage1Row[] = [
  {
    dataType: 'qa',
    docs: ['Quibbleton is a harbour town on the river Olm, founded in 1312 by salt traders.'],
    questions: ['Who founded Quibbleton?', 'Which river is Quibbleton on?'],
    answers: ['Salt traders.', 'The Olm.'],
  },
  { dataType: 'qa', docs: ['Mira Vell paints lighthouses.'], questions: ['What does Mira Vell paint?'], answers: ['Lighthouses.'] },
  {
    dataType: 'paraphrase',
    docs: ['The Zorvic engine runs on cold fusion and powers the northern trains of Ardel, which leave every hour from the glass station.'],
    paraphrase: 'Cold fusion drives the Zorvic engine behind the hourly trains of northern Ardel.',
  },
  {
    dataType: 'qa',
    docs: ['Tessaly grows blue figs in winter, when the valley floods and the farmers row between the trees.'],
    questions: ['What grows in Tessaly in winter?', 'When does the valley flood?', 'How do the farmers move?'],
    answers: ['Blue figs.', 'In winter.', 'By rowing.'],
  },
  // Longer than DOC_MAX tokens: its encoder row is cut (and loses its </s>), so it always sets the width.
  {
    dataType: 'qa',
    docs: [
      'The archive of Penmoor keeps eleven thousand maps of the drowned coast, each drawn on sealskin by the monks of the order of Saint Ives, who charted the tides for four hundred years before the sea took the abbey.',
    ],
    questions: ['What are the maps of Penmoor drawn on?'],
    answers: ['Sealskin.'],
  },
];

function buildClara(backend: Backend): { clara: ClaraModel; examples: Example[] } {
  const corpus = {
    documents: ROWS.map((r) => r.docs[0]!),
    qa: ROWS.flatMap((r) => (r.dataType === 'qa' ? r.questions.map((question, i) => ({ question, answer: r.answers[i]! })) : [])),
    paraphrases: ROWS.flatMap((r) => (r.dataType === 'paraphrase' ? [r.paraphrase] : [])),
  };
  const settings = { docMaxLength: DOC_MAX, compressionRate: 10, lora: { r: 4, alpha: 8, dropout: 0 } };
  const clara = ClaraModel.fromScratch({ texts: claraTextsForVocabulary(corpus, 4), base: 'tiny', settings, seed: 7, backend });
  expect(clara.nMem).toBe(4);
  // Trained-looking adapters (a fresh one has B = 0), so both the compressor and the generator differ from the base.
  const generator = new Generator(11);
  for (const name of [ENCODER_ADAPTER, DECODER_ADAPTER]) {
    for (const layer of clara.backbone.loraLayers()) {
      const A = normal([4, layer.inFeatures], { generator, backend, std: 1 / Math.sqrt(layer.inFeatures) });
      const B = normal([layer.outFeatures, 4], { generator, backend, std: 0.2 });
      layer.setAdapter(name, clara.settings.lora, A, B);
      A.dispose();
      B.dispose();
    }
  }
  prepareCompressionStage(clara, 1, generator);
  const examples = ROWS.map((row) => stage1Example(clara.tokenizer, row, generator));
  for (const e of examples) expect(clara.tokenizer.encode(e.docs[0]!, { addBos: false })).not.toContain(clara.tokenizer.unkId);
  return { clara, examples };
}

interface Losses {
  loss: number;
  ce: number;
  mse: number;
  /** Per example: its own cross-entropy, supervised-token count and MSE term. */
  ceRows: number[];
  counts: number[];
  mseRows: number[];
  /** Per example: its compressed document [n·d]. */
  compressed: Float32Array[];
}

async function losses(clara: ClaraModel, batch: Batch): Promise<Losses> {
  // tidy: on WebGPU the intermediate tensors hold device buffers; only the losses survive (until read).
  const { out, rows } = noGrad(() =>
    tidy(() => {
      const out = compressionLoss(clara, batch, MSE_WEIGHT);
      const { hidden } = compressDocuments(clara.backbone, batch.encoder);
      const rows = batch.generator.labels.map((labels, b) => ({
        ce: answerCrossEntropy(out.logits.slice(0, b, b + 1), [labels]),
        mse: memoryMseLoss(hidden.slice(0, b, b + 1), [batch.encoder.attentionMask[b]!], clara.nMem).loss,
      }));
      return { out: { loss: out.loss, ce: out.ce, mse: out.mse, compressed: out.compressed }, rows };
    }),
  );
  const item = async (t: Tensor) => t.item();
  const perDoc = out.compressed.size / out.compressed.shape[0]!;
  const flat = Float32Array.from((await out.compressed.toArray()) as ArrayLike<number>);
  const result: Losses = {
    loss: await item(out.loss),
    ce: await item(out.ce),
    mse: await item(out.mse),
    ceRows: await Promise.all(rows.map((r) => item(r.ce))),
    counts: batch.generator.labels.map((labels) => labels.slice(1).filter((l) => l !== -100).length),
    mseRows: await Promise.all(rows.map((r) => item(r.mse))),
    compressed: Array.from({ length: out.compressed.shape[0]! }, (_, b) => flat.slice(b * perDoc, (b + 1) * perDoc)),
  };
  for (const t of [out.loss, out.ce, out.mse, out.compressed, ...rows.flatMap((r) => [r.ce, r.mse])]) t.dispose();
  return result;
}

/** `extraEncoder` more pad columns on the left of every encoder row, `extraGenerator` on every generator row. */
function padMore(batch: Batch, pad: number, extraEncoder: number, extraGenerator: number): Batch {
  const left = <T>(rows: T[][], value: T, k: number) => rows.map((r) => [...new Array<T>(k).fill(value), ...r]);
  return {
    encoder: {
      inputIds: left(batch.encoder.inputIds, pad, extraEncoder),
      attentionMask: left(batch.encoder.attentionMask, 0, extraEncoder),
      memoryPositions: batch.encoder.memoryPositions.map((r) => r.map((p) => p + extraEncoder)),
    },
    generator: {
      inputIds: left(batch.generator.inputIds, pad, extraGenerator),
      attentionMask: left(batch.generator.attentionMask, 0, extraGenerator),
      labels: left(batch.generator.labels, -100, extraGenerator),
      memoryPositions: batch.generator.memoryPositions.map((slots) => slots.map((s) => s.map((p) => p + extraGenerator))),
    },
  };
}

function expectNear(actual: number, expected: number, what: string, tol = TOL): void {
  expect(Math.abs(actual - expected), `${what}: ${actual} vs ${expected}`).toBeLessThanOrEqual(tol);
}

async function gradients(clara: ClaraModel, batch: Batch): Promise<Float32Array> {
  const model = clara.backbone;
  const params = [...model.adapterParameters(ENCODER_ADAPTER), ...model.adapterParameters(DECODER_ADAPTER)].map(([, p]) => p);
  const embedding = model.model.embedTokens.weight;
  for (const p of [...params, embedding]) {
    p.grad?.dispose();
    p.grad = null;
  }
  tidy(() => compressionLoss(clara, batch, MSE_WEIGHT).loss.backward()); // the gradients are kept, the graph freed
  const parts = await Promise.all([...params.map((p) => p.grad!.toArray()), embedding.maskGrad()!.toArray()]);
  return Float32Array.from(parts.flatMap((p) => Array.from(p as ArrayLike<number>)));
}

describe.each(backends.map((b) => [b.name, b] as const))('stage-1 losses do not depend on padding or order, on %s', (_, backend) => {
  const { clara, examples } = buildClara(backend);
  const tok = clara.tokenizer;
  const docs = (ex: readonly Example[]) => ex.flatMap((e) => e.docs);

  it("encoder rows padded to doc_max_length ('max_length') or to the longest document ('longest'): same losses, compressed vectors and gradients", async () => {
    const fitting = examples.filter((e) => tok.encode(e.docs[0]!, { addBos: false }).length < DOC_MAX - 8);
    expect(fitting.length).toBeGreaterThanOrEqual(3);
    const longest = collateBatch(tok, fitting, DOC_MAX);
    const maxLength: Batch = { ...longest, encoder: buildEncoderBatch(tok, docs(fitting), { maxTextLength: DOC_MAX, padding: 'max_length' }) };
    expect(maxLength.encoder.inputIds[0]!.length).toBe(DOC_MAX + 3 + clara.nMem);
    expect(longest.encoder.inputIds[0]!.length).toBeLessThanOrEqual(DOC_MAX - 8 + 3 + clara.nMem);
    const a = await losses(clara, longest);
    const b = await losses(clara, maxLength);
    expectNear(b.loss, a.loss, 'loss');
    expectNear(b.ce, a.ce, 'ce');
    expectNear(b.mse, a.mse, 'mse');
    a.compressed.forEach((c, i) => {
      expect(maxAbsDiff(b.compressed[i]!, c), `compressed ${i}`).toBeLessThanOrEqual(TOL);
    });
    const ga = await gradients(clara, longest);
    const gb = await gradients(clara, maxLength);
    const scale = ga.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    expect(scale).toBeGreaterThan(0);
    expect(maxAbsDiff(gb, ga) / scale, 'gradients (relative to the largest)').toBeLessThanOrEqual(1e-5);
  });

  it('an example batched with a longer one (more left padding on both its rows) keeps its own cross-entropy and MSE term', async () => {
    const lengths = examples.map((e) => e.generator.inputIds.length);
    const longestIndex = lengths.indexOf(Math.max(...lengths));
    for (const [i, e] of examples.entries()) {
      if (i === longestIndex) continue;
      const alone = await losses(clara, collateBatch(tok, [e], DOC_MAX));
      const withLong = collateBatch(tok, [e, examples[longestIndex]!], DOC_MAX);
      expect(withLong.generator.attentionMask[0]![0], 'the example is padded in the pair').toBe(0);
      const pair = await losses(clara, withLong);
      expectNear(pair.ceRows[0]!, alone.ce, `example ${i} ce`);
      expectNear(pair.mseRows[0]!, alone.mse, `example ${i} mse`);
      expect(maxAbsDiff(pair.compressed[0]!, alone.compressed[0]!)).toBeLessThanOrEqual(TOL);
      // The batch's CE is the token-weighted mean of its rows'.
      const weighted = (pair.ceRows[0]! * pair.counts[0]! + pair.ceRows[1]! * pair.counts[1]!) / (pair.counts[0]! + pair.counts[1]!);
      expectNear(pair.ce, weighted, 'pair ce');
    }
  });

  it('the loss is invariant to the order of the examples in a batch', async () => {
    const three = examples.slice(0, 3);
    const reference = await losses(clara, collateBatch(tok, three, DOC_MAX));
    const orders = [
      [0, 2, 1],
      [1, 0, 2],
      [1, 2, 0],
      [2, 0, 1],
      [2, 1, 0],
    ];
    for (const order of orders) {
      const got = await losses(
        clara,
        collateBatch(
          tok,
          order.map((i) => three[i]!),
          DOC_MAX,
        ),
      );
      expectNear(got.loss, reference.loss, `loss, order ${order}`);
      expectNear(got.ce, reference.ce, `ce, order ${order}`);
      expectNear(got.mse, reference.mse, `mse, order ${order}`);
      order.forEach((i, b) => {
        expectNear(got.ceRows[b]!, reference.ceRows[i]!, `ce of example ${i}, order ${order}`);
      });
    }
  });

  it('property: any subset, order and extra left padding gives each example its own losses, and the batch their mean', async () => {
    const alone = await Promise.all(examples.map((e) => losses(clara, collateBatch(tok, [e], DOC_MAX))));
    const arbitrary = fc.record({
      order: fc
        .shuffledSubarray(
          examples.map((_, i) => i),
          { minLength: 1 },
        )
        .chain((s) => fc.shuffledSubarray(s, { minLength: s.length, maxLength: s.length })),
      padding: fc.constantFrom<'longest' | 'max_length'>('longest', 'max_length'),
      extraEncoder: fc.integer({ min: 0, max: 6 }),
      extraGenerator: fc.integer({ min: 0, max: 6 }),
    });
    await fc.assert(
      fc.asyncProperty(arbitrary, async ({ order, padding, extraEncoder, extraGenerator }) => {
        const chosen = order.map((i) => examples[i]!);
        const collated = collateBatch(tok, chosen, DOC_MAX);
        const encoder = buildEncoderBatch(tok, docs(chosen), { maxTextLength: DOC_MAX, padding });
        const batch = padMore({ ...collated, encoder }, tok.padId, extraEncoder, extraGenerator);
        const got = await losses(clara, batch);
        order.forEach((i, b) => {
          expectNear(got.ceRows[b]!, alone[i]!.ce, `ce of example ${i}`);
          expectNear(got.mseRows[b]!, alone[i]!.mse, `mse of example ${i}`);
          expect(maxAbsDiff(got.compressed[b]!, alone[i]!.compressed[0]!)).toBeLessThanOrEqual(TOL);
        });
        const tokens = order.reduce((s, i) => s + alone[i]!.counts[0]!, 0);
        const ce = order.reduce((s, i) => s + alone[i]!.ce * alone[i]!.counts[0]!, 0) / tokens;
        const mse = order.reduce((s, i) => s + alone[i]!.mse, 0) / order.length;
        expectNear(got.ce, ce, 'batch ce');
        expectNear(got.mse, mse, 'batch mse');
        expectNear(got.loss, ce + MSE_WEIGHT * mse, 'batch loss');
      }),
      { numRuns: 12, seed: 20251124 },
    );
  });
});
