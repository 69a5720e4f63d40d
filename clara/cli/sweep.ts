import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync } from 'node:fs';
import { basename, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCellHere, runSweep, type CellRunner } from '../sweep/runSweep.ts';
import { GridError, parseGrid, VARIATION_NAMES } from '../sweep/sweepGrid.ts';
import { summaryMarkdown, writeSweepSummary } from '../sweep/sweepSummary.ts';
import { Options, UsageError } from './args.ts';
import { backendOption, useBackend } from './backendOption.ts';
import { harmlessLineFilter } from './quietDawn.ts';

/** Where `--grid default` is: the grid the docs' summary (docs/sweep-default.md) comes from. */
const DEFAULT_GRID = fileURLToPath(new URL('../../examples/sweeps/default.yaml', import.meta.url));
const CLARA_BIN = fileURLToPath(new URL('../../bin/clara.mjs', import.meta.url));

/**
 * Cells at once by default: 1. Measured on 2 CPU cores, WebGPU on llvmpipe (which already spreads
 * one run's kernels over both cores), four tiny cells (12 people, 3 + 3 steps), alternating, while
 * other jobs kept the load average at 13 to 16: --jobs 1 took 79 s and 105 s, --jobs 2 took 81 s
 * and 176 s. Two cells at once only share the same two cores; with more cores, more jobs.
 */
const DEFAULT_JOBS = 1;

const SWEEP_HELP = `Usage: clara sweep --grid FILE|default [--out DIR] [--jobs N] [--json] [--backend auto|webgpu|cpu]
       clara sweep --summarize DIR [--json]

Runs the demo's pipeline over a grid of settings and seeds (the paper's ablations in miniature),
then writes a summary. The grid file (JSON or YAML, data only):

  base: full | quick | long          the demo's settings every cell starts from (default full)
  seeds: [0, 1]                      each setting once per seed (default [0])
  set:  { stage1.steps: 300 }        changed in every cell
  grid: { stage1.mseWeight: [0, 0.1], compressionRate: [16, 64] }      every combination
  grids: [ {…}, {…} ]                or the union of several products

A key is a dotted path into the demo's settings (DemoSettings in clara/demo/demoSettings.ts: any
field, e.g. compressionRate, stage1.mseWeight, stage3.estimator, stage3.temperature, corpus.namePool)
or a \`clara demo\` variation, which keeps each hold's share of its stage:
  ${VARIATION_NAMES.join(', ')}.
Every key and value is checked before anything runs.
\`--grid default\` is examples/sweeps/default.yaml (18 cells, 50 minutes on 2 CPU cores).

Each cell is a demo run folder, DIR/cells/<option-value_…_seed-S>/ (config.json, metrics.json,
curves.svg, results.txt, log.txt). Run the same command again after a kill: finished cells (those
with metrics.json, written last and atomically) are kept, a half-written one is redone from scratch.
At the end, and with --summarize DIR from whatever cells are finished: DIR/summary.md and
summary.json (mean ± sample standard deviation over the seeds of recall@1/3/5, EM/F1 on trained and
held-out facts with retrieved, gold and no documents, the document-specific share of the memory,
seconds) and DIR/plots/<option>.svg (each metric against each swept option).

  --out DIR      the sweep folder (default runs/sweep-<grid file name>)
  --jobs N       cells run at once, each its own process (default ${DEFAULT_JOBS}: on 2 CPU cores, four
                 tiny cells took 79 s and 105 s with --jobs 1, 81 s and 176 s with --jobs 2,
                 as one run's kernels already use both cores; more cores: more jobs)
  --json         the last line of output is the summary as one JSON object
  --backend      each cell's backend (default: $CLARA_BACKEND, else auto)`;

export async function runSweepCommand(argv: string[]): Promise<number> {
  const options = Options.parse('sweep', argv, {
    grid: { type: 'string' },
    out: { type: 'string' },
    jobs: { type: 'string' },
    json: { type: 'boolean' },
    summarize: { type: 'string' },
    cell: { type: 'string' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(SWEEP_HELP);
    return 0;
  }
  // One cell, run by the sweep in a process of its own (not for users: the sweep writes its config.json).
  const cell = options.string('cell');
  if (cell !== undefined) {
    // The sweep holds our stdin open; its end means the sweep is gone (killed), so this cell stops too.
    process.stdin.on('end', () => process.exit(130)).resume();
    try {
      await runCellHere(cell, await useBackend('sweep', options.string('backend')), true);
    } finally {
      process.stdin.destroy();
    }
    return 0;
  }
  const summarizeDir = options.string('summarize');
  if (summarizeDir === undefined) {
    const file = options.required('grid');
    const gridFile = file === 'default' ? DEFAULT_GRID : file;
    if (!existsSync(gridFile)) throw new UsageError(`clara sweep: --grid ${file}: no such file`);
    let plan: ReturnType<typeof parseGrid>;
    try {
      plan = parseGrid(readFileSync(gridFile, 'utf8'), gridFile);
    } catch (error) {
      if (error instanceof GridError) throw new UsageError(`clara sweep: ${error.message}`);
      throw error;
    }
    const out = options.string('out') ?? join('runs', `sweep-${basename(gridFile, extname(gridFile))}`);
    const jobs = options.int('jobs', 1) ?? DEFAULT_JOBS;
    const backend = backendOption('sweep', options.string('backend'));
    console.error(`sweep: ${plan.cells.length} cells (${plan.swept.join(', ')}; seeds ${plan.seeds.join(', ')}) into ${out}, ${jobs} at a time`);
    const outcome = await runSweep({ plan, out, jobs, runCell: childProcessRunner(backend), report: (line) => console.error(line) });
    console.error(`sweep: ran ${outcome.ran.length} cells, kept ${outcome.skipped.length} finished before`);
    return summarize(out, options.flag('json'));
  }
  return summarize(summarizeDir, options.flag('json'));
}

function summarize(out: string, json: boolean): number {
  const summary = writeSweepSummary(out);
  console.log(summaryMarkdown(summary));
  console.log(`summary: ${join(out, 'summary.md')}, ${join(out, 'summary.json')}, plots in ${join(out, 'plots')}`);
  if (json) console.log(JSON.stringify(summary));
  return 0;
}

/**
 * Each cell in a child process (`clara sweep --cell DIR`): its stderr goes to DIR/log.txt (Dawn's
 * harmless warnings dropped), and each line of it to the sweep's progress line.
 */
function childProcessRunner(backend: string): CellRunner {
  return (dir, onLine) =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [CLARA_BIN, 'sweep', '--cell', dir, '--backend', backend, '--verbose'], { stdio: ['pipe', 'ignore', 'pipe'] });
      const log = createWriteStream(join(dir, 'log.txt'));
      const keep = harmlessLineFilter();
      let tail = '';
      let last = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        const lines = (tail + chunk.toString()).split(/[\r\n]/);
        tail = lines.pop()!;
        for (const line of lines.filter(keep)) {
          log.write(`${line}\n`);
          if (line.trim() === '') continue;
          last = line.trim();
          onLine(last);
        }
      });
      child.on('error', reject);
      child.on('close', (code, signal) => {
        log.end();
        if (code === 0) resolve();
        else reject(new Error(`its process ended with ${signal ?? `exit code ${code}`}; the last line of ${join(dir, 'log.txt')}: ${tail || last}`));
      });
    });
}
