import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../../engine/index.ts';
import { main } from '../../../clara/cli/main.ts';
import { answerRowsFromQa } from '../../../clara/data/stage2Data.ts';
import { generateSyntheticCorpus } from '../../../clara/data/synth.ts';
import { demoCorpusOptions, demoModel, demoOneFactCorpusOptions, demoStage1Options, demoStage2Phases } from '../../../clara/demo/demoModel.ts';
import { LONG_DEMO, QUICK_DEMO, varyDemo } from '../../../clara/demo/demoSettings.ts';
import { prepareStage3 } from '../../../clara/endToEndObjective.ts';
import { runDemo } from '../../../clara/demo/runDemo.ts';
import { trainCompressionStage } from '../../../clara/trainCompressionStage.ts';
import { captureConsole } from '../../helpers/captureConsole.ts';
import { synthRows, tempDir, tinyModel } from '../train/helpers.ts';

/** `clara demo --long`: stage 1 on the corpus, stage 2 in two phases (one-fact people, then the corpus among pretraining people), stage 3. */

// The long demo's design on the quick demo's model and a tiny corpus.
const tiny = varyDemo(
  {
    ...QUICK_DEMO,
    corpus: { ...LONG_DEMO.corpus, namePool: 7 },
    stage1: { ...QUICK_DEMO.stage1, steps: 0 },
    stage2: { ...LONG_DEMO.stage2, corpusRepeats: 3, headLrScale: 3, compressorLrScale: 0.5 },
  },
  { people: 12, candidates: 6, pretrainPeople: 10, oneFactSteps: 4, stage2Steps: 3, stage3Steps: 3 },
);

