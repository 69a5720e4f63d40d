import { Bench } from 'tinybench';
import type { MatmulSpec } from '../engine/backend.ts';
import { createWebGPUBackend, type WebGPUBackend } from '../engine/backends/webgpu/backend.ts';
import type { MatmulVariant } from '../engine/backends/webgpu/kernels/matmul.ts';

/**
 * Matmul throughput per kernel variant and shape, and the cost of one dispatch in a batched step.
 *
 *   npm run bench -- matmul [--json] [--all]
 *
 * Each matmul sample records the product and waits for the GPU to finish it (no readback).
 * On a CPU adapter the shared-memory `tiled` kernel is slow (it exists for real GPUs), so it only
 * runs the smallest case unless --all is given.
 */
interface Row {
  suite: string;
  case: string;
  backend: string;
  /** Median milliseconds per sample. */
  ms: number;
  /** Fastest sample: on a shared machine the least disturbed one. */
  minMs: number;
  gflops?: number;
}

const CASES: [string, number, number, number][] = [
  ['256x256x256', 256, 256, 256],
  ['1024x1024x1024', 1024, 1024, 1024],
  ['64x4096x4096', 64, 4096, 4096],
  ['512x4096x512', 512, 4096, 512],
];

export async function run(args: string[]): Promise<void> {
  const json = args.includes('--json');
  const all = args.includes('--all');
  const gpu = await createWebGPUBackend();
  const backend = `webgpu (${gpu.adapter.name}, ${gpu.adapter.dawnBackend})`;
  const rows: Row[] = [];
  const emit = (row: Row) => {
    rows.push(row);
    if (json) console.log(JSON.stringify(row));
  };

  const chosen = gpu.matmulVariant;
  const variants: MatmulVariant[] = ['blocked', 'tiled'];
  for (const variant of variants) {
    for (const [name, m, n, k] of CASES) {
      if (variant !== chosen && gpu.adapter.isCpu && !all && name !== CASES[0][0]) continue;
      for (const transB of [false, true]) {
        const spec = { batch: 1, m, n, k, transA: false, transB, aBatchStride: 0, bBatchStride: 0 };
        const { ms, minMs } = await timeMatmul(gpu, variant, spec);
        emit({
          suite: 'matmul',
          case: `${variant} ${name}${transB ? ' transB' : ''}`,
          backend,
          ms,
          minMs,
          gflops: (2 * m * n * k) / ms / 1e6,
        });
      }
    }
  }
  gpu.matmulVariant = chosen;
  for (const [label, perSubmit] of [
    ['100 dispatches, one submit', false],
    ['100 dispatches, a submit each', true],
  ] as const) {
    const { ms, minMs } = await timeDispatches(gpu, perSubmit);
    emit({ suite: 'matmul', case: `per dispatch (${label})`, backend, ms, minMs });
  }
  if (!json) {
    console.table(
      rows.map((r) => ({
        case: r.case,
        ms: r.ms.toFixed(3),
        'min ms': r.minMs.toFixed(3),
        'GFLOP/s': r.gflops?.toFixed(2) ?? '',
      })),
    );
  }
  gpu.destroy();
}

/** Median and fastest milliseconds of one product (after a warm-up that compiles the kernel). */
async function timeMatmul(gpu: WebGPUBackend, variant: MatmulVariant, spec: MatmulSpec): Promise<{ ms: number; minMs: number }> {
  gpu.matmulVariant = variant;
  const a = gpu.upload('float32', random(spec.m * spec.k));
  const b = gpu.upload('float32', random(spec.k * spec.n));
  const bench = new Bench({ iterations: 5, time: 1000, warmupIterations: 1 });
  bench.add('matmul', async () => {
    gpu.release(gpu.matmul(a, b, spec));
    await gpu.sync();
  });
  await bench.run();
  gpu.release(a);
  gpu.release(b);
  return stats(bench, 1);
}

/**
 * Milliseconds per dispatch when a step records 100 small element-wise dispatches (256 floats
 * each) and submits once, or submits after each.
 */
async function timeDispatches(gpu: WebGPUBackend, submitEach: boolean): Promise<{ ms: number; minMs: number }> {
  const n = 256;
  const view = { offset: 0, strides: [1] };
  const x = gpu.upload('float32', random(n));
  const y = gpu.upload('float32', random(n));
  const bench = new Bench({ iterations: 20, time: 1000, warmupIterations: 2 });
  bench.add('dispatches', async () => {
    for (let i = 0; i < 100; i++) {
      gpu.release(gpu.binary('add', [n], x, view, y, view));
      if (submitEach) gpu.ctx.dispatcher.flush();
    }
    await gpu.sync();
  });
  await bench.run();
  return stats(bench, 100);
}

/** Median and minimum latency of the bench's only task, divided by `per`. */
function stats(bench: Bench, per: number): { ms: number; minMs: number } {
  const result = bench.tasks[0].result;
  if (result.state !== 'completed') throw new Error(`benchmark ${result.state}`);
  return { ms: (result.latency.p50 ?? result.latency.mean) / per, minMs: result.latency.min / per };
}

function random(n: number): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sin(i * 12.9898) * 0.5;
  return out;
}
