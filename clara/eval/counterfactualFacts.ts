import { Generator } from '../../engine/index.ts';
import { answerQuestions } from '../answering.ts';
import type { ClaraModel } from '../claraModel.ts';
import type { SyntheticCorpus } from '../data/synth.ts';
import { compressCorpus } from '../retrieval/documentBank.ts';
import { scoreAnswers, type AnswerScores } from './metrics.ts';
import type { ProbeFact } from './readingProbe.ts';

/**
 * Counterfactual documents, the sharper test of reading (docs/clara.md §4): each fact's own
 * document with the fact's value replaced by another value of the same attribute from the corpus
 * ("Tonve works as a plumber" → "… as a nurse"). Given it, a generator that reads the memory
 * tokens answers the new value; one that reads only *who* the document is about and answers from
 * what it memorised answers the old one. The other-document check of readingProbe cannot tell the
 * two apart, since another person's document also names another person.
 *
 * Returns the changed documents (`documents[i]` for `questions[i]`) and the facts to probe with,
 * asking for the new value (`swapped`) and for the old (`original`), both pointing at
 * `documents[i]` as bank row i. The replacement is drawn from `Generator(seed)`.
 */
export function counterfactualFacts(
  corpus: SyntheticCorpus,
  questions: readonly SyntheticCorpus['questions'][number][],
  seed = 0,
): { documents: string[]; swapped: ProbeFact[]; original: ProbeFact[] } {
  const rng = new Generator(seed);
  const valuesOf = new Map<string, string[]>();
  for (const q of corpus.questions) {
    const values = valuesOf.get(q.attribute) ?? [];
    if (!values.includes(q.answer)) values.push(q.answer);
    valuesOf.set(q.attribute, values);
  }
  const documents: string[] = [];
  const swapped: ProbeFact[] = [];
  const original: ProbeFact[] = [];
  questions.forEach((q, i) => {
    const others = valuesOf.get(q.attribute)!.filter((v) => v !== q.answer);
    if (others.length === 0) throw new Error(`counterfactualFacts: the corpus has no other value of ${q.attribute} than '${q.answer}'`);
    const value = others[rng.int(others.length)]!;
    const document = corpus.documents[q.entityId]!;
    // The value with its article when it has one ("a plumber"), so "an" follows a vowel as in synth.
    const pattern = new RegExp(`(\\b(?:a|an) )?\\b${q.answer}\\b`, 'g');
    const matches = document.match(pattern) ?? [];
    if (matches.length !== 1) throw new Error(`counterfactualFacts: '${q.answer}' occurs ${matches.length} times in document ${q.entityId}, not once`);
    documents.push(document.replace(pattern, (_, article?: string) => (article === undefined ? value : `${/^[aeiou]/.test(value) ? 'an' : 'a'} ${value}`)));
    swapped.push({ question: q.question, answer: value, document: i });
    original.push({ question: q.question, answer: q.answer, document: i });
  });
  return { documents, swapped, original };
}

/**
 * The same test on generated answers (the demo's "changed doc" rows): each question asked with its
 * counterfactual document as the only document, the answers scored against the new value (read
 * from the memory tokens) and against the old one (recalled from the generator's weights).
 */
export async function counterfactualAnswers(
  clara: ClaraModel,
  corpus: SyntheticCorpus,
  questions: readonly SyntheticCorpus['questions'][number][],
  options: { seed?: number; maxNewTokens?: number } = {},
): Promise<{ newValue: AnswerScores; oldValue: AnswerScores }> {
  const { documents, swapped, original } = counterfactualFacts(corpus, questions, options.seed);
  const bank = compressCorpus(clara, documents);
  try {
    const answers = await answerQuestions(
      clara,
      bank,
      swapped.map((f) => f.question),
      swapped.map((f) => [f.document]),
      { maxNewTokens: options.maxNewTokens },
    );
    return {
      newValue: scoreAnswers(
        answers,
        swapped.map((f) => f.answer),
      ),
      oldValue: scoreAnswers(
        answers,
        original.map((f) => f.answer),
      ),
    };
  } finally {
    bank.dispose();
  }
}
