/**
 * `npm run bench [-- SUITE…] [options]`: runs the compared suites on every available backend, then
 * reference/bench_torch.py on the same cases, and prints one table (or JSON rows) with our time,
 * PyTorch's and their ratio. See bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, hostname, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CPU, flag, type BenchBackend, type Row, type Suite, type SuiteContext, type TorchCase } from './lib.ts';
import { attentionSuite, crossEntropySuite, matmulSuite, rmsnormSuite } from './suites/ops.ts';
import { compressSuite, generateSuite, stage1Suite, stage3Suite } from './suites/model.ts';

export const COMPARED_SUITES: Suite[] = [matmulSuite, attentionSuite, rmsnormSuite, crossEntropySuite, stage1Suite, stage3Suite, compressSuite, generateSuite];

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** FP32 FMA peak measured on the team's 2-core AVX-512 machine (bench/README.md, % peak). */
const DOC_PEAK_GFLOPS = 351;

const USAGE = `usage: npm run bench -- [SUITE…] [options]
suites: ${COMPARED_SUITES.map((s) => s.name).join(', ')} (default: all); also 'step' (bench/step.ts, on its own)
options:
  --json                one JSON object per row on stdout (progress goes to stderr)
  --quick               smaller shapes and fewer samples (about a minute)
  --backend B           all (default: CPU backend, and WebGPU when an adapter exists) | cpu | webgpu
  --torch-device D      cpu (default) | cuda: where reference/bench_torch.py runs PyTorch
  --no-torch            skip PyTorch
  --python PATH         interpreter with torch (default $PYTHON or /usr/bin/python3)
  --peak GFLOPS         FP32 peak used for "% of peak" (default: ${DOC_PEAK_GFLOPS}, the measured peak of the 2-core AVX-512 machine)
  --out FILE            where to save the results (default bench/results/<date>-<host>.json); --no-save to skip
  --save-plan FILE      also write the PyTorch cases (shapes, token ids) to FILE, for bench_torch.py --plan
  --all                 matmul: every kernel variant at every size on a CPU adapter`;

