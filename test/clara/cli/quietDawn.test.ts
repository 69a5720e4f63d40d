import { describe, expect, it } from 'vitest';
import { harmlessLineFilter } from '../../../clara/cli/quietDawn.ts';

/** Dawn's known-harmless warnings are dropped with their location lines; everything else passes. */
describe('harmlessLineFilter', () => {
  it('drops the harmless warnings and keeps the rest', () => {
    const stderr = [
      "Warning: Couldn't load Vulkan: libvulkan.so.1: cannot open shared object file: No such file or directory",
      '    at operator() (/dawn/src/dawn/native/vulkan/BackendVk.cpp:368)',
      '',
      'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 90 to 16 to fit dynamic offset allocation limit.',
      'error: XDG_RUNTIME_DIR is invalid or not set in the environment.',
      'warning: the CPU backend is used',
      '',
      'clara trace: something failed',
      '    at a stack line of our own',
    ];
    const keep = harmlessLineFilter();
    expect(stderr.filter(keep)).toEqual(['warning: the CPU backend is used', '', 'clara trace: something failed', '    at a stack line of our own']);
  });
});
