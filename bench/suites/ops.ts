/**
 * Operator suites: matmul, attention (forward + backward), RMSNorm (forward + backward),
 * cross-entropy (forward + backward), each on every backend of the run, with the same shapes handed
 * to PyTorch.
 */
import { crossEntropy, keep, tensor, tidy, type Tensor } from '../../engine/index.ts';
import { RMSNorm } from '../../engine/nn/index.ts';
import { attentionMask, groupedQueryAttention } from '../../clara/model/attention.ts';
import { activate, measure, pseudoRandom, sync, type BenchBackend, type Row, type Suite, type SuiteContext, type Timing } from '../lib.ts';

const OP_TIMING: Timing = { iterations: 5, time: 400, warmup: 2 };
const QUICK_OP_TIMING: Timing = { iterations: 3, time: 150, warmup: 1 };

function opTiming(ctx: SuiteContext): Timing {
  return ctx.quick ? QUICK_OP_TIMING : OP_TIMING;
}

/** Frees the gradient a leaf received, so the next call starts from none. */
function dropGrads(...leaves: Tensor[]): void {
  for (const t of leaves) {
    t.grad?.dispose();
    t.grad = null;
  }
}

function leaf(shape: number[], b: BenchBackend, seed: number): Tensor {
  const size = shape.reduce((a, c) => a * c, 1);
  return keep(tensor(pseudoRandom(size, seed), shape, { dtype: 'float32', backend: b.backend })).requireGrad();
}

// ------------------------------------------------------------------------------------------------
// matmul

const MATMUL_SHAPES: [string, number, number, number][] = [
  ['256x256x256', 256, 256, 256],
  ['1024x1024x1024', 1024, 1024, 1024],
  ['64x4096x4096', 64, 4096, 4096],
  ['512x4096x512', 512, 4096, 512],
];

/**
 * WebGPU: bench/matmul.ts's own suite (every kernel variant, and the per-dispatch cost), its JSON
 * rows collected. CPU backend: the same products through the tensor API. PyTorch: `a @ b` and
 * `a @ b.T`.
 */
export const matmulSuite: Suite = {
  name: 'matmul',
  describe: 'C = A·B (and A·Bᵀ) for 256³, 1024³, 64×4096×4096, 512×4096×512; per-dispatch cost on WebGPU',
  async run(ctx) {
    const shapes = ctx.quick ? MATMUL_SHAPES.slice(0, 2) : MATMUL_SHAPES;
    for (const [name, m, n, k] of MATMUL_SHAPES) {
      for (const transB of [false, true]) {
        ctx.torchCase({
          key: matmulKey(name, transB),
          suite: 'matmul',
          case: `${name}${transB ? ' transB' : ''}`,
          spec: { m, n, k, transB },
          timing: { iterations: 10, time: 500, warmup: 2 },
        });
      }
    }
    for (const b of ctx.backends) {
      if (b.name === 'webgpu') {
        await webgpuMatmulRows(ctx);
        continue;
      }
      activate(b);
      for (const [name, m, n, k] of shapes) {
        const flops = 2 * m * n * k;
        const timing: Timing = flops > 2e8 ? { iterations: ctx.quick ? 1 : 2, time: 0, warmup: 0 } : opTiming(ctx);
        for (const transB of [false, true]) {
          ctx.log(`matmul ${name}${transB ? ' transB' : ''} on ${b.name}`);
          const a = keep(tensor(pseudoRandom(m * k, 1), [m, k], { backend: b.backend }));
          const bm = keep(tensor(pseudoRandom(k * n, 2), transB ? [n, k] : [k, n], { backend: b.backend }));
          const t = await measure(async () => {
            tidy(() => {
              a.matmul(bm, { transB });
            });
            await sync(b);
          }, timing);
          a.dispose();
          bm.dispose();
          ctx.emit({ suite: 'matmul', case: `${name}${transB ? ' transB' : ''}`, backend: b.name, ...t, flops, torchKey: matmulKey(name, transB) });
        }
      }
    }
  },
};

function matmulKey(name: string, transB: boolean): string {
  return `matmul:${name}${transB ? ':transB' : ''}`;
}

