/**
 * Checks on the fields of one JSON row. Each returns the value with its TypeScript type or throws a
 * `FieldError` naming the field; the loader adds file and line.
 */
import { FieldError } from './dataError.ts';

export type JsonObject = Record<string, unknown>;

export function isStringList(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string');
}

export function requireNonEmptyString(row: JsonObject, field: string): string {
  const value = row[field];
  if (typeof value !== 'string' || value.length === 0) throw new FieldError(field, 'must be a non-empty string');
  return value;
}

export function requireStringList(row: JsonObject, field: string): string[] {
  const value = row[field];
  if (!isStringList(value) || value.length === 0) throw new FieldError(field, 'must be a non-empty list of strings');
  return value;
}

/**
 * The documents of a row. The official reader takes `docs`, else `context`, else `content` (each a
 * list); `docsPerRow`, when given, is the exact count required.
 */
export function requireDocs(row: JsonObject, docsPerRow: number | undefined): string[] {
  const field = ['docs', 'context', 'content'].find((name) => Array.isArray(row[name])) ?? 'docs';
  const docs = requireStringList(row, field);
  if (docsPerRow !== undefined && docs.length !== docsPerRow) {
    throw new FieldError(field, `must hold exactly ${docsPerRow} document${docsPerRow === 1 ? '' : 's'}, found ${docs.length}`);
  }
  return docs;
}
