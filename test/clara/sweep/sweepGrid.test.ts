import { describe, expect, it } from 'vitest';
import { FULL_DEMO, LONG_DEMO, QUICK_DEMO } from '../../../clara/demo/demoSettings.ts';
import { GridError, parseGrid } from '../../../clara/sweep/sweepGrid.ts';

/** The grid file: every key and value checked before anything runs; cells expanded deterministically. */

const error = (text: string, file = 'my-grid.yaml') => {
  try {
    parseGrid(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(GridError);
    return (e as Error).message;
  }
  throw new Error('expected a GridError');
};

describe('grid files', () => {
  it('expands a product over the seeds, by dotted path and by variation name', () => {
    const plan = parseGrid(
      'base: quick\nseeds: [0, 1]\nset: { stage1.steps: 7 }\ngrid:\n  stage1.mseWeight: [0, 0.1]\n  estimator: [soft, sparsemax]\n',
      'g.yaml',
    );
    expect(plan.swept).toEqual(['stage1.mseWeight', 'estimator']);
    expect(plan.cells.map((c) => c.id)).toEqual([
      'stage1.mseWeight-0_estimator-soft_seed-0',
      'stage1.mseWeight-0_estimator-sparsemax_seed-0',
      'stage1.mseWeight-0.1_estimator-soft_seed-0',
      'stage1.mseWeight-0.1_estimator-sparsemax_seed-0',
      'stage1.mseWeight-0_estimator-soft_seed-1',
      'stage1.mseWeight-0_estimator-sparsemax_seed-1',
      'stage1.mseWeight-0.1_estimator-soft_seed-1',
      'stage1.mseWeight-0.1_estimator-sparsemax_seed-1',
    ]);
    const cell = plan.cells[1]!;
    expect(cell.settings).toEqual({
      ...QUICK_DEMO,
      stage1: { ...QUICK_DEMO.stage1, steps: 7, mseWeight: 0 },
      stage3: { ...QUICK_DEMO.stage3, estimator: 'sparsemax' },
    });
    expect(cell.options).toEqual({ 'stage1.mseWeight': 0, estimator: 'sparsemax' });
    expect(parseGrid(JSON.stringify({ grid: { compressionRate: [8] } }), 'g.json').cells[0]!.settings.compressionRate).toBe(8);
    expect(parseGrid('grid: { k: [1] }', 'g.yaml').cells[0]!.settings.stage1).toEqual(FULL_DEMO.stage1);
    // `base: long` starts from `clara demo --long`'s settings (whole documents reconstructed).
    const long = parseGrid('base: long\ngrid: { k: [1] }', 'g.yaml');
    expect([long.base, long.cells[0]!.settings]).toEqual(['long', LONG_DEMO]);
  });

  it('runs a cell that two products share once, and records the base value of a key its product leaves alone', () => {
    const plan = parseGrid('grids:\n  - { compressionRate: [16, 32] }\n  - { estimator: [soft, gumbel] }\n', 'g.yaml');
    expect(plan.cells.map((c) => c.id)).toEqual([
      'compressionRate-16_estimator-soft_seed-0',
      'compressionRate-32_estimator-soft_seed-0',
      'compressionRate-16_estimator-gumbel_seed-0',
    ]);
  });

  it('names the file and the key of every mistake', () => {
    expect(error('grid: { stage1.msWeight: [0] }')).toMatch(
      /^grid my-grid\.yaml: grid\.stage1\.msWeight\[0\]: names no setting of the demo \(stage1 has: steps, .*mseWeight/,
    );
    expect(error('grid: { toString: [0] }')).toContain('grid.toString[0]: names no setting');
    expect(error('grid: { nonsense: [0] }')).toMatch(/grid\.nonsense\[0\]: names no setting .*or a variation: people/);
    expect(error('grid: { stage1.mseWeight: ["0.1"] }')).toContain('grid.stage1.mseWeight[0]: expects a number (as the demo\'s 0.1); got "0.1"');
    expect(error('grid: { stage1: [1] }')).toContain('grid.stage1[0]: is a group of settings; name one of its fields (stage1.steps,');
    expect(error('grid: { stage3.estimator: [soft, entmax] }')).toContain(
      'grid.stage3.estimator[1]: unknown top-k estimator "entmax" (known: straight-through, gumbel, soft, sparsemax, annealed)',
    );
    expect(error('grid: { compressionRate: [16, 7] }')).toMatch(/grid cell \{"compressionRate":7\}: compression rate 7 must divide the document length 64/);
    expect(error('grid: { k: [5] }\nset: { candidates: 4 }')).toContain('k = 5 exceeds the 4 candidates');
    // A run may skip stage 1 (as --long does) or stage 2 (as the full demo does), not both.
    expect(error('grid: { stage1Steps: [0] }')).toContain('stage1.steps and stage2.steps are both 0: the compressor would never train');
    expect(parseGrid('base: long\ngrid: { stage1Steps: [0, 5] }', 'g.yaml').cells.map((c) => c.settings.stage1.steps)).toEqual([0, 5]);
    expect(error('base: long\ngrid: { stage2.corpusRepeats: [0] }')).toContain('stage2.corpusRepeats must be a positive integer; got 0');
    expect(error('base: long\ngrid: { oneFactSteps: [-1] }')).toContain('stage2.oneFactSteps must be a non-negative integer; got -1');
    expect(error('grid: { mseWeight: 0.1 }')).toContain('grid.mseWeight: must be a non-empty list of values; got 0.1');
    expect(error('grid: { k: [1] }\nseeds: [0, -1]')).toContain('seeds: must be a non-empty list of non-negative integers');
    expect(error('grid: { k: [1] }\nbase: medium')).toContain('base: must be full, quick, long; got "medium"');
    expect(error('grid: { k: [1] }\nset: { k: 1 }')).toContain('grid.k: is also in `set`');
    expect(error('grd: { k: [1] }')).toContain('grd: unknown key (known: base, seeds, set, grid, grids, description)');
    expect(error('{}')).toContain('grid: missing');
    expect(error('grid: [1, 2', 'g.json')).toMatch(/^grid g\.json: not valid JSON/);
    expect(error('grid: {k: [1]\n  bad: : :')).toMatch(/not valid YAML/);
  });
});
