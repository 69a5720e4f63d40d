import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { halfTable, type HalfDType, type TypedArray } from '../../dtype.ts';
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
  /** Why the workers stopped (an error while starting or a worker that exited); null while they are fine. */
  private failure: string | null = null;
  /** Buffers the hand-offs reuse (`run` blocks until every worker is done with them): x's rows, and per worker its results and its done flag. */
  private scratch: { x: Float64Array; results: Float64Array[]; done: Int32Array[] } | null = null;
  /** Products split so far (tests check that the threaded path ran). */
  splitProducts = 0;

  constructor(options: RowThreadsOptions) {
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
    for (;;) {
      this.start();
      if (this.failure !== null) throw new Error(`cpu: decode workers failed: ${this.failure}`);
      if (this.allReady()) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  /**
   * Computes `halfRowsKernel` over all n columns of one product, split between this thread and the
   * workers; false (nothing done) when it is too small, W is not in shared memory, or the workers
   * are not ready (or have failed): the caller then computes it alone.
   */
  run(a: TypedArray, a0: number, b: Uint16Array, b0: number, dtype: HalfDType, out: TypedArray, c0: number, m: number, n: number, k: number): boolean {
    if (this.threads < 2 || m * n * k < this.minWork || !(b.buffer instanceof SharedArrayBuffer) || n < 8 * this.threads) return false;
    this.start();
    if (this.failure !== null || !this.allReady()) return false;
    const workers = this.workers!;
    const { x, results, done } = this.buffers(m * k, m * n);
    // x's rows, as float64 (exact for float32 values), where the workers can read them.
    for (let i = 0; i < m * k; i++) x[i] = a[a0 + i]!;
    // Column ranges in multiples of 8 (the kernel's unrolled width), this thread's first.
    const share = Math.ceil(n / this.threads / 8) * 8;
    const ranges = workers.map((worker, w) => {
      const j0 = Math.min(n, (w + 1) * share);
      const j1 = w === workers.length - 1 ? n : Math.min(n, (w + 2) * share);
      Atomics.store(done[w]!, 0, 0);
      worker.postMessage({ x, b, b0, dtype, out: results[w], m, n, k, j0, j1, done: done[w] });
      return [j0, j1] as const;
    });
    halfRowsKernel(x, 0, b, b0, halfTable(dtype), out, c0, m, n, k, 0, Math.min(n, share));
    ranges.forEach(([j0, j1], w) => {
      const flag = done[w]!;
      const problem =
        Atomics.wait(flag, 0, 0, TIMEOUT_MS) === 'timed-out'
          ? `did not answer within ${TIMEOUT_MS / 1000} s`
          : Atomics.load(flag, 0) !== 1
            ? `failed on a [${m}, ${k}] · [${n}, ${k}]ᵀ product (its error is on stderr)`
            : null;
      if (problem !== null) {
        void this.close(); // the next large product starts fresh workers
        throw new Error(`cpu: decode worker ${w + 1} ${problem}`);
      }
      const result = results[w]!;
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
    this.failure = null;
    this.scratch = null;
    await Promise.all(workers.map((w) => w.terminate()));
  }

  private start(): void {
    if (this.workers !== null) return;
    // Each worker gets its own copy of the widening tables (they are built once per process).
    const tables = { bfloat16: halfTable('bfloat16'), float16: halfTable('float16') };
    const workers = Array.from({ length: this.threads - 1 }, () => {
      const ready = new Int32Array(new SharedArrayBuffer(4));
      this.ready.push(ready);
      const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { tables, ready } });
      worker.unref();
      // Without a listener a worker's error would be thrown in this process; with one, products
      // return to this thread and whenReady says why.
      worker.on('error', (error) => {
        if (this.workers === workers) this.failure = String(error);
      });
      worker.on('exit', (code) => {
        if (this.workers === workers) this.failure ??= `a worker exited (code ${code})`;
      });
      return worker;
    });
    this.workers = workers;
  }

  private allReady(): boolean {
    return this.workers !== null && this.ready.every((r) => Atomics.load(r, 0) === 1);
  }

  /** The hand-off buffers, grown to hold `xSize` and `outSize` elements. */
  private buffers(xSize: number, outSize: number): { x: Float64Array; results: Float64Array[]; done: Int32Array[] } {
    const shared = (size: number) => new Float64Array(new SharedArrayBuffer(size * 8));
    const s = this.scratch;
    const workers = this.threads - 1;
    if (s === null || s.x.length < xSize || s.results[0]!.length < outSize || s.results.length !== workers) {
      this.scratch = {
        x: shared(Math.max(xSize, s?.x.length ?? 0)),
        results: Array.from({ length: workers }, () => shared(Math.max(outSize, s?.results[0]?.length ?? 0))),
        done: Array.from({ length: workers }, () => new Int32Array(new SharedArrayBuffer(4))),
      };
    }
    return this.scratch!;
  }
}
