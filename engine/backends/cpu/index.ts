import type { Backend, BinaryOp, FusedKernels, MatmulSpec, OptimizerKernels, ReduceOp, Storage, UnaryOp, View } from '../../backend.ts';
import { allocHost, bytesPerElement, halfTable, isHalf, roundToHalf, type DType, type TypedArray } from '../../dtype.ts';
import { binaryKernel, unaryKernel, whereKernel } from '../../ops/elementwise/cpu.ts';
import { isComparison } from '../../ops/elementwise/ops.ts';
import { cpuFusedKernels } from '../../ops/fused/cpu.ts';
import { gatherKernel, scatterAddKernel, topkKernel } from '../../ops/indexing/cpu.ts';
import { isDecodeProduct, matmulKernel } from '../../ops/matmul/cpu.ts';
import { copyKernel } from '../../ops/movement/cpu.ts';
import { argmaxKernel, reduceKernel } from '../../ops/reduce/cpu.ts';
import { cpuOptimizerKernels } from '../../optim/cpu.ts';
import { coreCount, RowThreads, sharedHalfArray } from './rowThreads.ts';

/**
 * The CPU backend: plain TypeScript loops over typed arrays, on one thread except for the decode
 * products against 16-bit weights, whose columns are split between worker threads (rowThreads.ts;
 * the weights then live in shared memory). It is the oracle the
 * WebGPU backend is tested against, and the only backend with float64 (for gradient checks). The
 * loops live with their op families (engine/ops/<family>/cpu.ts); this class holds the storage.
 * bfloat16 / float16 storage is a Uint16Array of bit patterns (2 bytes per element), widened to
 * float32 by the kernels that read it (matmul's B, gather's table) and by `cast`.
 */
export class CpuStorage implements Storage {
  constructor(
    readonly backend: CpuBackend,
    readonly dtype: DType,
    readonly data: TypedArray,
  ) {}
  get size(): number {
    return this.data.length;
  }
}

export interface CpuBackendOptions {
  /**
   * The largest tensor in bytes (default: unbounded). A test sets it small to run, on the CPU, the
   * code that a GPU's binding limit calls for (row-blocked weights, chunked logits).
   */
  maxTensorBytes?: number;
  /**
   * Threads for the decode products against 16-bit weights, this one included (default: the
   * machine's cores; 1: none; `setThreads` changes it, as the CLI does from CLARA_CPU_THREADS).
   * Their results are the one-thread results, bit for bit.
   */
  threads?: number;
  /** Multiply-adds from which such a product is split between the threads (default 2^20; tests set 0). */
  minThreadedWork?: number;
}

export class CpuBackend implements Backend {
  readonly name = 'cpu';
  readonly usesHostMemory = true;
  readonly maxTensorBytes: number;
  readonly fused: FusedKernels = cpuFusedKernels((dtype, size) => this.make(dtype, size));
  readonly optim: OptimizerKernels = cpuOptimizerKernels((dtype, size) => this.make(dtype, size));

  /** The decode products' worker threads. */
  readonly rowThreads: RowThreads;

  constructor(options: CpuBackendOptions = {}) {
    this.maxTensorBytes = options.maxTensorBytes ?? Number.POSITIVE_INFINITY;
    this.rowThreads = new RowThreads({ threads: options.threads ?? coreCount(), minWork: options.minThreadedWork });
  }

  /** The thread count of the decode products (see CpuBackendOptions.threads). */
  setThreads(threads: number): void {
    this.rowThreads.setThreads(threads);
  }

  supports(_dtype: DType): boolean {
    return true;
  }

  private data(s: Storage): TypedArray {
    return (s as CpuStorage).data;
  }

  private make(dtype: DType, size: number): CpuStorage {
    const bytes = size * bytesPerElement(dtype);
    if (bytes > this.maxTensorBytes) {
      throw new Error(`cpu: tensor of ${bytes} bytes exceeds this backend's maxTensorBytes (${this.maxTensorBytes} bytes) (${size} elements of ${dtype})`);
    }
    // 16-bit weights in shared memory, where the decode threads read them in place.
    const data = isHalf(dtype) && this.rowThreads.threads > 1 ? sharedHalfArray(size) : allocHost(dtype, size);
    return new CpuStorage(this, dtype, data);
  }

  alloc(dtype: DType, size: number): Storage {
    return this.make(dtype, size);
  }

  allocEmpty(dtype: DType, size: number): Storage {
    return this.make(dtype, size);
  }

  upload(dtype: DType, data: TypedArray): Storage {
    const s = this.make(dtype, data.length);
    s.data.set(data);
    return s;
  }

  async read(s: Storage): Promise<TypedArray> {
    return this.data(s).slice();
  }

