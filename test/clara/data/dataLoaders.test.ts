import { describe, expect, it } from 'vitest';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadStage1File, parseStage1Jsonl } from '../../../clara/data/stage1Data.ts';
import { loadStage2File, parseStage2Jsonl } from '../../../clara/data/stage2Data.ts';
import { loadStage3File, parseStage3Jsonl } from '../../../clara/data/stage3Data.ts';
import { DataError } from '../../../clara/data/dataError.ts';

/**
 * A dozen stage-1 rows in the schema of the official sample (qa rows with several question/answer
 * pairs, paraphrase rows), written for these tests; the official 1000-row file is checked by
 * test-official/ (see vitest.official.config.ts).
 */
const SAMPLE = fileURLToPath(new URL('./stage1-sample.jsonl', import.meta.url));

function writeTemp(name: string, lines: unknown[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'clara-data-')), name);
  writeFileSync(path, `${lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n')}\n`);
  return path;
}

const goodQa = { data_type: 'qa', question: ['Q1?', 'Q2?'], answers: ['A1', 'A2'], docs: ['A document.'] };

describe('stage 1 loader', () => {
  it('loads a file of the official schema: qa rows with several pairs and paraphrase rows, one document each', () => {
    const { rows, warnings } = loadStage1File(SAMPLE);
    expect(rows.length).toBe(12);
    expect(warnings).toEqual([]);
    expect(rows.filter((r) => r.dataType === 'qa').length).toBe(8);
    expect(rows.filter((r) => r.dataType === 'paraphrase').length).toBe(4);
    for (const row of rows) {
      expect(row.docs.length).toBe(1);
      if (row.dataType === 'qa') expect(row.questions.length).toBe(row.answers.length);
    }
  });

  it('reads qa and paraphrase rows, data_type defaulting to qa', () => {
    const text = [
      JSON.stringify(goodQa),
      JSON.stringify({ data_type: 'paraphrase', answers: ['Same.'], docs: ['Doc.'] }),
      JSON.stringify({ question: ['Q?'], answers: ['A'], docs: ['Doc.'] }),
      '',
    ].join('\n');
    const { rows } = parseStage1Jsonl(text, 'mem.jsonl');
    expect(rows).toEqual([
      { dataType: 'qa', docs: ['A document.'], questions: ['Q1?', 'Q2?'], answers: ['A1', 'A2'] },
      { dataType: 'paraphrase', docs: ['Doc.'], paraphrase: 'Same.' },
      { dataType: 'qa', docs: ['Doc.'], questions: ['Q?'], answers: ['A'] },
    ]);
  });

  it('names file, line and field of a bad row', () => {
    const path = writeTemp('data.jsonl', [goodQa, goodQa, { ...goodQa, question: ['only one'] }]);
    expect(() => loadStage1File(path)).toThrow(`${path}:3: field "question" must be a list of strings of the same length as "answers"`);
    try {
      loadStage1File(path);
    } catch (error) {
      expect(error).toBeInstanceOf(DataError);
      expect((error as DataError).line).toBe(3);
      expect((error as DataError).field).toBe('question');
    }
    expect(() => parseStage1Jsonl('{"data_type":"summary","answers":["x"],"docs":["d"]}', 'data.jsonl')).toThrow(
      'data.jsonl:1: field "data_type" must be "qa" or "paraphrase"',
    );
    expect(() => parseStage1Jsonl(JSON.stringify({ ...goodQa, docs: ['a', 'b'] }), 'data.jsonl')).toThrow(
      'data.jsonl:1: field "docs" must hold exactly 1 document, found 2',
    );
    expect(() => parseStage1Jsonl('\n{"question": [', 'data.jsonl')).toThrow(/^data\.jsonl:2: invalid JSON/);
    expect(() => parseStage1Jsonl('[1, 2]', 'data.jsonl')).toThrow('data.jsonl:1: row must be a JSON object');
  });

  it('with skipInvalid, skips bad rows and reports each', () => {
    const text = [JSON.stringify(goodQa), '{oops', JSON.stringify({ ...goodQa, answers: 'A1' }), JSON.stringify(goodQa)].join('\n');
    const { rows, warnings } = parseStage1Jsonl(text, 'data.jsonl', { skipInvalid: true });
    expect(rows.length).toBe(2);
    expect(warnings.length).toBe(2);
    expect(warnings[0]).toMatch(/^data\.jsonl:2: invalid JSON/);
    expect(warnings[1]).toBe('data.jsonl:3: field "answers" must be a non-empty list of strings');
  });
});

describe('stage 2 loader', () => {
  it('takes answer, else answers[0], else golden_answers[0]', () => {
    const docs = ['d1', 'd2'];
    const text = [
      { question: 'Q?', docs, answer: 'A', gold_answer: 'G' },
      { question: 'Q?', docs, answers: ['B', 'C'] },
      { question: 'Q?', docs, golden_answers: ['D'] },
    ]
      .map((r) => JSON.stringify(r))
      .join('\n');
    const { rows } = parseStage2Jsonl(text, 's2.jsonl');
    expect(rows.map((r) => r.answer)).toEqual(['A', 'B', 'D']);
    expect(rows[0]!.goldAnswer).toBe('G');
  });

  it('names the missing field', () => {
    const path = writeTemp('s2.jsonl', [{ question: 'Q?', docs: ['d'] }]);
    expect(() => loadStage2File(path)).toThrow(`${path}:1: field "answer" must be a string`);
    expect(() => parseStage2Jsonl('{"question": 3, "docs": ["d"], "answer": "a"}', 's2.jsonl')).toThrow(
      's2.jsonl:1: field "question" must be a non-empty string',
    );
    expect(() => parseStage2Jsonl('{"question": "Q", "docs": ["d"], "answer": "a"}', 's2.jsonl', { docsPerRow: 5 })).toThrow(
      's2.jsonl:1: field "docs" must hold exactly 5 documents, found 1',
    );
  });
});

describe('stage 3 loader', () => {
  it('reads pos_index and checks it points into docs', () => {
    const path = writeTemp('s3.jsonl', [
      { question: 'Q?', docs: ['a', 'b', 'c'], answer: 'x', pos_index: [2] },
      { question: 'Q?', docs: ['a', 'b'], answer: 'x', pos_index: [2] },
    ]);
    expect(() => loadStage3File(path)).toThrow(`${path}:2: field "pos_index" must be a list of integers in [0, 2)`);
    const { rows, warnings } = loadStage3File(path, { skipInvalid: true });
    expect(rows).toEqual([{ question: 'Q?', docs: ['a', 'b', 'c'], answer: 'x', posIndex: [2] }]);
    expect(warnings.length).toBe(1);
    expect(parseStage3Jsonl('{"question":"Q","docs":["a"],"answer":"x"}', 's3.jsonl').rows[0]!.posIndex).toEqual([]);
  });
});
