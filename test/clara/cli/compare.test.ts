import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSafetensorsFile, writeSafetensorsFile, type TensorToWrite } from '../../../engine/io/index.ts';
import { main } from '../../../clara/cli/main.ts';
import { captureConsole } from '../../helpers/captureConsole.ts';

/** `clara compare A B`: a table or JSON, exit code 1 on divergence. */
describe('clara compare', () => {
  it('exits 0 on a file against itself and 1 on a planted perturbation, naming it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clara-compare-'));
    const a = join(dir, 'a.safetensors');
    copyFileSync('test/fixtures/model/mistral_tiny.safetensors', a);
    const source = readSafetensorsFile(a);
    const tensors: Record<string, TensorToWrite> = {};
    for (const name of source.names()) {
      const host = source.toHost(name);
      if (host.dtype !== 'float32') continue;
      const data = Float32Array.from(host.data as Float32Array);
      if (name === 'logits') data[0] = data[0]! + 1;
      tensors[name] = { dtype: 'F32', shape: host.shape, data };
    }
    const b = join(dir, 'b.safetensors');
    writeSafetensorsFile(b, tensors);
    const printed = captureConsole();
    try {
      expect(await main(['compare', a, a])).toBe(0);
      expect(await main(['compare', b, a, '--json'])).toBe(1);
      const report = JSON.parse(printed.logs.at(-1)!);
      expect(report.firstDivergence).toBe('logits');
      expect(await main(['compare', b, a, '--mask', 'logits', '--mask', 'train.*'])).toBe(0);
    } finally {
      printed.stop();
    }
    expect(await main(['compare', a])).toBe(2);
  });
});
