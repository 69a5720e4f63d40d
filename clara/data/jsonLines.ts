/**
 * Reading and writing JSON Lines (one JSON object per line), with the loop every row format shares:
 * parse each line, hand the object to the format's row parser, and either stop at the first bad row
 * (`DataError` with file, line and field) or, with `skipInvalid`, collect the message and go on.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { DataError, FieldError } from './dataError.ts';
import { findDuplicateKey } from '../../engine/io/index.ts';
import type { JsonObject } from './fields.ts';
import { readTextLines, withoutBom } from './textFile.ts';

export interface LoadOptions {
  /** Skip bad rows instead of throwing; their messages go to `warnings`. */
  skipInvalid?: boolean;
  /** Exact number of documents a row must hold (stage 1 defaults to 1). */
  docsPerRow?: number;
}

export interface LoadResult<Row> {
  rows: Row[];
  /** One message per skipped row, `file:line: …` (empty unless `skipInvalid`). */
  warnings: string[];
}

/** Turns a JSON object into a typed row, or throws `FieldError`. */
export type RowParser<Row> = (row: JsonObject, options: LoadOptions) => Row;

/**
 * Parses JSON Lines text. `source` names the file in messages. Blank lines are ignored (their line
 * numbers still count, so messages match an editor's).
 */
export function parseJsonLines<Row>(text: string, source: string, parseRow: RowParser<Row>, options: LoadOptions = {}): LoadResult<Row> {
  return parseLines(withoutBom(text).split(/\r?\n/), source, parseRow, options);
}

function parseLines<Row>(lines: readonly string[], source: string, parseRow: RowParser<Row>, options: LoadOptions): LoadResult<Row> {
  const result: LoadResult<Row> = { rows: [], warnings: [] };
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const lineNumber = index + 1;
    try {
      result.rows.push(parseRow(parseObject(line), options));
    } catch (error) {
      if (!(error instanceof FieldError)) throw error;
      const dataError = new DataError(source, lineNumber, error.field, error.detail);
      if (!options.skipInvalid) throw dataError;
      result.warnings.push(dataError.message);
    }
  });
  return result;
}

/** Reads and parses a JSON Lines file; messages name it as `path` was given. */
export function loadJsonLinesFile<Row>(path: string, parseRow: RowParser<Row>, options: LoadOptions = {}): LoadResult<Row> {
  return parseLines(readTextLines(path), path, parseRow, options);
}

/** Writes rows as JSON Lines (creating the folder), one object per line, ending in a newline. */
export function writeJsonLines(path: string, rows: readonly unknown[]): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, rows.map((row) => JSON.stringify(row)).join('\n') + (rows.length > 0 ? '\n' : ''));
}

function parseObject(line: string): JsonObject {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (error) {
    throw new FieldError(undefined, `invalid JSON (${(error as Error).message})`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new FieldError(undefined, 'row must be a JSON object');
  }
  const duplicate = findDuplicateKey(line)?.key ?? null;
  if (duplicate !== null) throw new FieldError(duplicate, 'appears twice in one object (JSON would silently keep only the last)');
  return value as JsonObject;
}
