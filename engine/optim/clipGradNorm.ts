import { noGrad } from '../graph.ts';
import { getDefaultBackend } from '../defaultBackend.ts';
import { keep, tidy } from '../memory.ts';
import { full, zeros } from '../ops/creation.ts';
import { Tensor } from '../tensor.ts';
import { Parameter } from '../nn/parameter.ts';
import { optimizerKernelsFor } from './fusion.ts';

/** The norm is computed after any row masks are applied: frozen rows' gradients do not count. */
function gradsOf(params: Iterable<Tensor>): Array<{ t: Tensor; g: Tensor }> {
  const out: Array<{ t: Tensor; g: Tensor }> = [];
  for (const t of params) {
    const g = t instanceof Parameter ? t.maskGrad() : t.grad;
    if (g !== null) out.push({ t, g });
  }
  return out;
}

/**
 * Rescales the gradients of `params` in place so that their global L2 norm is at most `maxNorm`,
 * and returns that norm (before clipping) as a scalar tensor: torch.nn.utils.clip_grad_norm_.
 *
 * As in PyTorch, every gradient is multiplied by min(1, maxNorm / (norm + 1e-6)): nothing is read
 * back to the host (no GPU stall), and when the norm is within bounds the factor is exactly 1.
 * Parameters without a gradient are skipped. With the backend's fused kernels (see
 * `setOptimizerFusion`) the sum of squares is one pass per gradient into one buffer, added up in
 * the backend's order (so the norm may differ from the composite's in the last bits). Call `.item()` on the result to log it; dispose it
 * (or let a `tidy` do so) afterwards.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  if (!(maxNorm >= 0)) throw new RangeError(`clipGradNorm: max_norm must be non-negative (got ${maxNorm})`);
  const entries = gradsOf(params);
  if (entries.length === 0) return zeros([], { backend: getDefaultBackend() });
  const { dtype, backend } = entries[0]!.g;
  for (const { g } of entries) {
    if (g.backend !== backend) throw new Error(`clipGradNorm: all gradients must be on the same backend (found ${backend.name} and ${g.backend.name})`);
  }
  return noGrad(() => {
    const kernels = optimizerKernelsFor(entries.map(({ g }) => g));
    const total = tidy(() => {
      if (kernels !== null) {
        return new Tensor(kernels.sumOfSquares(entries.map(({ g }) => g.storage('clipGradNorm'))), []).sqrt();
      }
      let sumSquares: Tensor | null = null;
      for (const { g } of entries) {
        const s = g.mul(g).sum().cast(dtype);
        sumSquares = sumSquares === null ? s : sumSquares.add(s);
      }
      return sumSquares!.sqrt();
    });
    tidy(() => {
      const coef = full([], maxNorm, { dtype, backend }).div(total.add(1e-6)).minimum(1);
      for (const { t, g } of entries) {
        if (t instanceof Parameter) {
          t.scaleGrad(coef);
        } else {
          t.grad = keep(g.mul(coef.cast(g.dtype)));
          g.dispose();
        }
      }
    });
    return total;
  });
}

/** Drops the gradients of `params` (PyTorch's zero_grad(set_to_none=True)). */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}
