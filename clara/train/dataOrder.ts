import { Generator } from '../../engine/index.ts';

/**
 * The order in which a run reads its rows, and the randomness it uses to turn rows into examples.
 *
 * Rows are read epoch after epoch as one long stream; epoch e is a permutation of the row indices
 * drawn by `Generator(seed + e)`. A step reads the next `rowsPerStep` positions of the stream, so
 * the rows of step s are a pure function of (seed, s): a resumed run reads exactly what an
 * uninterrupted one would, and there is no data-loader state to save in a checkpoint.
 */
export class DataOrder {
  /** The permutation of the last epoch asked for (steps move forward, so one is enough). */
  private cached: { epoch: number; order: number[] } | null = null;

  constructor(
    readonly rowCount: number,
    readonly seed: number,
  ) {
    if (!Number.isInteger(rowCount) || rowCount < 1) throw new Error(`DataOrder: need at least one row, got ${rowCount}`);
  }

  /** Row indices of epoch `epoch`, shuffled. */
  permutation(epoch: number): number[] {
    if (this.cached?.epoch !== epoch) {
      const order = Array.from({ length: this.rowCount }, (_, i) => i);
      this.cached = { epoch, order: new Generator(this.seed + epoch).shuffle(order) };
    }
    return this.cached.order;
  }

  /** Row indices at positions [start, start + count) of the stream (crossing epochs as needed). */
  slice(start: number, count: number): number[] {
    const out: number[] = [];
    for (let position = start; position < start + count; position++) {
      const epoch = Math.floor(position / this.rowCount);
      out.push(this.permutation(epoch)[position % this.rowCount]!);
    }
    return out;
  }

  /** Row indices of step `step` (0-based): `rowsPerStep` = batch size × gradient-accumulation steps. */
  rowsForStep(step: number, rowsPerStep: number): number[] {
    return this.slice(step * rowsPerStep, rowsPerStep);
  }
}

/**
 * The random number generator a step uses to build its examples (e.g. which paraphrase instruction
 * a stage-1 row gets). Seeded from (seed, step) alone, for the same reason as the data order.
 */
export function stepRng(seed: number, step: number): Generator {
  return new Generator(mix32(seed, step ^ 0x51ed270b));
}

/** A 32-bit hash of two integers (murmur3's finaliser), to derive independent seeds. */
export function mix32(a: number, b: number): number {
  let h = (Math.imul(a >>> 0, 0x9e3779b1) ^ (b >>> 0)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
}
