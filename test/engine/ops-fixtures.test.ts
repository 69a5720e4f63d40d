import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { concat, crossEntropy, mseLoss, oneHot, stack, tensor, topk, where, type Backend, type Tensor, type TypedArray } from '../../engine/index.ts';
import { readSafetensorsFile, type HostTensor, type SafetensorsFile } from '../../engine/io/index.ts';
import { BINARY_OPS, UNARY_OPS } from '../../engine/ops/elementwise/ops.ts';
import { availableBackends } from '../helpers/backends.ts';

/**
 * Replays every case PyTorch recorded (reference/record_ops.py → test/fixtures/ops/<op>.safetensors)
 * on every backend: same inputs, then the output(s) and, for a random upstream gradient, the
 * gradient of every differentiable input must match within the op's tolerance.
 *
 * A case's tensors: c{i}.in{j}, c{i}.out (or c{i}.out.{key}), c{i}.upstream(.{key}), c{i}.grad{j};
 * its attributes are JSON in the metadata under c{i}, with non-finite numbers as "inf"/"-inf"/"nan".
 */

/** A case's attributes, as the recorder wrote them (axis, keepdim, transA, …). */
// biome-ignore lint/suspicious/noExplicitAny: recorded JSON; each op's row below reads its own keys as the method it calls takes them
type Attrs = Record<string, any>;
type Outputs = Tensor | Tensor[] | Record<string, Tensor>;
interface Tolerance {
  rtol: number;
  atol: number;
}

interface OpEntry {
  run(x: Tensor[], a: Attrs): Outputs;
  /** For float32 cases: |actual − expected| ≤ atol + rtol·|expected|. */
  tol: Tolerance;
}

/**
 * The default for float32. rtol 1e-5 is about 100 ulps (an ulp is 2^-23 ≈ 1.2e-7 relative at
 * most), enough for a device's transcendental built-ins, which are good to a few ulps; atol covers
 * results that cancel to near zero (sin near π, gradients summed over broadcast axes).
 */
const F32: Tolerance = { rtol: 1e-5, atol: 1e-6 };
/**
 * Looser, for long float32 accumulations: rounding error grows with the number of terms (rows of
 * 700–1500 elements, dot products of length 256), and the order of summation differs between
 * torch (vectorised, blocked), the CPU backend and a GPU's tree reductions.
 */
const LONG_SUM: Tolerance = { rtol: 5e-5, atol: 1e-5 };
/**
 * Looser still, for max-shift → exp → sum → log chains (logsumexp, softmax, cross-entropy): each
 * step adds its rounding, and their gradients (softmax − its weighted sum) subtract nearly equal
 * numbers. The CPU backend already uses up to 0.9 of F32 on logsumexp.
 */
const SOFTMAX_CHAIN: Tolerance = { rtol: 1e-4, atol: 1e-5 };
/** float64 cases (CPU only) are compared much more tightly, whatever the op. */
const F64: Tolerance = { rtol: 1e-10, atol: 1e-12 };

/** The second operand: the tensor in1, or the number `other`. */
const other = (x: Tensor[], a: Attrs) => ('other' in a ? (a['other'] as number) : x[1]!);
const axesOf = (a: Attrs) => (a['axes'] === null ? undefined : (a['axes'] as number | number[]));

