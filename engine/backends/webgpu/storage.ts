import type { Backend, Storage } from '../../backend.ts';
import { isHalf, type DType } from '../../dtype.ts';
import type { PooledBuffer } from './bufferPool.ts';
import { roundUp4 } from './bufferPool.ts';

/**
 * A tensor's memory on the GPU. float32 is held as f32, int32 as i32, bool as a u32 that is 0 or 1;
 * bfloat16 / float16 as their 16-bit patterns, two per u32 word (element 2j in the low half), read
 * only by the kernels that widen them (matmul's B, gather; shaders/half.wgsl).
 */
export class GpuStorage implements Storage {
  constructor(
    readonly backend: Backend,
    readonly dtype: DType,
    readonly size: number,
    private pooled: PooledBuffer | null,
  ) {}

  /** Bytes the kernels may touch: the elements, rounded up to 4 (a binding is never empty). */
  get byteLength(): number {
    return roundUp4(gpuBytes(this.dtype, this.size));
  }

  /** The pooled buffer; throws if the storage was released. */
  get buf(): PooledBuffer {
    if (!this.pooled) throw new Error('webgpu: storage used after release()');
    return this.pooled;
  }

  /** Hands the buffer back, once; later use throws. */
  take(): PooledBuffer | null {
    const b = this.pooled;
    this.pooled = null;
    return b;
  }
}

/** Bytes `size` elements of `dtype` take on the GPU (before rounding up to whole words). */
export function gpuBytes(dtype: DType, size: number): number {
  return size * (isHalf(dtype) ? 2 : 4);
}