export async function main(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return;
  }
  const valued = new Set(['--backend', '--torch-device', '--python', '--peak', '--out', '--save-plan']);
  const names: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (valued.has(a)) i++;
    else if (!a.startsWith('--')) names.push(a);
  }
  const unknown = names.filter((n) => !COMPARED_SUITES.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(`unknown suite ${unknown.join(', ')}\n${USAGE}`);
    process.exit(2);
  }
  const suites = names.length === 0 ? COMPARED_SUITES : COMPARED_SUITES.filter((s) => names.includes(s.name));
  const json = argv.includes('--json');
  const quick = argv.includes('--quick');
  const log = (m: string) => console.error(`[bench] ${m}`);

  const backends = await chooseBackends(flag(argv, '--backend') ?? 'all', log);
  const gpu = backends.find((b) => b.gpu)?.gpu ?? null;
  const rows: Row[] = [];
  const torchCases: TorchCase[] = [];
  const ctx: SuiteContext = {
    backends,
    quick,
    args: argv,
    json,
    log,
    emit: (row) => rows.push(row),
    torchCase: (c) => torchCases.push(c),
  };
  const started = Date.now();
  for (const suite of suites) {
    try {
      await suite.run(ctx);
    } catch (error) {
      log(`suite ${suite.name} failed: ${(error as Error).stack ?? error}`);
      rows.push({ suite: suite.name, case: 'FAILED', backend: '-', ms: NaN, minMs: NaN, note: (error as Error).message });
    }
  }
  const oursSeconds = (Date.now() - started) / 1000;

  const savePlan = flag(argv, '--save-plan');
  if (savePlan) writeFileSync(savePlan, JSON.stringify({ quick, cases: torchCases }));
  const torch = argv.includes('--no-torch') ? null : runTorch(torchCases, argv, quick, log);

  // Derived columns.
  const peakArg = flag(argv, '--peak');
  const peak = peakArg !== undefined ? Number(peakArg) : defaultPeak();
  const torchOnCpu = (flag(argv, '--torch-device') ?? 'cpu') === 'cpu';
  for (const row of rows) {
    const t = row.torchKey ? torch?.results[row.torchKey] : undefined;
    if (t) {
      row.torchMs = t.ms;
      row.torchMinMs = t.minMs;
      row.ratio = row.ms / t.ms;
    }
    const onCpu = row.backend === 'cpu' || (row.backend === 'webgpu' && (gpu?.adapter.isCpu ?? false));
    if (row.flops !== undefined) {
      row.gflops = row.flops / row.ms / 1e6;
      if (peak !== null && onCpu) row.peakFraction = row.gflops / peak;
      if (row.torchMs !== undefined) row.torchGflops = row.flops / row.torchMs / 1e6;
    }
    if (row.work !== undefined) {
      row.throughput = row.work / (row.ms / 1000);
      if (row.torchMs !== undefined) row.torchThroughput = row.work / (row.torchMs / 1000);
    }
  }

  if (json) for (const row of rows) console.log(JSON.stringify(row));
  else printTable(rows, peak, torch, torchOnCpu);

  const meta = {
    date: new Date().toISOString(),
    host: hostname(),
    cpu: { model: cpus()[0]?.model ?? 'unknown', cores: cpus().length, avx512: hasAvx512() },
    loadAverageAtEnd: (await import('node:os')).loadavg(),
    adapter: gpu ? gpu.adapter : null,
    versions: {
      node: process.version,
      webgpu: packageVersion('webgpu'),
      tinybench: packageVersion('tinybench'),
      torch: torch?.torch ?? null,
    },
    torch: torch ? { device: torch.device, threads: torch.threads, blas: torch.blas, env: torch.env, seconds: torch.seconds } : null,
    peak:
      peak === null
        ? null
        : {
            gflops: peak,
            source: peakArg !== undefined ? '--peak' : `measured FP32 FMA peak of the 2-core AVX-512 machine (bench/README.md), not re-measured`,
          },
    args: argv,
    oursSeconds,
    rows,
  };
  if (!argv.includes('--no-save')) {
    const out = flag(argv, '--out') ?? join(ROOT, 'bench', 'results', `${meta.date.slice(0, 10)}-${hostname()}.json`);
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, `${JSON.stringify(meta, null, 2)}\n`);
    log(`results saved to ${out}`);
  }
  for (const b of backends) b.gpu?.destroy();
}

async function chooseBackends(choice: string, log: (m: string) => void): Promise<BenchBackend[]> {
  if (!['all', 'auto', 'cpu', 'webgpu'].includes(choice)) throw new Error(`--backend must be all, cpu or webgpu; got '${choice}'`);
  const out: BenchBackend[] = [];
  if (choice === 'all' || choice === 'auto' || choice === 'cpu') out.push(CPU);
  if (choice !== 'cpu') {
    try {
      const { createWebGPUBackend } = await import('../engine/backends/webgpu/backend.ts');
      const gpu = await createWebGPUBackend();
      out.push({ name: 'webgpu', backend: gpu, gpu, onCpu: gpu.adapter.isCpu });
      log(`webgpu adapter: ${gpu.adapter.name} (${gpu.adapter.description}, ${gpu.adapter.dawnBackend})`);
    } catch (error) {
      if (choice === 'webgpu') throw error;
      const { FASTER_PATH_HINT } = await import('../engine/backends/select.ts');
      log(`no WebGPU adapter (${(error as Error).message.split('\n')[0]}): CPU backend only. ${FASTER_PATH_HINT}`);
    }
  }
  return out;
}

interface TorchOutput {
  torch: string;
  device: string;
  threads: number;
  blas: string | null;
  env: Record<string, string>;
  seconds: number;
  results: Record<string, { ms: number; minMs: number; samples: number }>;
  errors: Record<string, string>;
}

const INSTALL_TORCH =
  'PyTorch comparison skipped: install it for the system Python (Debian/Ubuntu, as root): ' +
  'apt-get install -y python3-torch libopenblas0-pthread  (then bench_torch.py puts OpenBLAS on the library path itself)';

