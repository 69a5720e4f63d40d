import { selfCheck, type BackendChoice } from '../../engine/index.ts';
import { selectBackendFromEnv } from './backendOption.ts';

/**
 * `clara doctor`: which backend this machine gets, what its adapter offers, and whether a small
 * computation on it agrees with the CPU backend. Exits non-zero when the self-check fails.
 */
export const DOCTOR_HELP = `Usage: clara doctor [--json] [--backend auto|webgpu|cpu]

Reports the backend chosen for this machine, the WebGPU adapter (name, description, Dawn backend
type, features, limits), and a self-check: a matmul and a softmax compared with the CPU backend.
Exits with status 1 when the self-check fails.

  --json       print one JSON object: backend, adapter, features, limits, selfcheck {ok, maxAbsError}
  --backend    auto (default, or $CLARA_BACKEND): WebGPU when an adapter exists, else CPU`;

export interface DoctorReport {
  backend: 'webgpu' | 'cpu';
  adapter: { name: string; description: string; vendor: string; architecture: string; dawnBackend: string; isCpu: boolean } | null;
  features: string[];
  limits: Record<string, number>;
  selfcheck: { ok: boolean; maxAbsError: number; checks: Array<{ name: string; maxAbsError: number }> };
  warning: string | null;
  node: string;
}

export async function doctor(choice: BackendChoice): Promise<DoctorReport> {
  const selected = await selectBackendFromEnv(choice);
  const check = await selfCheck(selected.backend);
  const a = selected.adapter;
  return {
    backend: selected.backend.name,
    adapter: a && { name: a.name, description: a.description, vendor: a.vendor, architecture: a.architecture, dawnBackend: a.dawnBackend, isCpu: a.isCpu },
    features: a?.features ?? [],
    limits: a?.limits ?? {},
    selfcheck: check,
    warning: selected.warning,
    node: process.version,
  };
}

export function formatDoctorReport(r: DoctorReport): string {
  const lines = [`backend     ${r.backend}`];
  if (r.adapter) {
    lines.push(`adapter     ${r.adapter.name}${r.adapter.description ? ` (${r.adapter.description})` : ''}`);
    lines.push(`dawn        ${r.adapter.dawnBackend}${r.adapter.isCpu ? ', software rasteriser on the CPU' : ''}`);
    lines.push(`features    ${r.features.join(', ') || 'none'}`);
    const keyLimits = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupStorageSize'];
    lines.push(
      `limits      ${keyLimits
        .filter((k) => k in r.limits)
        .map((k) => `${k}=${r.limits[k]}`)
        .join(' ')}`,
    );
  }
  for (const c of r.selfcheck.checks) lines.push(`selfcheck   ${c.name}: max |error| ${c.maxAbsError.toExponential(2)}`);
  lines.push(`selfcheck   ${r.selfcheck.ok ? 'ok' : 'FAILED'}`);
  return lines.join('\n');
}
