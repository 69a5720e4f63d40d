import { describe, expect, it } from 'vitest';
import { compareTensorFiles, formatComparison } from '../../../engine/io/compareTensors.ts';
import { readSafetensors, readSafetensorsFile, serializeSafetensorsToBytes, type TensorToWrite } from '../../../engine/io/index.ts';

/** Comparing two sets of named tensors: zero error against itself, the first divergence found. */
const FIXTURE = 'test/fixtures/model/mistral_tiny.safetensors';

function copyOf(perturb: Record<string, (data: Float32Array) => void>, order?: string[]) {
  const file = readSafetensorsFile(FIXTURE);
  const tensors: Record<string, TensorToWrite> = {};
  for (const name of file.names()) {
    const host = file.toHost(name);
    if (host.dtype !== 'float32') continue;
    const data = Float32Array.from(host.data as Float32Array);
    perturb[name]?.(data);
    tensors[name] = { dtype: 'F32', shape: host.shape, data };
  }
  return readSafetensors(serializeSafetensorsToBytes(tensors, order ? { order: JSON.stringify(order) } : {}));
}

describe('compareTensorFiles', () => {
  it('finds every tensor equal to itself, with zero error', () => {
    const a = copyOf({});
    const report = compareTensorFiles(a, copyOf({}));
    expect(report.firstDivergence).toBeNull();
    expect(report.tensors.map((t) => t.name).sort()).toEqual(a.names().sort());
    for (const t of report.tensors) expect([t.status, t.maxAbs, t.maxRel]).toEqual(['ok', 0, 0]);
  });

  it('names the first tensor past tolerance in the order the trace was produced', () => {
    const order = ['hidden_states.0', 'hidden_states.1', 'hidden_states.2', 'logits', 'loss'];
    const plant = (data: Float32Array) => {
      data[3] = data[3]! + 0.01;
    };
    // The planted error and everything downstream of it differ; the first one is the plant.
    const a = copyOf({ 'hidden_states.1': plant, 'hidden_states.2': plant, logits: plant }, order);
    const report = compareTensorFiles(a, copyOf({}));
    expect(report.tensors.slice(0, 5).map((t) => t.name)).toEqual(order);
    expect(report.firstDivergence).toBe('hidden_states.1');
    const row = report.tensors.find((t) => t.name === 'hidden_states.1')!;
    expect(row.mismatched).toBe(1);
    expect(row.maxAbs).toBeCloseTo(0.01, 6);
    expect(formatComparison(report)).toContain('first divergence: hidden_states.1');
  });

  it('masks names, tolerates within atol + rtol·|b|, and reports missing and misshapen tensors', () => {
    const small = (data: Float32Array) => {
      data[0] = data[0]! * (1 + 1e-6);
    };
    expect(compareTensorFiles(copyOf({ logits: small }), copyOf({})).firstDivergence).toBeNull();
    const planted = copyOf({ 'hidden_states.1': (d) => d.fill(7) });
    expect(compareTensorFiles(planted, copyOf({}), { mask: ['hidden_states.*'] }).firstDivergence).toBeNull();
    const b = readSafetensors(serializeSafetensorsToBytes({ loss: { dtype: 'F32', shape: [1], data: Float32Array.from([1]) } }));
    const report = compareTensorFiles(copyOf({}, ['loss', 'logits']), b);
    expect(report.tensors[0]!.status).toBe('shape');
    expect(report.tensors[1]!.status).toBe('missing');
    expect(report.firstDivergence).toBe('loss');
  });
});