describe('stage 2 of the demo', () => {
  it('asks every question of a stage-1 qa row in the answer prompt with its document, and drops paraphrase rows', () => {
    const rows = answerRowsFromQa([
      { dataType: 'qa', docs: ['Ann lives in Rome. She is a cook.'], questions: ['Where does Ann live?', 'What is Ann?'], answers: ['Rome', 'a cook'] },
      { dataType: 'paraphrase', docs: ['Bob is tall.'], paraphrase: 'Bob has height.' },
    ]);
    expect(rows).toEqual([
      { question: 'Where does Ann live?', docs: ['Ann lives in Rome. She is a cook.'], answer: 'Rome' },
      { question: 'What is Ann?', docs: ['Ann lives in Rome. She is a cook.'], answer: 'a cook' },
    ]);
  });

  it('runs one-fact people first, then the corpus with its own people repeated, one generator throughout', () => {
    expect(tiny.stage2).toMatchObject({ oneFactSteps: 4, steps: 3, compressorFrozenSteps: 3 });
    const corpus = generateSyntheticCorpus(demoCorpusOptions(tiny, 0));
    const oneFact = generateSyntheticCorpus(demoOneFactCorpusOptions(tiny, 0));
    const clara = demoModel(tiny, [corpus, oneFact], 0, cpuBackend);
    const [first, second, ...rest] = demoStage2Phases(tiny, clara, corpus, oneFact, 0);
    expect(rest).toEqual([]);
    // One fact per person: one question per document, none held out, every person a new one.
    expect(first!.rows.length).toBe(12 + 10);
    expect(new Set(first!.rows.map((r) => ('docs' in r ? r.docs[0] : ''))).size).toBe(22);
    expect(first!.rows.every((r) => !corpus.documents.includes((r as { docs: string[] }).docs[0]!))).toBe(true);
    expect(first).toMatchObject({
      stage: 2,
      steps: 4,
      compressorFrozenSteps: 3,
      lr: LONG_DEMO.stage2.lr,
      trainHead: true,
      lrScales: { 'lm_head.weight': 3, encoder_adapter: 0.5 },
    });
    expect(first).not.toHaveProperty('keepGenerator');
    expect(second).toMatchObject({ stage: 2, steps: 3, compressorFrozenSteps: 0, keepGenerator: true, trainHead: true });
    // The corpus's own trained questions three times, the pretraining people's once.
    const all = answerRowsFromQa(corpus.stage1);
    const own = all.filter((r) => corpus.documents.includes(r.docs[0]!));
    expect(own.length).toBeGreaterThan(0);
    expect(own.length).toBeLessThan(all.length);
    expect(second!.rows.length).toBe(all.length + 2 * own.length);
    // Held-out facts are in no target.
    const heldOut = new Set(corpus.questions.filter((q) => q.heldOut).map((q) => q.question));
    expect(second!.rows.some((r) => heldOut.has((r as { question: string }).question))).toBe(false);
    // With the pretraining people in stage 2, stage 1 trains on the corpus's own rows only.
    const stage1 = demoStage1Options(tiny, clara, corpus, 0).rows;
    expect(stage1.length).toBeGreaterThan(0);
    expect(stage1.every((r) => corpus.documents.includes(r.docs[0]!))).toBe(true);
    expect(corpus.stage1.length).toBeGreaterThan(stage1.length);
    // Left in stage 1, they are all of stage 1's rows and none of stage 2's.
    const inStage1 = { ...tiny, corpus: { ...tiny.corpus, pretrainIn: 'stage1' as const } };
    expect(demoStage1Options(inStage1, clara, corpus, 0).rows).toEqual(corpus.stage1);
    expect(demoStage2Phases(inStage1, clara, corpus, oneFact, 0)[1]!.rows).toEqual(own);
  });

  // As --long runs it (stage 1 first), and with no stage 1 at all (the compressor starts from the backbone).
  it.each([2, 0])(
    'clara demo --long with %i stage-1 steps runs both phases of stage 2 and stage 3, and charts them',
    async (stage1Steps) => {
      const printed = captureConsole({ stderrWrites: true });
      const out = join(tempDir('demo-long'), 'run');
      try {
        const flags = ['--stage1-steps', String(stage1Steps), '--people', '12', '--candidates', '6', '--pretrain-people', '10'];
        const steps = ['--one-fact-steps', '4', '--stage2-steps', '3', '--stage3-steps', '3'];
        expect(await main(['demo', '--long', '--out', out, '--backend', 'cpu', ...flags, ...steps])).toBe(0);
        const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
        expect(metrics.settings).toMatchObject({
          stage1: { steps: stage1Steps },
          stage2: { oneFactSteps: 4, steps: 3, headLrScale: LONG_DEMO.stage2.headLrScale },
          corpus: { pretrainPeople: 10, pretrainIn: 'stage2' },
        });
        expect([metrics.stage1.steps, metrics.stage2.steps, metrics.stage3.steps]).toEqual([stage1Steps, 7, 3]);
        const lines = (file: string) =>
          readFileSync(join(out, file, 'metrics.jsonl'), 'utf8')
            .trim()
            .split('\n');
        expect([lines('stage2-one-fact').length, lines('stage2').length]).toEqual([4, 3]);
        expect(existsSync(join(out, 'stage1'))).toBe(stage1Steps > 0);
        expect(printed.stdout()).toMatch(/stage 2 loss [\d.]+ → [\d.]+ in 7 steps; stage 3 loss/);
        expect(printed.stdout().includes(`stage 1 loss`)).toBe(stage1Steps > 0);
        const svg = readFileSync(join(out, 'curves.svg'), 'utf8');
        expect(svg).toContain('Stage 2: instruction tuning');
        expect(svg).toContain('one-fact documents (steps 0-4)');
        // Stage 2's own hold (three quarters of the one-fact phase), whether or not stage 1 ran.
        expect(svg).toContain('compressor held still (steps 0-3)');
        expect(svg.includes('Stage 1: salient')).toBe(stage1Steps > 0);
      } finally {
        printed.stop();
      }
    },
    180_000,
  );

  it('refuses, before anything runs, a demo that would drop a phase or a set of people', async () => {
    const printed = captureConsole({ stderrWrites: true });
    try {
      const refused: Array<[string[], string]> = [
        [['--stage1-steps', '0'], 'stage1.steps and stage2.steps are both 0: the compressor would never train'],
        [['--one-fact-steps', '100'], "stage2.oneFactSteps is 100 but stage2.steps is 0: the one-fact phase is stage 2's first"],
        [['--long', '--stage2-steps', '0', '--one-fact-steps', '0'], 'the 3000 pretraining people are for stage 2 (corpus.pretrainIn), which has 0 steps'],
        [['--long', '--counterfactuals', '1'], "corpus.counterfactuals are stage 1's rows"],
      ];
      for (const [flags, message] of refused) {
        printed.clear();
        expect(await main(['demo', ...flags])).toBe(2);
        expect(printed.stderr()).toContain(`clara demo: ${message}`);
      }
    } finally {
      printed.stop();
    }
    await expect(
      runDemo({
        settings: { ...tiny, stage1: { ...tiny.stage1, steps: 1 }, stage2: { ...tiny.stage2, steps: 0 } },
        out: tempDir('refused'),
        seed: 0,
        backend: cpuBackend,
        progress: false,
      }),
    ).rejects.toThrow(/runDemo: stage2\.oneFactSteps is 4 but stage2\.steps is 0/);
  });

  it('stage 3 freezes the lm_head that stage 2 trained', async () => {
    const rows = synthRows();
    const clara = tinyModel(rows);
    await trainCompressionStage({ clara, stage: 1, rows, steps: 1, batchSize: 2, progress: false });
    await trainCompressionStage({ clara, stage: 2, rows: answerRowsFromQa(rows), steps: 1, batchSize: 2, trainHead: true, progress: false });
    expect(clara.backbone.lmHead.requiresGrad).toBe(true);
    prepareStage3(clara);
    expect(clara.backbone.lmHead.requiresGrad).toBe(false);
    expect(clara.backbone.lmHead.grad).toBeNull();
  });
});
