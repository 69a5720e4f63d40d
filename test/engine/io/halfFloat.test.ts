import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bf16BitsToF32Bits, f16BitsToF32Bits, f32BitsToBf16Bits, f32BitsToF16Bits } from '../../../engine/io/index.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const valueOfBits = (bits: number) => {
  u32[0] = bits;
  return f32[0]!;
};

/** The f16 value of `h`, computed from the definition (an oracle independent of the bit tricks). */
function f16Value(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0x1f) return mant === 0 ? sign * Infinity : NaN;
  if (exp === 0) return sign * mant * 2 ** -24;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Every non-negative finite f16 in increasing order: bits 0x0000 … 0x7bff. */
const F16_POSITIVE = Array.from({ length: 0x7c00 }, (_, h) => f16Value(h));

/** The nearest f16 to a finite x by search, ties to the even bit pattern, beyond range → inf. */
function nearestF16(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  // 65520 is halfway between 65504 (the largest f16) and 65536 (the next step): it and above → inf.
  if (a >= 65520) return sign | 0x7c00;
  let lo = 0;
  let hi = F16_POSITIVE.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (F16_POSITIVE[mid]! <= a) lo = mid;
    else hi = mid;
  }
  const dLo = a - F16_POSITIVE[lo]!;
  const dHi = F16_POSITIVE[hi]! - a;
  const pick = dLo < dHi ? lo : dHi < dLo ? hi : lo % 2 === 0 ? lo : hi;
  return sign | (a >= F16_POSITIVE[hi]! ? hi : pick);
}

describe('f16', () => {
  it('widens every one of the 65536 bit patterns exactly, and narrows it back to itself', () => {
    for (let h = 0; h < 0x10000; h++) {
      const bits = f16BitsToF32Bits(h);
      const expected = f16Value(h);
      if (Number.isNaN(expected)) expect(Number.isNaN(valueOfBits(bits))).toBe(true);
      else expect(Object.is(valueOfBits(bits), expected)).toBe(true);
      expect(f32BitsToF16Bits(bits)).toBe(h); // NaN payloads survive the round trip too
    }
  });

  it('rounds float32 to nearest, ties to even', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (bits) => {
        const x = valueOfBits(bits);
        const h = f32BitsToF16Bits(bits);
        if (Number.isNaN(x)) return Number.isNaN(f16Value(h));
        return h === nearestF16(x);
      }),
      { numRuns: 20000 },
    );
  });

  it('handles the edges: overflow, the smallest subnormal, and exact ties', () => {
    const bitsOf = (x: number) => {
      f32[0] = x;
      return u32[0]!;
    };
    expect(f32BitsToF16Bits(bitsOf(65504))).toBe(0x7bff);
    expect(f32BitsToF16Bits(bitsOf(65519))).toBe(0x7bff);
    expect(f32BitsToF16Bits(bitsOf(65520))).toBe(0x7c00); // the tie rounds to "even" = inf
    expect(f32BitsToF16Bits(bitsOf(-1e10))).toBe(0xfc00);
    expect(f32BitsToF16Bits(bitsOf(2 ** -24))).toBe(0x0001);
    expect(f32BitsToF16Bits(bitsOf(2 ** -25))).toBe(0x0000); // tie between 0 and 2^-24 → 0 (even)
    expect(f32BitsToF16Bits(bitsOf(1.5 * 2 ** -25))).toBe(0x0001);
    expect(f32BitsToF16Bits(bitsOf(3 * 2 ** -25))).toBe(0x0002); // tie between 1 and 2 units → 2
    expect(f32BitsToF16Bits(bitsOf(1 + 2 ** -11))).toBe(0x3c00); // tie, 1.0 is even
    expect(f32BitsToF16Bits(bitsOf(1 + 3 * 2 ** -11))).toBe(0x3c02);
    expect(f32BitsToF16Bits(bitsOf(-0))).toBe(0x8000);
    expect(f32BitsToF16Bits(0x7f800001) & 0x7fff).toBeGreaterThan(0x7c00); // a NaN stays a NaN
  });
});

describe('bf16', () => {
  it('widens exactly and narrows back', () => {
    for (let b = 0; b < 0x10000; b++) {
      const bits = bf16BitsToF32Bits(b);
      expect(bits & 0xffff).toBe(0);
      expect(f32BitsToBf16Bits(bits)).toBe(b);
    }
  });

  it('rounds float32 to nearest, ties to even', () => {
    const edges = fc.constantFrom(0x7f7f8000, 0xff7f8000, 0x7f7f7fff, 0x3f808000, 0x3f818000, 0x00008000);
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 0xffffffff }), edges), (bits) => {
        const x = valueOfBits(bits);
        const b = f32BitsToBf16Bits(bits);
        const got = valueOfBits(bf16BitsToF32Bits(b));
        if (Number.isNaN(x)) return Number.isNaN(got);
        // The two bf16 neighbours of x (by magnitude): truncation, and one step further out.
        const down = bits & 0xffff0000;
        const up = down + 0x10000;
        const dDown = Math.abs(x - valueOfBits(down));
        // Rounding treats infinity as the next step, 2^128 (so a tie with it rounds to inf, as in IEEE).
        const upValue = (up & 0x7fffffff) === 0x7f800000 ? Math.sign(x) * 2 ** 128 : valueOfBits(up);
        const dUp = Math.abs(upValue - x);
        const expected = dDown < dUp ? down : dUp < dDown ? up : ((down >>> 16) & 1) === 0 ? down : up;
        return b === expected >>> 16;
      }),
      { numRuns: 20000 },
    );
  });
});
