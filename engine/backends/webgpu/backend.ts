import type { Backend, BinaryOp, FusedKernels, MatmulSpec, OptimizerKernels, ReduceOp, Storage, UnaryOp, View } from '../../backend.ts';
import { isHalf, type DType, type TypedArray } from '../../dtype.ts';
import { GpuContext, type ContextOptions } from './context.ts';
import { acquireDevice, type AcquiredDevice, type AdapterDescription, type DeviceOptions } from './device.ts';
import * as elementwise from './kernels/elementwise.ts';
import * as indexing from './kernels/indexing.ts';
import { matmul, type MatmulVariant } from './kernels/matmul.ts';
import { reduce } from './kernels/reduce.ts';
import { webgpuFusedKernels } from './kernels/fused.ts';
import { webgpuOptimizerKernels } from './kernels/optim.ts';
import { chooseMatmulVariant, type MatmulChoice } from './matmulVariant.ts';
import { GpuStorage } from './storage.ts';

export interface WebGPUOptions extends DeviceOptions, ContextOptions {
  /**
   * Matmul kernel: `auto` (default) picks by adapter (blocked on CPU adapters, tiled on GPUs),
   * `autotune` times both once per adapter and caches the winner, or name one.
   */
  matmul?: MatmulChoice;
  /** Where `autotune` caches its result (default ~/.cache/clara). */
  cacheDir?: string;
}

/**
 * The WebGPU backend: every kernel of engine/backend.ts as a WGSL compute shader, run through
 * Dawn. Kernels only record work; `read` submits it and waits. See context.ts for the machinery.
 */
export class WebGPUBackend implements Backend {
  readonly name = 'webgpu' as const;
  readonly ctx: GpuContext;
  /** The matmul kernel this device uses. */
  matmulVariant: MatmulVariant = 'blocked';

  /** Fused kernels for the transformer's hot paths (engine/backend.ts, FusedKernels). */
  readonly fused: FusedKernels;
  /** Fused optimiser kernels (engine/backend.ts, OptimizerKernels). */
  readonly optim: OptimizerKernels;

  constructor(acquired: AcquiredDevice, opts: ContextOptions = {}) {
    this.ctx = new GpuContext(this, acquired, opts);
    this.fused = webgpuFusedKernels(
      this.ctx,
      (s) => this.own(s),
      () => this.matmulVariant,
    );
    this.optim = webgpuOptimizerKernels(this.ctx, (s) => this.own(s));
  }

  /** A software adapter's "GPU memory" is the host's. */
  get usesHostMemory(): boolean {
    return this.ctx.adapter.isCpu;
  }

  /** Name, description, Dawn backend, features and limits of the adapter (for `clara doctor`). */
  get adapter(): AdapterDescription {
    return this.ctx.adapter;
  }

  get maxTensorBytes(): number {
    return this.ctx.maxBindingBytes;
  }

  supports(dtype: DType): boolean {
    return dtype === 'float32' || dtype === 'int32' || dtype === 'bool' || isHalf(dtype);
  }

  alloc(dtype: DType, size: number): Storage {
    const s = this.ctx.storage(dtype, size);
    elementwise.fill(this.ctx, s, 0);
    return s;
  }

  /** Storage with undefined contents (no zero fill): for outputs that are written in full. */
  allocEmpty(dtype: DType, size: number): Storage {
    return this.ctx.storage(dtype, size);
  }

  upload(dtype: DType, data: TypedArray): Storage {
    return this.ctx.upload(dtype, data);
  }

  async read(s: Storage): Promise<TypedArray> {
    const g = this.own(s);
    const bytes = await this.ctx.readBytes(g);
    switch (g.dtype) {
      case 'float32':
        return new Float32Array(bytes, 0, g.size);
      case 'int32':
        return new Int32Array(bytes, 0, g.size);
      case 'bool':
        return Uint8Array.from(new Uint32Array(bytes, 0, g.size));
      case 'bfloat16':
      case 'float16':
        return new Uint16Array(bytes, 0, g.size);
      default:
        throw new Error(`webgpu: cannot read ${g.dtype}`);
    }
  }

