import { spawn } from 'node:child_process';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { latestCheckpoint, readTrainerState } from '../../../clara/train/checkpoint.ts';
import { readMetrics } from '../../../clara/train/metricsLog.ts';
import { LOCK_FILE } from '../../../clara/train/runLock.ts';
import { resumeCompressionStage, trainCompressionStage } from '../../../clara/trainCompressionStage.ts';
import { hostToSafetensors, readSafetensorsFile, writeSafetensorsFile } from '../../../engine/io/index.ts';
import { synthRows, tempDir, TINY_MODEL_FLAGS, tinyModel } from './helpers.ts';

/** What a resume meets after a crash, a kill or a tampered checkpoint, and what it must keep. */
describe('resume under faults', () => {
  const rows = synthRows();
  const settings = { steps: 6, batchSize: 2, lr: 3e-3, warmupSteps: 1, seed: 7, progress: false } as const;

  /** A run of `settings` stopped once step `stopAt` is done (its checkpoint, if due, is written). */
  async function interruptedRun(out: string, stopAt: number, saveEvery: number): Promise<void> {
    const onStep = (m: { step: number }) => {
      if (m.step === stopAt) throw new Error('interrupted');
    };
    await expect(trainCompressionStage({ clara: tinyModel(rows), stage: 1, rows, ...settings, out, saveEvery, onStep })).rejects.toThrow('interrupted');
  }
  const stateFile = (out: string) => join(latestCheckpoint(out)!, 'trainer_state.json');

  it('a resume keeps saving as often as the run it resumes, and refuses another --save-every', async () => {
    const out = tempDir('save-every');
    await interruptedRun(out, 2, 2);
    const onStep = (m: { step: number }) => {
      if (m.step === 5) throw new Error('killed again');
    };
    await expect(resumeCompressionStage({ out, rows, progress: false, onStep })).rejects.toThrow('killed again');
    expect(readTrainerState(latestCheckpoint(out)!).step).toBe(4); // saved at 4, as the run asked, not only at the end
    await expect(resumeCompressionStage({ out, rows, progress: false, saveEvery: 3 })).rejects.toThrow('setting saveEvery: checkpoint 2, now 3');
  });

  it('refuses a trainer state whose step is negative or beyond the run, naming the file and field', async () => {
    const out = tempDir('step-bounds');
    await interruptedRun(out, 2, 2);
    const state = JSON.parse(readFileSync(stateFile(out), 'utf8'));
    writeFileSync(stateFile(out), JSON.stringify({ ...state, step: 250 }));
    await expect(resumeCompressionStage({ out, rows, progress: false })).rejects.toThrow(`${stateFile(out)}: field "step" is 250, beyond the run's 6 steps`);
    writeFileSync(stateFile(out), JSON.stringify({ ...state, step: -5 }));
    expect(() => readTrainerState(latestCheckpoint(out)!)).toThrow(`${stateFile(out)}: field "step" must be an integer ≥ 0, got -5`);
  });

  it('refuses a checkpoint whose frozen backbone changed by one bit (the fingerprint covers every parameter)', async () => {
    const out = tempDir('frozen-bit');
    await interruptedRun(out, 2, 2);
    const file = join(latestCheckpoint(out)!, 'model.safetensors');
    const weights = readSafetensorsFile(file);
    const tensors = Object.fromEntries(weights.names().map((name) => [name, hostToSafetensors(weights.toHost(name))]));
    const norm = tensors['model.norm.weight']!.data as Float32Array;
    new Uint32Array(norm.buffer, norm.byteOffset, norm.length)[0]! ^= 1; // the lowest mantissa bit
    writeSafetensorsFile(file, tensors, { format: 'pt' });
    await expect(resumeCompressionStage({ out, rows, progress: false })).rejects.toThrow("the model's frozen parameters are not the checkpoint's");
  });

  it('drops a metrics line torn by a kill, and refuses a second run on a folder in use', async () => {
    const out = tempDir('torn');
    await interruptedRun(out, 2, 2);
    appendFileSync(join(out, 'metrics.jsonl'), '{"step":3,"loss":1.2');
    const sleeper = spawn('sleep', ['60']);
    try {
      writeFileSync(join(out, LOCK_FILE), `${sleeper.pid}\n`);
      await expect(resumeCompressionStage({ out, rows, progress: false })).rejects.toThrow(`${out} is in use by another run (process ${sleeper.pid}`);
    } finally {
      sleeper.kill();
    }
    await new Promise((resolve) => sleeper.once('exit', resolve));
    // The lock of a process that is gone is taken over.
    const resumed = await resumeCompressionStage({ out, rows, progress: false });
    expect(resumed.history.map((m) => m.step)).toEqual([3, 4, 5, 6]);
    expect(readMetrics(join(out, 'metrics.jsonl')).map((m) => m.step)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('kill and resume through the CLI', () => {
  /** Runs `clara` in a child process; resolves with its exit code, or kills it with SIGKILL once `killWhen` holds. */
  function clara(args: string[], killWhen?: () => boolean): Promise<number | string> {
    const child = spawn(process.execPath, ['bin/clara.mjs', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += String(d);
    });
    const poll = killWhen && setInterval(() => killWhen() && child.kill('SIGKILL'), 20);
    return new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        if (poll) clearInterval(poll);
        if (code !== 0 && signal === null) console.error(stderr);
        resolve(signal ?? code!);
      }),
    );
  }

  it('SIGKILL mid-run, then --resume, ends bit for bit where an uninterrupted run ends', async () => {
    const dir = tempDir('kill');
    expect(await clara(['synth', '--out', join(dir, 'data'), '--entities', '8', '--candidates', '4', '--seed', '1'])).toBe(0);
    const args = (out: string) => [
      'pretrain',
      '--stage',
      '1',
      '--data',
      join(dir, 'data', 'stage1.jsonl'),
      '--out',
      out,
      ...TINY_MODEL_FLAGS,
      '--steps',
      '8',
      '--batch-size',
      '2',
      '--lr',
      '2e-3',
      '--save-every',
      '2',
      '--backend',
      'cpu',
    ];
    const straight = join(dir, 'straight');
    expect(await clara(args(straight))).toBe(0);

    const killed = join(dir, 'killed');
    const pastStep = (n: number) => () => latestCheckpoint(killed) !== null && readTrainerState(latestCheckpoint(killed)!).step >= n;
    expect(await clara(args(killed), pastStep(2))).toBe('SIGKILL');
    expect(readTrainerState(latestCheckpoint(killed)!).step).toBeLessThan(8);
    expect(await clara(['pretrain', '--data', join(dir, 'data', 'stage1.jsonl'), '--out', killed, '--resume', '--backend', 'cpu'])).toBe(0);

    const a = readTrainerState(latestCheckpoint(straight)!);
    const b = readTrainerState(latestCheckpoint(killed)!);
    expect(b.step).toBe(8);
    expect(b.parameters).toEqual(a.parameters);
    expect(b.saveEvery).toBe(2);
    expect(readMetrics(join(killed, 'metrics.jsonl')).map((m) => [m.step, m.loss])).toEqual(
      readMetrics(join(straight, 'metrics.jsonl')).map((m) => [m.step, m.loss]),
    );
    const bytes = (out: string) => readFileSync(join(latestCheckpoint(out)!, 'optimizer.safetensors'));
    expect(bytes(killed).equals(bytes(straight))).toBe(true);
    expect(ClaraModel.load(latestCheckpoint(killed)!)).toBeInstanceOf(ClaraModel);
  }, 240_000);
});
