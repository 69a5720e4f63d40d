/**
 * Reuses GPU buffers instead of creating one per tensor (creating and destroying buffers is slow
 * and fragments memory).
 *
 * Buffers are grouped by size class: powers of two and three steps between them (1, 1.25, 1.5,
 * 1.75 × 2^k), so a request wastes at most a quarter of its size.
 *
 * When a buffer may be reused matters, because the command encoder holds work that has not run:
 * - a buffer released while work is pending ("dirty") may be handed out again at once to a kernel
 *   that writes it on the GPU: commands run in the order they were recorded, so earlier readers
 *   see the old contents;
 * - but a host write (`queue.writeBuffer`) happens when it is called, before the pending work, so
 *   uploads only get buffers that no pending work uses ("clean": released before the last submit).
 */
export interface PooledBuffer {
  /** Unique for the life of the process (never reused), so cache keys never alias. */
  readonly id: number;
  readonly buffer: GPUBuffer;
  /** Bytes actually allocated (the size class). */
  readonly capacity: number;
}

const MIN_BYTES = 256;
let nextId = 1;

function sizeClass(bytes: number): number {
  if (bytes <= MIN_BYTES) return MIN_BYTES;
  const pow = 2 ** Math.floor(Math.log2(bytes));
  for (const step of [1, 1.25, 1.5, 1.75, 2]) {
    if (pow * step >= bytes) return pow * step;
  }
  return pow * 2;
}

export class BufferPool {
  private readonly clean = new Map<number, PooledBuffer[]>();
  private readonly dirty = new Map<number, PooledBuffer[]>();
  private idleBytes = 0;
  /** Bytes held by live buffers (in use or idle), for diagnostics. */
  allocatedBytes = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly usage: GPUBufferUsageFlags,
    private readonly label: string,
    /** Idle bytes kept for reuse; beyond this, idle buffers are destroyed after the next submit. */
    private readonly maxIdleBytes = 512 * 1024 * 1024,
  ) {}

  /**
   * A buffer of at least `bytes`. `forHostWrite`: it will be filled with `queue.writeBuffer`, so it
   * must not be used by pending work.
   */
  acquire(bytes: number, forHostWrite: boolean): PooledBuffer {
    const rounded = sizeClass(bytes);
    const capacity = rounded <= this.device.limits.maxBufferSize ? rounded : roundUp4(bytes);
    const reusable = (forHostWrite ? undefined : this.dirty.get(capacity)?.pop()) ?? this.clean.get(capacity)?.pop();
    if (reusable) {
      this.idleBytes -= capacity;
      return reusable;
    }
    if (capacity > this.device.limits.maxBufferSize) {
      throw new Error(`webgpu: a buffer of ${bytes} bytes exceeds the adapter's maxBufferSize ` + `(${this.device.limits.maxBufferSize} bytes)`);
    }
    const buffer = this.device.createBuffer({ label: `${this.label}#${nextId}`, size: capacity, usage: this.usage });
    this.allocatedBytes += capacity;
    return { id: nextId++, buffer, capacity };
  }

  /** Gives a buffer back; `pendingWork`: the encoder holds unsubmitted commands. */
  release(b: PooledBuffer, pendingWork: boolean): void {
    this.idleBytes += b.capacity;
    addTo(pendingWork ? this.dirty : this.clean, b);
  }

  /** Called after each submit: nothing pending uses the dirty buffers any more. */
  afterSubmit(): void {
    for (const list of this.dirty.values()) for (const b of list) addTo(this.clean, b);
    this.dirty.clear();
    this.trim();
  }

  /** Destroys every idle buffer (nothing may be pending). */
  destroyIdle(): void {
    this.afterSubmit();
    for (const list of this.clean.values()) for (const b of list) this.destroy(b);
    this.clean.clear();
    this.idleBytes = 0;
  }

  /** Destroys the largest idle buffers until the idle total is under the cap. */
  private trim(): void {
    if (this.idleBytes <= this.maxIdleBytes) return;
    const classes = [...this.clean.keys()].sort((a, b) => b - a);
    for (const capacity of classes) {
      const list = this.clean.get(capacity)!;
      while (list.length && this.idleBytes > this.maxIdleBytes) {
        this.destroy(list.pop()!);
        this.idleBytes -= capacity;
      }
    }
  }

  private destroy(b: PooledBuffer): void {
    b.buffer.destroy();
    this.allocatedBytes -= b.capacity;
  }
}

function addTo(lists: Map<number, PooledBuffer[]>, b: PooledBuffer): void {
  let list = lists.get(b.capacity);
  if (!list) {
    list = [];
    lists.set(b.capacity, list);
  }
  list.push(b);
}

export function roundUp4(bytes: number): number {
  return Math.max(4, Math.ceil(bytes / 4) * 4);
}
