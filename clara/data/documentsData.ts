/**
 * A corpus file for `clara compress`: JSON Lines, one document per line, as `{"text": "..."}` (or
 * `{"id": .., "text": ..}`, as `clara synth` writes documents.jsonl), or a plain JSON string.
 */
import { DataError, type FieldError } from './dataError.ts';
import { findDuplicateKey } from '../../engine/io/index.ts';
import { checkText } from './fields.ts';
import { readTextLines } from './textFile.ts';

/** The documents of such a file, in order, with a clear error naming the line of a bad row. */
export function readDocuments(file: string): string[] {
  let lines: string[];
  try {
    lines = readTextLines(file);
  } catch (error) {
    if (error instanceof DataError) throw error; // already names file and line
    throw new Error(`${file}: cannot read (${(error as Error).message})`);
  }
  const docs: string[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1}: invalid JSON`);
    }
    const duplicate = findDuplicateKey(line)?.key ?? null;
    if (duplicate !== null) throw new Error(`${file}:${i + 1}: field "${duplicate}" appears twice in one object`);
    const doc = typeof value === 'string' ? value : (value as { text?: unknown })?.text;
    if (typeof doc !== 'string') throw new Error(`${file}:${i + 1}: field "text" must be a string`);
    try {
      docs.push(checkText(doc, 'text'));
    } catch (error) {
      throw new Error(`${file}:${i + 1}: ${(error as FieldError).message}`);
    }
  });
  if (docs.length === 0) throw new Error(`${file}: no documents`);
  return docs;
}
