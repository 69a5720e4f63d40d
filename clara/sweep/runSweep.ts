import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Backend } from '../../engine/index.ts';
import { atomicWriteFile, readJsonFile } from '../../engine/io/index.ts';
import type { DemoResult } from '../demo/demoReport.ts';
import { runDemo } from '../demo/runDemo.ts';
import type { SweepCell, SweepPlan } from './sweepGrid.ts';

/**
 * Runs a sweep's cells, each a demo run folder under OUT/cells/<id>/ (config.json: the cell's
 * options, seed and whole settings; then everything runDemo writes). A cell is finished when its
 * metrics.json exists: runDemo writes it last and atomically, so a killed sweep, run again, skips
 * every finished cell and redoes a half-written one from scratch. OUT/plan.json records the plan
 * (the swept keys and the cells) for `--summarize`.
 *
 * How one cell runs is the caller's: `clara sweep` starts a child process per cell (so cells run
 * side by side, and a crash takes one cell down, not the sweep); the tests run them in process.
 */
export type CellRunner = (dir: string, onLine: (line: string) => void) => Promise<void>;

export interface SweepRunOptions {
  plan: SweepPlan;
  out: string;
  /** Cells run at once. */
  jobs: number;
  runCell: CellRunner;
  /** The progress line (cells done/total, ETA, the latest line of a running cell). */
  report?: (line: string) => void;
}

export interface SweepOutcome {
  /** Cells run now, and cells found finished by an earlier run (not redone). */
  ran: string[];
  skipped: string[];
}

const CELLS_DIR = 'cells';
const PLAN_FILE = 'plan.json';

export const cellDir = (out: string, id: string) => join(out, CELLS_DIR, id);
export const isFinished = (dir: string) => existsSync(join(dir, 'metrics.json'));

/** What config.json holds: enough to run the cell alone and to summarise it. */
function cellConfig(cell: SweepCell): string {
  return `${JSON.stringify({ id: cell.id, options: cell.options, seed: cell.seed, settings: cell.settings }, null, 2)}\n`;
}

const writeText = (file: string, text: string) => atomicWriteFile(file, [new TextEncoder().encode(text)]);

export async function runSweep(o: SweepRunOptions): Promise<SweepOutcome> {
  const { plan, out } = o;
  mkdirSync(join(out, CELLS_DIR), { recursive: true });
  writeText(
    join(out, PLAN_FILE),
    `${JSON.stringify({ base: plan.base, seeds: plan.seeds, swept: plan.swept, cells: plan.cells.map((c) => c.id) }, null, 2)}\n`,
  );
  const skipped: string[] = [];
  const pending: SweepCell[] = [];
  for (const cell of plan.cells) {
    const dir = cellDir(out, cell.id);
    if (!isFinished(dir)) {
      pending.push(cell);
      continue;
    }
    if (readFileSync(join(dir, 'config.json'), 'utf8') !== cellConfig(cell)) {
      throw new Error(`${dir} holds a finished cell with other settings than this grid's; give another --out, or remove it`);
    }
    skipped.push(cell.id);
  }

  const started = performance.now();
  const ran: string[] = [];
  const latest = new Map<string, string>();
  let failure: Error | undefined;
  const progress = () => {
    if (!o.report) return;
    const done = skipped.length + ran.length;
    const perCell = ran.length === 0 ? NaN : (performance.now() - started) / 1000 / ran.length;
    const eta = (perCell * (plan.cells.length - done)) / Math.min(o.jobs, Math.max(1, plan.cells.length - done));
    const running = [...latest].map(([id, line]) => `${id}: ${line}`).join(' | ');
    o.report(
      `sweep: ${done}/${plan.cells.length} cells done${skipped.length ? ` (${skipped.length} before)` : ''}, ETA ${formatEta(eta)}${running ? ` | ${running}` : ''}`,
    );
  };
  progress();
  const queue = [...pending];
  const worker = async () => {
    for (let cell = queue.shift(); cell !== undefined && failure === undefined; cell = queue.shift()) {
      const dir = cellDir(out, cell.id);
      // A half-written cell is redone from scratch: nothing of a killed run is trusted.
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      writeText(join(dir, 'config.json'), cellConfig(cell));
      latest.set(cell.id, 'starting');
      try {
        await o.runCell(dir, (line) => {
          latest.set(cell!.id, line);
          progress();
        });
        if (!isFinished(dir)) throw new Error('it ended without writing metrics.json');
        ran.push(cell.id);
      } catch (error) {
        failure ??= new Error(`cell ${cell.id} failed: ${(error as Error).message} (its folder: ${dir})`);
      }
      latest.delete(cell.id);
      progress();
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, o.jobs) }, worker));
  if (failure) throw failure;
  return { ran, skipped };
}

/** One cell, in this process: the demo with the settings and seed of its config.json. */
export async function runCellHere(dir: string, backend: Backend, progress: boolean): Promise<DemoResult> {
  const { settings, seed } = readJsonFile(join(dir, 'config.json'), 'the cell config') as Pick<SweepCell, 'settings' | 'seed'>;
  return runDemo({ settings, seed, out: dir, backend, progress });
}

/** The plan a sweep folder records (`--summarize` reads it). */
export function readPlan(out: string): { swept: string[]; cells: string[] } {
  const file = join(out, PLAN_FILE);
  if (!existsSync(file)) throw new Error(`${out} is not a sweep folder (no ${PLAN_FILE})`);
  return readJsonFile(file, 'the sweep plan') as { swept: string[]; cells: string[] };
}

function formatEta(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const m = Math.round(seconds / 60);
  return m < 60 ? `${m} min` : `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, '0')} min`;
}
