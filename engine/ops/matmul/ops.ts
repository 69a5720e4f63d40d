import { isFloat, isHalf } from '../../dtype.ts';
import { record, type Rule } from '../../graph.ts';
import { broadcastShapes, formatShape, numel, sameShape, ShapeError } from '../../shape.ts';
import { Tensor } from '../../tensor.ts';
import { checkSameBackend, checkSameDtype } from '../elementwise/ops.ts';
import { unbroadcast } from '../reduce/ops.ts';

export interface MatmulOptions {
  /** Use the transpose of a's last two axes, without materialising it. */
  transA?: boolean;
  /** Use the transpose of b's last two axes, without materialising it. */
  transB?: boolean;
}

/**
 * Matrix product with PyTorch's torch.matmul semantics: a [..., m, k] @ b [..., k, n] → [..., m, n],
 * batch axes broadcast; a 1-D operand is a vector (a row for a, a column for b) and its axis is
 * dropped from the result. Either operand may be used transposed (`transA`, `transB`).
 *
 * b may be a frozen 16-bit weight (bfloat16 / float16, engine/dtype.ts) with a float a: the kernels
 * widen its elements as they read them and the product is a's dtype (a linear layer
 * x [.., in] · Wᵀ with W [out, in] stored in bf16). Its gradient then flows to a only.
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  checkSameBackend('matmul', a, b);
  if (isHalf(a.dtype)) {
    throw new TypeError(`matmul: a ${a.dtype} tensor can only be the second operand (a frozen weight); cast the first operand to float32`);
  }
  if (!isHalf(b.dtype)) checkSameDtype('matmul', a, b);
  if (!isFloat(a.dtype)) throw new TypeError(`matmul: not implemented for ${a.dtype} tensors`);
  if (a.rank === 0 || b.rank === 0) throw new ShapeError(`matmul: both arguments to matmul need to be at least 1D, but they are ${a.rank}D and ${b.rank}D`);
  // Vectors become matrices for the product, and lose that axis again afterwards.
  const a2 = a.rank === 1 ? a.reshape([1, a.shape[0]!]) : a;
  const b2 = b.rank === 1 ? b.reshape([b.shape[0]!, 1]) : b;
  let out = matmulPrimitive(a2, b2, a.rank === 1 ? false : !!options.transA, b.rank === 1 ? false : !!options.transB);
  if (a.rank === 1) out = out.reshape([...out.shape.slice(0, -2), out.shape[out.rank - 1]!]);
  if (b.rank === 1) out = out.reshape(out.shape.slice(0, -1));
  return out;
}

/** [..., m, k] @ [..., k, n] for rank ≥ 2 operands; the recorded primitive. */
function matmulPrimitive(a: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  const [m, ka] = transA ? [a.shape[a.rank - 1]!, a.shape[a.rank - 2]!] : [a.shape[a.rank - 2]!, a.shape[a.rank - 1]!];
  const [kb, n] = transB ? [b.shape[b.rank - 1]!, b.shape[b.rank - 2]!] : [b.shape[b.rank - 2]!, b.shape[b.rank - 1]!];
  if (ka !== kb) {
    throw new ShapeError(
      `matmul: mat1 and mat2 shapes cannot be multiplied (${m}x${ka} and ${kb}x${n}) (shapes ${formatShape(a.shape)}${transA ? 'ᵀ' : ''} and ${formatShape(b.shape)}${transB ? 'ᵀ' : ''})`,
    );
  }
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  // A plain 2-D weight on the right (a linear layer): fold a's batch into its rows, one big product.
  if (batchB.length === 0 && batchA.length > 0 && !transA) {
    const flat = matmulPrimitive(a.reshape([numel(batchA) * m, ka]), b, false, transB);
    return flat.reshape([...batchA, m, n]);
  }
  const batch = broadcastShapes('matmul', batchA, batchB);
  // An operand whose batch is broadcast along some axes but not all is materialised (rare).
  const fit = (t: Tensor, own: readonly number[]): Tensor => (numel(own) === 1 || sameShape(own, batch) ? t : t.expand([...batch, ...t.shape.slice(-2)]));
  const af = fit(a, batchA);
  const bf = fit(b, batchB);
  const storage = a.backend.matmul(af.storage('matmul'), bf.storage('matmul'), {
    batch: numel(batch),
    m,
    n,
    k: ka,
    transA,
    transB,
    aBatchStride: numel(af.shape.slice(0, -2)) === 1 && numel(batch) > 1 ? 0 : m * ka,
    bBatchStride: numel(bf.shape.slice(0, -2)) === 1 && numel(batch) > 1 ? 0 : ka * n,
  });
  return record('matmul', [af, bf], new Tensor(storage, [...batch, m, n]), { transA, transB });
}

/** The gradient rule of C = op(A)·op(B) (engine/gradients.ts gathers every family's). */
export const matmulRules: Record<'matmul', Rule> = {
  matmul: (g, { inputs: [a, b], attrs: { transA, transB } }) => {
    let da: Tensor | null = null;
    let db: Tensor | null = null;
    if (a!.requiresGrad) {
      da = transA ? b!.matmul(g, { transA: transB, transB: true }) : g.matmul(b!, { transB: !transB });
      da = unbroadcast(da, a!.shape);
    }
    if (b!.requiresGrad) {
      db = transB ? g.matmul(a!, { transA: true, transB: transA }) : a!.matmul(g, { transA: !transA });
      db = unbroadcast(db, b!.shape);
    }
    return [da, db];
  },
};

declare module '../../graph.ts' {
  interface Primitives extends Record<keyof typeof matmulRules, Rule> {}
}

declare module '../../tensor.ts' {
  interface Tensor {
    matmul(b: Tensor, options?: MatmulOptions): Tensor;
  }
}

Tensor.prototype.matmul = function (this: Tensor, b: Tensor, options?: MatmulOptions) {
  return matmul(this, b, options);
};
