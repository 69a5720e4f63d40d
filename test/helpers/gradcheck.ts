import { Generator, tensor, type Tensor } from '../../engine/index.ts';

/**
 * Finite-difference gradient check in float64 on the CPU backend.
 *
 * For a function f of several tensors, compares the gradient that backward() computes for the
 * scalar L = Σ f(inputs) · u (u a fixed random upstream gradient) with central differences
 * (L(x + h) − L(x − h)) / 2h, element by element. Returns the worst mismatch so a test can assert
 * on it and print it.
 */
export interface GradcheckResult {
  maxError: number;
  where: string;
}

export function randomValues(n: number, g: Generator, low = -2, high = 2): Float64Array {
  const v = new Float64Array(n);
  for (let i = 0; i < n; i++) v[i] = g.uniform(low, high);
  return v;
}

export async function gradcheck(
  f: (...inputs: Tensor[]) => Tensor,
  inputs: Array<{ values: Float64Array; shape: number[]; differentiable?: boolean; dtype?: 'float64' | 'int32' | 'bool' }>,
  seed = 1,
  h = 1e-6,
): Promise<GradcheckResult> {
  const make = (i: number, values: ArrayLike<number>): Tensor => {
    const spec = inputs[i]!;
    const dtype = spec.dtype ?? 'float64';
    return tensor(dtype === 'float64' ? Float64Array.from(values) : Array.from(values), spec.shape, {
      dtype,
      requiresGrad: dtype === 'float64' && spec.differentiable !== false,
    });
  };
  const tensors = inputs.map((spec, i) => make(i, spec.values));
  const out = f(...tensors);
  const upstream = tensor(randomValues(out.size, new Generator(seed)), [...out.shape], { dtype: 'float64' });
  const u = (await upstream.toArray()) as Float64Array;
  out.backward(upstream);

  const loss = async (args: Tensor[]): Promise<number> => {
    const values = await f(...args).toArray();
    let s = 0;
    for (let i = 0; i < values.length; i++) s += values[i]! * u[i]!;
    return s;
  };

  let maxError = 0;
  let where = 'none';
  for (let i = 0; i < inputs.length; i++) {
    const spec = inputs[i]!;
    if ((spec.dtype ?? 'float64') !== 'float64' || spec.differentiable === false) continue;
    const analytic = tensors[i]!.grad === null ? new Float64Array(spec.values.length) : ((await tensors[i]!.grad!.toArray()) as Float64Array);
    for (let j = 0; j < spec.values.length; j++) {
      const plus = Float64Array.from(spec.values);
      const minus = Float64Array.from(spec.values);
      plus[j]! += h;
      minus[j]! -= h;
      const args = (p: Float64Array) => inputs.map((_, k) => (k === i ? make(k, p) : make(k, inputs[k]!.values)));
      const numeric = ((await loss(args(plus))) - (await loss(args(minus)))) / (2 * h);
      const error = Math.abs(numeric - analytic[j]!) / Math.max(1, Math.abs(numeric));
      if (!(error <= maxError)) {
        maxError = Number.isNaN(error) ? Infinity : error;
        where = `input ${i}, element ${j}: analytic ${analytic[j]}, numeric ${numeric}`;
      }
    }
  }
  return { maxError, where };
}
