/**
 * Answer and retrieval metrics of CLaRa's evaluation (docs/clara.md §8), re-derived from the
 * official evaluation/evaluate.py so the numbers compare with published ones:
 *
 * - normalisation: exact "True"/"False" → "yes"/"no", lower-case, drop ASCII punctuation, replace the
 *   words a/an/the by a space, collapse white space (Python's `str.split()` white space);
 * - EM: normalised strings equal;
 * - F1: SQuAD token-overlap F1 of the normalised strings, 0 when either side normalises to
 *   yes/no/noanswer and they differ;
 * - cover accuracy ("acc"): every token of the gold answer appears among the prediction's tokens;
 * - recall@k = |gold ∩ top-k| / |gold| (0 when there is no gold document).
 *
 * Only the first gold answer is scored, as the official script does.
 */

/** Python's `string.punctuation`: the 32 ASCII punctuation characters. */
const ASCII_PUNCTUATION = new Set('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~');
/** Python's `\b(a|an|the)\b` on str: word characters are Unicode letters, digits and `_`. */
const ARTICLES = /(?<![\p{L}\p{N}_])(?:a|an|the)(?![\p{L}\p{N}_])/gu;
/** The characters Python's `str.split()` splits on (JavaScript's `\s` differs in a few). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: Python counts the separators \x1c-\x1f as whitespace
const PYTHON_WHITESPACE = /[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+/;

/** "True" → "yes", "False" → "no", anything else unchanged (exact match on the raw string). */
function mapBoolean(text: string): string {
  return text === 'True' ? 'yes' : text === 'False' ? 'no' : text;
}

/** The official normalisation: boolean mapping, lower case, no punctuation, no articles, single spaces. */
export function normalizeAnswer(text: string): string {
  const lower = mapBoolean(text).toLowerCase();
  const noPunctuation = [...lower].filter((ch) => !ASCII_PUNCTUATION.has(ch)).join('');
  const noArticles = noPunctuation.replace(ARTICLES, ' ');
  return pythonSplit(noArticles).join(' ');
}

function pythonSplit(text: string): string[] {
  return text.split(PYTHON_WHITESPACE).filter((token) => token.length > 0);
}

function firstGold(gold: string | readonly string[]): string {
  if (typeof gold === 'string') return gold;
  if (gold.length === 0) throw new Error('no gold answer to score against');
  return gold[0]!;
}

/** 1 when prediction and (first) gold answer normalise to the same string, else 0. */
export function exactMatch(prediction: string, gold: string | readonly string[]): number {
  return normalizeAnswer(prediction) === normalizeAnswer(firstGold(gold)) ? 1 : 0;
}

/** SQuAD token F1 in [0, 1]. */
export function f1Score(prediction: string, gold: string | readonly string[]): number {
  const predicted = normalizeAnswer(prediction);
  const expected = normalizeAnswer(firstGold(gold));
  const closedAnswers = ['yes', 'no', 'noanswer'];
  if ((closedAnswers.includes(predicted) || closedAnswers.includes(expected)) && predicted !== expected) return 0;
  const predictedTokens = predicted.split(' ').filter((t) => t.length > 0);
  const expectedTokens = expected.split(' ').filter((t) => t.length > 0);
  // Tokens in common, counted with multiplicity (Python's Counter intersection).
  const remaining = new Map<string, number>();
  for (const token of expectedTokens) remaining.set(token, (remaining.get(token) ?? 0) + 1);
  let common = 0;
  for (const token of predictedTokens) {
    const left = remaining.get(token) ?? 0;
    if (left > 0) {
      common++;
      remaining.set(token, left - 1);
    }
  }
  if (common === 0) return 0;
  const precision = common / predictedTokens.length;
  const recall = common / expectedTokens.length;
  return (2 * precision * recall) / (precision + recall);
}

/** Cover accuracy: 1 when every normalised gold token occurs in the normalised prediction, else 0. */
export function coverMatch(prediction: string, gold: string | readonly string[]): number {
  const predictedTokens = new Set(normalizeAnswer(prediction).split(' '));
  const expectedTokens = normalizeAnswer(firstGold(gold))
    .split(' ')
    .filter((t) => t.length > 0);
  return expectedTokens.every((token) => predictedTokens.has(token)) ? 1 : 0;
}

export interface AnswerScores {
  em: number;
  f1: number;
  /** Cover accuracy. */
  acc: number;
  count: number;
}

/** Mean EM, F1 and cover accuracy over paired predictions and gold answers. */
export function scoreAnswers(predictions: readonly string[], golds: readonly (string | readonly string[])[]): AnswerScores {
  if (predictions.length !== golds.length) throw new Error(`scoreAnswers: ${predictions.length} predictions for ${golds.length} gold answers`);
  const count = predictions.length;
  if (count === 0) return { em: 0, f1: 0, acc: 0, count };
  let em = 0;
  let f1 = 0;
  let acc = 0;
  predictions.forEach((prediction, i) => {
    em += exactMatch(prediction, golds[i]!);
    f1 += f1Score(prediction, golds[i]!);
    acc += coverMatch(prediction, golds[i]!);
  });
  return { em: em / count, f1: f1 / count, acc: acc / count, count };
}

/** |gold ∩ top-k| / |gold| for one question; `ranking` lists document indices, best first. */
export function recallAtK(ranking: readonly number[], gold: readonly number[], k: number): number {
  const relevant = new Set(gold);
  if (relevant.size === 0) return 0;
  const topK = new Set(ranking.slice(0, k));
  let hits = 0;
  for (const doc of topK) if (relevant.has(doc)) hits++;
  return hits / relevant.size;
}

/** Mean recall@k over questions, for each k (default 1, 3, 5): `{ 1: …, 3: …, 5: … }`. */
export function meanRecall(
  rankings: readonly (readonly number[])[],
  golds: readonly (readonly number[])[],
  ks: readonly number[] = [1, 3, 5],
): Record<number, number> {
  if (rankings.length !== golds.length) throw new Error(`meanRecall: ${rankings.length} rankings for ${golds.length} gold lists`);
  const result: Record<number, number> = {};
  for (const k of ks) {
    let sum = 0;
    rankings.forEach((ranking, i) => {
      sum += recallAtK(ranking, golds[i]!, k);
    });
    result[k] = rankings.length === 0 ? 0 : sum / rankings.length;
  }
  return result;
}
