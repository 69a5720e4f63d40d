import { withTimeout } from './timeout.ts';

/**
 * Turns WebGPU's asynchronous error reporting into exceptions that name the op and the kernel.
 *
 * Kernels are synchronous calls but WebGPU reports validation errors, out-of-memory and device
 * loss later, through promises and events. We remember which op and kernel were last recorded,
 * keep the first failure, and throw it at the next call that can (the next kernel, or `read`).
 */
export class ErrorTracker {
  /** The engine op being recorded (e.g. "binary add") and the kernel it dispatched. */
  op = '(none)';
  kernel = '(none)';
  private failure: Error | null = null;
  /**
   * Errors that only say "invalid due to a previous error" (using a pipeline whose compilation
   * failed): the real cause arrives later through an error scope, so these are thrown only if
   * nothing better turns up.
   */
  private consequence: Error | null = null;
  private pending: Promise<void>[] = [];
  private destroyed = false;
  /** Set once the device is lost: every later call fails with that error. */
  private lost: Error | null = null;

  constructor(device: GPUDevice) {
    void device.lost.then((info) => {
      if (this.destroyed) return;
      this.lost = new Error(`webgpu: device lost (${info.reason}): ${info.message} (op: ${this.op}, kernel: ${this.kernel})`);
    });
    device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.fail(`uncaptured ${error.constructor.name}: ${error.message}`, this.op, this.kernel);
    });
  }

  /** Marks the device as intentionally destroyed, so its loss is not an error. */
  markDestroyed(): void {
    this.destroyed = true;
  }

  /** Records the outcome of an error scope that was pushed around work for `op`/`kernel`. */
  watch(scope: Promise<GPUError | null>, op: string, kernel: string): void {
    this.pending.push(
      scope.then((error) => {
        if (error) this.fail(`${error.constructor.name}: ${error.message}`, op, kernel);
      }),
    );
  }

  /**
   * Throws the first failure seen so far, if any. A validation error is thrown once (the device
   * still works afterwards); a lost device fails every call.
   */
  throwIfFailed(): void {
    if (this.lost) throw this.lost;
    const failure = this.failure;
    if (failure) {
      this.failure = null;
      this.consequence = null;
      throw failure;
    }
  }

  /** Waits for every watched error scope, then throws the first failure, if any. */
  async settle(timeoutMs: number): Promise<void> {
    const pending = this.pending;
    this.pending = [];
    await withTimeout(Promise.all(pending), timeoutMs, `error scopes (last op: ${this.op})`);
    this.throwIfFailed();
    const consequence = this.consequence;
    this.consequence = null;
    if (consequence) throw consequence;
  }

  private fail(message: string, op: string, kernel: string): void {
    const error = new Error(`webgpu: ${message} (op: ${op}, kernel: ${kernel})`);
    if (/due to a previous error/.test(message)) this.consequence ??= error;
    else this.failure ??= error;
  }
}
