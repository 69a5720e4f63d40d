import { mkdtempSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readDocuments } from '../../../clara/data/documentsData.ts';
import { loadStage1File } from '../../../clara/data/stage1Data.ts';
import { loadStage2File } from '../../../clara/data/stage2Data.ts';
import { loadStage3File } from '../../../clara/data/stage3Data.ts';
import { MAX_TEXT_FILE_BYTES } from '../../../clara/data/textFile.ts';

/**
 * The malformed-row table: every way a row can be wrong, through every entry point that reads rows
 * (stages 1, 2 and 3 — `clara eval` and `clara e2e` read stage-3 files — and `clara compress`'s
 * documents). Each bad row is refused with `file:line` and the field at fault; none is silently
 * accepted, and none fails later as an array or tensor error.
 */

function writeLines(lines: string[], raw?: Uint8Array): string {
  const path = join(mkdtempSync(join(tmpdir(), 'clara-rows-')), 'data.jsonl');
  writeFileSync(path, raw ?? `${lines.join('\n')}\n`);
  return path;
}

interface EntryPoint {
  name: string;
  good: Record<string, unknown>;
  load: (path: string) => unknown;
}

const ENTRY_POINTS: EntryPoint[] = [
  { name: 'stage 1', good: { data_type: 'qa', question: ['Who?'], answers: ['Ann'], docs: ['Ann wrote it.'] }, load: (p) => loadStage1File(p) },
  { name: 'stage 2', good: { question: 'Who?', docs: ['Ann wrote it.', 'Bo read it.'], answer: 'Ann' }, load: (p) => loadStage2File(p) },
  {
    name: 'stage 3 (eval, e2e)',
    good: { question: 'Who?', docs: ['Ann wrote it.', 'Bo read it.'], answer: 'Ann', pos_index: [0] },
    load: (p) => loadStage3File(p),
  },
  { name: 'documents (compress)', good: { text: 'Ann wrote it.' }, load: (p) => readDocuments(p) },
];

/** Bad versions of a good row: [what, the row's JSON text or null to skip, the field named]. */
function badRows(good: Record<string, unknown>): Array<[string, string | null, string]> {
  const textField = 'text' in good ? 'text' : 'question';
  const docField = 'text' in good ? 'text' : 'docs[0]';
  const json = (change: Record<string, unknown>) => JSON.stringify({ ...good, ...change });
  const withFirstDoc = (doc: string) => ('text' in good ? json({ text: doc }) : json({ docs: [doc, ...(good.docs as string[]).slice(1)] }));
  const question = (q: string) => ('text' in good ? null : Array.isArray(good.question) ? json({ question: [q] }) : json({ question: q }));
  return [
    ['an empty document', withFirstDoc(''), docField],
    ['a blank document', withFirstDoc(' \t '), docField],
    ['a lone surrogate', withFirstDoc('caf\ud800'), docField],
    ['a blank question', question('   '), Array.isArray(good.question) ? 'question[0]' : 'question'],
    [
      'an empty answer',
      'answer' in good ? json({ answer: '' }) : 'answers' in good ? json({ answers: [''] }) : null,
      'answer' in good ? 'answer' : 'answers[0]',
    ],
    ['a duplicate key', `${JSON.stringify(good).slice(0, -1)},"${textField}":${JSON.stringify(good[textField])}}`, textField],
  ];
}

describe('malformed rows, every entry point', () => {
  for (const entry of ENTRY_POINTS) {
    describe(entry.name, () => {
      for (const [what, row, field] of badRows(entry.good)) {
        if (row === null) continue;
        it(`refuses ${what} with file:line and field "${field}"`, () => {
          const path = writeLines([JSON.stringify(entry.good), row]);
          expect(() => entry.load(path)).toThrow(`${path}:2: field "${field}"`);
        });
      }

      it('reads a file that starts with a UTF-8 byte-order mark', () => {
        const text = new TextEncoder().encode(`${JSON.stringify(entry.good)}\n`);
        const path = writeLines([], new Uint8Array([0xef, 0xbb, 0xbf, ...text]));
        expect(() => entry.load(path)).not.toThrow();
      });

      it('refuses a line that is not valid UTF-8, naming it', () => {
        const good = new TextEncoder().encode(`${JSON.stringify(entry.good)}\n`);
        const bad = new TextEncoder().encode(JSON.stringify(entry.good));
        const path = writeLines([], new Uint8Array([...good, ...bad.slice(0, 5), 0xc3, 0x28, ...bad.slice(5), 0x0a]));
        expect(() => entry.load(path)).toThrow(`${path}:2: is not valid UTF-8 text`);
      });

      it('refuses a file too large to read before reading it, with its size', () => {
        const path = writeLines([JSON.stringify(entry.good)]);
        truncateSync(path, MAX_TEXT_FILE_BYTES + 1); // sparse: costs no disk
        expect(() => entry.load(path)).toThrow(`${path}: 1024.0 MiB (${MAX_TEXT_FILE_BYTES + 1} bytes) is larger than`);
      });
    });
  }

  it('stage 3: pos_index null, and rows with another number of candidates than the first', () => {
    const good = { question: 'Who?', docs: ['Ann wrote it.', 'Bo read it.'], answer: 'Ann', pos_index: [0] };
    const nullIndex = writeLines([JSON.stringify(good), JSON.stringify({ ...good, pos_index: null })]);
    expect(() => loadStage3File(nullIndex)).toThrow(`${nullIndex}:2: field "pos_index"`);
    const fewer = writeLines([JSON.stringify(good), JSON.stringify({ ...good, docs: ['Ann wrote it.'] })]);
    expect(() => loadStage3File(fewer)).toThrow(`${fewer}:2: field "docs" must hold exactly 2 documents, found 1`);
  });
});
