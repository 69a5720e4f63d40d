/**
 * Stage 2 (compression instruction tuning) rows, docs/clara.md §7:
 *
 *     {"question":str,"docs":[5 × str],"answer":str,"gold_answer":str}
 *
 * The training target is `answer`, else `answers[0]`, else `golden_answers[0]`, in that order.
 */
import { FieldError } from './dataError.ts';
import { checkText, isStringList, requireDocs, requireNonEmptyString, type JsonObject } from './fields.ts';
import { loadJsonLinesFile, parseJsonLines, type LoadOptions, type LoadResult } from './jsonLines.ts';
import type { Stage1Row } from './stage1Data.ts';

export interface Stage2Row {
  question: string;
  /** The k documents the generator gets, in order. */
  docs: string[];
  /** The target the generator learns to write. */
  answer: string;
  goldAnswer?: string;
}

/** A row as a stage-2 file holds it. */
export interface Stage2Json {
  question: string;
  docs: string[];
  answer: string;
  gold_answer?: string;
}

/** The JSON of a row, as `loadStage2File` reads it back (the synthetic corpus writes these). */
export function stage2Json(row: Stage2Row): Stage2Json {
  return { question: row.question, docs: row.docs, answer: row.answer, ...(row.goldAnswer === undefined ? {} : { gold_answer: row.goldAnswer }) };
}

/**
 * Stage-1 `qa` rows as stage-2 rows: each question asked in the answer prompt with its row's
 * document, the answer the whole target (`paraphrase` rows have no question and are left out). This
 * is how the demo's stage 2 trains on its pretraining people (clara/demo/demoModel.ts).
 */
export function answerRowsFromQa(rows: readonly Stage1Row[]): Stage2Row[] {
  return rows.flatMap((row) =>
    row.dataType === 'qa' ? row.questions!.map((question, i) => ({ question, docs: [row.docs[0]!], answer: row.answers![i]! })) : [],
  );
}

/** The target answer of a stage-2 or stage-3 row, by the official precedence. */
export function resolveAnswer(row: JsonObject): string {
  if (typeof row['answer'] === 'string') return checkText(row['answer'], 'answer');
  for (const field of ['answers', 'golden_answers']) {
    const list = row[field];
    if (isStringList(list) && list.length > 0) return checkText(list[0]!, `${field}[0]`);
  }
  throw new FieldError('answer', 'must be a string (or "answers" / "golden_answers" a non-empty list of strings)');
}

function parseStage2Row(row: JsonObject, options: LoadOptions = {}): Stage2Row {
  const question = requireNonEmptyString(row, 'question');
  const docs = requireDocs(row, options.docsPerRow);
  const answer = resolveAnswer(row);
  const parsed: Stage2Row = { question, docs, answer };
  if (row['gold_answer'] !== undefined) {
    if (typeof row['gold_answer'] !== 'string') throw new FieldError('gold_answer', 'must be a string');
    parsed.goldAnswer = row['gold_answer'];
  }
  return parsed;
}

export function parseStage2Jsonl(text: string, source: string, options?: LoadOptions): LoadResult<Stage2Row> {
  return parseJsonLines(text, source, parseStage2Row, options);
}

export function loadStage2File(path: string, options?: LoadOptions): LoadResult<Stage2Row> {
  return loadJsonLinesFile(path, parseStage2Row, options);
}
