import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateSyntheticCorpus, QUESTION_WORDINGS, type SyntheticCorpus } from '../../clara/data/synth.ts';
import { writeSyntheticCorpus, type SynthSplit } from '../../clara/data/writeSynthCorpus.ts';
import { loadStage1File } from '../../clara/data/stage1Data.ts';
import { loadStage2File } from '../../clara/data/stage2Data.ts';
import { loadStage3File } from '../../clara/data/stage3Data.ts';

const corpus = generateSyntheticCorpus({ seed: 7, entities: 120, candidates: 20, generationTopK: 5 });

/** True when `text` mentions `name` as whole words. */
function mentions(text: string, name: string): boolean {
  return new RegExp(`(^|[^A-Za-z])${name}([^A-Za-z]|$)`).test(text);
}

function entityOfQuestion(c: SyntheticCorpus, question: string) {
  const matches = c.entities.filter((e) => mentions(question, e.fullName));
  expect(matches.length).toBe(1);
  return matches[0]!;
}

describe('synthetic corpus', () => {
  it('is deterministic for a seed and changes with it', () => {
    const again = generateSyntheticCorpus({ seed: 7, entities: 120, candidates: 20, generationTopK: 5 });
    expect(JSON.stringify(again)).toBe(JSON.stringify(corpus));
    const other = generateSyntheticCorpus({ seed: 8, entities: 120, candidates: 20, generationTopK: 5 });
    expect(JSON.stringify(other.documents)).not.toBe(JSON.stringify(corpus.documents));
  });

  it('gives every person a unique name and surname, 2-4 facts, and a short document stating them all', () => {
    const names = new Set(corpus.entities.map((e) => e.fullName));
    const surnames = new Set(corpus.entities.map((e) => e.lastName));
    expect(names.size).toBe(corpus.entities.length);
    expect(surnames.size).toBe(corpus.entities.length);
    for (const entity of corpus.entities) {
      expect(entity.facts.length).toBeGreaterThanOrEqual(2);
      expect(entity.facts.length).toBeLessThanOrEqual(4);
      const document = corpus.documents[entity.id]!;
      expect(document.split(' ').length).toBeLessThanOrEqual(35);
      for (const fact of entity.facts) expect(mentions(document, fact.value)).toBe(true);
      // The surname appears in this document only.
      expect(corpus.documents.filter((d) => mentions(d, entity.lastName)).length).toBe(1);
    }
  });

  it('pooled names: first names and surnames shared across people, full names unique', () => {
    const pooled = generateSyntheticCorpus({ seed: 7, entities: 120, candidates: 20, generationTopK: 5, namePool: 12 });
    expect(new Set(pooled.entities.map((e) => e.fullName)).size).toBe(120);
    const firstNames = new Set(pooled.entities.map((e) => e.firstName));
    const surnames = new Set(pooled.entities.map((e) => e.lastName));
    expect(firstNames.size).toBeLessThanOrEqual(12);
    expect(surnames.size).toBeLessThanOrEqual(12);
    // No pool word doubles as the other pool's word or a town, so a full name still picks one person.
    for (const name of firstNames) expect(surnames.has(name)).toBe(false);
    for (const row of pooled.stage3Train) {
      const entity = entityOfQuestion(pooled, row.question);
      expect(row.docs.filter((d) => mentions(d, entity.fullName))).toEqual([row.docs[row.posIndex[0]!]]);
    }
  });

  it("stage3Wordings 'both' adds each trained question in its other wording, and changes nothing else", () => {
    const both = generateSyntheticCorpus({ seed: 7, entities: 120, candidates: 20, generationTopK: 5, stage3Wordings: 'both' });
    const trained = corpus.stage3Train.length;
    expect(both.stage3Train.length).toBe(2 * trained);
    expect(both.stage3Train.slice(0, trained)).toEqual(corpus.stage3Train);
    for (const key of ['documents', 'questions', 'stage1', 'stage2', 'stage3HeldOut'] as const) expect(both[key]).toEqual(corpus[key]);
    const heldOut = new Set(corpus.stage3HeldOut.map((r) => r.question));
    for (let i = 0; i < trained; i++) {
      const first = both.stage3Train[i]!;
      const second = both.stage3Train[trained + i]!;
      expect(second.question).not.toBe(first.question);
      expect(heldOut.has(second.question)).toBe(false);
      expect(second.answer).toBe(first.answer);
      const entity = entityOfQuestion(both, second.question);
      expect(entityOfQuestion(both, first.question)).toBe(entity);
      // The same attribute asked the other way: both wordings of one question pair.
      const attribute = corpus.questions.find((q) => q.question === first.question)!.attribute;
      expect([...QUESTION_WORDINGS[attribute]].map((t) => t.replace('{name}', entity.fullName)).sort()).toEqual([first.question, second.question].sort());
      expect(second.docs.length).toBe(20);
      expect(second.docs.map((d, j) => (mentions(d, entity.fullName) ? j : -1)).filter((j) => j >= 0)).toEqual(second.posIndex);
    }
  });

  it("puts every question's answer in exactly one candidate, the one posIndex points to", () => {
    const rows = [...corpus.stage3Train, ...corpus.stage3HeldOut];
    expect(rows.length).toBe(corpus.questions.length);
    for (const row of rows) {
      expect(row.docs.length).toBe(20);
      expect(new Set(row.docs).size).toBe(20);
      const entity = entityOfQuestion(corpus, row.question);
      const holders = row.docs.map((d, i) => (mentions(d, entity.fullName) ? i : -1)).filter((i) => i >= 0);
      expect(holders).toEqual(row.posIndex);
      expect(mentions(row.docs[row.posIndex[0]!]!, row.answer)).toBe(true);
      expect(row.answer.split(' ').length).toBe(1);
    }
    for (const row of corpus.stage2) {
      expect(row.docs.length).toBe(5);
      const entity = entityOfQuestion(corpus, row.question);
      expect(row.docs.filter((d) => mentions(d, entity.fullName)).length).toBe(1);
    }
  });

  it('keeps held-out facts out of every training target, while the documents still state them', () => {
    const heldOut = corpus.questions.filter((q) => q.heldOut);
    expect(heldOut.length).toBe(Math.round(0.5 * 120));
    const trainingQuestions = new Set([
      ...corpus.stage1.flatMap((r) => (r.dataType === 'qa' ? r.questions : [])),
      ...corpus.stage2.map((r) => r.question),
      ...corpus.stage3Train.map((r) => r.question),
    ]);
    for (const q of heldOut) {
      expect(trainingQuestions.has(q.question)).toBe(false);
      expect(mentions(corpus.documents[q.entityId]!, q.answer)).toBe(true);
      const paraphrase = corpus.stage1.find((r) => r.dataType === 'paraphrase' && r.docs[0] === corpus.documents[q.entityId]);
      if (paraphrase?.dataType === 'paraphrase') expect(mentions(paraphrase.paraphrase, q.answer)).toBe(false);
    }
    expect(corpus.stage3HeldOut.map((r) => r.question)).toEqual(heldOut.map((q) => q.question));
    expect(corpus.stage2.length + heldOut.length).toBe(corpus.questions.length);
  });

  it("reconstruction targets: the document's own sentences for its trained facts, the held-out one left out", () => {
    const options = { seed: 5, entities: 60, candidates: 10 };
    const reworded = generateSyntheticCorpus(options);
    const rebuilt = generateSyntheticCorpus({ ...options, paraphraseTarget: 'reconstruction' });
    expect(rebuilt.documents).toEqual(reworded.documents);
    expect(rebuilt.questions).toEqual(reworded.questions);
    const sentences = (text: string) => text.split(/(?<=\.) /);
    for (const row of rebuilt.stage1) {
      if (row.dataType !== 'paraphrase') continue;
      const doc = row.docs[0]!;
      const target = row.paraphrase;
      const entity = rebuilt.documents.indexOf(doc);
      const heldOut = rebuilt.questions.filter((q) => q.entityId === entity && q.heldOut);
      const kept = sentences(doc).filter((sentence) => !heldOut.some((q) => mentions(sentence, q.answer)));
      // Same sentences in the same order; only the first keeps the full name.
      expect(sentences(target).map((x) => x.split(' ').slice(-2).join(' '))).toEqual(kept.map((x) => x.split(' ').slice(-2).join(' ')));
      for (const q of heldOut) expect(mentions(target, q.answer)).toBe(false);
      if (heldOut.length === 0) expect(target).toBe(doc);
    }
    expect(() => generateSyntheticCorpus({ ...options, paraphraseTarget: 'copy' as never })).toThrow(
      "synth: paraphraseTarget must be 'reworded' or 'reconstruction', got 'copy'",
    );
  });

  it('whole-document reconstruction: every paraphrase target is its document, held-out sentences included; nothing else changes', () => {
    const options = { seed: 5, entities: 60, candidates: 10, paraphraseTarget: 'reconstruction' as const };
    const rebuilt = generateSyntheticCorpus(options);
    const whole = generateSyntheticCorpus({ ...options, reconstructWhole: true });
    expect(whole.documents).toEqual(rebuilt.documents);
    expect(whole.questions).toEqual(rebuilt.questions);
    expect(whole.stage3Train).toEqual(rebuilt.stage3Train);
    expect(whole.stage3HeldOut).toEqual(rebuilt.stage3HeldOut);
    const paraphrases = whole.stage1.filter((row) => row.dataType === 'paraphrase');
    expect(paraphrases).toHaveLength(60);
    for (const row of paraphrases) expect(row.paraphrase).toBe(row.docs[0]);
    // The held-out questions themselves stay out of every QA row.
    const heldOut = new Set(whole.questions.filter((q) => q.heldOut).map((q) => q.question));
    for (const row of whole.stage1) if (row.dataType === 'qa') for (const q of row.questions) expect(heldOut.has(q)).toBe(false);
  });

  it('pretraining people: stage-1 rows about people outside the corpus, appended; the corpus is unchanged', () => {
    const options = { seed: 5, entities: 60, candidates: 10, paraphraseTarget: 'reconstruction' as const, namePool: 12 };
    const plain = generateSyntheticCorpus(options);
    const extra = generateSyntheticCorpus({ ...options, pretrainEntities: 50 });
    for (const key of ['entities', 'documents', 'questions', 'stage2', 'stage3Train', 'stage3HeldOut'] as const) expect(extra[key]).toEqual(plain[key]);
    expect(extra.stage1.slice(0, plain.stage1.length)).toEqual(plain.stage1);
    const added = extra.stage1.slice(plain.stage1.length);
    const paraphrases = added.filter((row) => row.dataType === 'paraphrase');
    expect(paraphrases).toHaveLength(50);
    for (const row of paraphrases) expect(row.paraphrase).toBe(row.docs[0]);
    const documents = new Set(extra.documents);
    const corpusNames = extra.entities.map((e) => e.fullName);
    for (const row of added) {
      // Not a corpus document, about nobody in the corpus; every fact asked, each answer in its document.
      expect(documents.has(row.docs[0]!)).toBe(false);
      for (const name of corpusNames) expect(mentions(row.docs[0]!, name)).toBe(false);
      if (row.dataType === 'qa') for (const a of row.answers) expect(mentions(row.docs[0]!, a)).toBe(true);
    }
    const qaRows = added.filter((row) => row.dataType === 'qa');
    expect(qaRows.length).toBeGreaterThanOrEqual(2 * 50);
    expect(qaRows.length).toBeLessThanOrEqual(4 * 50);
    expect(() => generateSyntheticCorpus({ ...options, pretrainEntities: 100 })).toThrow(
      /namePool 12 gives 144 full names, fewer than entities \+ pretrainEntities \(160\)/,
    );
    expect(() => generateSyntheticCorpus({ ...options, pretrainEntities: -1 })).toThrow(/pretrainEntities must be a non-negative integer/);
  });

  it('counterfactual copies: each person again with new values, their held-out questions never asked; the corpus is unchanged', () => {
    const options = { seed: 6, entities: 40, candidates: 10, paraphraseTarget: 'reconstruction' as const, reconstructWhole: true, namePool: 8 };
    const plain = generateSyntheticCorpus(options);
    const copies = generateSyntheticCorpus({ ...options, counterfactuals: 2 });
    for (const key of ['entities', 'documents', 'questions', 'stage2', 'stage3Train', 'stage3HeldOut'] as const) expect(copies[key]).toEqual(plain[key]);
    expect(copies.stage1.slice(0, plain.stage1.length)).toEqual(plain.stage1);
    const added = copies.stage1.slice(plain.stage1.length);
    // Per copy, as many rows as the corpus's own: a QA row per trained question and a reconstruction per person.
    expect(added).toHaveLength(2 * plain.stage1.length);
    const documents = new Set(copies.documents);
    let changedValues = 0;
    for (const row of added) {
      const doc = row.docs[0]!;
      const person = copies.entities.filter((e) => doc.startsWith(e.fullName) || mentions(doc, e.fullName));
      expect(person).toHaveLength(1); // the same names as the corpus
      if (row.dataType === 'paraphrase') expect(row.paraphrase).toBe(doc);
      if (row.dataType !== 'qa') continue;
      const [question] = row.questions;
      const [answer] = row.answers;
      expect(mentions(doc, answer!)).toBe(true); // each answer is the copy's own value
      const original = copies.questions.find(
        (q) => q.entityId === person[0]!.id && QUESTION_WORDINGS[q.attribute].some((w) => w.replace('{name}', person[0]!.fullName) === question),
      )!;
      expect(original.heldOut).toBe(false);
      if (original.answer !== answer) changedValues++;
    }
    expect(added.some((row) => documents.has(row.docs[0]!))).toBe(false);
    // Values are drawn anew: most differ from the person's own (a town among 24, a year among 100, …).
    expect(changedValues).toBeGreaterThan(0.7 * added.filter((row) => row.dataType === 'qa').length);
    expect(() => generateSyntheticCorpus({ ...options, counterfactuals: 1.5 })).toThrow(/counterfactuals must be a non-negative integer/);
  });

  it('writes files that the loaders read back, and the split side file', () => {
    const dir = mkdtempSync(join(tmpdir(), 'clara-synth-'));
    const { files } = writeSyntheticCorpus(dir, { seed: 3, entities: 40, candidates: 10, qaRows: 'per-document' });
    const stage1 = loadStage1File(files.stage1);
    const stage2 = loadStage2File(files.stage2, { docsPerRow: 5 });
    const train = loadStage3File(files.stage3Train, { docsPerRow: 10 });
    const heldOut = loadStage3File(files.stage3HeldOut, { docsPerRow: 10 });
    expect(stage1.rows.filter((r) => r.dataType === 'qa').length).toBe(40);
    expect(stage1.rows.filter((r) => r.dataType === 'paraphrase').length).toBe(40);
    const split = JSON.parse(readFileSync(files.split, 'utf8')) as SynthSplit;
    expect(split.counts.heldOut).toBe(heldOut.rows.length);
    expect(split.counts.trained).toBe(train.rows.length);
    expect(stage2.rows.length).toBe(train.rows.length);
    expect(split.options.seed).toBe(3);
    expect(split.questions.filter((q) => q.split === 'heldOut').map((q) => q.question)).toEqual(heldOut.rows.map((r) => r.question));
    const documents = readFileSync(files.documents, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(documents.length).toBe(40);
  });

  it('rejects impossible options', () => {
    expect(() => generateSyntheticCorpus({ entities: 10, candidates: 20 })).toThrow(/cannot exceed entities/);
    expect(() => generateSyntheticCorpus({ maxFacts: 6 })).toThrow(/maxFacts/);
    expect(() => generateSyntheticCorpus({ heldOutShare: 1.5 })).toThrow(/heldOutShare/);
    expect(() => generateSyntheticCorpus({ entities: 120, namePool: 10 })).toThrow(/namePool 10 gives 100 full names, fewer than entities \(120\)/);
    expect(() => generateSyntheticCorpus({ namePool: 2.5 })).toThrow(/namePool must be a non-negative integer/);
    expect(() => generateSyntheticCorpus({ stage3Wordings: 'three' as never })).toThrow(/stage3Wordings must be 'one' or 'both', got 'three'/);
  });
});
