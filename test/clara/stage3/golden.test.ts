import { afterAll, describe, expect, it } from 'vitest';
import { tensor, type Backend, type Tensor } from '../../../engine/index.ts';
import type { HostTensor } from '../../../engine/io/index.ts';
import { answerCrossEntropy } from '../../../clara/answerLoss.ts';
import { DECODER_ADAPTER, ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../../../clara/adapters.ts';
import { idsTensor } from '../../../clara/compressor.ts';
import { straightThroughTopK } from '../../../clara/differentiableTopK.ts';
import { cosineScores, encodeQueries } from '../../../clara/queryReasoner.ts';
import { compressCorpus } from '../../../clara/retrieval/documentBank.ts';
import { spliceCompressed } from '../../../clara/generatorRead.ts';
import { prepareStage3, stage3Loss, type Stage3Batch } from '../../../clara/endToEndObjective.ts';
import type { ClaraModel } from '../../../clara/claraModel.ts';
import { findMemorySlots } from '../../../clara/tokenizer/chatPrompt.ts';
import { buildEncoderBatch } from '../../../clara/tokenizer/encoderInput.ts';
import { collateGeneratorInputs } from '../../../clara/tokenizer/generatorBatch.ts';
import { availableBackends } from '../../helpers/backends.ts';
import { fixtureTokenizer, idTokenizer, upload, type Tolerance } from '../stage1/helpers.ts';
import { expectWithin, loadStage3Golden, maxAbs, rows2d, stage3Clara, used } from './helpers.ts';

/**
 * The stage-3 golden state of reference/record_clara_stage3.py: one end-to-end step (docs/clara.md
 * §6) computed by its own plain-PyTorch CLaRa on the tiny backbone (V = 64, n = 4, LoRA r 4 / α 8,
 * all three adapters non-zero, the query reasoner a perturbed copy of the compressor), with B = 2
 * questions, N = 5 candidates each drawn from a bank of 6 documents compressed without gradient,
 * and k = 2, at τ = 0.02 and at τ = 1. Replayed through the library on every backend: the bank
 * (compressCorpus), q (encodeQueries), then stage3Loss as the trainer calls it (s, idx, P, W,
 * logits, the loss) and its backward (every query-reasoner and generator LoRA gradient; none for
 * the compressor or the base). ∂L/∂s and ∂L/∂q, which PyTorch read with retain_grad, are checked
 * without hooks: s (or q) is made a leaf from the recorded values and the rest of the step is run
 * from it.
 *
 * Tolerances (float32 throughout, |a − e| ≤ atol + rtol·|e|):
 *  - idx, W (= H), and the selected vectors W·D (from the recorded bank): exact. W is one-hot in
 *    the forward pass and 1·x + 0·y… is exact, so anything else is a bug;
 *  - forward (bank, q, s, logits, loss): rtol 1e-4, atol 1e-5, as the stage-1 golden test;
 *  - P: rtol 1e-4 and no absolute floor, so the already-taken entries (≈ 2.7e-9, from the
 *    ln(1e-8) mask) are held to their relative value: a −∞ mask (exact 0) fails;
 *  - gradients: rtol 1e-3, atol 1e-4 × the largest |entry| of that quantity at that temperature
 *    (per adapter; ∂L/∂s; ∂L/∂q). Scale-relative because the query reasoner's gradients are small
 *    and their size depends on τ: 4e-8…4e-4 at τ = 0.02, 4e-9…8e-6 at τ = 1 (the scores are close,
 *    cosines 0.97–0.99, as a compressor's vectors are; P is nearly uniform at τ = 1).
 * Observed (printed at the end of the run, per backend and quantity, with the share of the tolerance
 * used), on the CPU backend and on WebGPU through Dawn alike: forward within 7.2e-7 (losses exact),
 * P within 1.6e-6 (8% of its tolerance, the most used by any quantity), gradients within 1e-4…5% of
 * their tolerances. Checked by mutation (each fails this file): the taken mask as −∞ (ε = 0), the
 * mask as log((1 + 1e-8) − taken), `taken` never updated, no division by τ, W evaluated as
 * (H + P) − P, the queries encoded with encoder_adapter, the cosine's norm detached.
 */

const FORWARD: Tolerance = { rtol: 1e-4, atol: 1e-5 };
const SOFT: Tolerance = { rtol: 1e-4, atol: 0 };
const GRAD_RTOL = 1e-3;
const GRAD_ATOL_SCALE = 1e-4;

const golden = loadStage3Golden();
const backends = await availableBackends();
const { k, nMem } = golden;
const B = golden.questions.length;
const N = golden.candidates[0]!.length;
const d = golden.config.hidden_size;

/** Gradient tolerance scaled to the recorded quantity: names of all the tensors that share a scale. */
function gradTolerance(names: readonly string[]): Tolerance {
  return { rtol: GRAD_RTOL, atol: GRAD_ATOL_SCALE * Math.max(...names.map((n) => maxAbs(golden.host(n)))) };
}

async function expectExact(actual: Tensor, expected: readonly number[] | ArrayLike<number>, what: string): Promise<void> {
  expect(Array.from((await actual.toArray()) as ArrayLike<number>), what).toEqual(Array.from(expected));
}

afterAll(() => {
  console.log(
    `stage-3 golden, per quantity: largest |diff| (largest share of its tolerance used):\n  ${[...used].map(([key, v]) => `${key} ${v.diff.toExponential(1)} (${(100 * v.share).toFixed(1)}%)`).join('\n  ')}`,
  );
});

describe("stage-3 golden: the recorded inputs are the library's layouts", () => {
  it("the bank's and the questions' encoder rows are buildEncoderBatch's for their id texts", () => {
    const tok = idTokenizer(fixtureTokenizer(nMem));
    const bank = buildEncoderBatch(tok, golden.documentTexts, { maxTextLength: golden.docMaxLength, padding: 'longest' });
    expect(bank.inputIds).toEqual(rows2d(golden.host('bank.input_ids')));
    expect(bank.attentionMask).toEqual(rows2d(golden.host('bank.attention_mask')));
    const questions = buildEncoderBatch(tok, golden.questionTexts, { maxTextLength: 16, padding: 'longest' });
    expect(questions.inputIds).toEqual(rows2d(golden.host('query.input_ids')));
    expect(questions.attentionMask).toEqual(rows2d(golden.host('query.attention_mask')));
  });

  it("the generator rows hold k slots `<MEM0..3><SEP>` and are collateGeneratorInputs' layout; only the answer is supervised", () => {
    const tok = idTokenizer(fixtureTokenizer(nMem));
    const gen = golden.generator;
    const inputs = gen.inputIds.map((row, b) => {
      const start = gen.attentionMask[b]!.indexOf(1);
      const inputIds = row.slice(start);
      const labels = gen.labels[b]!.slice(start);
      const promptLength = labels.findIndex((l) => l !== -100);
      expect(labels.slice(promptLength)).toEqual(inputIds.slice(promptLength));
      expect(inputIds.at(-1)).toBe(golden.special.eos);
      const memoryPositions = findMemorySlots(tok, inputIds, k);
      for (const slot of memoryPositions) {
        expect(slot.map((p) => inputIds[p])).toEqual(golden.special.mem);
        expect(inputIds[slot.at(-1)! + 1]).toBe(golden.special.sep);
        expect(slot.at(-1)!).toBeLessThan(promptLength);
      }
      return { inputIds, labels, promptLength, memoryPositions };
    });
    expect(collateGeneratorInputs(inputs, tok.padId)).toEqual(gen);
  });

  it('the recorded top-k is the hard selection in descending score order, and the selected vectors are bank[candidates[idx]]', () => {
    const s = golden.host('s').data as Float32Array;
    const bank = golden.host('bank').data as Float32Array;
    const D = golden.host('candidate_vectors').data as Float32Array;
    const m = nMem * d;
    golden.candidates.forEach((cands, b) => {
      cands.forEach((row, j) => {
        expect(D.slice((b * N + j) * m, (b * N + j + 1) * m)).toEqual(bank.slice(row * m, (row + 1) * m));
      });
    });
    for (const { prefix } of golden.temperatures) {
      const idx = rows2d(golden.host(`${prefix}idx`));
      const W = golden.host(`${prefix}W`).data as Float32Array;
      const H = golden.host(`${prefix}H`).data as Float32Array;
      const sel = golden.host(`${prefix}selected`).data as Float32Array;
      expect(W).toEqual(H);
      for (let b = 0; b < B; b++) {
        const order = Array.from(s.slice(b * N, (b + 1) * N))
          .map((v, i) => [v, i] as const)
          .sort((x, y) => y[0] - x[0]);
        expect(idx[b]).toEqual(order.slice(0, k).map(([, i]) => i));
        for (let j = 0; j < k; j++) {
          const want = golden.candidates[b]![idx[b]![j]!]!;
          expect(Array.from(W.slice((b * k + j) * N, (b * k + j + 1) * N))).toEqual(Array.from({ length: N }, (_, i) => (i === idx[b]![j] ? 1 : 0)));
          expect(sel.slice((b * k + j) * m, (b * k + j + 1) * m)).toEqual(bank.slice(want * m, (want + 1) * m));
        }
      }
    }
    // Row 1's choice is not the candidates' own order (so an index mix-up shows).
    expect(rows2d(golden.host(`${golden.temperatures[0]!.prefix}idx`))[1]).not.toEqual([0, 1]);
  });
});

/** The items of the recorded step (their answers live in the recorded generator rows). */
function recordedBatch(): Stage3Batch {
  return {
    items: golden.questionTexts.map((question, b) => ({ question, candidates: golden.candidates[b]!, answer: '' })),
    generator: golden.generator,
  };
}

/** The part of the step after the scores: top-k, W·D, splice, generator, answer loss. */
function fromScores(clara: ClaraModel, scores: Tensor, candidates: Tensor, tau: number): { loss: Tensor; selected: Tensor } {
  const model = clara.backbone;
  const gen = golden.generator;
  const { weights } = straightThroughTopK(scores, { k, temperature: tau });
  const selected = weights.matmul(candidates).reshape([B * k, nMem, d]);
  const spliced = spliceCompressed(model.embed(idsTensor(model, gen.inputIds)), gen.memoryPositions, selected);
  const logits = model.forward({ inputsEmbeds: spliced, attentionMask: gen.attentionMask.flat(), adapter: DECODER_ADAPTER }).logits!;
  return { loss: answerCrossEntropy(logits, gen.labels), selected };
}

function leaf(name: string, backend: Backend): Tensor {
  const h = golden.host(name);
  return tensor(h.data, h.shape, { dtype: h.dtype, backend, requiresGrad: true });
}

describe.each(backends.map((b) => [b.name, b] as const))('stage-3 golden on %s', (_, backend) => {
  const expectClose = (actual: Tensor, expected: HostTensor, tol: Tolerance, what: string, group = what) =>
    expectWithin(actual, expected, tol, what, `${backend.name}: ${group}`);

  it('the bank (compressCorpus, without gradient) and q (encodeQueries, query_reasoner_adapter) match PyTorch', async () => {
    const clara = stage3Clara(golden, backend);
    const bank = compressCorpus(clara, golden.documentTexts);
    expect(bank.requiresGrad).toBe(false);
    await expectClose(bank, golden.host('bank'), FORWARD, 'bank');
    const q = encodeQueries(clara, golden.questionTexts);
    await expectClose(q, golden.host('q'), FORWARD, 'q');
    // The compressor's adapter would give other vectors: the queries really are the query reasoner's.
    const wrong = await encodeQueries(clara, golden.questionTexts, ENCODER_ADAPTER).toArray();
    expect(Math.max(...Array.from(wrong as Float32Array, (v, i) => Math.abs(v - (golden.host('q').data as Float32Array)[i]!)))).toBeGreaterThan(1e-3);
    bank.dispose();
    clara.backbone.dispose();
  });

  it.each(golden.temperatures.map((t) => [t.tau, t] as const))(
    'τ = %s: stage3Loss (s, idx, P, W, logits, loss) and every gradient match PyTorch; the compressor and the base get none',
    async (tau, { prefix }) => {
      const clara = stage3Clara(golden, backend);
      const model = clara.backbone;
      const adapterValues = (name: string) => Promise.all(model.adapterParameters(name).map(([, p]) => p.toArray()));
      const before = await adapterValues(QUERY_REASONER_ADAPTER);
      const groups = prepareStage3(clara);
      // The recorded query reasoner is kept (not re-copied from the compressor); exactly it and the generator train.
      expect(await adapterValues(QUERY_REASONER_ADAPTER)).toEqual(before);
      expect(groups.queryReasoner).toEqual(model.adapterParameters(QUERY_REASONER_ADAPTER).map(([, p]) => p));
      expect(groups.generator).toEqual(model.adapterParameters(DECODER_ADAPTER).map(([, p]) => p));

      const bank = upload(golden.host('bank'), backend);
      const out = stage3Loss(clara, bank, recordedBatch(), { k, temperature: tau, estimator: straightThroughTopK });
      await expectClose(out.scores, golden.host('s'), FORWARD, 's');
      await expectExact(out.selection.indices, golden.host(`${prefix}idx`).data, 'idx');
      await expectExact(out.selection.weights, golden.host(`${prefix}W`).data, 'W');
      await expectClose(out.selection.soft, golden.host(`${prefix}P`), SOFT, `P (τ ${tau})`);
      await expectClose(out.logits, golden.host(`${prefix}logits`), FORWARD, 'logits');
      await expectClose(out.loss, golden.host(`${prefix}loss`), FORWARD, 'loss');
      out.loss.backward();

      for (const name of golden.trained) {
        const params = model.adapterParameters(name);
        const tol = gradTolerance(params.map(([key]) => `${prefix}grad.${name}.${key}`));
        for (const [key, p] of params) {
          expect(p.grad, `${name}.${key} has no gradient`).not.toBeNull();
          await expectClose(p.grad!, golden.host(`${prefix}grad.${name}.${key}`), tol, `grad.${name}.${key} (τ ${tau})`, `grad.${name} (τ ${tau})`);
        }
      }
      expect(golden.file.metadata['encoder_grads']).toBe('none');
      for (const [key, p] of model.adapterParameters(ENCODER_ADAPTER)) {
        expect(p.requiresGrad, key).toBe(false);
        expect(p.grad, key).toBeNull();
      }
      expect(golden.file.metadata['base_grads']).toBe('none');
      for (const [name, p] of model.namedParameters()) {
        expect(p.requiresGrad, name).toBe(false);
        expect(p.grad, name).toBeNull();
      }
      bank.dispose();
      model.dispose();
    },
  );

  it.each(golden.temperatures.map((t) => [t.tau, t] as const))(
    "τ = %s: ∂L/∂s and ∂L/∂q (as leaves) match PyTorch's retain_grad; W·D is exactly the chosen rows",
    async (tau, { prefix }) => {
      const clara = stage3Clara(golden, backend);
      const candidates = upload(golden.host('candidate_vectors'), backend);

      const s = leaf('s', backend);
      const fromS = fromScores(clara, s, candidates, tau);
      await expectExact(fromS.selected, golden.host(`${prefix}selected`).data, 'selected');
      await expectClose(fromS.loss, golden.host(`${prefix}loss`), FORWARD, 'loss');
      fromS.loss.backward();
      await expectClose(s.grad!, golden.host(`${prefix}grad.s`), gradTolerance([`${prefix}grad.s`]), `∂L/∂s (τ ${tau})`);

      const q = leaf('q', backend);
      const fromQ = fromScores(clara, cosineScores(q, candidates), candidates, tau);
      fromQ.loss.backward();
      await expectClose(q.grad!, golden.host(`${prefix}grad.q`), gradTolerance([`${prefix}grad.q`]), `∂L/∂q (τ ${tau})`);
      candidates.dispose();
      clara.backbone.dispose();
    },
  );

  it('without prepareStage3 (every adapter requiring gradients), the bank still passes none to the compressor', async () => {
    const clara = stage3Clara(golden, backend);
    const model = clara.backbone;
    for (const name of golden.adapters) for (const [, p] of model.adapterParameters(name)) expect(p.requiresGrad).toBe(true);
    const bank = compressCorpus(clara, golden.documentTexts);
    const { tau, prefix } = golden.temperatures[0]!;
    const out = stage3Loss(clara, bank, recordedBatch(), { k, temperature: tau, estimator: straightThroughTopK });
    await expectClose(out.loss, golden.host(`${prefix}loss`), FORWARD, 'loss');
    out.loss.backward();
    for (const [key, p] of model.adapterParameters(ENCODER_ADAPTER)) expect(p.grad, key).toBeNull();
    for (const name of golden.trained) for (const [key, p] of model.adapterParameters(name)) expect(p.grad, `${name}.${key}`).not.toBeNull();
    bank.dispose();
    model.dispose();
  });

  it('prepareStage3 creates the query reasoner as an exact copy of encoder_adapter when the model has none', async () => {
    const clara = stage3Clara(golden, backend, [ENCODER_ADAPTER, DECODER_ADAPTER]);
    const model = clara.backbone;
    prepareStage3(clara);
    const encoder = model.adapterParameters(ENCODER_ADAPTER);
    const reasoner = model.adapterParameters(QUERY_REASONER_ADAPTER);
    expect(reasoner.map(([key]) => key)).toEqual(encoder.map(([key]) => key));
    for (let i = 0; i < encoder.length; i++) {
      expect(reasoner[i]![1]).not.toBe(encoder[i]![1]);
      expect(await reasoner[i]![1].toArray()).toEqual(await encoder[i]![1].toArray());
    }
    model.dispose();
  });
});