/** One entry per fixture file. Integer and bool results (comparisons, argmax, indices) must match exactly. */
const OPS: Record<string, OpEntry> = {
  // ---- elementwise: one entry per op of the lists (engine/ops/elementwise/ops.ts), so a new op
  // fails the file check below until its fixture is recorded; `sign` has no recorder case.
  // add/sub/mul/div are correctly rounded in both, but gradients of broadcast operands are sums,
  // whose order differs.
  ...Object.fromEntries(UNARY_OPS.filter((op) => op !== 'sign').map((op) => [op, { run: (x: Tensor[]) => x[0]![op](), tol: F32 }])),
  ...Object.fromEntries(BINARY_OPS.map((op) => [op, { run: (x: Tensor[], a: Attrs) => x[0]![op](other(x, a)), tol: F32 }])),
  silu: { run: (x) => x[0]!.silu(), tol: F32 },
  where: { run: (x) => where(x[0]!, x[1]!, x[2]!), tol: F32 },
  maskedFill: { run: (x, a) => x[0]!.maskedFill(x[1]!, a['value']), tol: F32 },

  // ---- reductions
  sum: { run: (x, a) => x[0]!.sum(axesOf(a), a['keepdim']), tol: LONG_SUM },
  mean: { run: (x, a) => x[0]!.mean(axesOf(a), a['keepdim']), tol: LONG_SUM },
  max: { run: (x, a) => x[0]!.max(axesOf(a), a['keepdim']), tol: F32 },
  argmax: { run: (x, a) => x[0]!.argmax(a['axis'], a['keepdim']), tol: F32 },
  // logsumexp needs its axes spelled out; `axes: null` means all of them.
  logsumexp: { run: (x, a) => x[0]!.logsumexp(axesOf(a) ?? x[0]!.shape.map((_, i) => i), a['keepdim']), tol: SOFTMAX_CHAIN },

  // k up to 256, and tiles that a GPU accumulates in a different order
  matmul: { run: (x, a) => x[0]!.matmul(x[1]!, { transA: a['transA'], transB: a['transB'] }), tol: LONG_SUM },

  // ---- movement: pure copies (gradients of expand are sums)
  reshape: { run: (x, a) => x[0]!.reshape(a['shape']), tol: F32 },
  permute: { run: (x, a) => x[0]!.permute(a['dims']), tol: F32 },
  transpose: { run: (x, a) => x[0]!.transpose(a['dim0'], a['dim1']), tol: F32 },
  expand: { run: (x, a) => x[0]!.expand(a['shape']), tol: F32 },
  slice: { run: (x, a) => x[0]!.slice(a['axis'], a['start'], a['end']), tol: F32 },
  concat: { run: (x, a) => concat(x, a['axis']), tol: F32 },
  stack: { run: (x, a) => stack(x, a['axis']), tol: F32 },
  split: { run: (x, a) => x[0]!.split(a['sizes'], a['axis']), tol: F32 },
  pad: { run: (x, a) => x[0]!.pad(a['pads'], a['value']), tol: F32 },

  // ---- indexing
  gather: { run: (x, a) => x[0]!.gather(a['axis'], x[1]!), tol: F32 },
  scatterAdd: { run: (x, a) => x[0]!.scatterAdd(a['axis'], x[1]!, x[2]!), tol: F32 },
  scatter: { run: (x, a) => x[0]!.scatter(a['axis'], x[1]!, x[2]!), tol: F32 },
  indexSelect: { run: (x, a) => x[0]!.indexSelect(a['axis'], x[1]!), tol: F32 },
  oneHot: { run: (x, a) => oneHot(x[0]!, a['numClasses']), tol: F32 },

  // ---- nn
  softmax: { run: (x, a) => x[0]!.softmax(a['axis']), tol: SOFTMAX_CHAIN },
  logSoftmax: { run: (x, a) => x[0]!.logSoftmax(a['axis']), tol: SOFTMAX_CHAIN },
  crossEntropy: { run: (x, a) => crossEntropy(x[0]!, x[1]!, { ignoreIndex: a['ignoreIndex'] }), tol: SOFTMAX_CHAIN },
  mseLoss: { run: (x) => mseLoss(x[0]!, x[1]!), tol: LONG_SUM }, // a mean over up to 1500
  topk: { run: (x, a) => topk(x[0]!, a['k']), tol: F32 },
};

// ------------------------------------------------------------------------------------------------

const FIXTURES = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/ops');

/** JSON attributes with the strings "inf", "-inf", "nan" turned back into numbers. */
function decodeAttrs(value: unknown): unknown {
  if (value === 'inf') return Infinity;
  if (value === '-inf') return -Infinity;
  if (value === 'nan') return NaN;
  if (Array.isArray(value)) return value.map(decodeAttrs);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, decodeAttrs(v)]));
  }
  return value;
}

interface RecordedCase {
  index: number;
  attrs: Attrs;
  inputs: HostTensor[];
  /** Output suffix ('' for a single output, '.values', '.0', …) → expected tensor. */
  outputs: Map<string, HostTensor>;
  upstreams: Map<string, HostTensor>;
  /** Input index → expected gradient. */
  grads: Map<number, HostTensor>;
}

function loadCases(file: SafetensorsFile): RecordedCase[] {
  const count = Number(file.metadata['cases']);
  const cases: RecordedCase[] = [];
  for (let i = 0; i < count; i++) {
    const prefix = `c${i}.`;
    const c: RecordedCase = {
      index: i,
      attrs: decodeAttrs(JSON.parse(file.metadata[`c${i}`]!)) as Attrs,
      inputs: [],
      outputs: new Map(),
      upstreams: new Map(),
      grads: new Map(),
    };
    for (const name of file.names()) {
      if (!name.startsWith(prefix)) continue;
      const key = name.slice(prefix.length);
      const t = file.toHost(name);
      const input = key.match(/^in(\d+)$/);
      const grad = key.match(/^grad(\d+)$/);
      const output = key.match(/^out(.*)$/);
      const upstream = key.match(/^upstream(.*)$/);
      if (input) c.inputs[Number(input[1])] = t;
      else if (grad) c.grads.set(Number(grad[1]), t);
      else if (output) c.outputs.set(output[1]!, t);
      else if (upstream) c.upstreams.set(upstream[1]!, t);
      else throw new Error(`${file.file}: unexpected tensor ${name}`);
    }
    cases.push(c);
  }
  return cases;
}

