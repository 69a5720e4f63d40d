import { noGrad } from '../graph.ts';
import { keep, tidy } from '../memory.ts';
import { formatShape, sameShape } from '../shape.ts';
import type { AdamWScalars, OptimizerKernels } from '../backend.ts';
import { Tensor } from '../tensor.ts';
import { full } from '../ops/creation.ts';
import { fullLike, where } from '../ops/elementwise/ops.ts';
import { Parameter } from '../nn/parameter.ts';
import { optimizerKernelsFor } from './fusion.ts';
import type { LRSchedule } from './schedules.ts';

export interface AdamWOptions {
  /** A fixed learning rate, or a schedule looked up with the number of steps already taken. */
  lr: number | LRSchedule;
  /** Decay rates of the first and second moment estimates (default [0.9, 0.999]). */
  betas?: readonly [number, number];
  /** Added to the denominator for stability (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay (default 0.01, as torch.optim.AdamW). */
  weightDecay?: number;
  /**
   * Use the backend's fused AdamW kernel (one dispatch per parameter) when it has one: `true` or
   * `false` for this optimiser, or leave it out to follow `setOptimizerFusion` (on by default).
   * The composite (a chain of elementwise ops) is the reference; both give the same results.
   */
  fused?: boolean;
  /**
   * A multiplier of the learning rate per parameter, looked up at every step by its name (its
   * position when given bare) and the number of steps already taken, like PyTorch's parameter
   * groups with their own lr under one schedule: e.g. a query reasoner trained five times faster
   * than the generator beside it, or a compressor held still (scale 0) for the first steps while its
   * moments keep accumulating. Default 1 for every parameter.
   */
  lrScale?: (key: string, step: number) => number;
}

/**
 * Optimiser state for a checkpoint: the step count and, per parameter that has been updated,
 * its moments under `<key>.exp_avg` and `<key>.exp_avg_sq` (key = the parameter's name, or its
 * position when the optimiser was given bare parameters), the names of PyTorch's AdamW state.
 * A plain object of tensors, ready for the safetensors writer.
 */
export interface AdamWState {
  step: number;
  tensors: Record<string, Tensor>;
}

/** A step's scalars as one-element tensors of a parameter's backend and dtype, for the composite update. */
interface StepConstants {
  gradScale: Tensor;
  decay: Tensor;
  stepSize: Tensor;
  bc2Sqrt: Tensor;
}

interface Slot {
  key: string;
  param: Parameter;
  /** First moment (exp_avg) and second moment (exp_avg_sq), created at the first update. */
  m: Tensor | null;
  v: Tensor | null;
}

/**
 * AdamW, as torch.optim.AdamW (amsgrad off). At step t (counted from 1, once per `step()` for the
 * whole optimiser), for every parameter p with a gradient g:
 *
 *   p ← p · (1 − lr·λ)                          decoupled weight decay, before the Adam update
 *   m ← β₁·m + (1 − β₁)·g
 *   v ← β₂·v + (1 − β₂)·g²
 *   p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
 *
 * Train only chosen parameters by passing only those (frozen ones have requiresGrad false and so
 * never get a gradient; parameters without a gradient are skipped). Train only chosen rows of a
 * parameter with `param.setTrainableRows(rows)`: the other rows, and their moments, stay exactly
 * as they were — no weight decay either.
 *
 * Parameters may be given bare or as `[name, param]` pairs (`model.namedParameters()`); the names
 * key the state dict, which makes a checkpoint independent of parameter order. With `lrScale`, the
 * lr in the formulas above is the schedule's lr times the parameter's scale.
 */
export class AdamW {
  lr: number | LRSchedule;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weightDecay: number;
  /** Fused kernel or composite: see AdamWOptions.fused (undefined follows the global setting). */
  fused: boolean | undefined;
  /** Number of `step()` calls so far (the t of the bias corrections is stepCount after increment). */
  stepCount = 0;
  private readonly slots: Slot[];
  private readonly lrScale: (key: string, step: number) => number;

