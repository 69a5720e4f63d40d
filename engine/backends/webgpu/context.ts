import type { Backend } from '../../backend.ts';
import { isHalf, type DType, type TypedArray } from '../../dtype.ts';
import { BindGroupCache, UniformCache, type BufferBinding, type UniformBuffer } from './bindingCache.ts';
import { BufferPool } from './bufferPool.ts';
import type { AcquiredDevice, AdapterDescription } from './device.ts';
import { Dispatcher } from './dispatcher.ts';
import { ErrorTracker } from './errors.ts';
import type { Params } from './params.ts';
import { PipelineCache } from './pipelineCache.ts';
import type { Defines } from './shaderSource.ts';
import { GpuStorage, gpuBytes } from './storage.ts';
import { withTimeout } from './timeout.ts';

export interface ContextOptions {
  /** Milliseconds any single wait on the GPU may take (default 60 s). */
  timeoutMs?: number;
  /**
   * Largest tensor in bytes; defaults to the adapter's maxStorageBufferBindingSize. Tests set a
   * smaller value to check the error without allocating hundreds of megabytes.
   */
  maxBindingBytes?: number;
  /** Dispatches recorded before an automatic submit (default 512). */
  flushEvery?: number;
}

/** Which kernel to run: a file in shaders/, its #defines and its override constants. */
interface KernelSpec {
  file: string;
  defines?: Defines;
  constants?: Record<string, number>;
}

/** Invocations per workgroup of the element-wise kernels (WG in shaders/common.wgsl). */
const WG = 256;

/**
 * Everything the kernels share: the device, the caches, the buffer pool and the dispatcher.
 * Kernel files (kernels/*.ts) receive it and only need `storage`, `kernel`, `run` and `grid1D`.
 */
export class GpuContext {
  readonly device: GPUDevice;
  readonly adapter: AdapterDescription;
  readonly errors: ErrorTracker;
  readonly pipelines: PipelineCache;
  readonly dispatcher: Dispatcher;
  readonly maxBindingBytes: number;
  readonly timeoutMs: number;
  private readonly pool: BufferPool;
  private readonly staging: BufferPool;
  private readonly uniforms: UniformCache;
  private readonly bindGroups: BindGroupCache;

  constructor(
    readonly backend: Backend,
    acquired: AcquiredDevice,
    opts: ContextOptions = {},
  ) {
    this.device = acquired.device;
    this.adapter = acquired.description;
    this.timeoutMs = opts.timeoutMs ?? 60_000;
    this.maxBindingBytes = Math.min(opts.maxBindingBytes ?? Infinity, this.device.limits.maxStorageBufferBindingSize);
    this.errors = new ErrorTracker(this.device);
    this.pipelines = new PipelineCache(this.device, this.errors);
    this.dispatcher = new Dispatcher(this.device, this.errors, opts.flushEvery);
    this.pool = new BufferPool(this.device, GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST, 'tensor');
    this.staging = new BufferPool(this.device, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'readback', 64 * 1024 * 1024);
    this.uniforms = new UniformCache(this.device);
    this.bindGroups = new BindGroupCache(this.device);
    this.dispatcher.onSubmit(() => {
      this.pool.afterSubmit();
      this.uniforms.afterSubmit();
    });
  }

  /**
   * Fresh storage with undefined contents. `forHostWrite`: it will be filled by `queue.writeBuffer`
   * (see BufferPool for why that matters).
   */
  storage(dtype: DType, size: number, forHostWrite = false): GpuStorage {
    if (dtype === 'float64') throw new Error('webgpu: float64 is not supported on the WebGPU backend');
    const bytes = gpuBytes(dtype, size);
    if (bytes > this.maxBindingBytes) {
      throw new Error(
        `webgpu: tensor of ${bytes} bytes exceeds the adapter's maxStorageBufferBindingSize (${this.maxBindingBytes} bytes) ` +
          `(${size} elements of ${dtype}): split it into parts of at most that size (a weight by rows), or use a backend without the limit (CLARA_BACKEND=cpu)`,
      );
    }
    return new GpuStorage(this.backend, dtype, size, this.pool.acquire(bytes, forHostWrite));
  }

  release(s: GpuStorage): void {
    const b = s.take();
    if (b) this.pool.release(b, this.dispatcher.pending);
  }

