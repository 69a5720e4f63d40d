import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../engine/index.ts';
import { generateSyntheticCorpus } from '../../clara/data/synth.ts';
import { demoCorpusOptions, demoModel, demoStage1Options } from '../../clara/demo/demoModel.ts';
import { QUICK_DEMO } from '../../clara/demo/demoSettings.ts';
import { readingProbe } from '../../clara/eval/readingProbe.ts';
import { compressCorpus } from '../../clara/retrieval/documentBank.ts';
import { trainCompressionStage } from '../../clara/trainCompressionStage.ts';

/**
 * The probe's position arithmetic, on a demo model two stage-1 steps old (its adapters exist): whatever the generator predicts at
 * an answer's position, given back as the answer, must score 1, and any other one-token answer 0.
 * An off-by-one in the left padding or the shift between logits and labels breaks both.
 */
describe('readingProbe', () => {
  it("scores the generator's own argmax answer 1 and another answer 0, in either prompt format, and the generator's mode is kept", async () => {
    const corpus = generateSyntheticCorpus(demoCorpusOptions(QUICK_DEMO, 0));
    const clara = demoModel(QUICK_DEMO, corpus, 0, cpuBackend);
    await trainCompressionStage({ ...demoStage1Options(QUICK_DEMO, clara, corpus, 0), steps: 2, compressorFrozenSteps: 0 });
    const bank = compressCorpus(clara, corpus.documents);
    const single = (word: string) => clara.tokenizer.encode(word, { addBos: false }).length === 1;
    // Questions of different lengths, so the batch is left-padded; every answer a single token.
    const facts = corpus.questions
      .filter((q) => single(q.answer))
      .slice(0, 12)
      .map((q) => ({ question: q.question, answer: q.answer, document: q.entityId }));
    expect(new Set(facts.map((f) => f.question.length)).size).toBeGreaterThan(1);
    const first = await readingProbe(clara, bank, facts, { batchSize: 5 });
    expect(first.predictions).toHaveLength(facts.length);
    // Whatever was predicted for each fact (a one-token word), asked again as its answer.
    const own = facts.map((f, i) => ({ ...f, answer: first.predictions[i]! })).filter((f) => f.answer !== '' && single(f.answer));
    expect(own.length).toBeGreaterThan(3);
    expect((await readingProbe(clara, bank, own, { batchSize: 5 })).accuracy).toBe(1);
    const other = own.map((f) => ({ ...f, answer: f.answer === 'red' ? 'blue' : 'red' }));
    expect((await readingProbe(clara, bank, other, { batchSize: 5 })).accuracy).toBe(0);
    // The same in the answer prompt of stages 2 and 3: another prompt, so other predictions.
    const inAnswerFormat = await readingProbe(clara, bank, facts, { batchSize: 5, format: 'answer' });
    expect(inAnswerFormat.predictions).not.toEqual(first.predictions);
    const ownAnswers = facts.map((f, i) => ({ ...f, answer: inAnswerFormat.predictions[i]! })).filter((f) => f.answer !== '' && single(f.answer));
    expect(ownAnswers.length).toBeGreaterThan(3);
    expect((await readingProbe(clara, bank, ownAnswers, { batchSize: 5, format: 'answer' })).accuracy).toBe(1);
    const otherAnswers = ownAnswers.map((f) => ({ ...f, answer: f.answer === 'red' ? 'blue' : 'red' }));
    expect((await readingProbe(clara, bank, otherAnswers, { batchSize: 5, format: 'answer' })).accuracy).toBe(0);
    expect(clara.backbone.training).toBe(true);
    bank.dispose();
  });
});
