import type { Backend } from '../backend.ts';
import { allocHost, isFloat, isHalf, toHost, type DType, type TypedArray } from '../dtype.ts';
import { getDefaultBackend } from '../defaultBackend.ts';
import { Generator } from '../random.ts';
import { checkShape, formatShape, numel, ShapeError } from '../shape.ts';
import { Tensor } from '../tensor.ts';

/**
 * Ways to make a tensor: from host data, constant fills, ranges, and seeded random draws.
 * Random values are drawn on the host from a `Generator` and uploaded, so the same seed gives the
 * same numbers on every backend.
 */
export interface CreateOptions {
  dtype?: DType;
  backend?: Backend;
  requiresGrad?: boolean;
}

function finish(t: Tensor, opts: CreateOptions): Tensor {
  if (opts.requiresGrad) {
    if (!isFloat(t.dtype))
      throw new Error(`only floating point tensors can require gradients (got ${t.dtype}${isHalf(t.dtype) ? ': 16-bit storage is for frozen weights' : ''})`);
    t.requiresGrad = true;
  }
  return t;
}

function backendFor(dtype: DType, opts: CreateOptions): Backend {
  const backend = opts.backend ?? getDefaultBackend();
  if (!backend.supports(dtype)) throw new Error(`the ${backend.name} backend does not support ${dtype} tensors`);
  return backend;
}

/**
 * A tensor from host values, in row-major order. `shape` defaults to a 1-D tensor of all values.
 * The dtype defaults to the typed array's own (Float64Array → float64, Int32Array → int32,
 * Uint8Array → bool), and to float32 for plain arrays.
 */
export function tensor(data: TypedArray | ArrayLike<number> | ArrayLike<boolean>, shape?: readonly number[], opts: CreateOptions = {}): Tensor {
  const dtype = opts.dtype ?? inferDType(data);
  const s = shape ?? [data.length];
  checkShape('tensor', s);
  if (numel(s) !== data.length) throw new ShapeError(`tensor: shape ${formatShape(s)} needs ${numel(s)} values, got ${data.length}`);
  const backend = backendFor(dtype, opts);
  const host = sameKind(data, dtype) ? (data as TypedArray) : toHost(dtype, data);
  return finish(new Tensor(backend.upload(dtype, host), s), opts);
}

function inferDType(data: unknown): DType {
  if (data instanceof Float64Array) return 'float64';
  if (data instanceof Int32Array) return 'int32';
  if (data instanceof Uint8Array) return 'bool';
  return 'float32';
}

function sameKind(data: unknown, dtype: DType): boolean {
  return (
    (dtype === 'float32' && data instanceof Float32Array) ||
    (dtype === 'float64' && data instanceof Float64Array) ||
    (dtype === 'int32' && data instanceof Int32Array) ||
    (dtype === 'bool' && data instanceof Uint8Array) ||
    // 16-bit data comes as its bit patterns (a checkpoint's raw BF16 / F16 values).
    (isHalf(dtype) && data instanceof Uint16Array)
  );
}

export function full(shape: readonly number[], value: number, opts: CreateOptions = {}): Tensor {
  checkShape('full', shape);
  const dtype = opts.dtype ?? 'float32';
  const backend = backendFor(dtype, opts);
  const storage = backend.alloc(dtype, numel(shape));
  if (value !== 0) backend.fill(storage, value);
  return finish(new Tensor(storage, shape), opts);
}

/**
 * A tensor whose contents are undefined (no zero fill): for storage that is assigned in full before
 * anything reads it, such as the parameters a checkpoint is about to fill. On WebGPU the fill of
 * `zeros` writes every byte, so a 7B model's zeros would hold 14.5 GB of host memory on a software
 * adapter before the first weight is read; an untouched buffer holds none.
 */
export function empty(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  checkShape('empty', shape);
  const dtype = opts.dtype ?? 'float32';
  const backend = backendFor(dtype, opts);
  const n = numel(shape);
  return finish(new Tensor(backend.allocEmpty ? backend.allocEmpty(dtype, n) : backend.alloc(dtype, n), shape), opts);
}

export function zeros(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 0, opts);
}

export function ones(shape: readonly number[], opts: CreateOptions = {}): Tensor {
  return full(shape, 1, opts);
}

/** 0, 1, …, end−1 (int32 by default, like torch.arange with integer arguments). */
export function arange(end: number, opts?: CreateOptions): Tensor;
export function arange(start: number, end: number, step?: number, opts?: CreateOptions): Tensor;
export function arange(a: number, b?: number | CreateOptions, c?: number | CreateOptions, d?: CreateOptions): Tensor {
  const [start, end, step, opts] = typeof b === 'number' ? [a, b, typeof c === 'number' ? c : 1, (typeof c === 'object' ? c : d) ?? {}] : [0, a, 1, b ?? {}];
  if (step === 0) throw new Error('arange: step must be nonzero');
  const n = Math.max(0, Math.ceil((end - start) / step));
  const dtype = opts.dtype ?? 'int32';
  const host = allocHost(dtype, n);
  for (let i = 0; i < n; i++) host[i] = start + i * step;
  return tensor(host, [n], { ...opts, dtype });
}

export interface RandomOptions extends CreateOptions {
  generator?: Generator;
}

function random(shape: readonly number[], opts: RandomOptions, draw: (g: Generator) => number): Tensor {
  checkShape('random', shape);
  const dtype = opts.dtype ?? 'float32';
  const g = opts.generator ?? defaultGenerator;
  // 16-bit values are drawn in float32 and rounded once, by `tensor`.
  const host = allocHost(isHalf(dtype) ? 'float32' : dtype, numel(shape));
  for (let i = 0; i < host.length; i++) host[i] = draw(g);
  return tensor(host, shape, { ...opts, dtype });
}

/** The generator used when none is given; `manualSeed` resets it. */
let defaultGenerator = new Generator(0);

export function manualSeed(seed: number): void {
  defaultGenerator = new Generator(seed);
}

/** Uniform in [low, high). */
export function uniform(shape: readonly number[], opts: RandomOptions & { low?: number; high?: number } = {}): Tensor {
  const low = opts.low ?? 0;
  const high = opts.high ?? 1;
  return random(shape, opts, (g) => g.uniform(low, high));
}

export function normal(shape: readonly number[], opts: RandomOptions & { mean?: number; std?: number } = {}): Tensor {
  const mean = opts.mean ?? 0;
  const std = opts.std ?? 1;
  return random(shape, opts, (g) => g.normal(mean, std));
}

/**
 * torch.nn.init.kaiming_uniform_ for a weight of shape [out, in, ...]: uniform in ±bound with
 * bound = gain·sqrt(3 / fan_in), gain = sqrt(2 / (1 + a²)). With a = sqrt(5) this is the default
 * initialisation of nn.Linear (and of a fresh LoRA A matrix).
 */
export function kaimingUniform(shape: readonly number[], opts: RandomOptions & { a?: number } = {}): Tensor {
  if (shape.length < 2)
    throw new ShapeError(`kaimingUniform: Fan in can not be computed for tensor with fewer than 2 dimensions (shape ${formatShape(shape)})`);
  const fanIn = numel(shape.slice(1));
  const a = opts.a ?? Math.sqrt(5);
  const gain = Math.sqrt(2 / (1 + a * a));
  const bound = gain * Math.sqrt(3 / fanIn);
  return uniform(shape, { ...opts, low: -bound, high: bound });
}