/** Output suffix → tensor, named as the recorder names them. */
function namedOutputs(out: Outputs): Map<string, Tensor> {
  if (Array.isArray(out)) return new Map(out.map((t, k) => [`.${k}`, t]));
  if ('isTensor' in out && out.isTensor === true) return new Map([['', out as Tensor]]);
  return new Map(Object.entries(out as Record<string, Tensor>).map(([k, t]) => [`.${k}`, t]));
}

/** Where `actual` differs from `expected` beyond the tolerance: a message, or null. NaN matches NaN. */
function mismatch(actual: TypedArray, actualShape: readonly number[], expected: HostTensor, tol: Tolerance): string | null {
  if (JSON.stringify(actualShape) !== JSON.stringify(expected.shape)) {
    return `shape [${actualShape.join(', ')}], expected [${expected.shape.join(', ')}]`;
  }
  const exact = expected.dtype === 'int32' || expected.dtype === 'bool';
  let worst = -1;
  let worstExcess = 0;
  let bad = 0;
  for (let i = 0; i < expected.data.length; i++) {
    const a = actual[i]!;
    const e = expected.data[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue; // equal infinities included
    const excess = exact || !Number.isFinite(e) || !Number.isFinite(a) ? Infinity : Math.abs(a - e) - (tol.atol + tol.rtol * Math.abs(e));
    if (excess > 0) {
      bad++;
      if (excess > worstExcess || worst < 0) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (bad === 0) return null;
  return `${bad} of ${expected.data.length} elements differ; worst at flat index ${worst}: got ${actual[worst]}, expected ${expected.data[worst]}`;
}

const backends = await availableBackends();
const ENGINE_DTYPE = { float32: 'float32', float64: 'float64', int32: 'int32', bool: 'bool' } as const;

async function replay(op: string, entry: OpEntry, c: RecordedCase, backend: Backend): Promise<string[]> {
  const inputs = c.inputs.map((h, j) =>
    tensor(h.data, h.shape, {
      dtype: ENGINE_DTYPE[h.dtype],
      backend,
      requiresGrad: c.grads.has(j),
    }),
  );
  const outputs = namedOutputs(entry.run(inputs, c.attrs));
  const tolFor = (h: HostTensor) => (h.dtype === 'float64' ? F64 : entry.tol);
  const problems: string[] = [];

  if ([...outputs.keys()].sort().join() !== [...c.outputs.keys()].sort().join()) {
    return [`outputs ${[...outputs.keys()].join()} but torch recorded ${[...c.outputs.keys()].join()}`];
  }
  for (const [key, expected] of c.outputs) {
    const out = outputs.get(key)!;
    if (out.dtype !== expected.dtype) problems.push(`out${key}: dtype ${out.dtype}, expected ${expected.dtype}`);
    const m = mismatch(await out.toArray(), out.shape, expected, tolFor(expected));
    if (m !== null) problems.push(`out${key}: ${m}`);
  }

  if (c.grads.size > 0) {
    const upstreamOf = (key: string) => {
      const u = c.upstreams.get(key)!;
      return tensor(u.data, u.shape, { dtype: ENGINE_DTYPE[u.dtype], backend });
    };
    const keys = [...c.upstreams.keys()];
    if (keys.length === 1) {
      outputs.get(keys[0]!)!.backward(upstreamOf(keys[0]!));
    } else {
      // Several outputs: one scalar Σ_k Σ(out_k · upstream_k) has exactly the same input gradients.
      let loss: Tensor | null = null;
      for (const key of keys) {
        const term = outputs.get(key)!.mul(upstreamOf(key)).sum();
        loss = loss === null ? term : loss.add(term);
      }
      loss!.backward();
    }
    for (const [j, expected] of c.grads) {
      const grad = inputs[j]!.grad;
      if (grad === null) {
        // torch reports an input the output does not depend on as a zero gradient.
        if (expected.data.some((v) => v !== 0)) problems.push(`grad${j}: null, expected a gradient`);
        continue;
      }
      const m = mismatch(await grad.toArray(), grad.shape, expected, tolFor(expected));
      if (m !== null) problems.push(`grad${j}: ${m}`);
    }
  }
  return problems.map((p) => `${op} c${c.index} ${JSON.stringify(c.attrs)} on ${backend.name}: ${p}`);
}

for (const [op, entry] of Object.entries(OPS)) {
  describe(op, () => {
    const cases = loadCases(readSafetensorsFile(path.join(FIXTURES, `${op}.safetensors`)));
    for (const backend of backends) {
      const runnable = cases.filter((c) => [...c.inputs, ...c.outputs.values()].every((h) => backend.supports(ENGINE_DTYPE[h.dtype])));
      it.each(runnable.map((c) => [`c${c.index} ${JSON.stringify(c.attrs)}`, c] as const))(`${backend.name}: %s`, async (_, c) => {
        expect(await replay(op, entry, c, backend)).toEqual([]);
      });
    }
  });
}

it('has an entry for every recorded op file', () => {
  const files = fs
    .readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.safetensors'))
    .map((f) => f.replace('.safetensors', ''));
  expect(Object.keys(OPS).sort()).toEqual(files.sort());
});
