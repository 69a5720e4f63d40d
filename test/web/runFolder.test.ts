import { describe, expect, it, vi } from 'vitest';
import { writeSyntheticCorpus } from '../../clara/data/writeSynthCorpus.ts';
import { demoCorpusOptions, demoModel, demoStage1Options } from '../../clara/demo/demoModel.ts';
import { QUICK_DEMO } from '../../clara/demo/demoSettings.ts';
import { trainCompressionStage } from '../../clara/trainCompressionStage.ts';
import { cpuBackend } from '../../engine/index.ts';
import { readFileSync } from '../../web/platform/memoryFs.ts';
import { openRunFolder } from '../../web/src/runFolder.ts';

// The page's file system in place of Node's, for every module of this file (as web/vite.config.ts
// does in the browser): the library writes a run folder there with its own writers, and the page's
// reader opens it with the library's own readers.
vi.mock('node:fs', () => import('../../web/platform/memoryFs.ts'));

describe("the page's run folder reader", () => {
  it('draws the curves of a run folder and loads its checkpoint, all through the in-memory node:fs', async () => {
    const { corpus } = writeSyntheticCorpus('demo-1/data', demoCorpusOptions(QUICK_DEMO, 0));
    const clara = demoModel(QUICK_DEMO, corpus, 0, cpuBackend);
    const stage1 = await trainCompressionStage({
      ...demoStage1Options(QUICK_DEMO, clara, corpus, 0),
      steps: 2,
      compressorFrozenSteps: 0,
      out: 'demo-1/stage1',
      progress: false,
    });
    const files = ['metrics.json', 'stage1/metrics.jsonl', 'data/stage3-heldout.jsonl'].map((path) => ({
      path: `demo-1/${path}`,
      bytes:
        path === 'metrics.json'
          ? new TextEncoder().encode(JSON.stringify({ recallCurve: [[0, 0.1]], backend: 'cpu', seconds: 1 }))
          : (readFileSync(`demo-1/${path}`) as Uint8Array),
    }));

    const run = openRunFolder(files, cpuBackend);
    expect(run.name).toBe('demo-1');
    expect(run.chart).toMatch(/<svg/);
    expect(run.chart.match(/<polyline/g)?.length).toBeGreaterThan(0);
    expect(run.questions.map((q) => q.question)).toEqual(corpus.stage3HeldOut.map((q) => q.question));
    expect(stage1.checkpoint).toBe('demo-1/stage1/checkpoint');
    expect(run.clara?.backbone.adapterNames()).toEqual(clara.backbone.adapterNames());
    expect(run.clara?.tokenizer.vocabSize).toBe(clara.tokenizer.vocabSize);
  });
});
