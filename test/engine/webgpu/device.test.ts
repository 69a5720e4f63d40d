import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { createWebGPUBackend, describeAdapter, type WebGPUBackend } from '../../../engine/backends/webgpu/backend.ts';
import { shaderSource } from '../../../engine/backends/webgpu/shaderSource.ts';
import type { GpuStorage } from '../../../engine/backends/webgpu/storage.ts';
import { acquireBackend, expectEqual } from './helpers.ts';

let gpu: WebGPUBackend | null = null;
beforeAll(async () => {
  gpu = await acquireBackend();
});
afterAll(() => gpu?.destroy());

function need(t: TestContext): WebGPUBackend {
  if (!gpu) t.skip(); // no adapter on this machine; with CI=true acquireBackend fails the run instead
  return gpu!;
}

describe('device', () => {
  it('describes the adapter: name, description, Dawn backend, features, limits', async (t) => {
    const g = need(t);
    const a = g.adapter;
    expect(a.name).not.toBe('');
    expect(typeof a.description).toBe('string');
    expect(a.dawnBackend).not.toBe('null');
    expect(Array.isArray(a.features)).toBe(true);
    expect(a.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    // The compatibility-mode default is 128: we ask for the adapter's maximum.
    expect(a.limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(256);
    const again = await describeAdapter();
    expect(again.name).toBe(a.name);
  });

  it("refuses Dawn's Null backend", async () => {
    await expect(createWebGPUBackend({ dawnBackend: 'null' })).rejects.toThrow(/Null backend/);
  });

  it('refuses a tensor larger than the storage binding limit, naming the limit', async (t) => {
    need(t);
    const small = await createWebGPUBackend({ maxBindingBytes: 4096, matmul: 'blocked' });
    try {
      expect(() => small.alloc('float32', 1025)).toThrow("webgpu: tensor of 4100 bytes exceeds the adapter's maxStorageBufferBindingSize (4096 bytes)");
      expect(() => small.upload('int32', new Int32Array(2000))).toThrow(/maxStorageBufferBindingSize \(4096 bytes\)/);
      const fine = small.alloc('float32', 1024);
      expect((await small.read(fine)).length).toBe(1024);
    } finally {
      small.destroy();
    }
  });

  it('the real limit gives the same error without allocating', (t) => {
    const g = need(t);
    const limit = g.adapter.limits.maxStorageBufferBindingSize;
    expect(() => g.alloc('float32', limit / 4 + 1)).toThrow(`exceeds the adapter's maxStorageBufferBindingSize (${limit} bytes)`);
  });

  it('a broken kernel becomes an exception naming the op and the kernel', async (t) => {
    const g = need(t);
    const x = g.upload('float32', Float32Array.from([1, 2]));
    // unary.wgsl without its CT define does not compile.
    const ctx = g.ctx;
    const { Params } = await import('../../../engine/backends/webgpu/params.ts');
    const gx = x as GpuStorage;
    ctx.run('deliberately broken', { file: 'unary.wgsl', defines: { ELEM: 'f32' } }, new Params(4).set(0, 2), [gx, gx], [1]);
    await expect(g.read(x)).rejects.toThrow(/unresolved type 'CT'[\s\S]*op: deliberately broken[\s\S]*kernel: unary\[ELEM=f32\]/);
    // A validation error is reported once; the device keeps working.
    expectEqual(await g.read(g.unary('neg', x)), [-1, -2]);
  });
});

describe('shader preprocessor', () => {
  it('resolves includes, #if/#else and defines', () => {
    const src = shaderSource('matmul_blocked.wgsl', { B_VEC4: true, B_N4: true, A_SCALAR: true });
    expect(src).toContain('var<storage, read> b: array<vec4<f32>>');
    expect(src).toContain('var<storage, read> a: array<f32>');
    expect(src).not.toContain('#if');
    const cast = shaderSource('cast.wgsl', { IN: 'f32', OUT: 'i32', TO_BOOL: false });
    expect(cast).toContain('out[i] = i32(x[i]);');
    expect(cast).toContain('fn work_index');
  });
});

describe('error recovery', () => {
  it('a fresh backend works after another was destroyed', async (t) => {
    need(t);
    const other = await createWebGPUBackend({ matmul: 'blocked' });
    const x = other.upload('int32', Int32Array.from([4, 5]));
    expectEqual(await other.read(other.unary('neg', x)), [-4, -5]);
    other.destroy();
  });
});
