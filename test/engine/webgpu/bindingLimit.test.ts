import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { answerLoss } from '../../../clara/answerLoss.ts';
import type { WebGPUBackend } from '../../../engine/backends/webgpu/backend.ts';
import { cpuBackend, Parameter, tensor } from '../../../engine/index.ts';
import { acquireBackend, expectClose, randomArray } from './helpers.ts';

/**
 * The official stage-1 sample once stopped on WebGPU: its answer logits [supervised tokens, V] were
 * 155 MB against a 128 MiB binding limit. The answer loss now projects in chunks that fit. Tested
 * cheaply with an artificial limit of 4 KiB: one row of logits over a 64-token vocabulary is 256 bytes,
 * so 40 supervised tokens (10 KiB of logits) need three chunks.
 */
let small: WebGPUBackend | null = null;
beforeAll(async () => {
  small = await acquireBackend({ maxBindingBytes: 4096 });
});
afterAll(() => small?.destroy());

function need(t: TestContext): WebGPUBackend {
  if (!small) t.skip(); // no adapter on this machine; with CI=true acquireBackend fails the run instead
  return small!;
}

describe('tensors larger than a storage binding', () => {
  it('the answer loss chunks logits over the limit, with the loss and gradients of one projection', async (t) => {
    const gpu = need(t);
    const [batch, length, d, vocab] = [2, 24, 16, 64];
    const labels = Array.from({ length: batch }, (_, b) => Array.from({ length }, (_, i) => (i < 3 ? -100 : (i * 7 + b) % vocab)));
    const run = async (backend: typeof cpuBackend | WebGPUBackend) => {
      const hidden = new Parameter(tensor(randomArray(batch * length * d, 1), [batch, length, d], { backend }));
      const head = new Parameter(tensor(randomArray(vocab * d, 2), [vocab, d], { backend }));
      const loss = answerLoss(hidden, head, labels);
      loss.backward();
      return { loss: await loss.item(), hidden: [...(await hidden.grad!.toArray())], head: [...(await head.grad!.toArray())] };
    };
    expect(() => gpu.alloc('float32', 40 * vocab)).toThrow(/exceeds the adapter's maxStorageBufferBindingSize \(4096 bytes\)/);
    const want = await run(cpuBackend);
    const got = await run(gpu);
    expectClose([got.loss], [want.loss], 1e-5);
    expectClose(got.hidden, want.hidden, 1e-5);
    expectClose(got.head, want.head, 1e-5);
  });
});
