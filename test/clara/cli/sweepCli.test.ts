import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../clara/cli/main.ts';
import { captureConsoleInEachTest } from '../../helpers/captureConsole.ts';
import { tempDir } from '../train/helpers.ts';

/** `clara sweep` end to end: a cell in a child process, the summary printed; grid mistakes as usage errors. */
describe('clara sweep', () => {
  const printed = captureConsoleInEachTest();

  it('runs each cell in a process of its own, then prints and writes the summary', async () => {
    const dir = tempDir('sweep-cli');
    const grid = join(dir, 'tiny.json');
    writeFileSync(
      grid,
      JSON.stringify({
        base: 'quick',
        set: { people: 12, candidates: 6, stage1Steps: 2, stage3Steps: 2, answerQuestions: 2, 'curve.questions': 2 },
        grid: { k: [1] },
      }),
    );
    const out = join(dir, 'out');
    expect(await main(['sweep', '--grid', grid, '--out', out, '--backend', 'cpu', '--json']), printed.stderr()).toBe(0);
    const cell = join(out, 'cells', 'k-1_seed-0');
    expect(readFileSync(join(cell, 'log.txt'), 'utf8')).toContain('demo: stage 1: 2 steps');
    expect(printed.stderr()).toMatch(/sweep: 1 cells \(k; seeds 0\) into .*\nsweep: 0\/1 cells done, ETA \?/);
    expect(printed.stderr()).toContain('sweep: 1/1 cells done');
    const summary = JSON.parse(printed.logs.at(-1)!);
    expect(summary).toMatchObject({ swept: ['k'], finished: 1, cells: 1 });
    expect(summary.rows[0].metrics.seconds.mean).toBe(JSON.parse(readFileSync(join(cell, 'metrics.json'), 'utf8')).seconds);
    expect(existsSync(join(out, 'plots', 'k.svg'))).toBe(true);

    // Run again: nothing to redo.
    printed.clear();
    expect(await main(['sweep', '--grid', grid, '--out', out, '--backend', 'cpu'])).toBe(0);
    expect(printed.stderr()).toContain('sweep: ran 0 cells, kept 1 finished before');
  }, 120_000);

  it('reports a grid mistake as a usage error naming the file and the key, before running anything', async () => {
    const dir = tempDir('sweep-cli-bad');
    const grid = join(dir, 'bad.yaml');
    writeFileSync(grid, 'grid:\n  stage3.estimator: [soft, entmax]\n');
    expect(await main(['sweep', '--grid', grid, '--out', join(dir, 'out')])).toBe(2);
    expect(printed.stderr()).toContain(`clara sweep: grid ${grid}: grid.stage3.estimator[1]: unknown top-k estimator "entmax"`);
    expect(existsSync(join(dir, 'out'))).toBe(false);
    expect(await main(['sweep', '--summarize', dir])).toBe(1);
    expect(printed.stderr()).toContain(`${dir} is not a sweep folder (no plan.json)`);
    expect(await main(['sweep'])).toBe(2);
  });
});
