import { describe, expect, it } from 'vitest';
import { crossEntropy, tidy, type Backend, type Tensor } from '../../../engine/index.ts';
import { AdamW } from '../../../engine/optim/index.ts';
import type { MistralForCausalLM } from '../../../clara/model/mistral.ts';
import { availableBackends } from '../../helpers/backends.ts';
import { expectClose, goldenModel, loadGolden, mismatch, upload, type Golden, type Tolerance } from './helpers.ts';

/**
 * The whole-model golden state of reference/record_mistral.py (its own plain-PyTorch Mistral with
 * LoRA, tiny config, two adapters with non-zero A and B, a left-padded batch of two), reproduced on
 * every backend: every hidden state, the logits, the loss, the gradient of every LoRA parameter of
 * the active adapter (and none for the other adapter or the frozen base), the logits with no adapter
 * and with the other adapter, and a 10-step AdamW run (loss trajectory and final adapter values).
 *
 * Tolerances (float32 throughout, |a − e| ≤ atol + rtol·|e|):
 *  - forward (hidden states, logits, loss): rtol 1e-4, atol 1e-5 — two blocks of matmuls
 *    (k ≤ 64), RMSNorm and softmax chains, summed in a different order than torch's kernels;
 *  - LoRA gradients: rtol 1e-4, atol 1e-6 — the gradients are O(1e-3) (at most 0.075), so the
 *    absolute floor is a decade below the forward's to keep the check meaningful;
 *  - the AdamW run: per-step losses rtol 1e-4 / atol 1e-5, the adapter after the run atol 1e-5.
 *    Adam divides by √v, so a rounding difference in a gradient element close to zero can move
 *    that element's update by a visible fraction of lr (1e-2); the floor leaves room for that.
 * Observed (CPU backend, and the WebGPU backend through Dawn): hidden states and logits within
 * 7e-7, the loss within 5e-7, gradients within 2e-8, losses along the run within 1e-6, the trained
 * adapter within 4e-7 — one to two orders of magnitude inside the tolerances. A convention error
 * (rotary halves swapped, LoRA scale, causal mask, positions) moves the logits by 1e-1 or more.
 * A constant shift of a row's positions is invisible (rotary encodes only differences): the
 * left-padded row checks the padding mask; positionsFromMask itself and the consistency of
 * positions between a prefill and cached steps are checked in properties.test.ts.
 */

const FORWARD: Tolerance = { rtol: 1e-4, atol: 1e-5 };
const GRAD: Tolerance = { rtol: 1e-4, atol: 1e-6 };
const TRAJECTORY: Tolerance = { rtol: 1e-4, atol: 1e-5 };
const TRAINED: Tolerance = { rtol: 1e-4, atol: 1e-5 };

const golden = loadGolden();
const backends = await availableBackends();

/** The next-token loss: logits[:, :-1] against labels[:, 1:], mean over targets ≠ −100. */
function lmLoss(logits: Tensor, labels: Tensor, seq: number): Tensor {
  return crossEntropy(logits.slice(1, 0, seq - 1), labels.slice(1, 1));
}

function inputs(g: Golden, backend: Backend) {
  return { ids: upload(g.host('input_ids'), backend), labels: upload(g.host('labels'), backend) };
}

describe.each(backends.map((b) => [b.name, b] as const))('golden tiny Mistral with LoRA on %s', (_, backend) => {
  it('hidden states, logits, loss and every LoRA gradient match PyTorch; only the active adapter gets a gradient', async () => {
    const model = goldenModel(golden, backend);
    const { ids, labels } = inputs(golden, backend);
    const out = model.forward({ inputIds: ids, attentionMask: golden.mask, adapter: golden.active, outputHiddenStates: true });
    const L = golden.config.num_hidden_layers;
    expect(out.hiddenStates).toHaveLength(L + 1);
    for (let j = 0; j <= L; j++) await expectClose(out.hiddenStates![j]!, golden.host(`hidden_states.${j}`), FORWARD, `hidden_states.${j}`);
    await expectClose(out.logits!, golden.host('logits'), FORWARD, 'logits');
    const loss = lmLoss(out.logits!, labels, golden.seq);
    await expectClose(loss, golden.host('loss'), FORWARD, 'loss');

    loss.backward();
    const active = model.adapterParameters(golden.active);
    expect(active).toHaveLength(L * 7 * 2);
    for (const [key, p] of active) {
      expect(p.grad, `${key} has no gradient`).not.toBeNull();
      await expectClose(p.grad!, golden.host(`grad.${key}`), GRAD, `grad.${key}`);
    }
    // torch left these None (recorded as metadata); here: null, never a zero tensor.
    expect(golden.file.metadata['inactive_grads']).toBe('none');
    expect(golden.file.metadata['base_grads']).toBe('none');
    for (const [key, p] of model.adapterParameters(golden.inactive)) expect(p.grad, `${golden.inactive}: ${key}`).toBeNull();
    for (const [name, p] of model.namedParameters()) {
      expect(p.requiresGrad, name).toBe(false);
      expect(p.grad, name).toBeNull();
    }
    model.dispose();
  });

  it('logits with no adapter and with the other adapter match PyTorch', async () => {
    const model = goldenModel(golden, backend);
    const { ids } = inputs(golden, backend);
    const base = model.forward({ inputIds: ids, attentionMask: golden.mask, adapter: null });
    await expectClose(base.logits!, golden.host('logits_base'), FORWARD, 'logits_base');
    const other = model.forward({ inputIds: ids, attentionMask: golden.mask, adapter: golden.inactive });
    await expectClose(other.logits!, golden.host('logits_other'), FORWARD, 'logits_other');
    model.dispose();
  });

  it(`a ${golden.steps}-step AdamW run on the active adapter follows PyTorch's loss trajectory and ends at its values`, async () => {
    const model: MistralForCausalLM = goldenModel(golden, backend);
    const { ids, labels } = inputs(golden, backend);
    const h = golden.adamw;
    const opt = new AdamW(model.adapterParameters(golden.active), { lr: h.lr, betas: h.betas, eps: h.eps, weightDecay: h.weight_decay });
    const losses: number[] = [];
    for (let step = 0; step < golden.steps; step++) {
      const loss = tidy(() => {
        opt.zeroGrad();
        const l = lmLoss(model.forward({ inputIds: ids, attentionMask: golden.mask, adapter: golden.active }).logits!, labels, golden.seq);
        l.backward();
        opt.step();
        return l.detach();
      });
      losses.push(await loss.item());
      loss.dispose();
    }
    const expected = golden.host('train.losses');
    expect(mismatch(losses, expected.data as Float32Array, TRAJECTORY), `losses ${losses.join(', ')}`).toBeNull();
    expect(losses[golden.steps - 1]!).toBeLessThan(losses[0]! - 1); // it does train
    for (const [key, p] of model.adapterParameters(golden.active)) await expectClose(p, golden.host(`trained.${key}`), TRAINED, `trained.${key}`);
    // The inactive adapter was neither used nor optimised.
    for (const [key, p] of model.adapterParameters(golden.inactive)) {
      expect(p.grad).toBeNull();
      await expectClose(p, golden.host(`adapter.${golden.inactive}.${key}`), { rtol: 0, atol: 0 }, `${golden.inactive}.${key}`);
    }
    opt.dispose();
    model.dispose();
  });
});
