import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { HalfDType, TypedArray } from '../../dtype.ts';
import { halfRowsKernel } from '../../ops/matmul/cpu.ts';

/**
 * Worker threads for the CPU backend's decode products (x [m < 4, k] · W[n, k]ᵀ with W stored 16-bit:
 * engine/ops/matmul/cpu.ts, 6.). Decoding a 7B model reads every weight once per token, 14.5 GB in
 * bfloat16, one multiply-add per weight: one thread leaves the other cores idle while the memory
 * could feed them. So the n columns of such a product are cut into one contiguous range per thread;
 * this thread computes the first while each worker computes one of the others, all with the same
 * `halfRowsKernel`, so every column's sum is the one-thread sum, bit for bit.
 *
 * What a worker reads must be shared memory: the weights are allocated in SharedArrayBuffers by the
 * backend (`sharedHalfArray`, the only copy; a weight in an ordinary buffer is computed on this
 * thread alone), and the few rows of x and the worker's columns of the result travel through a
 * shared scratch. `matmul` is synchronous, so this thread blocks on `Atomics.wait` until the
 * workers are done (Node allows that on its main thread).
 *
 * A worker cannot import a TypeScript module (the loader that compiles them is not inherited), so
 * it is started from `halfRowsKernel`'s own compiled source text: the kernel is written to be
 * self-contained for that. Workers start lazily, on the first product large enough, and a product
 * that comes before they are ready runs on this thread alone.
 */

/** Below this many multiply-adds a product runs on one thread: a hand-off costs about 50 µs. */
const DEFAULT_MIN_WORK = 1 << 20;
/** A worker that has not answered in this long is reported, rather than waited for forever. */
const TIMEOUT_MS = 120_000;

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
// esbuild (tsx, vite) wraps inner functions in __name(…) to keep their names; the kernel has none,
// but its text must run even if a compiler adds one.
const __name = (f) => f;
const halfRowsKernel = (${halfRowsKernel.toString()});
parentPort.on('message', (job) => {
  try {
    halfRowsKernel(job.x, 0, job.b, job.b0, workerData.tables[job.dtype], job.out, 0, job.m, job.n, job.k, job.j0, job.j1);
    Atomics.store(job.done, 0, 1);
  } catch (error) {
    console.error('clara cpu decode worker:', error);
    Atomics.store(job.done, 0, 2);
  }
  Atomics.notify(job.done, 0);
});
Atomics.store(workerData.ready, 0, 1);
`;

/** A 16-bit array in shared memory, so that the decode workers can read it in place. */
export function sharedHalfArray(size: number): Uint16Array {
  return new Uint16Array(new SharedArrayBuffer(size * 2));
}

/** The cores this machine offers (the default thread count). */
export function coreCount(): number {
  return availableParallelism();
}

export interface RowThreadsOptions {
  /** Threads in all, this one included (1: no workers). */
  threads: number;
  /** Multiply-adds (m·n·k) from which a product is split (default 2^20). */
  minWork?: number;
}

export class RowThreads {
  private count = 1;
  private readonly minWork: number;
  private workers: Worker[] | null = null;
  private readonly ready: Int32Array[] = [];
  /** Products split so far (tests check that the threaded path ran). */
  splitProducts = 0;

  constructor(
    options: RowThreadsOptions,
    private readonly tables: Record<HalfDType, Float32Array>,
  ) {
    this.setThreads(options.threads);
    this.minWork = options.minWork ?? DEFAULT_MIN_WORK;
  }

  /** Threads in all, this one included. */
  get threads(): number {
    return this.count;
  }

  /**
   * Changes the thread count (running workers are stopped; new ones start on the next large
   * product). 16-bit weights allocated while there was one thread are not in shared memory, and
   * their products stay on this thread.
   */
  setThreads(threads: number): void {
    if (!Number.isInteger(threads) || threads < 1) throw new Error(`cpu: threads must be a positive integer, got ${threads}`);
    if (threads === this.count) return;
    void this.close();
    this.count = threads;
  }

  /** Starts the workers now (they otherwise start on the first large product) and resolves once all can take work. */
  async whenReady(): Promise<void> {
    this.start();
    while (!this.allReady()) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  /**
   * Computes `halfRowsKernel` over all n columns of one product, split between this thread and the
   * workers; false (nothing done) when it is too small, W is not in shared memory, or the workers
   * are not ready yet: the caller then computes it alone.
   */
  run(a: TypedArray, a0: number, b: Uint16Array, b0: number, dtype: HalfDType, out: TypedArray, c0: number, m: number, n: number, k: number): boolean {
    if (this.threads < 2 || m * n * k < this.minWork || !(b.buffer instanceof SharedArrayBuffer) || n < 8 * this.threads) return false;
    this.start();
    if (!this.allReady()) return false;
    const workers = this.workers!;
    // x's rows, as float64 (exact for float32 values), where the workers can read them.
    const x = new Float64Array(new SharedArrayBuffer(m * k * 8));
    for (let i = 0; i < m * k; i++) x[i] = a[a0 + i]!;
    // Column ranges in multiples of 8 (the kernel's unrolled width), this thread's first.
    const share = Math.ceil(n / this.threads / 8) * 8;
    const jobs = workers.map((worker, w) => {
      const j0 = Math.min(n, (w + 1) * share);
      const j1 = w === workers.length - 1 ? n : Math.min(n, (w + 2) * share);
      const result = new Float64Array(new SharedArrayBuffer(m * n * 8));
      const done = new Int32Array(new SharedArrayBuffer(4));
      worker.postMessage({ x, b, b0, dtype, out: result, m, n, k, j0, j1, done });
      return { j0, j1, result, done };
    });
    halfRowsKernel(x, 0, b, b0, this.tables[dtype], out, c0, m, n, k, 0, Math.min(n, share));
    jobs.forEach(({ j0, j1, result, done }, w) => {
      if (Atomics.wait(done, 0, 0, TIMEOUT_MS) === 'timed-out') throw new Error(`cpu: decode worker ${w + 1} did not answer within ${TIMEOUT_MS / 1000} s`);
      if (Atomics.load(done, 0) !== 1) throw new Error(`cpu: decode worker ${w + 1} failed on a [${m}, ${k}] · [${n}, ${k}]ᵀ product (its error is on stderr)`);
      for (let i = 0; i < m; i++) for (let j = j0; j < j1; j++) out[c0 + i * n + j] = result[i * n + j]!;
    });
    this.splitProducts++;
    return true;
  }

  /** Stops the workers (they never keep the process alive; this frees them sooner). */
  async close(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = null;
    this.ready.length = 0;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private start(): void {
    if (this.workers !== null) return;
    this.workers = Array.from({ length: this.threads - 1 }, () => {
      const ready = new Int32Array(new SharedArrayBuffer(4));
      this.ready.push(ready);
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { tables: this.tables, ready } });
      worker.unref();
      return worker;
    });
  }

  private allReady(): boolean {
    return this.ready.every((r) => Atomics.load(r, 0) === 1);
  }
}
