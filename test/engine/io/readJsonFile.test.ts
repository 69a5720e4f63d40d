import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readJsonFile } from '../../../engine/io/index.ts';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'read-json-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** readJsonFile: the parsed value, or an error that names the file, what was read and what went wrong. */
describe('readJsonFile', () => {
  it('parses the file', () => {
    const file = path.join(dir, 'ok.json');
    fs.writeFileSync(file, '{"a": [1, 2]}');
    expect(readJsonFile(file, 'the settings')).toEqual({ a: [1, 2] });
  });

  it('says the file is missing', () => {
    const file = path.join(dir, 'absent.json');
    expect(() => readJsonFile(file, 'the settings')).toThrow(`${file}: cannot read the settings (no such file)`);
  });

  it("gives the system's reason when the file cannot be read", () => {
    expect(messageOf(() => readJsonFile(dir, 'the settings'))).toContain(`${dir}: cannot read the settings (EISDIR: `);
  });

  it("gives the parser's message for text that is not JSON", () => {
    const file = path.join(dir, 'bad.json');
    fs.writeFileSync(file, '{"a": ');
    const message = messageOf(() => JSON.parse('{"a": '));
    expect(() => readJsonFile(file, 'the settings')).toThrow(`${file}: cannot read the settings (not valid JSON: ${message})`);
  });
});

function messageOf(f: () => unknown): string {
  try {
    f();
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('did not throw');
}