  release(_s: Storage): void {
    // Garbage collection reclaims host arrays.
  }

  unary(op: UnaryOp, x: Storage): Storage {
    const out = this.make(x.dtype, x.size);
    unaryKernel(op, this.data(x), out.data);
    return out;
  }

  binary(op: BinaryOp, shape: readonly number[], a: Storage, av: View, b: Storage, bv: View): Storage {
    const out = this.make(
      isComparison(op) ? 'bool' : a.dtype,
      shape.reduce((p, d) => p * d, 1),
    );
    binaryKernel(op, shape, this.data(a), av, this.data(b), bv, out.data);
    return out;
  }

  where(shape: readonly number[], cond: Storage, cv: View, a: Storage, av: View, b: Storage, bv: View): Storage {
    const out = this.make(
      a.dtype,
      shape.reduce((p, d) => p * d, 1),
    );
    whereKernel(shape, this.data(cond), cv, this.data(a), av, this.data(b), bv, out.data);
    return out;
  }

  reduce(op: ReduceOp, x: Storage, shape: readonly number[], axes: readonly number[]): Storage {
    const outDtype: DType = op === 'sum' && (x.dtype === 'bool' || x.dtype === 'int32') ? 'int32' : x.dtype;
    const out = this.make(
      outDtype,
      shape.reduce((p, d, i) => (axes.includes(i) ? p : p * d), 1),
    );
    reduceKernel(op, this.data(x), shape, axes, out.data);
    return out;
  }

  argmax(x: Storage, shape: readonly number[], axis: number): Storage {
    const out = this.make('int32', x.size / shape[axis]!);
    argmaxKernel(this.data(x), shape, axis, out.data);
    return out;
  }

  matmul(a: Storage, b: Storage, spec: MatmulSpec): Storage {
    const out = this.make(a.dtype, spec.batch * spec.m * spec.n);
    const { m, n, k } = spec;
    if (isHalf(b.dtype) && spec.batch === 1 && isDecodeProduct(spec)) {
      if (this.rowThreads.run(this.data(a), 0, this.data(b) as Uint16Array, 0, b.dtype, out.data, 0, m, n, k)) return out;
    }
    matmulKernel(this.data(a), this.data(b), spec, out.data, isHalf(b.dtype) ? halfTable(b.dtype) : null);
    return out;
  }

  copy(shape: readonly number[], src: Storage, sv: View, dst: Storage, dv: View): void {
    copyKernel(shape, this.data(src), sv, this.data(dst), dv);
  }

  fill(s: Storage, value: number): void {
    const stored = isHalf(s.dtype) ? roundToHalf(s.dtype, Float32Array.of(value))[0]! : s.dtype === 'bool' ? (value !== 0 ? 1 : 0) : value;
    this.data(s).fill(stored);
  }

  cast(x: Storage, dtype: DType): Storage {
    const out = this.make(dtype, x.size);
    const src = this.data(x);
    if (isHalf(x.dtype)) {
      // Widen first (exact), then convert as from float32.
      const table = halfTable(x.dtype);
      const wide = Float32Array.from(src as Uint16Array, (h) => table[h]!);
      return this.cast(this.upload('float32', wide), dtype);
    }
    if (isHalf(dtype)) {
      out.data.set(roundToHalf(dtype, src instanceof Float32Array ? src : Float32Array.from(src)));
      return out;
    }
    if (dtype === 'bool') for (let i = 0; i < src.length; i++) out.data[i] = src[i] !== 0 ? 1 : 0;
    else if (dtype === 'int32') for (let i = 0; i < src.length; i++) out.data[i] = Math.trunc(src[i]!);
    else out.data.set(src);
    return out;
  }

  gather(x: Storage, shape: readonly number[], axis: number, index: Storage, indexShape: readonly number[]): Storage {
    const out = this.make(isHalf(x.dtype) ? 'float32' : x.dtype, index.size);
    gatherKernel(this.data(x), shape, axis, this.data(index), indexShape, out.data, isHalf(x.dtype) ? halfTable(x.dtype) : null);
    return out;
  }

  scatterAdd(base: Storage, shape: readonly number[], axis: number, index: Storage, src: Storage, indexShape: readonly number[]): Storage {
    const out = this.upload(base.dtype, this.data(base)) as CpuStorage;
    scatterAddKernel(out.data, shape, axis, this.data(index), this.data(src), indexShape);
    return out;
  }

  topk(x: Storage, rows: number, cols: number, k: number): { values: Storage; indices: Storage } {
    const values = this.make(x.dtype, rows * k);
    const indices = this.make('int32', rows * k);
    topkKernel(this.data(x), rows, cols, k, values.data, indices.data);
    return { values, indices };
  }
}

export const cpuBackend = new CpuBackend();
