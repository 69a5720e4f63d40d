/**
 * BM25 (Okapi), the lexical baseline the paper compares CLaRa's retrieval with.
 *
 * score(q, d) = Σ over query terms t of  idf(t) · tf(t,d)·(k1+1) / (tf(t,d) + k1·(1 − b + b·|d|/avgdl))
 * with k1 = 1.5, b = 0.75 (the values of the common `rank_bm25` package) and the always-positive
 * Lucene idf, idf(t) = ln(1 + (N − df(t) + 0.5) / (df(t) + 0.5)). A query term counts once per
 * occurrence in the query.
 *
 * Text is lower-cased and cut into runs of Unicode letters and digits; no stemming, no stop words.
 */

export interface Bm25Parameters {
  k1?: number;
  b?: number;
}

export const BM25_DEFAULTS = { k1: 1.5, b: 0.75 } as const;

/** Lower-cased runs of letters and digits: "Where was Kavo born?" → where, was, kavo, born. */
export function bm25Terms(text: string): string[] {
  return text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
}

export class Bm25Index {
  private readonly k1: number;
  private readonly b: number;
  /** Term counts of each document. */
  private readonly termCounts: Map<string, number>[];
  private readonly lengths: number[];
  private readonly averageLength: number;
  /** Number of documents containing each term. */
  private readonly documentFrequency = new Map<string, number>();

  constructor(documents: readonly string[], parameters: Bm25Parameters = {}) {
    this.k1 = parameters.k1 ?? BM25_DEFAULTS.k1;
    this.b = parameters.b ?? BM25_DEFAULTS.b;
    this.termCounts = documents.map((document) => {
      const counts = new Map<string, number>();
      for (const term of bm25Terms(document)) counts.set(term, (counts.get(term) ?? 0) + 1);
      return counts;
    });
    this.lengths = documents.map((document) => bm25Terms(document).length);
    this.averageLength = this.lengths.reduce((a, b) => a + b, 0) / Math.max(1, documents.length);
    for (const counts of this.termCounts) {
      for (const term of counts.keys()) this.documentFrequency.set(term, (this.documentFrequency.get(term) ?? 0) + 1);
    }
  }

  get size(): number {
    return this.termCounts.length;
  }

  idf(term: string): number {
    const df = this.documentFrequency.get(term) ?? 0;
    return Math.log(1 + (this.size - df + 0.5) / (df + 0.5));
  }

  /** BM25 score of every document for `query`: (size) numbers. */
  scores(query: string): number[] {
    const terms = bm25Terms(query);
    return this.termCounts.map((counts, doc) => {
      const lengthNorm = 1 - this.b + (this.b * this.lengths[doc]!) / (this.averageLength || 1);
      let score = 0;
      for (const term of terms) {
        const tf = counts.get(term) ?? 0;
        if (tf > 0) score += (this.idf(term) * tf * (this.k1 + 1)) / (tf + this.k1 * lengthNorm);
      }
      return score;
    });
  }

  /** Document indices, best first; equal scores keep index order. */
  rank(query: string): number[] {
    const scores = this.scores(query);
    return scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  }
}

/**
 * Ranks a question's candidate documents (a stage-3 row's `docs`), best first, with term statistics
 * taken from those candidates. (To use a whole collection's statistics, build one `Bm25Index` over
 * it and compare the candidates' entries of `scores`.)
 */
export function rankCandidatesBm25(question: string, candidates: readonly string[], parameters: Bm25Parameters = {}): number[] {
  return new Bm25Index(candidates, parameters).rank(question);
}
