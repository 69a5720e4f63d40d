/**
 * Element types. `float32` is the working type everywhere; `float64` exists on the CPU backend so
 * finite-difference gradient checks are accurate; `int32` holds indices; `bool` holds comparison
 * results and masks (each backend picks its own storage for it: bytes on the CPU, u32 on WebGPU).
 */
export type DType = 'float32' | 'float64' | 'int32' | 'bool';

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

/** A host array of the right kind for `dtype`, `size` elements long, zero-filled. */
export function allocHost(dtype: DType, size: number): TypedArray {
  switch (dtype) {
    case 'float32':
      return new Float32Array(size);
    case 'float64':
      return new Float64Array(size);
    case 'int32':
      return new Int32Array(size);
    case 'bool':
      return new Uint8Array(size);
  }
}

/** Copies `values` into a fresh host array of `dtype`, rounding as a store into that type would. */
export function toHost(dtype: DType, values: ArrayLike<number> | ArrayLike<boolean>): TypedArray {
  const out = allocHost(dtype, values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  if (dtype === 'bool') for (let i = 0; i < out.length; i++) out[i] = out[i] !== 0 ? 1 : 0;
  return out;
}
