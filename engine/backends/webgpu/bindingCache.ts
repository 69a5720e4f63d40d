/**
 * Reuses uniform buffers and bind groups across dispatches.
 *
 * On llvmpipe, writing a small uniform buffer and creating a bind group for every dispatch costs
 * about as much as the dispatch itself. A training step repeats the same kernels on the same
 * shapes and, thanks to the buffer pool, mostly on the same buffers, so both are cached by
 * content: uniforms by their words, bind groups by (kernel, buffer ids, binding sizes).
 */

/** A small least-recently-used map: hits move to the back, the front is evicted. */
class Lru<V> {
  private readonly map = new Map<string, V>();
  constructor(
    private readonly capacity: number,
    private readonly onEvict: (v: V) => void = () => {},
  ) {}

  get(key: string): V | undefined {
    const v = this.map.get(key);
    if (v !== undefined) {
      this.map.delete(key);
      this.map.set(key, v);
    }
    return v;
  }

  set(key: string, v: V): void {
    this.map.set(key, v);
    if (this.map.size > this.capacity) {
      const [oldKey, oldValue] = this.map.entries().next().value as [string, V];
      this.map.delete(oldKey);
      this.onEvict(oldValue);
    }
  }
}

export interface UniformBuffer {
  id: number;
  buffer: GPUBuffer;
  size: number;
}

let nextUniformId = 1;

export class UniformCache {
  private readonly cache: Lru<UniformBuffer>;
  /** Evicted buffers may still be used by pending work: destroyed after the next submit. */
  private retired: UniformBuffer[] = [];

  constructor(
    private readonly device: GPUDevice,
    capacity = 2048,
  ) {
    this.cache = new Lru(capacity, (u) => this.retired.push(u));
  }

  /** A uniform buffer holding exactly these 32-bit words (written as raw bits). */
  get(words: Uint32Array): UniformBuffer {
    const key = words.join(',');
    let u = this.cache.get(key);
    if (!u) {
      // Uniform bindings are read in 16-byte rows.
      const size = Math.max(16, Math.ceil(words.byteLength / 16) * 16);
      const buffer = this.device.createBuffer({
        label: `uniform#${nextUniformId}`,
        size,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      this.device.queue.writeBuffer(buffer, 0, words.buffer, words.byteOffset, words.byteLength);
      u = { id: nextUniformId++, buffer, size };
      this.cache.set(key, u);
    }
    return u;
  }

  afterSubmit(): void {
    for (const u of this.retired) u.buffer.destroy();
    this.retired = [];
  }
}

/** One buffer binding: which buffer (by unique id), and how many bytes of it. */
export interface BufferBinding {
  id: number;
  buffer: GPUBuffer;
  size: number;
}

export class BindGroupCache {
  private readonly cache = new Lru<GPUBindGroup>(4096);

  constructor(private readonly device: GPUDevice) {}

  /** The bind group for `bindings` (binding i = bindings[i]) on a kernel's layout. */
  get(kernelId: number, layout: GPUBindGroupLayout, label: string, bindings: readonly BufferBinding[]): GPUBindGroup {
    let key = String(kernelId);
    for (const b of bindings) key += `|${b.id}:${b.size}`;
    let group = this.cache.get(key);
    if (!group) {
      group = this.device.createBindGroup({
        label,
        layout,
        entries: bindings.map((b, binding) => ({ binding, resource: { buffer: b.buffer, size: b.size } })),
      });
      this.cache.set(key, group);
    }
    return group;
  }
}
