/**
 * Stage 3 (end to end) rows, docs/clara.md §7:
 *
 *     {"question":str,"docs":[N × str],"answer":str,"pos_index":[int,…]}
 *
 * `docs` are the N candidates the query reasoner ranks; `pos_index` lists the relevant ones (0-based).
 * It feeds recall metrics only, never the loss, and defaults to [] as in the official reader.
 */
import { FieldError } from './dataError.ts';
import { checkDocCount, requireDocs, requireNonEmptyString, type JsonObject } from './fields.ts';
import { loadJsonLinesFile, parseJsonLines, type LoadOptions, type LoadResult } from './jsonLines.ts';
import { resolveAnswer } from './stage2Data.ts';

export interface Stage3Row {
  question: string;
  /** The N candidate documents. */
  docs: string[];
  answer: string;
  /** Indices into `docs` of the relevant documents. */
  posIndex: number[];
}

/** A row as a stage-3 file holds it. */
export interface Stage3Json {
  question: string;
  docs: string[];
  answer: string;
  pos_index: number[];
}

/** The JSON of a row, as `loadStage3File` reads it back (the synthetic corpus writes these). */
export function stage3Json(row: Stage3Row): Stage3Json {
  return { question: row.question, docs: row.docs, answer: row.answer, pos_index: row.posIndex };
}

function parseStage3Row(row: JsonObject, options: LoadOptions = {}): Stage3Row {
  const question = requireNonEmptyString(row, 'question');
  const docs = requireDocs(row, undefined);
  const answer = resolveAnswer(row);
  // Absent means no labels (the official default); null is a mistake, not a way to say so.
  const posIndex = row['pos_index'] === undefined ? [] : row['pos_index'];
  const valid = Array.isArray(posIndex) && posIndex.every((i) => Number.isInteger(i) && i >= 0 && i < docs.length);
  if (!valid) throw new FieldError('pos_index', `must be a list of integers in [0, ${docs.length}) (indices into "docs")`);
  checkDocCount(row, docs, options.docsPerRow);
  return { question, docs, answer, posIndex: posIndex as number[] };
}

/**
 * The row parser of one file: every row must offer as many candidates as the first valid one (or
 * `docsPerRow`), since candidates are scored and batched as one [rows, N] block.
 */
function sameCandidateCount(): (row: JsonObject, options: LoadOptions) => Stage3Row {
  let candidates: number | undefined;
  return (row, options) => {
    const parsed = parseStage3Row(row, { ...options, docsPerRow: options.docsPerRow ?? candidates });
    candidates ??= parsed.docs.length;
    return parsed;
  };
}

export function parseStage3Jsonl(text: string, source: string, options?: LoadOptions): LoadResult<Stage3Row> {
  return parseJsonLines(text, source, sameCandidateCount(), options);
}

export function loadStage3File(path: string, options?: LoadOptions): LoadResult<Stage3Row> {
  return loadJsonLinesFile(path, sameCandidateCount(), options);
}

/** Keeps N candidates per row: the relevant ones, then the others in order (`pos_index` follows). */
export function limitCandidates(rows: readonly Stage3Row[], n: number): Stage3Row[] {
  return rows.map((row) => {
    if (row.docs.length <= n) return row;
    const keep = [...row.posIndex, ...row.docs.map((_, i) => i).filter((i) => !row.posIndex.includes(i))].slice(0, n).sort((a, b) => a - b);
    return { ...row, docs: keep.map((i) => row.docs[i]!), posIndex: row.posIndex.filter((i) => keep.includes(i)).map((i) => keep.indexOf(i)) };
  });
}