function runTorch(cases: TorchCase[], argv: string[], quick: boolean, log: (m: string) => void): TorchOutput | null {
  if (cases.length === 0) return null;
  const python = flag(argv, '--python') ?? process.env.PYTHON ?? '/usr/bin/python3';
  const probe = spawnSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    log(`${python} cannot import torch. ${INSTALL_TORCH}`);
    return null;
  }
  const dir = mkdtempSync(join(tmpdir(), 'clara-bench-'));
  try {
    const plan = join(dir, 'plan.json');
    const out = join(dir, 'torch.json');
    writeFileSync(plan, JSON.stringify({ quick, cases }));
    log(`PyTorch: ${cases.length} cases (reference/bench_torch.py)`);
    const device = flag(argv, '--torch-device') ?? 'cpu';
    const run = spawnSync(python, [join(ROOT, 'reference', 'bench_torch.py'), '--plan', plan, '--out', out, '--device', device], {
      stdio: ['ignore', 2, 2],
      env: { ...process.env, PYTHONDONTWRITEBYTECODE: '1' },
      timeout: 30 * 60 * 1000,
    });
    if (run.status !== 0) {
      log(`bench_torch.py failed (exit ${run.status ?? run.signal}); PyTorch columns left empty`);
      return null;
    }
    const result = JSON.parse(readFileSync(out, 'utf8')) as TorchOutput;
    for (const [key, message] of Object.entries(result.errors)) log(`PyTorch case ${key} failed: ${message}`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function defaultPeak(): number | null {
  // The documented figure is for 2 cores with AVX-512; elsewhere give --peak.
  return cpus().length === 2 && hasAvx512() ? DOC_PEAK_GFLOPS : null;
}

function hasAvx512(): boolean {
  try {
    return /\bavx512f\b/.test(readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {
    return false;
  }
}

function packageVersion(name: string): string | null {
  try {
    return (JSON.parse(readFileSync(join(ROOT, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return null;
  }
}

function fmt(x: number | undefined, digits: number): string {
  if (x === undefined || !Number.isFinite(x)) return '';
  if (Math.abs(x) >= 1000) return x.toFixed(0);
  if (Math.abs(x) >= 100) return x.toFixed(Math.min(digits, 1));
  return x.toFixed(digits);
}

function printTable(rows: Row[], peak: number | null, torch: TorchOutput | null, torchOnCpu: boolean): void {
  const header = ['suite', 'case', 'backend', 'ms', 'min ms', 'torch ms', 'ratio', 'GFLOP/s', '% peak', 'torch GFLOP/s', 'throughput', 'torch thrpt'];
  const body = rows.map((r) => [
    r.suite,
    r.case,
    r.backend,
    fmt(r.ms, 3),
    fmt(r.minMs, 3),
    fmt(r.torchMs, 3),
    r.ratio !== undefined ? `${fmt(r.ratio, 2)}x` : '',
    fmt(r.gflops, 2),
    r.peakFraction !== undefined ? `${(r.peakFraction * 100).toFixed(1)}%` : '',
    fmt(r.torchGflops, 1),
    r.throughput !== undefined ? `${fmt(r.throughput, 1)} ${r.unit}/s` : '',
    r.torchThroughput !== undefined ? `${fmt(r.torchThroughput, 1)} ${r.unit}/s` : '',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const numeric = new Set([3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const line = (cells: string[]) => cells.map((c, i) => (numeric.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const b of body) console.log(line(b));
  console.log('');
  console.log('ms: median per call; ratio = our ms / PyTorch ms (above 1 = slower than PyTorch).');
  console.log(
    peak !== null
      ? `% peak: GFLOP/s / ${peak} GFLOP/s FP32 (the measured FMA peak of the 2-core AVX-512 machine (bench/README.md), or --peak), for work that runs on the host CPU.`
      : '% peak: no peak known for this CPU (give --peak GFLOPS).',
  );
  if (torch) {
    console.log(`PyTorch ${torch.torch} on ${torch.device}${torchOnCpu ? `, ${torch.threads} threads, BLAS ${torch.blas ?? 'unknown'}` : ''}.`);
  }
}