/** Runs bench/matmul.ts with --json and turns its printed rows into ours. */
async function webgpuMatmulRows(ctx: SuiteContext): Promise<void> {
  ctx.log('matmul on webgpu (bench/matmul.ts)');
  const { run } = await import('../matmul.ts');
  const lines: string[] = [];
  const original = console.log;
  console.log = (...parts: unknown[]) => {
    lines.push(parts.map(String).join(' '));
  };
  const passThrough = ctx.args.includes('--all') ? ['--all'] : [];
  try {
    await run(['--json', ...passThrough]);
  } finally {
    console.log = original;
  }
  for (const line of lines) {
    let r: { suite: string; case: string; ms: number; minMs: number; gflops?: number };
    try {
      r = JSON.parse(line);
    } catch {
      continue;
    }
    const shape = /(\d+)x(\d+)x(\d+)( transB)?/.exec(r.case);
    const row: Row = { suite: 'matmul', case: r.case, backend: 'webgpu', ms: r.ms, minMs: r.minMs };
    if (shape) {
      const [, m, n, k, t] = shape;
      row.flops = 2 * Number(m) * Number(n) * Number(k);
      row.torchKey = matmulKey(`${m}x${n}x${k}`, t !== undefined);
    }
    ctx.emit(row);
  }
}

// ------------------------------------------------------------------------------------------------
// attention

interface AttentionShape {
  name: string;
  batch: number;
  heads: number;
  kvHeads: number;
  seq: number;
  headDim: number;
}

const ATTENTION_SHAPES: AttentionShape[] = [
  // The `small` preset's heads at a stage-1 generator prompt's length.
  { name: 'small B8 H4/2 S96 D32', batch: 8, heads: 4, kvHeads: 2, seq: 96, headDim: 32 },
  // Mistral-7B's head layout (32 query heads sharing 8 key/value heads, Dh 128).
  { name: 'mistral-heads B2 H32/8 S128 D128', batch: 2, heads: 32, kvHeads: 8, seq: 128, headDim: 128 },
];

/** Left padding of row b: a different amount per row, so the padding mask matters. */
function leftPads(batch: number, seq: number): number[] {
  return Array.from({ length: batch }, (_, b) => Math.floor((b * seq) / (2 * batch)));
}

export const attentionSuite: Suite = {
  name: 'attention',
  describe: 'softmax(q kᵀ/√Dh + causal & padding mask) v with grouped-query heads, forward + backward',
  async run(ctx) {
    const shapes = ctx.quick ? ATTENTION_SHAPES.slice(0, 1) : ATTENTION_SHAPES;
    for (const s of shapes) {
      const key = `attention:${s.name}`;
      const pads = leftPads(s.batch, s.seq);
      // 4·B·H·S·T·Dh forward (q kᵀ and w v), twice that backward; the mask is not exploited.
      const flops = 12 * s.batch * s.heads * s.seq * s.seq * s.headDim;
      ctx.torchCase({ key, suite: 'attention', case: s.name, spec: { ...s, pads }, timing: opTiming(ctx) });
      for (const b of ctx.backends) {
        ctx.log(`attention ${s.name} on ${b.name}`);
        activate(b);
        const q = leaf([s.batch, s.heads, s.seq, s.headDim], b, 1);
        const k = leaf([s.batch, s.kvHeads, s.seq, s.headDim], b, 2);
        const v = leaf([s.batch, s.kvHeads, s.seq, s.headDim], b, 3);
        const upstream = keep(tensor(pseudoRandom(s.batch * s.heads * s.seq * s.headDim, 4), [s.batch, s.heads, s.seq, s.headDim], { backend: b.backend }));
        const keyMask = new Uint8Array(s.batch * s.seq);
        pads.forEach((p, row) => {
          keyMask.fill(1, row * s.seq + p, (row + 1) * s.seq);
        });
        const allowed = keep(attentionMask(keyMask, s.batch, s.seq, s.seq, null, b.backend));
        const t = await measure(async () => {
          dropGrads(q, k, v);
          tidy(() => groupedQueryAttention(q, k, v, allowed).backward(upstream));
          await sync(b);
        }, opTiming(ctx));
        dropGrads(q, k, v);
        for (const x of [q, k, v, upstream, allowed]) x.dispose();
        ctx.emit({ suite: 'attention', case: s.name, backend: b.name, ...t, flops, torchKey: key });
      }
    }
  },
};

