import { describe, expect, it } from 'vitest';
import { wgslFunction } from '../../../../engine/backends/webgpu/kernels/elementwise.ts';
import { readShaderFile } from '../../../../engine/backends/webgpu/shaderSource.ts';
import { BINARY_OPS, UNARY_OPS } from '../../../../engine/ops/elementwise/ops.ts';

/**
 * The elementwise op lists are the one place an op is named; the WebGPU kernels find an op's code
 * by that name alone (the function op_<name>, passed as a define). This checks that every listed op
 * has its function, so a missing one fails here rather than as a shader compile error on a GPU.
 */
describe('every listed elementwise op has its WGSL function', () => {
  it.each([
    ['unary.wgsl', UNARY_OPS],
    ['binary.wgsl', BINARY_OPS],
  ] as const)('%s', (file, ops) => {
    const source = readShaderFile(file);
    for (const op of ops) expect(source, op).toMatch(new RegExp(`\\bfn ${wgslFunction(op)}\\(`));
    // and nothing else: a function left behind by a removed op
    const defined = [...source.matchAll(/\bfn (op_\w+)\(/g)].map((m) => m[1]);
    expect(defined.sort()).toEqual(ops.map(wgslFunction).sort());
  });
});
