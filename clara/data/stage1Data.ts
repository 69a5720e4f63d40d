/**
 * Stage 1 (salient compressor pretraining) rows, docs/clara.md §7:
 *
 *     {"data_type":"qa","question":[q1,…],"answers":[a1,…],"docs":[document]}
 *     {"data_type":"paraphrase","answers":["<paraphrase>"],"docs":[document]}
 *
 * `data_type` defaults to "qa" as in the official reader. Stage 1 gives the generator one document,
 * so `docs` must hold exactly one unless `docsPerRow` says otherwise.
 */
import { FieldError } from './dataError.ts';
import { checkText, isStringList, requireDocs, requireStringList, type JsonObject } from './fields.ts';
import { loadJsonLinesFile, parseJsonLines, type LoadOptions, type LoadResult } from './jsonLines.ts';

export type Stage1Row =
  /** `questions[i]` is answered by `answers[i]`; all pairs become one target. */
  { dataType: 'qa'; docs: string[]; questions: string[]; answers: string[] } | { dataType: 'paraphrase'; docs: string[]; paraphrase: string };

/** A row as a stage-1 file holds it. */
export type Stage1Json =
  | { data_type: 'qa'; question: string[]; answers: string[]; docs: string[] }
  | { data_type: 'paraphrase'; answers: string[]; docs: string[] };

/** The JSON of a row, as `loadStage1File` reads it back (the synthetic corpus writes these). */
export function stage1Json(row: Stage1Row): Stage1Json {
  return row.dataType === 'qa'
    ? { data_type: 'qa', question: row.questions, answers: row.answers, docs: row.docs }
    : { data_type: 'paraphrase', answers: [row.paraphrase], docs: row.docs };
}

function parseStage1Row(row: JsonObject, options: LoadOptions = {}): Stage1Row {
  const dataType = row['data_type'] ?? 'qa';
  if (dataType !== 'qa' && dataType !== 'paraphrase') throw new FieldError('data_type', 'must be "qa" or "paraphrase"');
  const docs = requireDocs(row, options.docsPerRow ?? 1);
  if (dataType === 'paraphrase') {
    const answers = requireStringList(row, 'answers');
    return { dataType, docs, paraphrase: answers[0]! };
  }
  const answers = requireStringList(row, 'answers');
  const questions = row['question'];
  if (!isStringList(questions) || questions.length !== answers.length) {
    throw new FieldError('question', 'must be a list of strings of the same length as "answers"');
  }
  questions.forEach((q, i) => {
    checkText(q, `question[${i}]`);
  });
  return { dataType, docs, questions, answers };
}

export function parseStage1Jsonl(text: string, source: string, options?: LoadOptions): LoadResult<Stage1Row> {
  return parseJsonLines(text, source, parseStage1Row, options);
}

export function loadStage1File(path: string, options?: LoadOptions): LoadResult<Stage1Row> {
  return loadJsonLinesFile(path, parseStage1Row, options);
}
