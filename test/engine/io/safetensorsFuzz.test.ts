import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { readSafetensors, SafetensorsError, serializeSafetensorsToBytes, type TensorToWrite } from '../../../engine/io/index.ts';

/**
 * Corrupted and truncated files: whatever the damage, reading (and then using every tensor the
 * reader accepted) either works or throws a SafetensorsError — never another exception, never a
 * hang, and never an allocation sized by what a lying header claims.
 */

const baseFileArb = fc
  .array(
    fc.record({
      dtype: fc.constantFrom('F32', 'F16', 'BF16', 'I64', 'U8', 'BOOL', 'F64', 'I8') as fc.Arbitrary<TensorToWrite['dtype']>,
      shape: fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 3 }),
    }),
    { maxLength: 4 },
  )
  .map((specs) => {
    const tensors: Record<string, TensorToWrite> = {};
    specs.forEach(({ dtype, shape }, i) => {
      const n = shape.reduce((a, b) => a * b, 1);
      const data =
        dtype === 'F32'
          ? new Float32Array(n).fill(1.5)
          : dtype === 'F64'
            ? new Float64Array(n).fill(-2)
            : dtype === 'F16' || dtype === 'BF16'
              ? new Uint16Array(n).fill(0x3c00)
              : dtype === 'I64'
                ? new BigInt64Array(n).fill(7n)
                : dtype === 'I8'
                  ? new Int8Array(n).fill(-3)
                  : new Uint8Array(n).fill(1);
      tensors[`t${i}`] = { dtype, shape, data };
    });
    return serializeSafetensorsToBytes(tensors, { note: 'fuzz' });
  });

/** Reads and uses everything; returns the error thrown, or null. */
function readAll(bytes: Uint8Array): unknown {
  try {
    const f = readSafetensors(bytes, 'fuzz.safetensors');
    let total = 0;
    for (const name of f.names()) {
      total += f.rawBytes(name).length;
      f.view(name);
      f.toHost(name);
    }
    // Every byte a tensor claims is a byte of the file.
    expect(total).toBeLessThanOrEqual(bytes.length);
    return null;
  } catch (e) {
    return e;
  }
}

function expectOnlyOwnErrors(bytes: Uint8Array): void {
  const started = performance.now();
  const error = readAll(bytes);
  if (error !== null && !(error instanceof SafetensorsError)) throw error;
  expect(performance.now() - started).toBeLessThan(1000);
}

const headerLengthOf = (bytes: Uint8Array) => Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));

/** Rebuilds a file from new header text and the old data, with the header length fixed up or not. */
function withHeader(bytes: Uint8Array, text: string, fixLength: boolean): Uint8Array {
  const data = bytes.subarray(8 + headerLengthOf(bytes));
  const json = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(fixLength ? json.length : headerLengthOf(bytes)), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const headerText = (bytes: Uint8Array) => new TextDecoder().decode(bytes.subarray(8, 8 + headerLengthOf(bytes)));

describe('safetensors fuzzing', () => {
  // Seeded, so a failure replays; 10,000 cases in all.
  beforeAll(() => fc.configureGlobal({ seed: 16 }));

  it('random byte flips', () => {
    fc.assert(
      fc.property(baseFileArb, fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }), (file, flips) => {
        const bytes = file.slice();
        for (const [at, mask] of flips) bytes[at % bytes.length]! ^= mask;
        expectOnlyOwnErrors(bytes);
      }),
      { numRuns: 4400 },
    );
  });

  it('flips aimed at the header length', () => {
    fc.assert(
      fc.property(baseFileArb, fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 255 }), (file, at, mask) => {
        const bytes = file.slice();
        bytes[at]! ^= mask;
        expectOnlyOwnErrors(bytes);
      }),
      { numRuns: 500 },
    );
  });

  it('truncated files', () => {
    fc.assert(
      fc.property(baseFileArb, fc.nat(), (file, cut) => {
        const bytes = file.subarray(0, cut % file.length);
        const error = readAll(bytes);
        // Every tensor is non-empty or the file has a non-empty header, so a cut always breaks it.
        expect(error).toBeInstanceOf(SafetensorsError);
      }),
      { numRuns: 1000 },
    );
  });

  it('random character edits of the header text', () => {
    const chars = '{}[],:"0123456789-.eE +\\uFtrn_abcdFIUBOL';
    const edit = fc.record({
      at: fc.nat(),
      remove: fc.integer({ min: 0, max: 4 }),
      insert: fc.string({ unit: fc.constantFrom(...chars), maxLength: 4 }),
    });
    fc.assert(
      fc.property(baseFileArb, fc.array(edit, { minLength: 1, maxLength: 4 }), fc.boolean(), (file, edits, fixLength) => {
        let text = headerText(file);
        for (const { at, remove, insert } of edits) {
          const i = at % (text.length + 1);
          text = text.slice(0, i) + insert + text.slice(i + remove);
        }
        expectOnlyOwnErrors(withHeader(file, text, fixLength));
      }),
      { numRuns: 2000 },
    );
  });

  it('random values in place of header fields (huge shapes and offsets included)', () => {
    const hostile = fc.oneof(
      fc.jsonValue({ maxDepth: 2 }),
      fc.array(fc.oneof(fc.integer(), fc.constantFrom(2 ** 53, 2 ** 60, 1e308, -1, 0.5)), { maxLength: 4 }),
      fc.constantFrom('F32', 'F16', 'I64', 'BOOL', 'X', ''),
    );
    fc.assert(
      fc.property(baseFileArb, fc.nat(), fc.constantFrom('dtype', 'shape', 'data_offsets', 'extra'), hostile, (file, which, field, value) => {
        const header = JSON.parse(headerText(file)) as Record<string, Record<string, unknown>>;
        const names = Object.keys(header);
        const name = names[which % names.length]!;
        header[name]![field] = value;
        expectOnlyOwnErrors(withHeader(file, JSON.stringify(header), true));
      }),
      { numRuns: 2000 },
    );
  });

  it('header values nested thousands deep (JSON.stringify of them overflows the stack)', () => {
    fc.assert(
      fc.property(
        baseFileArb,
        fc.nat(),
        fc.constantFrom('dtype', 'shape', 'data_offsets', 'extra', '__metadata__'),
        fc.integer({ min: 4_000, max: 8_000 }),
        fc.constantFrom('[', '{"a":'),
        (file, which, field, depth, open) => {
          const close = open === '[' ? ']' : '}';
          const deep = `${open.repeat(depth)}1${close.repeat(depth)}`;
          const header = JSON.parse(headerText(file)) as Record<string, Record<string, unknown>>;
          const names = Object.keys(header).filter((name) => name !== '__metadata__');
          if (field === '__metadata__' || names.length === 0) header.__metadata__ = { a: 'DEEP' };
          else header[names[which % names.length]!]![field] = 'DEEP';
          expectOnlyOwnErrors(withHeader(file, JSON.stringify(header).replace('"DEEP"', deep), true));
        },
      ),
      { numRuns: 100 },
    );
  });

  it('rejects a header that claims a huge tensor before allocating anything for it', () => {
    const claimed = 512 * 1024 * 1024; // 512 MB of F32, in a file of a few dozen bytes
    const text = JSON.stringify({ big: { dtype: 'F32', shape: [claimed / 4], data_offsets: [0, claimed] } });
    const bytes = withHeader(new Uint8Array(8), text, true);
    const before = process.memoryUsage().arrayBuffers;
    const error = readAll(bytes);
    expect(error).toBeInstanceOf(SafetensorsError);
    expect((error as SafetensorsError).code).toBe('OFFSET_OUT_OF_RANGE');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
  });
});
