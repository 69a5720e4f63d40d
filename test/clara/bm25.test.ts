import { describe, expect, it } from 'vitest';
import { BM25_DEFAULTS, Bm25Index, bm25Terms, rankCandidatesBm25 } from '../../clara/retrieval/bm25.ts';
import { generateSyntheticCorpus } from '../../clara/data/synth.ts';
import { meanRecall } from '../../clara/eval/metrics.ts';

describe('BM25', () => {
  it('uses k1 = 1.5, b = 0.75 and the Lucene idf', () => {
    expect(BM25_DEFAULTS).toEqual({ k1: 1.5, b: 0.75 });
    expect(bm25Terms('Where was Kavo born? 1999!')).toEqual(['where', 'was', 'kavo', 'born', '1999']);
    // Two documents of equal length, "a" in one: idf = ln(1 + 1.5/1.5) = ln 2, tf part = 2.5/2.5.
    const index = new Bm25Index(['a b', 'b c']);
    const scores = index.scores('a');
    expect(scores[0]).toBeCloseTo(Math.log(2), 12);
    expect(scores[1]).toBe(0);
  });

  it('ranks the obvious document first', () => {
    const candidates = ['Mira Tenn was born in Ostbury.', 'The favourite colour of Lodo Pell is teal.', 'Kavo Drelin works as a baker in Greford.'];
    expect(rankCandidatesBm25('What does Kavo Drelin do for a living?', candidates)[0]).toBe(2);
    expect(rankCandidatesBm25('What is the favourite colour of Lodo Pell?', candidates)[0]).toBe(1);
  });

  it('finds the gold document of most synthetic questions (the lexical baseline)', () => {
    const corpus = generateSyntheticCorpus({ seed: 1, entities: 100 });
    const rows = corpus.stage3HeldOut;
    const recall = meanRecall(
      rows.map((r) => rankCandidatesBm25(r.question, r.docs)),
      rows.map((r) => r.posIndex),
    );
    expect(recall[1]).toBeGreaterThan(0.9);
  });
});
