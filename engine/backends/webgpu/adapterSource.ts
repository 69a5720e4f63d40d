/** Dawn backends that can be asked for by name (`create(['backend=...'])`). */
export type DawnBackend = 'vulkan' | 'metal' | 'd3d12' | 'd3d11' | 'opengl' | 'opengles' | 'null';

/** One place to ask for an adapter: host.ts (Node) or host.browser.ts lists them, device.ts asks in order. */
export interface AdapterSource {
  /** What error messages call it. */
  name: string;
  /** The backend the device will run on, as `AdapterDescription.dawnBackend` reports it. */
  dawnBackend: string;
  request: () => Promise<GPUAdapter | null>;
}
