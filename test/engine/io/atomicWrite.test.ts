import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { atomicWriteFile, readSafetensorsFile, SafetensorsError, writeSafetensorsFile } from '../../../engine/io/index.ts';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atomic-'));
});
afterEach(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('atomic writes', () => {
  it('replaces the file and leaves no temporary file behind', () => {
    const file = path.join(dir, 'w.safetensors');
    writeSafetensorsFile(file, { x: { dtype: 'F32', shape: [2], data: new Float32Array([1, 2]) } });
    writeSafetensorsFile(file, { x: { dtype: 'F32', shape: [2], data: new Float32Array([3, 4]) } });
    expect(readSafetensorsFile(file).view('x')).toEqual(new Float32Array([3, 4]));
    expect(fs.readdirSync(dir)).toEqual(['w.safetensors']);
  });

  it('the next write into a folder removes the temporary files of killed writers, not those of live ones', () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid!; // a process that has exited
    const orphan = path.join(dir, `.w.safetensors.${dead}.0123456789ab.tmp`);
    const live = path.join(dir, `.v.safetensors.${process.pid}.0123456789ab.tmp`);
    fs.writeFileSync(orphan, new Uint8Array(1000));
    fs.writeFileSync(live, new Uint8Array(10));
    atomicWriteFile(path.join(dir, 'other.json'), [new Uint8Array([123, 125])]);
    expect(fs.readdirSync(dir).sort()).toEqual([path.basename(live), 'other.json']);
  });

  it('leaves a pre-existing file untouched, and no temporary file, when writing fails midway', () => {
    const file = path.join(dir, 'w.safetensors');
    fs.writeFileSync(file, 'the old checkpoint');
    // The chunk source fails after the first chunk has reached the temporary file.
    function* failing(): Generator<Uint8Array> {
      yield new Uint8Array(1000).fill(7);
      throw new Error('disk on fire');
    }
    expect(() => atomicWriteFile(file, failing())).toThrow(/w\.safetensors: cannot write: disk on fire \[IO_ERROR\]/);
    expect(fs.readFileSync(file, 'utf8')).toBe('the old checkpoint');
    expect(fs.readdirSync(dir)).toEqual(['w.safetensors']);
  });

  it('does not create the file at all when the input is invalid', () => {
    const file = path.join(dir, 'w.safetensors');
    expect(() => writeSafetensorsFile(file, { x: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(SafetensorsError);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it('reports a directory that does not exist as IO_ERROR', () => {
    const file = path.join(dir, 'nope', 'w.safetensors');
    expect(() => atomicWriteFile(file, [new Uint8Array(1)])).toThrow(/cannot write: .*ENOENT.*\[IO_ERROR\]/);
  });
});
