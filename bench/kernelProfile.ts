/**
 * Where a WebGPU step spends its time: dispatches counted always, and, while `timed` runs, each
 * dispatch submitted and timed on its own, summed per kernel and per kernel family.
 *
 * Timing a submit times the kernel on llvmpipe: Dawn's GL backend runs the work before `submit`
 * returns (a 1024³ matmul's submit takes its whole 160 ms; the wait after it, under 1 ms). On a
 * real GPU a submit returns at once, and the figures below would time only the submit. Each
 * flushed dispatch also pays a submit (about 0.1 ms here), so the profiled step is slower than an
 * unprofiled one; the family shares are what to read.
 *
 * It instruments the backend's classes (Dispatcher.dispatch, GpuContext.upload and readBytes) from
 * outside, so the engine carries no profiling code; `install()` returns the function that undoes it.
 */
import { GpuContext } from '../engine/backends/webgpu/context.ts';
import { Dispatcher } from '../engine/backends/webgpu/dispatcher.ts';

/** The families of the table: the engine's op families, plus the optimiser and host transfers. */
export const FAMILIES = ['matmul', 'elementwise', 'reduce', 'movement', 'indexing', 'fused', 'optimiser', 'transfers'] as const;
export type Family = (typeof FAMILIES)[number];

/** Each kernel file of shaders/ (the label's first word) in its family; `transfers` are uploads and readbacks. */
const FAMILY_OF_SHADER: Record<string, Family> = {
  matmul_blocked: 'matmul',
  matmul_tiled: 'matmul',
  matvec: 'matmul',
  unary: 'elementwise',
  binary: 'elementwise',
  where: 'elementwise',
  cast: 'elementwise',
  fill: 'elementwise',
  reduce: 'reduce',
  argmax: 'reduce',
  copy: 'movement',
  gather: 'indexing',
  scatter_add: 'indexing',
  topk: 'indexing',
  softmax: 'fused',
  rmsnorm: 'fused',
  rotary: 'fused',
  silu_mul: 'fused',
  cross_entropy: 'fused',
  attention: 'fused',
  adamw: 'optimiser',
  sum_squares: 'optimiser',
};

/** The family of a kernel label such as `matmul_blocked[A_K4=true,…][WGX=8]`. */
function familyOf(label: string): Family {
  const file = label.split('[')[0]!;
  const family = FAMILY_OF_SHADER[file];
  if (!family) throw new Error(`kernelProfile: kernel ${file} has no family (add it to FAMILY_OF_SHADER)`);
  return family;
}

/** Milliseconds and calls, of one kernel or one family. */
export interface Tally {
  ms: number;
  count: number;
}

export class KernelProfile {
  /** Dispatches recorded since install (timed or not). */
  dispatches = 0;
  /** Host uploads and readbacks since install. */
  transfers = 0;
  /** Per kernel label, filled while `timed` runs. */
  readonly kernels = new Map<string, Tally>();
  private timing = false;

  install(): () => void {
    const dispatch = Dispatcher.prototype.dispatch;
    const upload = GpuContext.prototype.upload;
    const readBytes = GpuContext.prototype.readBytes;
    const profile = this;
    Dispatcher.prototype.dispatch = function (kernel, group, x, y, z) {
      dispatch.call(this, kernel, group, x, y, z);
      profile.dispatches++;
      if (profile.timing) profile.add(kernel.label, () => this.flush());
    };
    GpuContext.prototype.upload = function (dtype, data) {
      profile.transfers++;
      if (!profile.timing) return upload.call(this, dtype, data);
      let out: ReturnType<typeof upload> | undefined;
      profile.add('(upload)', () => {
        out = upload.call(this, dtype, data);
      });
      return out!;
    };
    GpuContext.prototype.readBytes = async function (s) {
      profile.transfers++;
      if (!profile.timing) return readBytes.call(this, s);
      const t = performance.now();
      const bytes = await readBytes.call(this, s);
      profile.record('(readback)', performance.now() - t);
      return bytes;
    };
    return () => {
      Dispatcher.prototype.dispatch = dispatch;
      GpuContext.prototype.upload = upload;
      GpuContext.prototype.readBytes = readBytes;
    };
  }

  /** Runs `fn` (one step) with every dispatch, upload and readback timed. */
  async timed<T>(fn: () => Promise<T>): Promise<T> {
    this.timing = true;
    try {
      return await fn();
    } finally {
      this.timing = false;
    }
  }

  /** The timed kernels gathered by family, every family present (zero when unused). */
  families(): Record<Family, Tally> {
    const out = Object.fromEntries(FAMILIES.map((f) => [f, { ms: 0, count: 0 }])) as Record<Family, Tally>;
    for (const [label, t] of this.kernels) {
      const f = label.startsWith('(') ? 'transfers' : familyOf(label);
      out[f].ms += t.ms;
      out[f].count += t.count;
    }
    return out;
  }

  private add(label: string, fn: () => void): void {
    const t = performance.now();
    fn();
    this.record(label, performance.now() - t);
  }

  private record(label: string, ms: number): void {
    const e = this.kernels.get(label) ?? { ms: 0, count: 0 };
    e.ms += ms;
    e.count++;
    this.kernels.set(label, e);
  }
}
