import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDocuments } from '../../../clara/data/documentsData.ts';
import { limitCandidates, type Stage3Row } from '../../../clara/data/stage3Data.ts';

function writeTemp(lines: string[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'clara-docs-')), 'documents.jsonl');
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

describe('readDocuments', () => {
  it('reads {"text"} objects (with or without an id) and plain strings, in order', () => {
    const path = writeTemp([JSON.stringify({ id: 0, text: 'First.' }), '', JSON.stringify('Second.'), JSON.stringify({ text: 'Third.' })]);
    expect(readDocuments(path)).toEqual(['First.', 'Second.', 'Third.']);
  });

  it('names the line of a bad row, and refuses an empty file', () => {
    expect(() => readDocuments(writeTemp([JSON.stringify({ text: 'ok' }), '{oops']))).toThrow(/documents\.jsonl:2: invalid JSON$/);
    expect(() => readDocuments(writeTemp([JSON.stringify({ body: 'no text' })]))).toThrow(/documents\.jsonl:1: field "text" must be a string$/);
    expect(() => readDocuments(writeTemp(['']))).toThrow(/documents\.jsonl: no documents$/);
  });
});

describe('limitCandidates', () => {
  const row: Stage3Row = { question: 'Q?', docs: ['a', 'b', 'c', 'd', 'e'], answer: 'x', posIndex: [3] };

  it('keeps the relevant candidates and the first others, in their order, with pos_index following', () => {
    expect(limitCandidates([row], 3)).toEqual([{ ...row, docs: ['a', 'b', 'd'], posIndex: [2] }]);
    expect(limitCandidates([{ ...row, posIndex: [4, 0] }], 2)).toEqual([{ ...row, docs: ['a', 'e'], posIndex: [1, 0] }]);
  });

  it('leaves a row with N or fewer candidates as it is', () => {
    expect(limitCandidates([row], 5)[0]).toBe(row);
  });
});
