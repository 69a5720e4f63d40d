import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { combineMeans, microBatchScales } from '../../../clara/train/accumulation.ts';
import { DataOrder } from '../../../clara/train/dataOrder.ts';
import { ProgressBar } from '../../../clara/train/progress.ts';
import { defaultWarmupSteps, trainingSchedule } from '../../../clara/train/schedule.ts';
import { trainCompressionStage } from '../../../clara/trainCompressionStage.ts';
import { lrScaleLookup, resolveTrainingConfig } from '../../../clara/train/trainingConfig.ts';
import { synthRows, tinyModel, trainableBits } from './helpers.ts';

describe('the schedule', () => {
  it('warms up linearly from 0, peaks at lr, and decays by a half cosine to 0.1·lr', () => {
    const lr = 2e-3;
    const s = trainingSchedule({ lr, steps: 100, warmupSteps: 10 });
    expect(s(0)).toBe(0);
    expect(s(5)).toBeCloseTo(lr / 2, 15);
    expect(s(10)).toBe(lr);
    expect(s(55)).toBeCloseTo(0.1 * lr + 0.9 * lr * 0.5, 15); // half way through the cosine
    expect(s(100)).toBeCloseTo(0.1 * lr, 15);
    expect(s(500)).toBeCloseTo(0.1 * lr, 15); // stays at the floor
    for (let t = 10; t < 100; t++) expect(s(t + 1)).toBeLessThanOrEqual(s(t));
  });

  it('defaults to 3 % warm-up (rounded up) and lr 1e-4, betas (0.9, 0.95), clip 1, no weight decay', () => {
    expect(defaultWarmupSteps(100)).toBe(3);
    expect(defaultWarmupSteps(10)).toBe(1);
    const c = resolveTrainingConfig({ batchSize: 4 }, 10);
    expect(c).toMatchObject({ steps: 3, warmupSteps: 1, lr: 1e-4, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0, maxGradNorm: 1, minLrRatio: 0.1 });
    expect(() => resolveTrainingConfig({ steps: 0 }, 10)).toThrow('steps must be a positive integer, got 0');
  });

  it('lrScales: the longest prefix ending at a dot wins; a prefix that names no parameter or a bad value is an error', () => {
    const names = ['decoder_adapter.a', 'decoder_adapter.b.x', 'encoder_adapter.a', 'model.embed_tokens.weight'];
    const scale = lrScaleLookup({ lrScales: { decoder_adapter: 0.2, 'decoder_adapter.b': 0.5 }, frozenSteps: {} }, names);
    expect(names.map((n) => scale(n, 0))).toEqual([0.2, 0.5, 1, 1]);
    expect(() => lrScaleLookup({ lrScales: { decoder: 0.2 }, frozenSteps: {} }, names)).toThrow(
      "lrScales: 'decoder' matches no trained parameter (they start with: decoder_adapter, encoder_adapter, model)",
    );
    expect(() => resolveTrainingConfig({ lrScales: { decoder_adapter: -1 } }, 10)).toThrow('lrScales.decoder_adapter must be a non-negative number, got -1');
  });

  it('frozenSteps: scale 0 for the first steps under a prefix, then the lrScales value', () => {
    const names = ['decoder_adapter.a', 'encoder_adapter.a', 'model.embed_tokens.weight'];
    const scale = lrScaleLookup(
      { lrScales: { decoder_adapter: 0.2, encoder_adapter: 0.5 }, frozenSteps: { encoder_adapter: 3, 'model.embed_tokens.weight': 1 } },
      names,
    );
    expect([0, 1, 2, 3].map((step) => names.map((n) => scale(n, step)))).toEqual([
      [0.2, 0, 0],
      [0.2, 0, 1],
      [0.2, 0, 1],
      [0.2, 0.5, 1],
    ]);
    expect(() => lrScaleLookup({ lrScales: {}, frozenSteps: { encoder: 3 } }, names)).toThrow("frozenSteps: 'encoder' matches no trained parameter");
    expect(() => resolveTrainingConfig({ steps: 10, frozenSteps: { encoder_adapter: 11 } }, 10)).toThrow(
      'frozenSteps.encoder_adapter must be an integer in [0, steps = 10], got 11',
    );
    expect(() => resolveTrainingConfig({ steps: 10, frozenSteps: { encoder_adapter: 1.5 } }, 10)).toThrow('frozenSteps.encoder_adapter must be an integer');
  });

  it('is what the optimiser used at every step (metrics lr)', async () => {
    const rows = synthRows();
    const { history } = await trainCompressionStage({
      clara: tinyModel(rows),
      stage: 1,
      rows,
      steps: 5,
      batchSize: 1,
      lr: 1e-3,
      warmupSteps: 2,
      progress: false,
    });
    const s = trainingSchedule({ lr: 1e-3, steps: 5, warmupSteps: 2 });
    expect(history.map((m) => m.lr)).toEqual([0, 1, 2, 3, 4].map(s));
  });

  it('compressorFrozenSteps holds the encoder adapter and the memory rows for the first steps, not the generator', async () => {
    const rows = synthRows();
    const clara = tinyModel(rows);
    const after: Array<Map<string, Uint32Array>> = [];
    await trainCompressionStage({
      clara,
      stage: 1,
      rows,
      steps: 3,
      batchSize: 2,
      lr: 1e-2,
      warmupSteps: 0,
      progress: false,
      compressorFrozenSteps: 2,
      onStep: async () => {
        after.push(await trainableBits(clara));
      },
    });
    const part = (bits: Map<string, Uint32Array>, prefix: string) => [...bits].filter(([k]) => k.startsWith(prefix)).map(([, v]) => [...v]);
    for (const compressor of ['encoder_adapter.', 'embed']) {
      expect(part(after[1]!, compressor)).toEqual(part(after[0]!, compressor));
      expect(part(after[2]!, compressor)).not.toEqual(part(after[1]!, compressor));
    }
    expect(part(after[1]!, 'decoder_adapter.')).not.toEqual(part(after[0]!, 'decoder_adapter.'));
  });
});