  release(s: Storage): void {
    this.ctx.release(this.own(s));
  }

  unary(op: UnaryOp, x: Storage): Storage {
    return elementwise.unary(this.ctx, op, this.own(x));
  }

  binary(op: BinaryOp, shape: readonly number[], a: Storage, av: View, b: Storage, bv: View): Storage {
    return elementwise.binary(this.ctx, op, shape, this.own(a), av, this.own(b), bv);
  }

  where(shape: readonly number[], cond: Storage, cv: View, a: Storage, av: View, b: Storage, bv: View): Storage {
    return elementwise.where(this.ctx, shape, this.own(cond), cv, this.own(a), av, this.own(b), bv);
  }

  reduce(op: ReduceOp, x: Storage, shape: readonly number[], axes: readonly number[]): Storage {
    return reduce(this.ctx, op, this.own(x), shape, axes);
  }

  argmax(x: Storage, shape: readonly number[], axis: number): Storage {
    return indexing.argmax(this.ctx, this.own(x), shape, axis);
  }

  matmul(a: Storage, b: Storage, spec: MatmulSpec): Storage {
    return matmul(this.ctx, this.own(a), this.own(b), spec, this.matmulVariant);
  }

  copy(shape: readonly number[], src: Storage, sv: View, dst: Storage, dv: View): void {
    elementwise.copy(this.ctx, shape, this.own(src), sv, this.own(dst), dv);
  }

  fill(s: Storage, value: number): void {
    elementwise.fill(this.ctx, this.own(s), value);
  }

  cast(x: Storage, dtype: DType): Storage {
    return elementwise.cast(this.ctx, this.own(x), dtype);
  }

  gather(x: Storage, shape: readonly number[], axis: number, index: Storage, indexShape: readonly number[]): Storage {
    return indexing.gather(this.ctx, this.own(x), shape, axis, this.own(index), indexShape);
  }

  scatterAdd(base: Storage, shape: readonly number[], axis: number, index: Storage, src: Storage, indexShape: readonly number[]): Storage {
    return indexing.scatterAdd(this.ctx, this.own(base), shape, axis, this.own(index), this.own(src), indexShape);
  }

  topk(x: Storage, rows: number, cols: number, k: number): { values: Storage; indices: Storage } {
    return indexing.topk(this.ctx, this.own(x), rows, cols, k);
  }

  /** Submits recorded work and waits for the GPU to finish it. */
  sync(): Promise<void> {
    return this.ctx.sync();
  }

  flush(): void {
    this.ctx.dispatcher.flush();
  }

  /** Frees the device; the backend is unusable afterwards. */
  destroy(): void {
    this.ctx.destroy();
  }

  private own(s: Storage): GpuStorage {
    if (!(s instanceof GpuStorage) || s.backend !== this) {
      throw new Error(`webgpu: storage belongs to backend '${s.backend.name}', not this WebGPU backend`);
    }
    return s;
  }
}

/**
 * Acquires a device (see device.ts for how, and for the errors when none is usable) and returns a
 * ready backend.
 *
 *   const gpu = await createWebGPUBackend();            // auto: native GPU, else llvmpipe
 *   const gpu = await createWebGPUBackend({ dawnBackend: 'opengl', matmul: 'autotune' });
 */
export async function createWebGPUBackend(opts: WebGPUOptions = {}): Promise<WebGPUBackend> {
  const backend = new WebGPUBackend(await acquireDevice(opts), opts);
  backend.matmulVariant = await chooseMatmulVariant(backend, opts.matmul ?? 'auto', opts.cacheDir);
  return backend;
}

/** The adapter `createWebGPUBackend(opts)` would use, without keeping a device open. */
export async function describeAdapter(opts: DeviceOptions = {}): Promise<AdapterDescription> {
  const acquired = await acquireDevice(opts);
  acquired.device.destroy();
  return acquired.description;
}
