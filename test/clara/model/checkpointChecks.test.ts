import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { Generator } from '../../../engine/index.ts';
import { hostToSafetensors, readSafetensorsFile, writeSafetensorsFile } from '../../../engine/io/index.ts';
import { synthRows, tempDir, tinyModel } from '../train/helpers.ts';

/** A model directory is checked as it is read: nothing in it is trusted, and errors name file and field. */
describe('loaded checkpoint checks', () => {
  let saved: string;
  beforeAll(async () => {
    const clara = tinyModel(synthRows());
    clara.backbone.addAdapter('encoder_adapter', clara.settings.lora, new Generator(1));
    saved = tempDir('checked');
    await clara.save(saved);
  });

  /** A copy of the saved model with `edit` applied to the copy's directory. */
  async function edited(edit: (dir: string) => void): Promise<string> {
    const dir = tempDir('edited');
    await ClaraModel.load(saved).save(dir);
    edit(dir);
    return dir;
  }
  const editJson = (file: string, change: (value: Record<string, unknown>) => void) => (dir: string) => {
    const value = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    change(value);
    writeFileSync(join(dir, file), JSON.stringify(value));
  };
  const poison = (file: string, pick: (name: string) => boolean, value: number) => (dir: string) => {
    const weights = readSafetensorsFile(join(dir, file));
    const tensors = Object.fromEntries(weights.names().map((name) => [name, hostToSafetensors(weights.toHost(name))]));
    const name = weights.names().find(pick)!;
    (tensors[name]!.data as Float32Array)[0] = value;
    writeSafetensorsFile(join(dir, file), tensors, { format: 'pt' });
  };

  it('adapter names never leave the model directory, on load or on save', async () => {
    const dir = await edited(editJson('clara.json', (c) => (c.adapters = ['../../../a/ckpt/evil'])));
    expect(() => ClaraModel.load(dir)).toThrow(
      `${join(dir, 'clara.json')}: field "adapters[0]": adapter name "../../../a/ckpt/evil" is not a plain folder name`,
    );
    const clara = ClaraModel.load(saved);
    clara.backbone.addAdapter('../evil', clara.settings.lora, new Generator(2));
    const out = tempDir('evil');
    await expect(clara.save(join(out, 'model'))).rejects.toThrow('adapter name "../evil" is not a plain folder name');
    expect(existsSync(join(out, 'evil'))).toBe(false);
  });

  it.each([
    ['docMaxLength', 'abc', 'field "docMaxLength" must be an integer ≥ 1, got "abc"'],
    ['generationTopK', 0, 'field "generationTopK" must be an integer ≥ 1, got 0'],
    ['compressionRate', 5, 'field "compressionRate" (5) must divide "docMaxLength" (32)'],
  ])('clara.json: %s = %j is refused', async (field, value, message) => {
    const dir = await edited(editJson('clara.json', (c) => (c[field] = value)));
    expect(() => ClaraModel.load(dir)).toThrow(`${join(dir, 'clara.json')}: ${message}`);
  });

  it('a tokenizer whose memory tokens disagree with the settings is refused', async () => {
    const dir = await edited(editJson('clara.json', (c) => (c.compressionRate = 16)));
    expect(() => ClaraModel.load(dir)).toThrow("tokenizer.json has 4 memory tokens, but clara.json's docMaxLength 32 / compressionRate 16 needs 2");
  });

  it('a NaN or infinite weight, in the backbone or in a LoRA B, is refused naming the tensor', async () => {
    const base = await edited(poison('model.safetensors', (n) => n === 'model.norm.weight', Number.NaN));
    expect(() => ClaraModel.load(base)).toThrow('model.norm.weight: value NaN at flat index 0');
    const lora = await edited(poison(join('adapters', 'encoder_adapter', 'adapter_model.safetensors'), (n) => n.includes('lora_B'), Number.POSITIVE_INFINITY));
    expect(() => ClaraModel.load(lora)).toThrow(/adapter_model\.safetensors: .*lora_B.*: value Infinity at flat index 0/);
  });
});
