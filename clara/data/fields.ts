/**
 * Checks on the fields of one JSON row. Each returns the value with its TypeScript type or throws a
 * `FieldError` naming the field; the loader adds file and line.
 */
import { FieldError } from './dataError.ts';

export type JsonObject = Record<string, unknown>;

/** In a `u` regular expression a valid surrogate pair is one code point, so only a lone half matches. */
const LONE_SURROGATE = /\p{Cs}/u;

export function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

/**
 * `value` as text a model can read: not blank (an empty question or document trains on nothing
 * and skews the batch's mean), and with no lone UTF-16 surrogate (a `\ud800` escape in JSON, which
 * no tokenizer can encode to UTF-8).
 */
export function checkText(value: string, field: string): string {
  if (value.trim() === '') throw new FieldError(field, 'must not be empty or blank');
  if (LONE_SURROGATE.test(value)) throw new FieldError(field, 'holds a lone UTF-16 surrogate (an unpaired \\uD800–\\uDFFF escape)');
  return value;
}

export function requireNonEmptyString(row: JsonObject, field: string): string {
  const value = row[field];
  if (typeof value !== 'string') throw new FieldError(field, 'must be a non-empty string');
  return checkText(value, field);
}

export function requireStringList(row: JsonObject, field: string): string[] {
  const value = row[field];
  if (!isStringList(value) || value.length === 0) throw new FieldError(field, 'must be a non-empty list of strings');
  value.forEach((item, i) => {
    checkText(item, `${field}[${i}]`);
  });
  return value;
}

/**
 * The documents of a row. The official reader takes `docs`, else `context`, else `content` (each a
 * list); `docsPerRow`, when given, is the exact count required.
 */
export function requireDocs(row: JsonObject, docsPerRow: number | undefined): string[] {
  const field = ['docs', 'context', 'content'].find((name) => Array.isArray(row[name])) ?? 'docs';
  const docs = requireStringList(row, field);
  checkDocCount(row, docs, docsPerRow);
  return docs;
}

/** Throws unless `docs` (the documents `requireDocs` found in `row`) number exactly `docsPerRow`, when given. */
export function checkDocCount(row: JsonObject, docs: readonly string[], docsPerRow: number | undefined): void {
  if (docsPerRow !== undefined && docs.length !== docsPerRow) {
    const field = ['docs', 'context', 'content'].find((name) => row[name] === docs) ?? 'docs';
    throw new FieldError(field, `must hold exactly ${docsPerRow} document${docsPerRow === 1 ? '' : 's'}, found ${docs.length}`);
  }
}
