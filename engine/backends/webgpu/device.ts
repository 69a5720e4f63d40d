import { create, globals } from 'webgpu';
import { withTimeout } from './timeout.ts';

/**
 * Acquiring a WebGPU device through Dawn's Node binding (npm `webgpu`).
 *
 * Real GPUs use the platform's native Dawn backend (Vulkan, Metal, D3D12) with no flags. A Linux
 * machine without a GPU gets Mesa's llvmpipe through Dawn's OpenGL backend, which needs
 * `EGL_PLATFORM=surfaceless` and the `compatibility` feature level (see
 * ../shared/docs/webgpu-in-node.md). Dawn's Null backend claims every feature and computes
 * garbage, so it is always refused.
 */

/** Dawn backends that can be asked for by name (`create(['backend=...'])`). */
export type DawnBackend = 'vulkan' | 'metal' | 'd3d12' | 'd3d11' | 'opengl' | 'opengles' | 'null';

export interface DeviceOptions {
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

/**
 * Objects returned by `create()` must outlive their devices: if one is garbage-collected Dawn
 * aborts the whole process. We never drop them.
 */
const liveGpus: GPU[] = [];
let globalsInstalled = false;

function newGpu(flags: string[]): GPU {
  if (!globalsInstalled) {
    // Dawn's GPUBufferUsage, GPUMapMode… constants, which browser code expects as globals.
    Object.assign(globalThis, globals);
    globalsInstalled = true;
  }
  const gpu = create(flags);
  liveGpus.push(gpu);
  return gpu;
}

const SOFTWARE_ADAPTER = /llvmpipe|swiftshader|lavapipe|softpipe|software|warp/i;

async function tryAdapter(backend: DawnBackend | 'default', timeoutMs: number): Promise<GPUAdapter | null> {
  if (backend === 'opengl' || backend === 'opengles') {
    // Without it Mesa's EGL fails with EGL_NOT_INITIALIZED (no display server here).
    process.env.EGL_PLATFORM ??= 'surfaceless';
  }
  const gpu = newGpu(backend === 'default' ? [] : [`backend=${backend}`]);
  // The GL backends only offer the compatibility feature level; asking for it elsewhere still
  // returns a core adapter where one exists.
  const featureLevel = backend === 'opengl' || backend === 'opengles' ? 'compatibility' : 'core';
  return withTimeout(gpu.requestAdapter({ featureLevel } as GPURequestAdapterOptions), timeoutMs, `requestAdapter (Dawn backend ${backend})`);
}

function isNullAdapter(adapter: GPUAdapter): boolean {
  return /null/i.test(adapter.info.device) || /null backend/i.test(adapter.info.description);
}

function candidateBackends(requested: 'auto' | DawnBackend): (DawnBackend | 'default')[] {
  if (requested !== 'auto') return [requested];
  return process.platform === 'linux' ? ['default', 'opengl'] : ['default'];
}

/**
 * What Dawn prints to stderr (natively, past Node's streams) on every run that needs no action:
 * the Vulkan loader missing when the OpenGL path is then used, limits Dawn lowers to fit its own
 * allocator, and Mesa's complaint that no XDG_RUNTIME_DIR is set on a headless machine. The CLI
 * filters lines matching these (clara/cli/quietDawn.ts) unless run with --verbose.
 */
export const HARMLESS_DAWN_WARNINGS: readonly RegExp[] = [/Couldn't load Vulkan/, /artificially reduced/, /XDG_RUNTIME_DIR/];

const NO_ADAPTER_HELP =
  'webgpu: no usable adapter found. On Linux without a GPU, install the Mesa GL packages ' +
  '(apt-get install libegl-dev libegl1 libegl-mesa0 libgl1-mesa-dri) so Dawn can use llvmpipe, ' +
  'or use the CPU backend.';

/** Finds an adapter (refusing the Null backend) and opens a device with the limits we need. */
export async function acquireDevice(opts: DeviceOptions = {}): Promise<AcquiredDevice> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const tried: string[] = [];
  for (const backend of candidateBackends(opts.dawnBackend ?? 'auto')) {
    if (backend === 'null') {
      throw new Error("webgpu: refusing Dawn's Null backend: it reports every feature but computes nothing");
    }
    const adapter = await tryAdapter(backend, timeoutMs);
    if (!adapter) {
      tried.push(backend);
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
    return { adapter, device, description: describe(adapter, device, backend) };
  }
  throw new Error(`${NO_ADAPTER_HELP} (tried Dawn backends: ${tried.join(', ')})`);
}

function describe(adapter: GPUAdapter, device: GPUDevice, backend: DawnBackend | 'default'): AdapterDescription {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const name of REPORTED_LIMITS) {
    const value = (device.limits as unknown as Record<string, number>)[name];
    if (typeof value === 'number') limits[name] = value;
  }
  const name = info.device || info.vendor || 'unknown';
  const dawnBackend = backend !== 'default' ? backend : process.platform === 'darwin' ? 'metal' : process.platform === 'win32' ? 'd3d12' : 'vulkan';
  return {
    name,
    description: info.description,
    vendor: info.vendor,
    architecture: info.architecture,
    dawnBackend,
    isCpu: SOFTWARE_ADAPTER.test(`${info.device} ${info.description}`) || (info as unknown as { type?: string }).type === 'cpu',
    features: [...adapter.features].map(String).sort(),
    limits,
  };
}
