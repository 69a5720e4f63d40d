/**
 * Errors about one row of a data file, worded so a user can go straight to it:
 * `data.jsonl:17: field "question" must be a list of strings of the same length as "answers"`.
 */

/** A problem with one field of a row, before we know which file and line the row came from. */
export class FieldError extends Error {
  override name = 'FieldError';
  constructor(
    readonly field: string | undefined,
    readonly detail: string,
  ) {
    super(field === undefined ? detail : `field "${field}" ${detail}`);
  }
}

/** A bad row: file, 1-based line number, the field at fault (when one is), and what is wrong. */
export class DataError extends Error {
  override name = 'DataError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly field: string | undefined,
    readonly detail: string,
  ) {
    super(`${file}:${line}: ${field === undefined ? detail : `field "${field}" ${detail}`}`);
  }
}
