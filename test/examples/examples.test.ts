import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../clara/train/helpers.ts';

/**
 * The scripts of examples/ run as a user runs them (a separate node process through tsx, importing
 * the package by its name, `clara-ts/clara`), with tiny settings on the CPU backend, so that they
 * stay true as the library changes.
 */
const run = promisify(execFile);
const tsx = (args: string[]) => run(process.execPath, ['--import', 'tsx', ...args], { env: { ...process.env, CLARA_BACKEND: 'cpu' }, timeout: 240_000 });

describe('examples/', () => {
  it('runs a variant top-k estimator end to end, then traces the checkpoint it trained', async () => {
    const out = join(tempDir('examples'), 'annealed');
    const annealed = await tsx(['examples/annealedTopK.ts', '--tiny', '--out', out]);
    expect(annealed.stdout).toContain('top-k estimator: annealedTopK');
    const metrics = JSON.parse(readFileSync(join(out, 'metrics.json'), 'utf8'));
    expect(metrics.settings.stage3.estimator).toBe('annealedTopK');
    expect(existsSync(join(out, 'stage3', 'checkpoint', 'clara.json'))).toBe(true);

    const traced = await tsx(['examples/traceCheckpoint.ts', join(out, 'stage3'), 'Where was somebody born?']);
    expect(traced.stdout).toMatch(/hidden_states\.0 +rms \d/);
    expect(traced.stdout).toMatch(/loss \d+\.\d{4}/);
    expect(traced.stdout).toContain('lora_B.weight');
  }, 300_000);

  it('probes stage 1 for reading: trained and held-out facts, own, other and changed document, at each probe step', async () => {
    const { stdout } = await tsx(['examples/readingProbe.ts', '--tiny']);
    const probes = stdout.split('\n').filter((line) => /^ +\d+ {2}(trained|heldOut) +\d\.\d\d( \/ \d\.\d\d){3}$/.test(line));
    expect(probes.map((line) => line.trim().split(/ +/).slice(0, 2).join(' '))).toEqual(['2 trained', '2 heldOut', '4 trained', '4 heldOut']);
    expect(stdout).toContain('12 documents, 6 pretraining people, 1 counterfactual copy');
  }, 300_000);

  it('probes stage 2 (answer prompts) after a phase of one-fact people, with one-fact documents mixed in', async () => {
    const { stdout } = await tsx(['examples/readingProbe.ts', '--tiny', '--stage', '2', '--facts-per-doc', '1-4']);
    const probes = stdout.split('\n').filter((line) => /^ +\d+ {2}(trained|heldOut) +\d\.\d\d( \/ \d\.\d\d){3}$/.test(line));
    expect(probes.map((line) => line.trim().split(/ +/).slice(0, 2).join(' '))).toEqual(['2 trained', '2 heldOut', '4 trained', '4 heldOut']);
    expect(stdout).toMatch(/steps of stage 2/);
    expect(stdout).toMatch(/\(2 steps on \d+ one-fact people first\)/);
  }, 300_000);
});
