import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { main } from '../../../clara/cli/main.ts';
import { stage2Json } from '../../../clara/data/stage2Data.ts';
import { captureConsole } from '../../helpers/captureConsole.ts';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { generateSyntheticCorpus } from '../../../clara/data/synth.ts';
import { latestCheckpoint, readTrainerState } from '../../../clara/train/checkpoint.ts';
import { readMetrics } from '../../../clara/train/metricsLog.ts';
import { resumeCompressionStage, trainCompressionStage } from '../../../clara/trainCompressionStage.ts';
import { synthRows, tempDir, tinyModel, trainableBits } from './helpers.ts';

/** Bits of a float64 loss, so that "equal" means equal to the last bit. */
const bits = (x: number) => new Float64Array([x]);

describe('resume', () => {
  const rows = synthRows();
  const settings = { steps: 6, batchSize: 2, gradAccum: 2, lr: 3e-3, warmupSteps: 1, seed: 7, progress: false } as const;

  it('equals an uninterrupted run bit for bit (losses, adapters, memory rows, optimiser state)', async () => {
    const straightOut = tempDir('straight');
    const straight = tinyModel(rows);
    const full = await trainCompressionStage({ clara: straight, stage: 1, rows, ...settings, out: straightOut });

    // The interrupted run: stopped after step 3 (by throwing from onStep once the checkpoint is written).
    const out = tempDir('interrupted');
    const first = tinyModel(rows);
    await expect(
      trainCompressionStage({
        clara: first,
        stage: 1,
        rows,
        ...settings,
        out,
        saveEvery: 3,
        onStep: (m) => {
          if (m.step === 3) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    expect(readTrainerState(latestCheckpoint(out)!).step).toBe(3);

    // Fresh objects, everything read back from disk.
    const resumed = await resumeCompressionStage({ out, rows, progress: false });
    expect(resumed.history.map((m) => m.step)).toEqual([4, 5, 6]);

    const losses = readMetrics(`${out}/metrics.jsonl`);
    expect(losses.map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
    full.history.forEach((m, i) => {
      expect(bits(losses[i]!.loss)).toEqual(bits(m.loss));
      expect(bits(losses[i]!.gradNorm)).toEqual(bits(m.gradNorm));
      expect(losses[i]!.lr).toBe(m.lr);
    });

    const a = await trainableBits(straight);
    const b = await trainableBits(resumed.clara);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [name, value] of a) expect(b.get(name), name).toEqual(value);
    // And the checkpoints agree too (model + optimiser moments + generator state).
    const sa = readTrainerState(latestCheckpoint(straightOut)!);
    const sb = readTrainerState(latestCheckpoint(out)!);
    expect(sb.parameters).toEqual(sa.parameters);
    expect(sb.generators).toEqual(sa.generators);
    const reloaded = await trainableBits(ClaraModel.load(latestCheckpoint(out)!));
    for (const [name, value] of a) expect(reloaded.get(name), name).toEqual(value);
  });

  it('stage 2 resumes exactly too (its fresh generator adapter is continued, not re-created)', async () => {
    const stage1 = tinyModel(rows);
    await trainCompressionStage({ clara: stage1, stage: 1, rows, steps: 1, batchSize: 2, lr: 1e-3, progress: false });
    const stage1Dir = tempDir('stage1');
    await stage1.save(stage1Dir);
    const stage2Rows = generateSyntheticCorpus({ seed: 3, entities: 12, candidates: 4, generationTopK: 2 }).stage2;
    const opts = { stage: 2, rows: stage2Rows, steps: 4, batchSize: 2, lr: 2e-3, warmupSteps: 0, seed: 2, progress: false } as const;

    const straight = ClaraModel.load(stage1Dir);
    const full = await trainCompressionStage({ clara: straight, ...opts });
    const out = tempDir('stage2');
    await expect(
      trainCompressionStage({
        clara: ClaraModel.load(stage1Dir),
        ...opts,
        out,
        saveEvery: 2,
        onStep: (m) => {
          if (m.step === 2) throw new Error('stop');
        },
      }),
    ).rejects.toThrow('stop');
    const resumed = await resumeCompressionStage({ out, rows: stage2Rows, progress: false });
    expect(resumed.history.map((m) => bits(m.loss))).toEqual(full.history.slice(2).map((m) => bits(m.loss)));
    const a = await trainableBits(straight);
    const b = await trainableBits(resumed.clara);
    for (const [name, value] of a) expect(b.get(name), name).toEqual(value);
  });

  it('refuses to resume with other settings or another model', async () => {
    const out = tempDir('refuse');
    const clara = tinyModel(rows);
    await trainCompressionStage({ clara, stage: 1, rows, ...settings, steps: 2, out });
    const loaded = ClaraModel.load(latestCheckpoint(out)!);
    await expect(trainCompressionStage({ clara: loaded, stage: 1, rows, ...settings, steps: 2, lr: 1e-3, out, resume: true })).rejects.toThrow(
      /setting lr: checkpoint 0.003, now 0.001/,
    );
    const other = tinyModel(rows, 9);
    other.settings.stage = 1;
    await expect(trainCompressionStage({ clara: other, stage: 1, rows, ...settings, steps: 2, out, resume: true })).rejects.toThrow(
      /trainable parameters are not the checkpoint's/,
    );
    await expect(
      trainCompressionStage({ clara: ClaraModel.load(latestCheckpoint(out)!), stage: 1, rows: rows.slice(1), ...settings, steps: 2, out, resume: true }),
    ).rejects.toThrow(/data: the checkpoint's run read/);
    // A fresh run into a directory that holds a checkpoint is refused too.
    await expect(trainCompressionStage({ clara: tinyModel(rows), stage: 1, rows, ...settings, out })).rejects.toThrow(/already holds a training checkpoint/);
  });
});

describe('a trained lm_head', () => {
  it('trains only when asked, at its own lr scale, and a resumed run continues it bit for bit', async () => {
    const rows = synthRows();
    const stage2Rows = generateSyntheticCorpus({ seed: 3, entities: 12, candidates: 4, generationTopK: 1 }).stage2;
    const run = {
      stage: 2,
      rows: stage2Rows,
      steps: 4,
      batchSize: 2,
      lr: 1e-2,
      seed: 5,
      progress: false,
      trainHead: true,
      lrScales: { 'lm_head.weight': 3 },
    } as const;
    const stage1 = async () => {
      const clara = tinyModel(rows);
      await trainCompressionStage({ clara, stage: 1, rows, steps: 1, batchSize: 2, lr: 1e-2, progress: false });
      return clara;
    };
    const head = async (clara: ClaraModel) => (await trainableBits(clara)).get('head')!;

    const frozen = await stage1();
    const before = await head(frozen);
    // A scale for a head that does not train is a mistake, named as such.
    await expect(trainCompressionStage({ clara: frozen, ...run, trainHead: false })).rejects.toThrow(/lrScales: 'lm_head.weight' matches no trained parameter/);
    await trainCompressionStage({ clara: frozen, ...run, trainHead: false, lrScales: {} });
    expect(await head(frozen)).toEqual(before);

    const straight = await stage1();
    await trainCompressionStage({ clara: straight, ...run, out: tempDir('head-straight') });
    expect(await head(straight)).not.toEqual(before);

    const out = tempDir('head-interrupted');
    const first = await stage1();
    await expect(
      trainCompressionStage({
        clara: first,
        ...run,
        out,
        saveEvery: 2,
        onStep: (m) => {
          if (m.step === 2) throw new Error('interrupted');
        },
      }),
    ).rejects.toThrow('interrupted');
    expect(readTrainerState(latestCheckpoint(out)!).objective).toMatchObject({ trainHead: true });
    // The same interrupted run, resumed by the library and by `clara pretrain --resume`.
    const copy = tempDir('head-interrupted-cli');
    cpSync(out, copy, { recursive: true });
    const resumed = await resumeCompressionStage({ out, rows: stage2Rows, progress: false });
    expect(await trainableBits(resumed.clara)).toEqual(await trainableBits(straight));
    const data = join(tempDir('head-data'), 'stage2.jsonl');
    writeFileSync(data, stage2Rows.map((r) => JSON.stringify(stage2Json(r))).join('\n'));
    const printed = captureConsole();
    try {
      expect(await main(['pretrain', '--data', data, '--out', copy, '--resume', '--backend', 'cpu'])).toBe(0);
    } finally {
      printed.stop();
    }
    expect(await trainableBits(ClaraModel.load(latestCheckpoint(copy)!))).toEqual(await trainableBits(straight));
  });
});

describe('stage 2 in phases', () => {
  it('keepGenerator continues the generator the model has; a plain stage 2 starts a fresh one', async () => {
    const rows = synthRows();
    const stage2Rows = generateSyntheticCorpus({ seed: 3, entities: 12, candidates: 4, generationTopK: 1 }).stage2;
    const clara = tinyModel(rows);
    await trainCompressionStage({ clara, stage: 1, rows, steps: 2, batchSize: 2, lr: 1e-2, progress: false });
    const phase = { stage: 2, rows: stage2Rows, steps: 1, batchSize: 2, lr: 1e-2, progress: false } as const;
    const generator = async () => [...(await trainableBits(clara))].filter(([name]) => name.startsWith('decoder_adapter.'));
    // A fresh adapter's B factors are zero; a trained one's are not.
    const bIsZero = (entries: Array<[string, Uint32Array]>) => entries.filter(([n]) => n.includes('lora_B')).every(([, v]) => v.every((x) => x === 0));
    let atFirstStep: Array<[string, Uint32Array]> = [];
    const capture = async (m: { step: number }) => {
      if (m.step === 1) atFirstStep = await generator();
    };
    expect(bIsZero(await generator())).toBe(false);
    const trained = await generator();
    await trainCompressionStage({ clara, ...phase, keepGenerator: true });
    const continued = await generator();
    // One step of lr 1e-2 moves every factor a little from the trained one, not back to a fresh adapter.
    expect(bIsZero(continued)).toBe(false);
    expect(continued.map(([n]) => n)).toEqual(trained.map(([n]) => n));
    await trainCompressionStage({ clara, ...phase, onStep: capture });
    // A fresh generator took one step from B = 0: its B factors are tiny, the continued ones are not.
    const size = (entries: Array<[string, Uint32Array]>) =>
      entries.filter(([n]) => n.includes('lora_B')).reduce((sum, [, v]) => sum + new Float32Array(v.buffer).reduce((a, x) => a + Math.abs(x), 0), 0);
    expect(size(atFirstStep)).toBeLessThan(size(continued) / 2);
    await expect(trainCompressionStage({ clara, stage: 1, rows, steps: 1, batchSize: 2, keepGenerator: true, progress: false })).rejects.toThrow(
      /keepGenerator is for stage 2/,
    );
  });
});
