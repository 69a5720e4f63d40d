/**
 * Conversions between float32 and the two 16-bit float formats found in checkpoints.
 *
 * Everything works on bit patterns (integers), never on JS numbers, for two reasons: widening
 * 16 → 32 bits is exact and must keep NaN payloads, and storing a NaN through a JS number into a
 * Float32Array is allowed to canonicalise its payload. Narrowing rounds to nearest, ties to even,
 * like a hardware conversion (and like torch's `.half()` / `.bfloat16()`).
 *
 *   f16  (IEEE binary16): 1 sign, 5 exponent (bias 15), 10 mantissa bits.
 *   bf16 (bfloat16):      1 sign, 8 exponent (bias 127), 7 mantissa bits: the top half of a float32.
 */

/** float32 bits of the f16 value with bits `h` (exact: every f16 value is a float32 value). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf, NaN (payload kept)
  if (exp === 0) {
    if (mant === 0) return sign >>> 0; // ±0
    // A subnormal f16 is a normal float32: shift the mantissa up until its leading 1 is the
    // implicit bit, lowering the exponent once per shift.
    let e = 1;
    while ((mant & 0x400) === 0) {
      mant <<= 1;
      e--;
    }
    return (sign | ((e - 15 + 127) << 23) | ((mant & 0x3ff) << 13)) >>> 0;
  }
  return (sign | ((exp - 15 + 127) << 23) | (mant << 13)) >>> 0;
}

/** f16 bits nearest to the float32 with bits `x` (ties to even; overflow → ±inf; NaN stays NaN). */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) {
    if (mant === 0) return sign | 0x7c00; // ±inf
    // Keep the top of the payload; if that leaves no bits set it would read as inf, so set the
    // quiet bit instead.
    const payload = mant >>> 13;
    return sign | 0x7c00 | (payload === 0 ? 0x200 : payload);
  }
  const e = exp - 127; // unbiased exponent
  if (e > 15) return sign | 0x7c00; // beyond the largest f16 (65504) even before rounding
  if (e >= -14) {
    // Normal f16: drop 13 mantissa bits, then round. A carry out of the mantissa correctly bumps
    // the exponent (and turns 65520.. into inf).
    let h = sign | ((e + 15) << 10) | (mant >>> 13);
    const rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
    return h;
  }
  // Subnormal (or zero) f16: count in units of 2^-24. The full significand m (with its implicit
  // bit) is worth m · 2^(e-23), i.e. m >> s units with s = -e - 1.
  const s = -e - 1;
  if (s > 25) return sign; // below half the smallest subnormal: rounds to ±0
  const m = mant | 0x800000;
  let h = m >>> s;
  const rest = m & ((1 << s) - 1);
  const half = 1 << (s - 1);
  if (rest > half || (rest === half && (h & 1) === 1)) h++;
  return sign | h;
}

/** float32 bits of the bf16 value with bits `b` (exact). */
export function bf16BitsToF32Bits(b: number): number {
  return (b << 16) >>> 0;
}

/** bf16 bits nearest to the float32 with bits `x` (ties to even; NaN stays NaN). */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) {
    // NaN: keep the top of the payload; if that leaves no bits set it would read as inf, so set
    // the quiet bit instead.
    const top = x >>> 16;
    return (top & 0x7f) === 0 ? top | 0x40 : top;
  }
  // Adding 0x7fff (+1 when the kept part is odd) carries into bit 16 exactly when rounding up.
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

// ---- whole arrays ------------------------------------------------------------------------------

function bitsOf(a: Float32Array): Uint32Array {
  return new Uint32Array(a.buffer, a.byteOffset, a.length);
}

/** Widens f16 bits to a fresh Float32Array (exact, NaN payloads kept). */
export function f16ToFloat32Array(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = bitsOf(out);
  for (let i = 0; i < bits.length; i++) outBits[i] = f16BitsToF32Bits(bits[i]!);
  return out;
}

/** Widens bf16 bits to a fresh Float32Array (exact, NaN payloads kept). */
export function bf16ToFloat32Array(bits: Uint16Array): Float32Array {
  const out = new Float32Array(bits.length);
  const outBits = bitsOf(out);
  for (let i = 0; i < bits.length; i++) outBits[i] = bf16BitsToF32Bits(bits[i]!);
  return out;
}

/** Rounds float32 values to f16 bits (nearest, ties to even). */
export function float32ToF16Array(values: Float32Array): Uint16Array {
  const inBits = bitsOf(values);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToF16Bits(inBits[i]!);
  return out;
}

/** Rounds float32 values to bf16 bits (nearest, ties to even). */
export function float32ToBf16Array(values: Float32Array): Uint16Array {
  const inBits = bitsOf(values);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = f32BitsToBf16Bits(inBits[i]!);
  return out;
}
