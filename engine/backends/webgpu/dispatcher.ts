import type { ErrorTracker } from './errors.ts';
import type { Kernel } from './pipelineCache.ts';

/**
 * Records dispatches into one command encoder and one compute pass, and submits them together.
 *
 * On llvmpipe a dispatch costs about 37 µs when a hundred share one pass and one submit, and three
 * times that with a submit each, so we only submit when the host needs data (`read`), when a
 * copy needs the pass closed, or every `flushEvery` dispatches so a real GPU can start working.
 */
export class Dispatcher {
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private recorded = 0;
  /** State last set on the open pass: setting it again is skipped (each call crosses into C++). */
  private passPipeline: GPUComputePipeline | null = null;
  private passGroup: GPUBindGroup | null = null;
  private readonly submitListeners: (() => void)[] = [];
  /** Number of submits so far (for tests and benchmarks). */
  submits = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly errors: ErrorTracker,
    private readonly flushEvery = 512,
  ) {}

  /** Whether commands are recorded but not submitted. */
  get pending(): boolean {
    return this.encoder !== null;
  }

  /** `fn` runs after every submit (buffer pools use it to recycle buffers). */
  onSubmit(fn: () => void): void {
    this.submitListeners.push(fn);
  }

  dispatch(kernel: Kernel, group: GPUBindGroup, x: number, y = 1, z = 1): void {
    this.errors.throwIfFailed();
    this.errors.kernel = kernel.label;
    const pass = this.computePass();
    if (this.passPipeline !== kernel.pipeline) {
      pass.setPipeline(kernel.pipeline);
      this.passPipeline = kernel.pipeline;
      // A new pipeline invalidates bind groups set for a different layout.
      this.passGroup = null;
    }
    if (this.passGroup !== group) {
      pass.setBindGroup(0, group);
      this.passGroup = group;
    }
    pass.dispatchWorkgroups(x, y, z);
    if (++this.recorded >= this.flushEvery) this.flush();
  }

  copyBufferToBuffer(src: GPUBuffer, dst: GPUBuffer, bytes: number): void {
    this.errors.throwIfFailed();
    this.endPass();
    this.encoderOrNew().copyBufferToBuffer(src, 0, dst, 0, bytes);
    this.recorded++;
  }

  /** Submits everything recorded so far. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const encoder = this.encoder;
    this.encoder = null;
    this.recorded = 0;
    this.device.pushErrorScope('validation');
    this.device.queue.submit([encoder.finish()]);
    this.errors.watch(this.device.popErrorScope(), `submit ending with ${this.errors.op}`, this.errors.kernel);
    this.submits++;
    for (const fn of this.submitListeners) fn();
  }

  private encoderOrNew(): GPUCommandEncoder {
    this.encoder ??= this.device.createCommandEncoder();
    return this.encoder;
  }

  private computePass(): GPUComputePassEncoder {
    this.pass ??= this.encoderOrNew().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
    this.passPipeline = null;
    this.passGroup = null;
  }
}
