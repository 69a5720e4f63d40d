import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../../engine/index.ts';
import type { DemoResult } from '../../../clara/demo/demoReport.ts';
import { cellDir, runCellHere, runSweep, type CellRunner } from '../../../clara/sweep/runSweep.ts';
import { parseGrid } from '../../../clara/sweep/sweepGrid.ts';
import { meanAndSpread, summarize, summaryMarkdown, SWEEP_METRICS, writeSweepSummary } from '../../../clara/sweep/sweepSummary.ts';
import { tempDir } from '../train/helpers.ts';

/** Running a sweep: resumed after a kill without redoing a finished cell; its summary and plots. */

// A tiny demo (12 people, 3 + 3 steps) on the CPU backend: seconds per cell.
const TINY_GRID = `
base: quick
set: { people: 12, candidates: 6, stage1Steps: 3, stage3Steps: 3, answerQuestions: 4, curve.questions: 4 }
grid:
  stage1.mseWeight: [0, 0.1]
`;

describe('clara sweep', () => {
  it('resumes a killed sweep: a finished cell is kept, a half-written one is redone from scratch', async () => {
    const out = tempDir('sweep-resume');
    const plan = parseGrid(TINY_GRID, 'tiny.yaml');
    const [first, second] = plan.cells.map((c) => cellDir(out, c.id)) as [string, string];
    const backend = cpuBackend;
    const started: string[] = [];
    const inProcess: CellRunner = async (dir, onLine) => {
      started.push(dir);
      onLine('running');
      await runCellHere(dir, backend, false);
    };
    // The first run is "killed" in its second cell: the runner leaves a partial file and dies.
    const killedInSecond: CellRunner = async (dir, onLine) => {
      if (dir === second) {
        mkdirSync(join(dir, 'stage1'), { recursive: true });
        writeFileSync(join(dir, 'stage1', 'half-written'), 'x');
        throw new Error('killed');
      }
      await inProcess(dir, onLine);
    };
    const lines: string[] = [];
    await expect(runSweep({ plan, out, jobs: 1, runCell: killedInSecond, report: (l) => lines.push(l) })).rejects.toThrow(
      /cell stage1\.mseWeight-0\.1_seed-0 failed: killed/,
    );
    expect(existsSync(join(first, 'metrics.json'))).toBe(true);
    expect(existsSync(join(second, 'metrics.json'))).toBe(false);
    expect(lines).toContain('sweep: 0/2 cells done, ETA ? | stage1.mseWeight-0_seed-0: running');
    const finishedAt = statSync(join(first, 'metrics.json')).mtimeMs;

    started.length = 0;
    const outcome = await runSweep({ plan, out, jobs: 2, runCell: inProcess });
    expect(outcome).toEqual({ ran: ['stage1.mseWeight-0.1_seed-0'], skipped: ['stage1.mseWeight-0_seed-0'] });
    expect(started).toEqual([second]);
    expect(statSync(join(first, 'metrics.json')).mtimeMs).toBe(finishedAt);
    expect(existsSync(join(second, 'stage1', 'half-written'))).toBe(false);
    const metrics = JSON.parse(readFileSync(join(second, 'metrics.json'), 'utf8'));
    expect(metrics.settings.stage1.mseWeight).toBe(0.1);

    // Another grid into the same folder is refused rather than mixed with it.
    const other = parseGrid(TINY_GRID.replace('people: 12', 'people: 13'), 'tiny.yaml');
    await expect(runSweep({ plan: other, out, jobs: 1, runCell: inProcess })).rejects.toThrow(/holds a finished cell with other settings/);

    const summary = writeSweepSummary(out);
    expect(summary.rows.map((r) => r.options)).toEqual([{ 'stage1.mseWeight': 0 }, { 'stage1.mseWeight': 0.1 }]);
    expect(summary.rows[1]!.metrics['recall@1']!.mean).toBe(metrics.recall.after[1]);
    expect(readFileSync(join(out, 'summary.md'), 'utf8')).toContain('| stage1.mseWeight | seeds | R@1 |');
    expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'))).toEqual(summary);
    expectWellFormedSvg(readFileSync(join(out, 'plots', 'stage1.mseWeight.svg'), 'utf8'));
  }, 120_000);

  it('summary: the mean and the sample standard deviation over seeds, one row per setting', () => {
    expect(meanAndSpread([3])).toEqual({ mean: 3, spread: 0 });
    const { mean, spread } = meanAndSpread([1, 2, 3, 4]);
    expect(mean).toBe(2.5);
    expect(spread).toBeCloseTo(Math.sqrt(5 / 3), 14);
    const result = (r1: number, f1: number): DemoResult => {
      const a = { em: 0, f1 };
      const answers = { withDocs: a, noDocs: a, goldDoc: a };
      return {
        recall: { after: { 1: r1, 3: 1, 5: 1 } },
        answers: { trained: answers, heldOut: answers },
        memory: { documentSpecificShare: 0.5 },
        seconds: 10,
      } as unknown as DemoResult;
    };
    const cells = [
      { options: { rate: 16 }, seed: 0, result: result(0.2, 0.5) },
      { options: { rate: 32 }, seed: 0, result: result(0.4, 0.1) },
      { options: { rate: 16 }, seed: 1, result: result(0.6, 0.7) },
    ];
    const s = summarize(['rate'], cells, 4);
    expect(s).toMatchObject({ finished: 3, cells: 4 });
    expect(s.rows.map((r) => [r.options.rate, r.seeds])).toEqual([
      [16, [0, 1]],
      [32, [0]],
    ]);
    expect(s.rows[0]!.metrics['recall@1']!.mean).toBeCloseTo(0.4, 15);
    expect(s.rows[0]!.metrics['recall@1']!.spread).toBeCloseTo(Math.sqrt(0.08), 15);
    expect(s.rows[0]!.metrics['f1.heldOut.withDocs']).toEqual(meanAndSpread([0.5, 0.7]));
    expect(s.rows[1]!.metrics['recall@1']).toEqual({ mean: 0.4, spread: 0 });
    expect(Object.keys(s.rows[0]!.metrics)).toEqual(SWEEP_METRICS.map((m) => m.key));
    // These cells predate the changed-document answers: their columns read "–", not NaN.
    expect(s.rows[0]!.metrics['em.heldOut.changedDocNew']!.mean).toBeNaN();
    const markdown = summaryMarkdown(s);
    expect(markdown).toContain('EM held-out, changed doc, new value');
    expect(markdown).not.toContain('NaN');
    expect(markdown.split('\n')[4]!.split(' | ')).toContain('–');
  });
});

/** Every tag closed in order, one root <svg> in the SVG namespace, numbers where coordinates go. */
function expectWellFormedSvg(svg: string): void {
  expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="\d+" height="\d+"/);
  const open: string[] = [];
  for (const [, closing, name, , selfClosing] of svg.matchAll(/<(\/?)([a-z]+)((?:\s+[a-zA-Z:-]+="[^"<>]*")*)\s*(\/?)>/g)) {
    if (closing) expect(open.pop()).toBe(name);
    else if (!selfClosing) open.push(name!);
  }
  expect(open).toEqual([]);
  expect(svg.replace(/<[^>]*>/g, '')).not.toMatch(/[<>]/);
  expect(svg).not.toMatch(/="(NaN|undefined|Infinity)"/);
}
