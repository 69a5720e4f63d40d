/**
 * What every compared suite shares: the backends a run covers, timing with tinybench, the rows a
 * suite emits and the cases it hands to PyTorch (reference/bench_torch.py) to time the same work.
 */
import { Bench } from 'tinybench';
import { cpuBackend, setDefaultBackend, type Backend } from '../engine/index.ts';
import type { WebGPUBackend } from '../engine/backends/webgpu/backend.ts';

/** One backend of this run. */
export interface BenchBackend {
  /** `cpu` or `webgpu`: the backend column. */
  name: 'cpu' | 'webgpu';
  backend: Backend;
  /** The WebGPU backend itself (adapter, sync), or null. */
  gpu: WebGPUBackend | null;
  /** Whether the work runs on the host CPU (the CPU backend, or WebGPU on a CPU adapter such as llvmpipe). */
  onCpu: boolean;
}

/** Waits until every recorded piece of work of `b` has finished (CPU: nothing to wait for). */
export async function sync(b: BenchBackend): Promise<void> {
  if (b.gpu) await b.gpu.sync();
}

export function activate(b: BenchBackend): void {
  setDefaultBackend(b.backend);
}

export const CPU: BenchBackend = { name: 'cpu', backend: cpuBackend, gpu: null, onCpu: true };

/** One line of the table (and of --json). */
export interface Row {
  suite: string;
  case: string;
  backend: string;
  /** Median milliseconds per call. */
  ms: number;
  /** Fastest call: on a loaded machine the least disturbed one. */
  minMs: number;
  samples?: number;
  /** Floating-point operations per call (matmul and attention only). */
  flops?: number;
  gflops?: number;
  /** gflops / the host CPU's FP32 peak, when the work ran on the host CPU. */
  peakFraction?: number;
  /** Work per call in `unit`s (documents, tokens), for throughput rows. */
  work?: number;
  unit?: string;
  /** work / seconds (documents per second, tokens per second). */
  throughput?: number;
  /** Key of the PyTorch case timing the same work. */
  torchKey?: string;
  torchMs?: number;
  torchMinMs?: number;
  torchGflops?: number;
  torchThroughput?: number;
  /** ms / torchMs (medians): above 1 means slower than PyTorch. */
  ratio?: number;
  note?: string;
}

/** A case for reference/bench_torch.py: what to build (spec) and how long to time it. */
export interface TorchCase {
  key: string;
  suite: string;
  case: string;
  spec: Record<string, unknown>;
  timing: Timing;
}

export interface Timing {
  /** Minimum timed calls. */
  iterations: number;
  /** Keep calling until this many milliseconds have passed (and `iterations` calls were made). */
  time: number;
  /** Untimed calls first (kernel compilation, caches, allocator warm-up). */
  warmup: number;
}

/** What a suite gets: the backends, the run's options, and where to put rows and PyTorch cases. */
export interface SuiteContext {
  backends: BenchBackend[];
  quick: boolean;
  args: string[];
  json: boolean;
  emit(row: Row): void;
  torchCase(c: TorchCase): void;
  log(message: string): void;
}

export interface Suite {
  name: string;
  describe: string;
  run(ctx: SuiteContext): Promise<void>;
}

/** Median and fastest milliseconds of `fn` (which must include its own wait for the backend). */
export async function measure(fn: () => Promise<void> | void, timing: Timing): Promise<{ ms: number; minMs: number; samples: number }> {
  const bench = new Bench({
    iterations: timing.iterations,
    time: timing.time,
    warmup: timing.warmup > 0,
    warmupIterations: timing.warmup,
    warmupTime: 0,
    throws: true,
  });
  bench.add('case', fn);
  await bench.run();
  const result = bench.tasks[0]!.result;
  if (result.state !== 'completed') throw new Error(`benchmark ${result.state}`);
  return { ms: result.latency.p50 ?? result.latency.mean, minMs: result.latency.min, samples: result.latency.samplesCount };
}

/** Deterministic values in [-0.5, 0.5) (the same formula in bench_torch.py is not needed: inputs are random there too). */
export function pseudoRandom(n: number, seed = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = ((Math.sin((i + seed * 7919) * 12.9898) * 43758.5453) % 1) * 0.5;
  return out;
}

export function flag(args: readonly string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : undefined;
}
