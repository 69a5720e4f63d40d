import type { HalfDType, TypedArray } from '../../dtype.ts';
import type { RowThreadsOptions } from './rowThreads.ts';

/**
 * rowThreads.ts for a browser (web/vite.config.ts swaps this module in): a page has no
 * `node:worker_threads`, and SharedArrayBuffer only when cross-origin isolated, so the CPU backend
 * computes every product on the page's thread.
 */
export function sharedHalfArray(size: number): Uint16Array {
  return new Uint16Array(size);
}

export function coreCount(): number {
  return 1;
}

export class RowThreads {
  readonly threads = 1;
  splitProducts = 0;
  constructor(options: RowThreadsOptions) {
    this.setThreads(options.threads);
  }
  setThreads(threads: number): void {
    if (threads !== 1) throw new Error(`cpu: a browser page has no worker threads (asked for ${threads})`);
  }
  async whenReady(): Promise<void> {}
  run(
    _a: TypedArray,
    _a0: number,
    _b: Uint16Array,
    _b0: number,
    _dtype: HalfDType,
    _out: TypedArray,
    _c0: number,
    _m: number,
    _n: number,
    _k: number,
  ): boolean {
    return false;
  }
  async close(): Promise<void> {}
}
