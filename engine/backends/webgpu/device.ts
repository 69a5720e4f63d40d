import type { AdapterSource, DawnBackend } from './adapterSource.ts';
import { adapterSources, NO_ADAPTER_HELP } from './host.ts';
import { withTimeout } from './timeout.ts';

/**
 * Acquiring a WebGPU device: in Node through Dawn's binding (npm `webgpu`, see host.ts), in a
 * browser from `navigator.gpu` (host.browser.ts), or from any `GPU` object the caller passes.
 *
 * Real GPUs use the platform's native Dawn backend (Vulkan, Metal, D3D12) with no flags. A Linux
 * machine without a GPU gets Mesa's llvmpipe through Dawn's OpenGL backend, which needs
 * `EGL_PLATFORM=surfaceless` (without it Mesa's EGL fails with EGL_NOT_INITIALIZED) and the
 * `compatibility` feature level (the GL backends offer no other). Dawn's Null backend claims every
 * feature and computes garbage, so it is always refused.
 */

export type { DawnBackend } from './adapterSource.ts';

export interface DeviceOptions {
  /** Ask this GPU object for the adapter (e.g. a browser's `navigator.gpu`) instead of the host's. */
  gpu?: GPU;
  /**
   * Which Dawn backend to use. `auto` (default) tries the platform default, then OpenGL on Linux.
   * (The CLI passes CLARA_DAWN_BACKEND here.)
   */
  dawnBackend?: 'auto' | DawnBackend;
  /** Milliseconds any single wait on the GPU may take before it throws (default 60 s). */
  timeoutMs?: number;
}

/** What `clara doctor` prints about the adapter. */
export interface AdapterDescription {
  name: string;
  description: string;
  vendor: string;
  architecture: string;
  /** The Dawn backend the device runs on (as requested; Dawn's Node binding does not report it). */
  dawnBackend: string;
  /** True for software rasterisers (llvmpipe, SwiftShader, lavapipe) that run on the CPU. */
  isCpu: boolean;
  features: string[];
  limits: Record<string, number>;
}

export interface AcquiredDevice {
  adapter: GPUAdapter;
  device: GPUDevice;
  description: AdapterDescription;
}

/** Limits the kernels want as large as the adapter allows (compatibility mode defaults are low). */
const WANTED_LIMITS = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxStorageBuffersPerShaderStage',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupSizeY',
  'maxComputeWorkgroupSizeZ',
  'maxComputeWorkgroupStorageSize',
  'maxComputeWorkgroupsPerDimension',
  'maxUniformBufferBindingSize',
] as const;

/** Every limit `describeAdapter` reports. */
const REPORTED_LIMITS = [...WANTED_LIMITS, 'maxBindGroups', 'maxUniformBuffersPerShaderStage'];

const SOFTWARE_ADAPTER = /llvmpipe|swiftshader|lavapipe|softpipe|software|warp/i;

function isNullAdapter(adapter: GPUAdapter): boolean {
  return /null/i.test(adapter.info.device) || /null backend/i.test(adapter.info.description);
}

/** Finds an adapter (refusing the Null backend) and opens a device with the limits we need. */
export async function acquireDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const tried: string[] = [];
  if (opts.dawnBackend === 'null') {
    throw new Error("webgpu: refusing Dawn's Null backend: it reports every feature but computes nothing");
  }
  const gpu = opts.gpu;
  const sources: AdapterSource[] = gpu
    ? [{ name: 'the given GPU', dawnBackend: 'given', request: () => gpu.requestAdapter() }]
    : adapterSources(opts.dawnBackend ?? 'auto');
  for (const source of sources) {
    const adapter = await withTimeout(source.request(), timeoutMs, `requestAdapter (${source.name})`);
    if (!adapter) {
      tried.push(source.name);
      continue;
    }
    if (isNullAdapter(adapter)) {
      throw new Error(`webgpu: refusing adapter '${adapter.info.device}': Dawn's Null backend computes nothing`);
    }
    const requiredLimits: Record<string, number> = {};
    for (const name of WANTED_LIMITS) {
      const value = (adapter.limits as unknown as Record<string, number>)[name];
      if (typeof value === 'number') requiredLimits[name] = value;
    }
    const device = await withTimeout(adapter.requestDevice({ requiredLimits }), timeoutMs, 'requestDevice');
    return { adapter, device, description: describe(adapter, device, source.dawnBackend) };
  }
  throw new Error(`${NO_ADAPTER_HELP} (tried: ${tried.join(', ')})`);
}

function describe(adapter: GPUAdapter, device: GPUDevice, dawnBackend: string): AdapterDescription {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const name of REPORTED_LIMITS) {
    const value = (device.limits as unknown as Record<string, number>)[name];
    if (typeof value === 'number') limits[name] = value;
  }
  const name = info.device || info.vendor || 'unknown';
  return {
    name,
    description: info.description,
    vendor: info.vendor,
    architecture: info.architecture,
    dawnBackend,
    isCpu: SOFTWARE_ADAPTER.test(`${info.device} ${info.description} ${info.architecture}`) || (info as unknown as { type?: string }).type === 'cpu',
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}
