/**
 * A corpus file for `clara compress`: JSON Lines, one document per line, as `{"text": "..."}` (or
 * `{"id": .., "text": ..}`, as `clara synth` writes documents.jsonl), or a plain JSON string.
 */
import { readFileSync } from 'node:fs';

/** The documents of such a file, in order, with a clear error naming the line of a bad row. */
export function readDocuments(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`${file}: cannot read (${(error as Error).message})`);
  }
  const docs: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1}: invalid JSON`);
    }
    const doc = typeof value === 'string' ? value : (value as { text?: unknown })?.text;
    if (typeof doc !== 'string') throw new Error(`${file}:${i + 1}: field "text" must be a string`);
    docs.push(doc);
  });
  if (docs.length === 0) throw new Error(`${file}: no documents`);
  return docs;
}