  constructor(params: Iterable<Parameter | readonly [string, Parameter]>, options: AdamWOptions) {
    this.lr = options.lr;
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? 0.01;
    this.fused = options.fused;
    this.lrScale = options.lrScale ?? (() => 1);
    if (typeof this.lr === 'number' && !(this.lr >= 0)) throw new RangeError(`AdamW: Invalid learning rate: ${this.lr}`);
    if (!(this.eps >= 0)) throw new RangeError(`AdamW: Invalid epsilon value: ${this.eps}`);
    this.betas.forEach((b, i) => {
      if (!(b >= 0 && b < 1)) throw new RangeError(`AdamW: Invalid beta parameter at index ${i}: ${b}`);
    });
    if (!(this.weightDecay >= 0)) throw new RangeError(`AdamW: Invalid weight_decay value: ${this.weightDecay}`);

    this.slots = [];
    const seenParams = new Set<Parameter>();
    const seenKeys = new Set<string>();
    let i = 0;
    for (const entry of params) {
      const [key, param] = entry instanceof Parameter ? [String(i), entry] : entry;
      i++;
      if (!(param instanceof Parameter)) throw new TypeError(`AdamW: optimizer can only optimize Parameters, but entry ${key} is not one`);
      if (seenParams.has(param)) throw new Error(`AdamW: some parameters appear more than once (${key})`);
      if (seenKeys.has(key)) throw new Error(`AdamW: two parameters share the name "${key}"`);
      seenParams.add(param);
      seenKeys.add(key);
      this.scaleOf(key, 0); // a bad scale fails here, before any step
      this.slots.push({ key, param, m: null, v: null });
    }
  }

  private scaleOf(key: string, step: number): number {
    const scale = this.lrScale(key, step);
    if (!(scale >= 0)) throw new RangeError(`AdamW: Invalid learning-rate scale for ${key} at step ${step}: ${scale}`);
    return scale;
  }

  /** The learning rate the next `step()` will use. */
  get currentLr(): number {
    return typeof this.lr === 'number' ? this.lr : this.lr(this.stepCount);
  }

  /** The parameters this optimiser updates, in order. */
  get params(): Parameter[] {
    return this.slots.map((s) => s.param);
  }

  /**
   * One update of every parameter that has a gradient (see the class comment for the formulas).
   * `gradScale` multiplies every gradient first, inside the update (default 1: as they are):
   * clipAndStep (clipGradNorm.ts) folds the clip coefficient in here.
   */
  step(options: { gradScale?: number } = {}): void {
    const gradScale = options.gradScale ?? 1;
    if (!(gradScale >= 0 && Number.isFinite(gradScale))) throw new RangeError(`AdamW: Invalid gradient scale: ${gradScale}`);
    const lr = this.currentLr;
    const taken = this.stepCount;
    this.stepCount++;
    const t = this.stepCount;
    const [beta1, beta2] = this.betas;
    const bc2Sqrt = Math.sqrt(1 - beta2 ** t);
    const scalarsFor = (scale: number): AdamWScalars => ({
      gradScale,
      beta1,
      beta2,
      eps: this.eps,
      decay: 1 - scale * lr * this.weightDecay,
      stepSize: (scale * lr) / (1 - beta1 ** t),
      bc2Sqrt,
    });
    // These change every step. As plain numbers they would each become a new entry of the
    // engine's cache of constant tensors; made here once per step (per backend, dtype and lr
    // scale) and freed at the end, they cost a few one-element fills per step.
    const perStep = new Map<string, StepConstants>();
    const constantsFor = (p: Parameter, scalars: AdamWScalars) => {
      const key = `${p.backend.name}:${p.dtype}:${scalars.stepSize}`;
      let c = perStep.get(key);
      if (c === undefined) {
        const make = (value: number): Tensor => keep(full([], value, { dtype: p.dtype, backend: p.backend }));
        c = { gradScale: make(gradScale), decay: make(scalars.decay), stepSize: make(scalars.stepSize), bc2Sqrt: make(bc2Sqrt) };
        perStep.set(key, c);
      }
      return c;
    };
    try {
      noGrad(() => {
        for (const slot of this.slots) {
          const p = slot.param;
          if (p.grad === null) continue;
          const scalars = scalarsFor(this.scaleOf(slot.key, taken));
          const kernels = optimizerKernelsFor([p, p.grad], this.fused);
          if (kernels !== null) {
            tidy(() => this.fusedUpdate(slot, kernels, scalars));
            continue;
          }
          const c = constantsFor(p, scalars);
          tidy(() => this.update(slot, scalars, c));
        }
      });
    } finally {
      for (const c of perStep.values()) for (const t of Object.values(c)) t.dispose();
    }
  }

  /** The AdamW update of one parameter (inside a tidy, gradients off). */
  private update(slot: Slot, scalars: AdamWScalars, c: StepConstants): void {
    const p = slot.param;
    const [beta1, beta2] = this.betas;
    const { decay, stepSize, bc2Sqrt } = c;
    // ·1 changes nothing, so those multiplies are skipped (as the fused kernels do).
    const g = scalars.gradScale === 1 ? p.maskGrad()! : p.maskGrad()!.mul(c.gradScale);
    const m = slot.m ?? fullLike(g, 0);
    const v = slot.v ?? fullLike(g, 0);
    const decayed = scalars.decay === 1 ? p : p.mul(decay);
    let m1 = m.mul(beta1).add(g.mul(1 - beta1));
    let v1 = v.mul(beta2).add(g.mul(g).mul(1 - beta2));
    const denom = v1.sqrt().div(bc2Sqrt).add(this.eps);
    let next = decayed.sub(m1.div(denom).mul(stepSize));
    const mask = p.rowMask;
    if (mask !== null) {
      // Frozen rows: parameter and moments exactly as before (no decay, no momentum drift).
      next = where(mask, next, p);
      m1 = where(mask, m1, m);
      v1 = where(mask, v1, v);
    }
    p.assign(next);
    slot.m?.dispose();
    slot.v?.dispose();
    slot.m = keep(m1);
    slot.v = keep(v1);
  }