  /**
   * Records one dispatch of `kernel` for engine op `op`. Binding 0 is the uniform block `params`,
   * bindings 1.. are `buffers` in order.
   */
  run(op: string, spec: KernelSpec, params: Params, buffers: readonly GpuStorage[], grid: readonly number[]): void {
    this.errors.op = op;
    const kernel = this.pipelines.get(spec.file, spec.defines, spec.constants);
    const uniform: UniformBuffer = this.uniforms.get(params.words);
    const bindings: BufferBinding[] = [uniform];
    for (const s of buffers) bindings.push({ id: s.buf.id, buffer: s.buf.buffer, size: s.byteLength });
    const group = this.bindGroups.get(kernel.id, kernel.layout, kernel.label, bindings);
    this.dispatcher.dispatch(kernel, group, grid[0], grid[1] ?? 1, grid[2] ?? 1);
  }

  /** Workgroups for `n` invocations, WG per workgroup, spread over x and y beyond 65535. */
  grid1D(n: number, perWorkgroup = WG): [number, number] {
    const groups = Math.ceil(n / perWorkgroup);
    const maxPerDim = this.device.limits.maxComputeWorkgroupsPerDimension;
    if (groups <= maxPerDim) return [groups, 1];
    const y = Math.ceil(groups / maxPerDim);
    if (y > maxPerDim) throw new Error(`webgpu: ${n} invocations exceed the dispatch grid`);
    return [Math.ceil(groups / y), y];
  }

  upload(dtype: DType, data: TypedArray): GpuStorage {
    this.errors.throwIfFailed();
    const s = this.storage(dtype, data.length, true);
    const words = isHalf(dtype)
      ? evenLength(data as Uint16Array)
      : dtype === 'float32'
        ? asType(Float32Array, data)
        : dtype === 'int32'
          ? asType(Int32Array, data)
          : boolWords(data);
    if (words.byteLength > 0) {
      this.device.queue.writeBuffer(s.buf.buffer, 0, words.buffer, words.byteOffset, words.byteLength);
    }
    return s;
  }

  /** Submits pending work and copies `s` back to the host as raw bytes (byteLength of them). */
  async readBytes(s: GpuStorage): Promise<ArrayBuffer> {
    this.errors.throwIfFailed();
    const bytes = s.byteLength;
    const staging = this.staging.acquire(bytes, true);
    this.errors.op = 'read';
    this.dispatcher.copyBufferToBuffer(s.buf.buffer, staging.buffer, bytes);
    this.dispatcher.flush();
    try {
      await this.errors.settle(this.timeoutMs);
      await withTimeout(staging.buffer.mapAsync(GPUMapMode.READ, 0, bytes), this.timeoutMs, 'mapAsync (read)');
      const copy = staging.buffer.getMappedRange(0, bytes).slice(0);
      staging.buffer.unmap();
      return copy;
    } finally {
      this.staging.release(staging, false);
    }
  }

  /** Waits until the GPU has finished everything submitted (benchmarks use it). */
  async sync(): Promise<void> {
    this.dispatcher.flush();
    await withTimeout(this.device.queue.onSubmittedWorkDone(), this.timeoutMs, 'onSubmittedWorkDone');
    await this.errors.settle(this.timeoutMs);
  }

  destroy(): void {
    this.dispatcher.flush();
    this.errors.markDestroyed();
    this.pool.destroyIdle();
    this.staging.destroyIdle();
    this.device.destroy();
  }
}

/**
 * Bools as u32 0/1 words. A plain loop: `Uint32Array.from(data, fn)` walks an iterator and took
 * 6–8 ms for a training step's 46k-entry attention mask, this takes a fraction of a millisecond.
 */
function boolWords(data: TypedArray): Uint32Array {
  const words = new Uint32Array(data.length);
  for (let i = 0; i < data.length; i++) words[i] = data[i] !== 0 ? 1 : 0;
  return words;
}

/** 16-bit patterns padded to whole u32 words (writeBuffer moves multiples of 4 bytes). */
function evenLength(bits: Uint16Array): Uint16Array {
  if (bits.length % 2 === 0) return bits;
  const padded = new Uint16Array(bits.length + 1);
  padded.set(bits);
  return padded;
}

/** `data` as a `Type` array, converting only when it is not one already. */
function asType<T extends Float32Array | Int32Array>(Type: { new (src: ArrayLike<number>): T; prototype: T }, data: TypedArray): T {
  return data instanceof Type ? data : new Type(data as ArrayLike<number>);
}
