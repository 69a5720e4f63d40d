/**
 * Builds the 32-bit words of a kernel's uniform block. Each kernel's WGSL file documents its
 * layout; the helpers keep the host side readable: `new Params(8).set(0, size)...`.
 * Arrays of up to 8 values go in two vec4 rows (uniform arrays are padded to 16 bytes per
 * element, so array<vec4<u32>, 2> is the compact way to hold 8 numbers).
 */
export class Params {
  readonly words: Uint32Array;
  private readonly floats: Float32Array;

  constructor(count: number) {
    this.words = new Uint32Array(Math.ceil(count / 4) * 4);
    this.floats = new Float32Array(this.words.buffer);
  }

  /** Stores an integer (negative ones as their two's-complement bits, for i32 fields). */
  set(at: number, value: number): this {
    this.words[at] = value >>> 0;
    return this;
  }

  setFloat(at: number, value: number): this {
    this.floats[at] = value;
    return this;
  }

  /** Stores up to 8 integers starting at word `at` (the rest stay 0). */
  setArray(at: number, values: readonly number[]): this {
    if (values.length > 8) throw new Error(`webgpu: internal: ${values.length} values for an 8-slot array`);
    values.forEach((v, i) => {
      this.set(at + i, v);
    });
    return this;
  }
}