  /** The same update in one backend kernel (inside a tidy, gradients off). */
  private fusedUpdate(slot: Slot, kernels: OptimizerKernels, scalars: AdamWScalars): void {
    const p = slot.param;
    const g = p.maskGrad()!;
    const m = slot.m ?? fullLike(g, 0);
    const v = slot.v ?? fullLike(g, 0);
    const mask = p.rowMask;
    const rowSize = mask === null || p.shape[0] === 0 ? 1 : p.size / p.shape[0]!;
    const op = 'AdamW.step';
    const out = kernels.adamw(p.storage(op), g.storage(op), m.storage(op), v.storage(op), mask?.storage(op) ?? null, rowSize, scalars);
    p.assign(new Tensor(out.p, p.shape));
    slot.m?.dispose();
    slot.v?.dispose();
    slot.m = keep(new Tensor(out.m, p.shape));
    slot.v = keep(new Tensor(out.v, p.shape));
  }

  /** Drops every parameter's gradient (PyTorch's zero_grad(set_to_none=True)). */
  zeroGrad(): void {
    for (const { param } of this.slots) {
      param.grad?.dispose();
      param.grad = null;
    }
  }

  /**
   * The state for a checkpoint: detached snapshots of the moments (sharing storage, no copy) and
   * the step count. Dispose the tensors (or call this inside `tidy`) once written.
   */
  stateDict(): AdamWState {
    const tensors: Record<string, Tensor> = {};
    for (const { key, m, v } of this.slots) {
      if (m === null || v === null) continue;
      tensors[`${key}.exp_avg`] = m.detach();
      tensors[`${key}.exp_avg_sq`] = v.detach();
    }
    return { step: this.stepCount, tensors };
  }

  /**
   * Restores `stateDict()`'s output (from this run or a checkpoint), checking every key and shape
   * before changing anything. A parameter with no moments in `state` starts fresh, as one that
   * never had a gradient would. The moments share the given tensors' storage.
   */
  loadStateDict(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new Error(`AdamW.loadStateDict: invalid step ${state.step}`);
    const byKey = new Map(this.slots.map((s) => [s.key, s]));
    const problems: string[] = [];
    const found = new Map<Slot, { m?: Tensor; v?: Tensor }>();
    for (const [name, value] of Object.entries(state.tensors)) {
      const match = /^(.*)\.(exp_avg|exp_avg_sq)$/.exec(name);
      const slot = match ? byKey.get(match[1]!) : undefined;
      if (!match || slot === undefined) {
        problems.push(`Unexpected key in optimizer state: "${name}".`);
        continue;
      }
      const p = slot.param;
      if (!sameShape(value.shape, p.shape)) {
        problems.push(`size mismatch for ${name}: the state has shape ${formatShape(value.shape)}, the parameter ${formatShape(p.shape)}.`);
      } else if (value.backend !== p.backend) {
        problems.push(`backend mismatch for ${name}: the state is on the ${value.backend.name} backend, the parameter on the ${p.backend.name} backend.`);
      } else if (value.dtype !== p.dtype) {
        problems.push(`dtype mismatch for ${name}: the state is ${value.dtype}, the parameter ${p.dtype}.`);
      }
      const entry = found.get(slot) ?? {};
      entry[match[2] === 'exp_avg' ? 'm' : 'v'] = value;
      found.set(slot, entry);
    }
    for (const [slot, { m, v }] of found) {
      if (m === undefined || v === undefined) problems.push(`Incomplete optimizer state for "${slot.key}": need both exp_avg and exp_avg_sq.`);
    }
    if (problems.length > 0) throw new Error(`Error(s) in loading AdamW state:\n\t${problems.join('\n\t')}`);
    this.stepCount = state.step;
    for (const slot of this.slots) {
      const entry = found.get(slot);
      slot.m?.dispose();
      slot.v?.dispose();
      slot.m = entry ? keep(entry.m!.detach()) : null;
      slot.v = entry ? keep(entry.v!.detach()) : null;
    }
  }

  /** Frees the moments. */
  dispose(): void {
    for (const slot of this.slots) {
      slot.m?.dispose();
      slot.v?.dispose();
      slot.m = null;
      slot.v = null;
    }
  }
}
