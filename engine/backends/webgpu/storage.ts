import type { Backend, Storage } from '../../backend.ts';
import type { DType } from '../../dtype.ts';
import type { PooledBuffer } from './bufferPool.ts';
import { roundUp4 } from './bufferPool.ts';

/**
 * A tensor's memory on the GPU. Every dtype the WebGPU backend holds is 32 bits wide: float32 as
 * f32, int32 as i32, bool as a u32 that is 0 or 1.
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
    return roundUp4(this.size * 4);
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
