import { bf16BitsToF32Bits, f16BitsToF32Bits, float32ToBf16Array, float32ToF16Array } from './io/halfFloat.ts';

/**
 * Element types. `float32` is the working type everywhere; `float64` exists on the CPU backend so
 * finite-difference gradient checks are accurate; `int32` holds indices; `bool` holds comparison
 * results and masks (each backend picks its own storage for it: bytes on the CPU, u32 on WebGPU).
 *
 * `bfloat16` and `float16` are storage types for frozen weights (a 7B base model in 2 bytes per
 * parameter instead of 4): held as their raw 16-bit patterns (a Uint16Array on the host and the
 * CPU backend, two per u32 word on WebGPU) and read only by the kernels that widen them on the fly,
 * computing in float32: the right operand of a matmul (a linear layer's weight) and the table of a
 * gather (an embedding). Widening is exact (bf16 is the top half of a float32). Nothing computes in
 * them and nothing trains them: a 16-bit tensor cannot require a gradient.
 */
export type DType = 'float32' | 'float64' | 'int32' | 'bool' | HalfDType;

/** The 16-bit storage types (see above). */
export type HalfDType = 'bfloat16' | 'float16';

export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array | Uint16Array;

/** The types arithmetic runs in (and gradients exist for). */
export function isFloat(dtype: DType): boolean {
  return dtype === 'float32' || dtype === 'float64';
}

export function isHalf(dtype: DType): dtype is HalfDType {
  return dtype === 'bfloat16' || dtype === 'float16';
}

/**
 * Throws the error for an op that does not read 16-bit storage (everything but matmul's right
 * operand and gather's table): the fix is to widen with `.cast('float32')` or load in float32.
 */
export function checkNotHalf(op: string, dtype: DType): void {
  if (isHalf(dtype)) {
    throw new TypeError(
      `${op}: ${dtype} tensors are storage for frozen weights, read only by matmul (as its second operand) and gather; cast to float32 first`,
    );
  }
}

/** Bytes per element as a backend stores it (bool is a byte on the host; backends may widen it). */
export function bytesPerElement(dtype: DType): number {
  return dtype === 'float64' ? 8 : isHalf(dtype) ? 2 : dtype === 'bool' ? 1 : 4;
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
    case 'bfloat16':
    case 'float16':
      return new Uint16Array(size);
  }
}

/** Copies `values` into a fresh host array of `dtype`, rounding as a store into that type would. */
export function toHost(dtype: DType, values: ArrayLike<number> | ArrayLike<boolean>): TypedArray {
  if (isHalf(dtype)) return roundToHalf(dtype, Float32Array.from(values as ArrayLike<number>, Number));
  const out = allocHost(dtype, values.length);
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  if (dtype === 'bool') for (let i = 0; i < out.length; i++) out[i] = out[i] !== 0 ? 1 : 0;
  return out;
}

/** float32 values rounded to 16-bit patterns (nearest, ties to even, as torch's `.bfloat16()`). */
export function roundToHalf(dtype: HalfDType, values: Float32Array): Uint16Array {
  return dtype === 'bfloat16' ? float32ToBf16Array(values) : float32ToF16Array(values);
}

const halfTables = new Map<HalfDType, Float32Array>();

/**
 * The float32 value of every 16-bit pattern of `dtype` (65536 entries, 256 KiB, built once): a CPU
 * kernel widens an element with one lookup, `table[bits]`.
 */
export function halfTable(dtype: HalfDType): Float32Array {
  let table = halfTables.get(dtype);
  if (table === undefined) {
    const bits = new Uint32Array(65536);
    const widen = dtype === 'bfloat16' ? bf16BitsToF32Bits : f16BitsToF32Bits;
    for (let h = 0; h < 65536; h++) bits[h] = widen(h);
    table = new Float32Array(bits.buffer);
    halfTables.set(dtype, table);
  }
  return table;
}
