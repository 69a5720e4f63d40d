import type { ErrorTracker } from './errors.ts';
import { shaderSource, type Defines } from './shaderSource.ts';

/** A compiled kernel: the pipeline plus a small id used in bind-group cache keys. */
export interface Kernel {
  id: number;
  label: string;
  pipeline: GPUComputePipeline;
  layout: GPUBindGroupLayout;
}

/**
 * Compiles each (shader file, defines, override constants) combination once.
 *
 * Compiling is the slow part on llvmpipe (up to half a second per unrolled kernel), so kernels are
 * created lazily and never twice. Validation errors are caught with an error scope and reported,
 * naming the kernel, by the ErrorTracker at the next chance to throw.
 */
export class PipelineCache {
  private readonly kernels = new Map<string, Kernel>();
  private readonly modules = new Map<string, GPUShaderModule>();

  constructor(
    private readonly device: GPUDevice,
    private readonly errors: ErrorTracker,
  ) {}

  get size(): number {
    return this.kernels.size;
  }

  get(file: string, defines: Defines = {}, constants: Record<string, number> = {}): Kernel {
    const key = `${file}|${JSON.stringify(defines)}|${JSON.stringify(constants)}`;
    let kernel = this.kernels.get(key);
    if (kernel) return kernel;

    const label = `${file.replace(/\.wgsl$/, '')}${describe(defines)}${describe(constants)}`;
    this.device.pushErrorScope('validation');
    const module = this.module(file, defines, label);
    const pipeline = this.device.createComputePipeline({
      label,
      layout: 'auto',
      compute: { module, entryPoint: 'main', constants },
    });
    this.errors.watch(this.device.popErrorScope(), `${this.errors.op} (compiling its kernel)`, label);
    kernel = { id: this.kernels.size + 1, label, pipeline, layout: pipeline.getBindGroupLayout(0) };
    this.kernels.set(key, kernel);
    return kernel;
  }

  private module(file: string, defines: Defines, label: string): GPUShaderModule {
    const key = `${file}|${JSON.stringify(defines)}`;
    let module = this.modules.get(key);
    if (!module) {
      module = this.device.createShaderModule({ label, code: shaderSource(file, defines) });
      this.modules.set(key, module);
    }
    return module;
  }
}

function describe(values: Record<string, unknown>): string {
  const parts = Object.entries(values).map(([k, v]) => `${k}=${v}`);
  return parts.length ? `[${parts.join(',')}]` : '';
}
