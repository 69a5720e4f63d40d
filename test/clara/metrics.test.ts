import { describe, expect, it } from 'vitest';
import { coverMatch, exactMatch, f1Score, meanRecall, normalizeAnswer, recallAtK, scoreAnswers } from '../../clara/eval/metrics.ts';

describe('answer normalisation (docs/clara.md §8, official evaluate.py)', () => {
  it('lower-cases, drops ASCII punctuation and the articles a/an/the, collapses white space', () => {
    expect(normalizeAnswer('The Eiffel Tower!')).toBe('eiffel tower');
    expect(normalizeAnswer('  A  cat,  an apple\tand THE dog. ')).toBe('cat apple and dog');
    expect(normalizeAnswer("l'amour, (1999)")).toBe('lamour 1999');
    // Articles only as whole words: "theatre", "banana" and "a1" stay.
    expect(normalizeAnswer('theatre banana a1')).toBe('theatre banana a1');
    // Punctuation goes first, so "the_end" → "theend" and "a-b" → "ab".
    expect(normalizeAnswer('the_end a-b')).toBe('theend ab');
    // Python's \b is Unicode-aware: "théa" keeps its "a", while "é a" loses it.
    expect(normalizeAnswer('théa é a')).toBe('théa é');
    // White space is Python's: \x1c and \x85 split, \ufeff does not (JavaScript's \s says the opposite).
    expect(normalizeAnswer('a\x1cb\x85c\ufeffd')).toBe('b c\ufeffd');
    // Non-ASCII punctuation stays.
    expect(normalizeAnswer('«yes»')).toBe('«yes»');
  });

  it('maps exactly "True" and "False" to yes and no', () => {
    expect(normalizeAnswer('True')).toBe('yes');
    expect(normalizeAnswer('False')).toBe('no');
    expect(normalizeAnswer('true')).toBe('true');
    expect(normalizeAnswer('True.')).toBe('true');
  });
});

describe('EM, F1, cover accuracy', () => {
  it('EM compares normalised strings, against the first gold answer only', () => {
    expect(exactMatch('the Paris.', 'Paris')).toBe(1);
    expect(exactMatch('Paris, France', 'Paris')).toBe(0);
    expect(exactMatch('True', 'yes')).toBe(1);
    expect(exactMatch('Lyon', ['Paris', 'Lyon'])).toBe(0);
  });

  it('F1 is the SQuAD token overlap', () => {
    expect(f1Score('Paris France', 'Paris')).toBeCloseTo(2 / 3, 12);
    // Tokens count with multiplicity: common = {y, y}, precision = recall = 2/3.
    expect(f1Score('x y y', 'y y z')).toBeCloseTo(2 / 3, 12);
    expect(f1Score('the cat sat', 'a cat')).toBeCloseTo((2 * 0.5 * 1) / 1.5, 12);
    expect(f1Score('dog', 'cat')).toBe(0);
    expect(f1Score('', '')).toBe(0);
  });

  it('F1 is 0 when either side is yes/no/noanswer and they differ', () => {
    expect(f1Score('yes', 'no')).toBe(0);
    expect(f1Score('no', 'no way')).toBe(0);
    expect(f1Score('noanswer', 'no answer')).toBe(0);
    expect(f1Score('yes it is', 'yes')).toBe(0);
    expect(f1Score('True', 'yes')).toBe(1);
  });

  it('cover accuracy asks for every gold token in the prediction', () => {
    expect(coverMatch('He was born in Paris, France.', 'paris')).toBe(1);
    expect(coverMatch('Paris', 'Paris France')).toBe(0);
    expect(coverMatch('anything', 'the')).toBe(1);
  });

  it('averages over a set', () => {
    const scores = scoreAnswers(['Paris', 'Lyon', 'Paris France'], ['Paris', 'Nice', ['Paris']]);
    expect(scores.em).toBeCloseTo(1 / 3, 12);
    expect(scores.f1).toBeCloseTo((1 + 0 + 2 / 3) / 3, 12);
    expect(scores.acc).toBeCloseTo(2 / 3, 12);
    expect(scores.count).toBe(3);
  });
});

describe('recall@k', () => {
  it('is |gold ∩ top-k| / |gold|', () => {
    expect(recallAtK([3, 1, 2], [1], 1)).toBe(0);
    expect(recallAtK([3, 1, 2], [1], 3)).toBe(1);
    expect(recallAtK([0, 1, 2], [0, 5], 1)).toBe(0.5);
    expect(recallAtK([0, 1, 2], [], 3)).toBe(0);
    expect(
      meanRecall(
        [
          [0, 1, 2],
          [2, 1, 0],
        ],
        [[0], [0]],
      ),
    ).toEqual({ 1: 0.5, 3: 1, 5: 1 });
  });
});
