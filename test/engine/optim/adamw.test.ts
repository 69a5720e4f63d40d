import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Generator, tensor, tidy, type Tensor } from '../../../engine/index.ts';
import { Embedding, Linear, Module, Parameter } from '../../../engine/nn/index.ts';
import { AdamW, clipGradNorm, cosineSchedule } from '../../../engine/optim/index.ts';
import { values } from '../nn/gradcheck.ts';

interface Hyper {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  wd: number;
}

/** torch.optim.AdamW's update for one scalar, written out in plain JS (float64). */
function adamwReference(p0: number, grad: (p: number) => number, h: Hyper, steps: number): { p: number[]; m: number; v: number } {
  let p = p0;
  let m = 0;
  let v = 0;
  const trace: number[] = [];
  for (let t = 1; t <= steps; t++) {
    const g = grad(p);
    p = p * (1 - h.lr * h.wd);
    m = h.beta1 * m + (1 - h.beta1) * g;
    v = h.beta2 * v + (1 - h.beta2) * g * g;
    const mHat = m / (1 - h.beta1 ** t);
    const vHat = v / (1 - h.beta2 ** t);
    p = p - (h.lr * mHat) / (Math.sqrt(vHat) + h.eps);
    trace.push(p);
  }
  return { p: trace, m, v };
}

/** f(p) = (p − 3)², one float64 parameter; returns p after each step and the optimiser. */
async function runScalar(p0: number, h: Hyper, steps: number): Promise<{ trace: number[]; opt: AdamW; p: Parameter }> {
  const p = new Parameter(tensor(Float64Array.from([p0]), []), { name: 'p' });
  const opt = new AdamW([p], { lr: h.lr, betas: [h.beta1, h.beta2], eps: h.eps, weightDecay: h.wd });
  const trace: number[] = [];
  for (let i = 0; i < steps; i++) {
    tidy(() => {
      opt.zeroGrad();
      p.sub(3).square().backward();
      opt.step();
    });
    trace.push(await p.item());
  }
  return { trace, opt, p };
}

