import { noGrad } from '../graph.ts';
import { getDefaultBackend } from '../defaultBackend.ts';
import { keep, tidy } from '../memory.ts';
import { full, zeros } from '../ops/creation.ts';
import { Tensor } from '../tensor.ts';
import { Parameter } from '../nn/parameter.ts';
import type { AdamW } from './adamw.ts';
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
 * The global L2 norm of the gradients of `params` (frozen rows not counted), as a scalar tensor:
 * the first half of clipGradNorm. With the backend's fused kernels (see `setOptimizerFusion`) the
 * sum of squares is one pass per gradient into one buffer, added up in the backend's order (so the
 * norm may differ from the composite's in the last bits).
 */
export function gradNorm(params: Iterable<Tensor>): Tensor {
  return normOf(gradsOf(params));
}

function normOf(entries: ReadonlyArray<{ t: Tensor; g: Tensor }>): Tensor {
  if (entries.length === 0) return zeros([], { backend: getDefaultBackend() });
  const { dtype, backend } = entries[0]!.g;
  for (const { g } of entries) {
    if (g.backend !== backend) throw new Error(`clipGradNorm: all gradients must be on the same backend (found ${backend.name} and ${g.backend.name})`);
  }
  return noGrad(() => {
    const kernels = optimizerKernelsFor(entries.map(({ g }) => g));
    return tidy(() => {
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
  });
}

/**
 * Rescales the gradients of `params` in place so that their global L2 norm is at most `maxNorm`,
 * and returns that norm (before clipping) as a scalar tensor: torch.nn.utils.clip_grad_norm_.
 *
 * As in PyTorch, every gradient is multiplied by min(1, maxNorm / (norm + 1e-6)): nothing is read
 * back to the host (no GPU stall), and when the norm is within bounds the factor is exactly 1.
 * Parameters without a gradient are skipped. Call `.item()` on the result to log it; dispose it
 * (or let a `tidy` do so) afterwards. A training loop that reads the norm anyway saves the
 * multiplies with clipAndStep.
 */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): Tensor {
  checkMaxNorm(maxNorm);
  const entries = gradsOf(params);
  const total = normOf(entries);
  if (entries.length === 0) return total;
  const { dtype, backend } = entries[0]!.g;
  noGrad(() =>
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
    }),
  );
  return total;
}

/**
 * clipGradNorm(optimizer.params, maxNorm) then optimizer.step(), for a training loop that reads
 * the norm back anyway (to log it, or to stop on a non-finite one): the norm is read, the clip
 * coefficient min(1, maxNorm / (norm + 1e-6)) is computed on the host in the gradients' precision,
 * and the update applies it to each gradient inside its AdamW kernel (`gradScale`) instead of one
 * multiply per gradient before it: one dispatch per parameter fewer every step. The same arithmetic
 * (on the CPU backend bit for bit; on a GPU the coefficient's division is the host's correctly
 * rounded one, which WGSL's need not be). Returns the norm before clipping; when it is not finite,
 * no step is taken and the gradients are left as they are.
 */
export async function clipAndStep(optimizer: AdamW, maxNorm: number): Promise<number> {
  checkMaxNorm(maxNorm);
  const entries = gradsOf(optimizer.params);
  const normTensor = normOf(entries);
  const norm = await normTensor.item();
  normTensor.dispose();
  if (!Number.isFinite(norm)) return norm;
  // The device's arithmetic, in the gradients' precision: float32 rounds each result.
  const r = entries[0]?.g.dtype === 'float64' ? (x: number) => x : Math.fround;
  const coefficient = Math.min(1, r(r(maxNorm) / r(norm + r(1e-6))));
  tidy(() => optimizer.step({ gradScale: coefficient }));
  return norm;
}

function checkMaxNorm(maxNorm: number): void {
  if (!(maxNorm >= 0)) throw new RangeError(`clipGradNorm: max_norm must be non-negative (got ${maxNorm})`);
}

/** Drops the gradients of `params` (PyTorch's zero_grad(set_to_none=True)). */
export function zeroGrad(params: Iterable<Tensor>): void {
  for (const p of params) {
    p.grad?.dispose();
    p.grad = null;
  }
}
