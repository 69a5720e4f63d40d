import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readSafetensorsFile } from '../../engine/io/index.ts';

/**
 * The fixtures under test/fixtures/ are produced by the PyTorch recorders in reference/
 * (`npm run reference`). The manifest records the sha256 of every recorder source and of every
 * fixture; recomputing them here catches a recorder that was changed without regenerating its
 * fixtures, and a fixture changed (or added, or lost) by hand. No Python is needed to run this.
 */

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const FIXTURES = path.join(REPO, 'test/fixtures');

interface Manifest {
  torch: string;
  recorders: Record<string, { sources: Record<string, string> }>;
  fixtures: Record<string, { recorder: string; torch: string; sha256: string; bytes: number }>;
}

const manifest = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'manifest.json'), 'utf8')) as Manifest;
const sha256 = (file: string) =>
  createHash('sha256')
    .update(fs.readFileSync(path.join(REPO, file)))
    .digest('hex');
const REGENERATE = 'run `npm run reference` to regenerate the fixtures';

/** Every file under test/fixtures/ but the manifest, as repository paths. */
function fixtureFiles(dir = FIXTURES): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) return fixtureFiles(full);
    return e.name === 'manifest.json' ? [] : [path.relative(REPO, full).split(path.sep).join('/')];
  });
}

describe('fixture manifest', () => {
  it.each(Object.entries(manifest.recorders))('%s has not changed since its fixtures were recorded', (recorder, { sources }) => {
    expect(Object.keys(sources)).toContain(recorder);
    for (const [source, hash] of Object.entries(sources)) {
      expect(sha256(source), `${source} changed since its fixtures were recorded: ${REGENERATE}`).toBe(hash);
    }
  });

  it('lists every fixture file, each as recorded', () => {
    expect(fixtureFiles().sort(), `fixtures on disk differ from the manifest: ${REGENERATE}`).toEqual(Object.keys(manifest.fixtures).sort());
    for (const [file, entry] of Object.entries(manifest.fixtures)) {
      expect(Object.keys(manifest.recorders)).toContain(entry.recorder);
      expect(sha256(file), `${file} differs from the one ${entry.recorder} recorded: ${REGENERATE}`).toBe(entry.sha256);
    }
  });

  it('stays under 20 MB in all', () => {
    const total = Object.values(manifest.fixtures).reduce((n, f) => n + f.bytes, 0);
    expect(total).toBeLessThan(20 * 1024 * 1024);
  });

  it('holds files that pass the strict reader (the Python writer agrees with engine/io)', () => {
    for (const file of Object.keys(manifest.fixtures).filter((f) => f.endsWith('.safetensors'))) {
      const f = readSafetensorsFile(path.join(REPO, file));
      if (file.startsWith('test/fixtures/ops/')) expect(Number(f.metadata['cases'])).toBeGreaterThan(0);
      for (const name of f.names()) f.view(name);
    }
  });
});
