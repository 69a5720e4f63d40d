import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { cpuBackend, setDefaultBackend } from '../../../engine/index.ts';
import { loadModel, saveModel } from '../../../clara/model/checkpoint.ts';
import { randomModel } from './helpers.ts';

/**
 * loadModel refuses, before reading any weight, a checkpoint that would not fit in the memory the
 * OS reports available, and says how much it needs and has. Memory is made scarce by replacing
 * node:os's freemem, so the test does not depend on the machine.
 */
const free = vi.hoisted(() => ({ bytes: Number.POSITIVE_INFINITY }));
vi.mock('node:os', async (original) => {
  const os = await original<typeof import('node:os')>();
  return { ...os, freemem: () => free.bytes };
});

setDefaultBackend(cpuBackend);
const ROOT = fs.mkdtempSync(path.join(tmpdir(), 'clara-memory-'));
afterAll(() => fs.rmSync(ROOT, { recursive: true, force: true }));

describe('the memory check of loadModel', () => {
  it('loads when the weights fit, and refuses with the numbers when they do not', async () => {
    const dir = path.join(ROOT, 'model');
    await saveModel(randomModel(1), dir);
    free.bytes = Number.POSITIVE_INFINITY;
    expect(loadModel(dir).parameters().length).toBeGreaterThan(0);
    free.bytes = 1000;
    expect(() => loadModel(dir)).toThrow(
      /the weights need \d+\.\d GB \(\d+\.\d GB of float32 parameters and \d+\.\d GB for loading the largest tensor\).*but only 0\.0 GB more is available: load with dtype bfloat16/,
    );
  });
});
