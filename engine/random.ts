/**
 * A seeded pseudo-random generator, so that a run is reproducible bit for bit.
 *
 * The core is xoshiro128** (Blackman & Vigna): 128 bits of state, fast, good statistical quality,
 * and simple enough to read. Random tensors are drawn on the host and uploaded, so every backend sees
 * exactly the same numbers for the same seed. `state()` / `setState()` let a trainer checkpoint and
 * resume the stream exactly.
 */
export class Generator {
  private s: Uint32Array;
  /** A second normal from Box–Muller, kept for the next call (part of the state). */
  private spareNormal: number | null = null;

  constructor(seed = 0) {
    this.s = new Uint32Array(4);
    // splitmix32 spreads a small seed over the whole state (an all-zero state would be stuck).
    let x = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
  }

  /** A uniformly distributed 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  /** Uniform in [0, 1), with 53 random bits. */
  random(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.random() * n);
  }

  uniform(low = 0, high = 1): number {
    return low + (high - low) * this.random();
  }

  /** Standard normal (Box–Muller; the second value of each pair is kept for the next call). */
  normal(mean = 0, std = 1): number {
    if (this.spareNormal !== null) {
      const z = this.spareNormal;
      this.spareNormal = null;
      return mean + std * z;
    }
    let u = 0;
    while (u === 0) u = this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spareNormal = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /** Fisher–Yates shuffle, in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [items[i], items[j]] = [items[j]!, items[i]!];
    }
    return items;
  }

  /** A serialisable snapshot of the whole state. */
  state(): { s: number[]; spareNormal: number | null } {
    return { s: Array.from(this.s), spareNormal: this.spareNormal };
  }

  setState(state: { s: number[]; spareNormal: number | null }): void {
    if (state.s.length !== 4) throw new Error(`Generator.setState: expected 4 state words, got ${state.s.length}`);
    this.s = Uint32Array.from(state.s);
    this.spareNormal = state.spareNormal;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