// ------------------------------------------------------------------------------------------------
// RMSNorm

const RMSNORM_SHAPES: { name: string; shape: number[] }[] = [
  { name: 'small 8x96x128', shape: [8, 96, 128] },
  { name: 'wide 256x4096', shape: [256, 4096] },
];

export const rmsnormSuite: Suite = {
  name: 'rmsnorm',
  describe: "y = x·rsqrt(mean(x²)+eps)·w (the model's RMSNorm module), forward + backward to x and w",
  async run(ctx) {
    const shapes = ctx.quick ? RMSNORM_SHAPES.slice(0, 1) : RMSNORM_SHAPES;
    for (const s of shapes) {
      const key = `rmsnorm:${s.name}`;
      ctx.torchCase({ key, suite: 'rmsnorm', case: s.name, spec: { shape: s.shape, eps: 1e-5 }, timing: opTiming(ctx) });
      const size = s.shape.reduce((a, c) => a * c, 1);
      const dim = s.shape[s.shape.length - 1]!;
      for (const b of ctx.backends) {
        ctx.log(`rmsnorm ${s.name} on ${b.name}`);
        activate(b);
        const norm = new RMSNorm(dim, { eps: 1e-5, backend: b.backend });
        norm.weight.requiresGrad_(true);
        const x = leaf(s.shape, b, 5);
        const upstream = keep(tensor(pseudoRandom(size, 6), s.shape, { backend: b.backend }));
        const t = await measure(async () => {
          dropGrads(x, norm.weight);
          tidy(() => norm.forward(x).backward(upstream));
          await sync(b);
        }, opTiming(ctx));
        dropGrads(x, norm.weight);
        x.dispose();
        upstream.dispose();
        ctx.emit({ suite: 'rmsnorm', case: s.name, backend: b.name, ...t, torchKey: key });
      }
    }
  },
};

// ------------------------------------------------------------------------------------------------
// cross-entropy

const CE_SHAPES: { name: string; rows: number; vocab: number }[] = [
  { name: 'small 256x512', rows: 256, vocab: 512 },
  { name: 'mistral-vocab 512x32000', rows: 512, vocab: 32000 },
];

/** Target of row i; every 16th row is ignored (-100), as prompt positions are. */
function ceTargets(rows: number, vocab: number): number[] {
  return Array.from({ length: rows }, (_, i) => (i % 16 === 15 ? -100 : (i * 7919) % vocab));
}

export const crossEntropySuite: Suite = {
  name: 'crossentropy',
  describe: 'mean cross-entropy of [rows, V] logits against int targets (some ignored), forward + backward',
  async run(ctx) {
    const shapes = ctx.quick ? CE_SHAPES.slice(0, 1) : CE_SHAPES;
    for (const s of shapes) {
      const key = `crossentropy:${s.name}`;
      const targets = ceTargets(s.rows, s.vocab);
      ctx.torchCase({ key, suite: 'crossentropy', case: s.name, spec: { rows: s.rows, vocab: s.vocab, targets }, timing: opTiming(ctx) });
      for (const b of ctx.backends) {
        ctx.log(`crossentropy ${s.name} on ${b.name}`);
        activate(b);
        const logits = leaf([s.rows, s.vocab], b, 7);
        const t32 = keep(tensor(Int32Array.from(targets), [s.rows], { dtype: 'int32', backend: b.backend }));
        const t = await measure(async () => {
          dropGrads(logits);
          tidy(() => crossEntropy(logits, t32).backward());
          await sync(b);
        }, opTiming(ctx));
        dropGrads(logits);
        logits.dispose();
        t32.dispose();
        ctx.emit({ suite: 'crossentropy', case: s.name, backend: b.name, ...t, torchKey: key });
      }
    }
  },
};
