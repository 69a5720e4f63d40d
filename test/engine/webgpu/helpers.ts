import { expect } from 'vitest';
import type { View } from '../../../engine/backend.ts';
import { createWebGPUBackend, type WebGPUBackend, type WebGPUOptions } from '../../../engine/backends/webgpu/backend.ts';

/**
 * Shared by the WebGPU test files: acquiring the device, reference loops in plain JS, and
 * comparisons with tolerances.
 */

/**
 * A backend, or null when this machine has no adapter. In CI (CI=true) a missing adapter is an
 * error: the WebGPU tests must never be skipped silently there.
 */
export async function acquireBackend(opts: WebGPUOptions = {}): Promise<WebGPUBackend | null> {
  try {
    return await createWebGPUBackend(opts);
  } catch (error) {
    if (process.env.CI === 'true') throw error;
    console.warn(`Skipping WebGPU tests: ${(error as Error).message}`);
    return null;
  }
}

/** Seeded uniform numbers in [lo, hi) (mulberry32: tiny and reproducible). */
export function randomArray(n: number, seed: number, lo = -1, hi = 1, integers = false): number[] {
  let s = seed >>> 0;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    const u = ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    const v = lo + u * (hi - lo);
    out.push(integers ? Math.floor(v) : Math.fround(v));
  }
  return out;
}

export const product = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** Calls fn(index, flat) for every index of `shape` in row-major order. */
export function forEachIndex(shape: readonly number[], fn: (idx: number[], flat: number) => void): void {
  const n = product(shape);
  const idx = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    fn(idx, flat);
    for (let d = shape.length - 1; d >= 0; d--) {
      if (++idx[d] < shape[d]) break;
      idx[d] = 0;
    }
  }
}

export function viewOffset(idx: readonly number[], v: View): number {
  return idx.reduce((o, i, d) => o + i * v.strides[d], v.offset);
}

export function contiguous(shape: readonly number[]): View {
  const strides: number[] = [];
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    strides[d] = s;
    s *= shape[d];
  }
  return { offset: 0, strides };
}

/**
 * A random way to read a tensor of `shape`: dimensions in a random storage order (a transposed
 * view), some broadcast (stride 0), and a small offset. Returns the view and the storage size.
 */
export function randomView(shape: readonly number[], seed: number, allowBroadcast = true): { view: View; size: number } {
  const r = randomArray(shape.length * 2 + 1, seed, 0, 1);
  const order = shape.map((_, d) => d).sort((a, b) => r[a] - r[b]);
  const strides = new Array<number>(shape.length).fill(0);
  let s = 1;
  for (let i = order.length - 1; i >= 0; i--) {
    const d = order[i];
    if (allowBroadcast && r[shape.length + d] < 0.25) continue;
    strides[d] = s;
    s *= shape[d];
  }
  const offset = Math.floor(r[shape.length * 2] * 4);
  return { view: { offset, strides }, size: offset + s };
}

/** Fails with the first element out of tolerance: |got − want| ≤ atol + rtol·|want|. */
export function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, rtol = 1e-5, atol = 1e-6, what = ''): void {
  expect(got.length, `${what} length`).toBe(want.length);
  for (let i = 0; i < want.length; i++) {
    const g = got[i];
    const w = want[i];
    if (Number.isNaN(w) && Number.isNaN(g)) continue;
    if (g === w) continue;
    if (!(Math.abs(g - w) <= atol + rtol * Math.abs(w))) {
      throw new Error(`${what} element ${i}: got ${g}, want ${w} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

export function expectEqual(got: ArrayLike<number>, want: ArrayLike<number>, what = ''): void {
  expect(Array.from(got), what).toEqual(Array.from(want));
}
