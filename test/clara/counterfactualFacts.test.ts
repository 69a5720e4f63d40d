import { describe, expect, it } from 'vitest';
import { generateSyntheticCorpus } from '../../clara/data/synth.ts';
import { counterfactualFacts } from '../../clara/eval/counterfactualFacts.ts';

describe('counterfactualFacts', () => {
  const corpus = generateSyntheticCorpus({ seed: 4, entities: 60, candidates: 10, namePool: 8 });
  const questions = corpus.questions.slice(0, 80);

  it("changes only the fact's value (and its article) in the fact's own document, to another value of the same attribute", () => {
    const { documents, swapped, original } = counterfactualFacts(corpus, questions, 1);
    expect(documents).toHaveLength(questions.length);
    const valuesOf = (attribute: string) => new Set(corpus.questions.filter((q) => q.attribute === attribute).map((q) => q.answer));
    questions.forEach((q, i) => {
      const before = corpus.documents[q.entityId]!;
      const after = documents[i]!;
      const value = swapped[i]!.answer;
      expect(original[i]).toEqual({ question: q.question, answer: q.answer, document: i });
      expect(swapped[i]).toEqual({ question: q.question, answer: value, document: i });
      expect(value).not.toBe(q.answer);
      expect(valuesOf(q.attribute).has(value)).toBe(true);
      // Put the old value back (and its article) and the original document returns.
      const restored = after
        .replace(new RegExp(`\\b(an?) ${value}\\b`), `${/^[aeiou]/.test(q.answer) ? 'an' : 'a'} ${q.answer}`)
        .replace(new RegExp(`\\b${value}\\b`), q.answer);
      expect(restored).toBe(before);
      expect(after).not.toMatch(/\ba [aeiou]/);
      expect(after).not.toMatch(/\ban [^aeiou ]/);
    });
    expect(counterfactualFacts(corpus, questions, 1).documents).toEqual(documents);
    expect(counterfactualFacts(corpus, questions, 2).documents).not.toEqual(documents);
  });

  it('refuses a value it cannot find once in the document', () => {
    const broken = { ...corpus, documents: corpus.documents.map(() => 'Nobody here.') };
    expect(() => counterfactualFacts(broken, questions.slice(0, 1))).toThrow(/occurs 0 times in document/);
  });
});