describe('gradient accumulation', () => {
  it("scales each term by its share of the step's units, so the scaled losses add up to the big batch's", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ ce: fc.integer({ min: 0, max: 50 }), mse: fc.integer({ min: 1, max: 4 }) }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.double({ min: 0, max: 10, noNaN: true }), { minLength: 10, maxLength: 10 }),
        (units, values) => {
          const means = units.map((_, i) => ({ ce: values[2 * i]!, mse: values[2 * i + 1]! }));
          const scales = microBatchScales(units, { ce: 1, mse: 0.1 });
          const accumulated = scales.reduce((sum, s, i) => sum + s.ce! * means[i]!.ce + s.mse! * means[i]!.mse, 0);
          const step = combineMeans(means, units, ['ce', 'mse']);
          expect(accumulated).toBeCloseTo((step.ce ?? 0) + 0.1 * step.mse!, 9);
        },
      ),
    );
  });

  it("gives one big batch's loss and gradient: batch 4 = 2 × 2 = 4 × 1", async () => {
    const rows = synthRows();
    const run = async (batchSize: number, gradAccum: number) => {
      const clara = tinyModel(rows);
      clara.settings.lora = { r: 4, alpha: 8, dropout: 0 }; // no dropout: the micro-batches draw nothing
      return (await trainCompressionStage({ clara, stage: 1, rows, steps: 2, batchSize, gradAccum, lr: 1e-3, warmupSteps: 0, progress: false })).history;
    };
    const big = await run(4, 1);
    for (const [b, a] of [
      [2, 2],
      [1, 4],
    ] as const) {
      const small = await run(b, a);
      small.forEach((m, i) => {
        expect(m.loss).toBeCloseTo(big[i]!.loss, 5);
        expect(m.ce!).toBeCloseTo(big[i]!.ce!, 5);
        expect(m.mse!).toBeCloseTo(big[i]!.mse!, 5);
        expect(m.gradNorm / big[i]!.gradNorm).toBeCloseTo(1, 4);
      });
    }
  });
});

describe('the data order', () => {
  it("visits every row once per epoch, and a step's rows depend only on (seed, step)", () => {
    const order = new DataOrder(10, 5);
    const epoch0 = order.slice(0, 10);
    expect([...epoch0].sort((a, b) => a - b)).toEqual([...Array(10).keys()]);
    expect(order.slice(10, 10)).not.toEqual(epoch0);
    expect(new DataOrder(10, 5).rowsForStep(7, 3)).toEqual(order.rowsForStep(7, 3)); // after other reads, too
    expect(new DataOrder(10, 6).slice(0, 10)).not.toEqual(epoch0);
  });
});

describe('the progress line', () => {
  const sink = (isTTY: boolean) => {
    const written: string[] = [];
    return { stream: { isTTY, columns: 100, write: (t: string) => written.push(t) }, written };
  };
  it('redraws one line on a terminal', () => {
    const { stream, written } = sink(true);
    const bar = new ProgressBar(10, stream);
    bar.update({ step: 1, loss: 2.5, tokensPerSecond: 1500, etaSeconds: 75 });
    bar.update({ step: 2, loss: 2.25, tokensPerSecond: 1500, etaSeconds: 70 });
    bar.finish();
    // biome-ignore lint/suspicious/noControlCharactersInRegex: the bar redraws its line with the terminal's ESC [2K
    expect(written[0]).toMatch(/^\r\x1b\[2K\[#+\.+\] step 1\/10 {2}loss 2\.5000 {2}1\.5k tok\/s {2}ETA 1m15s$/);
    expect(written.at(-1)).toBe('\n');
  });
  it('prints plain lines, not too often, when stderr is not a terminal', () => {
    const { stream, written } = sink(false);
    const bar = new ProgressBar(3, stream, 3600);
    for (let step = 1; step <= 3; step++) bar.update({ step, loss: 1, tokensPerSecond: 10, etaSeconds: 3 - step });
    bar.finish();
    expect(written).toEqual(['step 1/3  loss 1.0000  10 tok/s  ETA 2s\n', 'step 3/3  loss 1.0000  10 tok/s  ETA 0s\n']);
  });
});