describe('AdamW', () => {
  it('first step: p·(1 − lr·λ) − lr·g/(|g| + ε), the closed form', async () => {
    const h = { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.01 };
    const { trace } = await runScalar(5, h, 1);
    const g = 2 * (5 - 3);
    expect(Math.abs(trace[0]! - (5 * (1 - 0.1 * 0.01) - (0.1 * g) / (Math.abs(g) + 1e-8)))).toBeLessThan(1e-12);
  });

  it('matches the hand-computed torch recurrence on f(p) = (p − 3)² to 1e-12 (float64)', async () => {
    for (const h of [
      { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0.01 },
      { lr: 0.05, beta1: 0.9, beta2: 0.95, eps: 1e-6, wd: 0 },
      { lr: 0.3, beta1: 0.5, beta2: 0.9, eps: 1e-3, wd: 0.2 },
    ]) {
      const { trace, opt } = await runScalar(-1.5, h, 12);
      const ref = adamwReference(-1.5, (p) => 2 * (p - 3), h, 12);
      trace.forEach((p, i) => {
        expect(Math.abs(p - ref.p[i]!), `step ${i + 1}`).toBeLessThan(1e-12);
      });
      const state = opt.stateDict();
      expect(state.step).toBe(12);
      expect(Object.keys(state.tensors)).toEqual(['0.exp_avg', '0.exp_avg_sq']);
      expect(Math.abs((await state.tensors['0.exp_avg']!.item()) - ref.m)).toBeLessThan(1e-12);
      expect(Math.abs((await state.tensors['0.exp_avg_sq']!.item()) - ref.v)).toBeLessThan(1e-12);
    }
  });

  it('matches the reference elementwise on random quadratics and hyperparameters (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 6 }),
        fc.integer(),
        fc.record({
          lr: fc.double({ min: 1e-4, max: 0.5, noNaN: true }),
          beta1: fc.double({ min: 0, max: 0.99, noNaN: true }),
          beta2: fc.double({ min: 0.5, max: 0.9999, noNaN: true }),
          eps: fc.double({ min: 1e-10, max: 1e-2, noNaN: true }),
          wd: fc.double({ min: 0, max: 0.5, noNaN: true }),
        }),
        async (n, seed, h) => {
          const g = new Generator(seed);
          const p0 = Array.from({ length: n }, () => g.normal());
          const a = Array.from({ length: n }, () => g.uniform(0.1, 3));
          const c = Array.from({ length: n }, () => g.normal());
          const p = new Parameter(tensor(Float64Array.from(p0)));
          const opt = new AdamW([p], { lr: h.lr, betas: [h.beta1, h.beta2], eps: h.eps, weightDecay: h.wd });
          const A = tensor(Float64Array.from(a));
          const C = tensor(Float64Array.from(c));
          for (let s = 0; s < 5; s++) {
            tidy(() => {
              opt.zeroGrad();
              p.sub(C).square().mul(A).sum().backward();
              opt.step();
            });
          }
          const got = await values(p);
          for (let i = 0; i < n; i++) {
            const ref = adamwReference(p0[i]!, (x) => 2 * a[i]! * (x - c[i]!), h, 5);
            expect(Math.abs(got[i]! - ref.p[4]!)).toBeLessThan(1e-12 * Math.max(1, Math.abs(ref.p[4]!)));
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('takes its learning rate from a schedule, indexed by the steps already taken', async () => {
    const schedule = cosineSchedule({ lr: 0.1, warmupSteps: 2, totalSteps: 6, minLr: 0.01 });
    const p = new Parameter(tensor(Float64Array.from([1]), []));
    const opt = new AdamW([p], { lr: schedule, weightDecay: 0 });
    expect(opt.currentLr).toBe(0);
    p.sub(3).square().backward();
    opt.step(); // lr(0) = 0: HF's first warm-up step moves nothing
    expect(await p.item()).toBe(1);
    expect(opt.currentLr).toBeCloseTo(0.05, 15);
  });

  it('lrScale gives a parameter its own multiple of the scheduled lr, as PyTorch parameter groups do (both paths)', async () => {
    for (const fused of [false, true]) {
      const make = () => [new Parameter(tensor(Float64Array.from([1, -2]), [2])), new Parameter(tensor(Float64Array.from([0.5]), [1]))] as const;
      const [a, b] = make();
      const [a2, b2] = make();
      const schedule = cosineSchedule({ lr: 0.1, warmupSteps: 1, totalSteps: 5, minLr: 0.01 });
      const scaled = new AdamW(
        [
          ['enc.w', a],
          ['dec.w', b],
        ],
        { lr: schedule, weightDecay: 0.1, fused, lrScale: (k) => (k === 'dec.w' ? 0.2 : 1) },
      );
      const plainA = new AdamW([a2], { lr: schedule, weightDecay: 0.1, fused });
      const plainB = new AdamW([b2], { lr: (t) => 0.2 * schedule(t), weightDecay: 0.1, fused });
      for (let step = 0; step < 4; step++) {
        for (const [x, y] of [
          [a, b],
          [a2, b2],
        ] as const)
          tidy(() => x.sub(3).square().sum().add(y.mul(x.sum()).sin()).backward());
        scaled.step();
        plainA.step();
        plainB.step();
        for (const p of [a, b, a2, b2]) p.grad = null;
      }
      expect(await values(a)).toEqual(await values(a2));
      expect(await values(b)).toEqual(await values(b2));
    }
    expect(() => new AdamW([new Parameter(tensor([1]))], { lr: 0.1, lrScale: () => -1 })).toThrow('AdamW: Invalid learning-rate scale for 0 at step 0: -1');
  });

  it('lrScale may change with the step: a scale of 0 holds a parameter while its moments accumulate (both paths)', async () => {
    for (const fused of [false, true]) {
      const held = new Parameter(tensor(Float64Array.from([1, -2]), [2]));
      const free = new Parameter(tensor(Float64Array.from([1, -2]), [2]));
      const opt = new AdamW(
        [
          ['held', held],
          ['free', free],
        ],
        { lr: 0.1, weightDecay: 0.1, fused, lrScale: (k, step) => (k === 'held' && step < 2 ? 0 : 1) },
      );
      // A reference that takes the same gradients with lr 0 for two steps, then lr 0.1: PyTorch's
      // parameter group at lr 0 behaves so (moments and step count advance, the weights do not).
      const ref = new Parameter(tensor(Float64Array.from([1, -2]), [2]));
      const refOpt = new AdamW([ref], { lr: (t) => (t < 2 ? 0 : 0.1), weightDecay: 0.1, fused });
      const trace: number[][] = [];
      for (let step = 0; step < 4; step++) {
        for (const p of [held, free, ref]) tidy(() => p.sub(3).square().sum().backward());
        opt.step();
        refOpt.step();
        for (const p of [held, free, ref]) p.grad = null;
        trace.push(await values(held));
      }
      expect(trace[0]).toEqual([1, -2]);
      expect(trace[1]).toEqual([1, -2]);
      expect(trace[2]).not.toEqual([1, -2]);
      expect(await values(held)).toEqual(await values(ref));
      expect(await values(free)).not.toEqual(await values(held));
    }
  });

  it('updates only parameters with a gradient; frozen ones stay put', async () => {
    const a = new Parameter(tensor([1, 2]));
    const frozen = new Parameter(tensor([3, 4])).requiresGrad_(false);
    const opt = new AdamW([a, frozen], { lr: 0.1 });
    a.mul(frozen).sum().backward();
    opt.step();
    expect(await values(frozen)).toEqual([3, 4]);
    expect(await values(a)).not.toEqual([1, 2]);
    expect(Object.keys(opt.stateDict().tensors)).toEqual(['0.exp_avg', '0.exp_avg_sq']);
  });

  it('trains only the chosen rows of an embedding table: the others never change, weight decay included', async () => {
    const emb = new Embedding(6, 3, { dtype: 'float64', generator: new Generator(1) });
    emb.weight.setTrainableRows([1, 4]);
    const before = await values(emb.weight);
    const opt = new AdamW([emb.weight], { lr: 0.05, weightDecay: 0.5 });
    const ids = tensor(Int32Array.from([0, 1, 2, 3, 4, 5, 1, 0]), [2, 4]);
    const target = tensor(Float64Array.from(Array.from({ length: 24 }, (_, i) => Math.sin(i))), [2, 4, 3]);
    for (let s = 0; s < 5; s++) {
      tidy(() => {
        opt.zeroGrad();
        emb.forward(ids).sub(target).square().sum().backward();
        clipGradNorm([emb.weight], 1.0);
        opt.step();
      });
    }
    const after = await values(emb.weight);
    for (let row = 0; row < 6; row++) {
      const changed = [0, 1, 2].some((d) => after[row * 3 + d] !== before[row * 3 + d]);
      expect(changed, `row ${row}`).toBe(row === 1 || row === 4);
    }
    // Their optimiser state stays empty too.
    const m = await values(opt.stateDict().tensors['0.exp_avg']!);
    for (const row of [0, 2, 3, 5]) expect(m.slice(row * 3, row * 3 + 3)).toEqual([0, 0, 0]);
  });

  it('resumes from a checkpoint exactly (model and optimiser state)', async () => {
    class Net extends Module {
      readonly fc1 = new Linear(3, 4, { dtype: 'float64', generator: new Generator(11) });
      readonly fc2 = new Linear(4, 1, { dtype: 'float64', generator: new Generator(12) });
      forward(x: Tensor): Tensor {
        return this.fc2.forward(this.fc1.forward(x).tanh());
      }
    }
    const x = tensor(Float64Array.from([0.1, -0.2, 0.3, 1, 2, -1]), [2, 3]);
    const y = tensor(Float64Array.from([0.5, -0.5]), [2, 1]);
    const train = (net: Net, opt: AdamW, steps: number): void => {
      for (let s = 0; s < steps; s++) {
        tidy(() => {
          opt.zeroGrad();
          net.forward(x).sub(y).square().mean().backward();
          clipGradNorm(net.parameters(), 0.5);
          opt.step();
        });
      }
    };
    const schedule = cosineSchedule({ lr: 0.05, warmupSteps: 2, totalSteps: 8, minLr: 0.005 });
    const a = new Net();
    const optA = new AdamW(a.namedParameters(), { lr: schedule, betas: [0.9, 0.95] });
    train(a, optA, 3);
    const modelState = a.stateDict();
    const optState = optA.stateDict();
    expect(Object.keys(optState.tensors)).toContain('fc1.weight.exp_avg');
    train(a, optA, 4);

    const b = new Net();
    b.loadStateDict(modelState);
    const optB = new AdamW(b.namedParameters(), { lr: schedule, betas: [0.9, 0.95] });
    optB.loadStateDict(optState);
    train(b, optB, 4);
    for (const [name, p] of a.namedParameters()) {
      expect(await values(b.namedParameters().find(([n]) => n === name)![1]), name).toEqual(await values(p));
    }
  });

  it('loadStateDict checks keys and shapes before changing anything', () => {
    const p = new Parameter(tensor([1, 2]));
    const opt = new AdamW([['w', p]], { lr: 0.1 });
    expect(() => opt.loadStateDict({ step: 1, tensors: { 'w.exp_avg': tensor([0, 0, 0]), 'w.exp_avg_sq': tensor([0, 0]) } })).toThrow(
      'Error(s) in loading AdamW state:\n\tsize mismatch for w.exp_avg: the state has shape [3], the parameter [2].',
    );
    expect(() => opt.loadStateDict({ step: 1, tensors: { 'v.exp_avg': tensor([0, 0]) } })).toThrow(/Unexpected key in optimizer state: "v.exp_avg"/);
    expect(() => opt.loadStateDict({ step: 1, tensors: { 'w.exp_avg': tensor([0, 0]) } })).toThrow(/need both exp_avg and exp_avg_sq/);
    expect(opt.stepCount).toBe(0);
  });

  it('validates its options and parameters', () => {
    const p = new Parameter(tensor([1]));
    expect(() => new AdamW([p], { lr: -1 })).toThrow('AdamW: Invalid learning rate: -1');
    expect(() => new AdamW([p], { lr: 0.1, betas: [0.9, 1] })).toThrow('AdamW: Invalid beta parameter at index 1: 1');
    expect(() => new AdamW([p, p], { lr: 0.1 })).toThrow(/appear more than once/);
    expect(() => new AdamW([p], { lr: 0.1 }).step({ gradScale: -1 })).toThrow('AdamW: Invalid gradient scale: -1');
    expect(() => new AdamW([p], { lr: 0.1 }).step({ gradScale: Number.NaN })).toThrow('AdamW: Invalid gradient scale: NaN');
  });
});
