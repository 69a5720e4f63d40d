import { describe, expect, it } from 'vitest';
import { cpuBackend } from '../../engine/index.ts';
import { ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../../clara/adapters.ts';
import { answerQuestions, rankCandidates } from '../../clara/answering.ts';
import { generateSyntheticCorpus } from '../../clara/data/synth.ts';
import { demoCorpusOptions, demoModel, demoStage1Options } from '../../clara/demo/demoModel.ts';
import { QUICK_DEMO } from '../../clara/demo/demoSettings.ts';
import { evaluateRows, queryEncoderOf } from '../../clara/eval/evaluate.ts';
import { candidateBank } from '../../clara/retrieval/documentBank.ts';
import { trainCompressionStage } from '../../clara/trainCompressionStage.ts';

/**
 * evaluateRows' three sources of documents, on a stage-1 model (no query reasoner yet): each row's
 * generator reads the query encoder's top k, nothing, or the row's relevant document, and its
 * answers are the ones answerQuestions gives from exactly those bank rows.
 */
describe('evaluateRows', () => {
  it('answers from the retrieved, no, or the gold documents, ranking with the compressor before stage 3', async () => {
    const corpus = generateSyntheticCorpus(demoCorpusOptions(QUICK_DEMO, 1));
    const clara = demoModel(QUICK_DEMO, corpus, 1, cpuBackend);
    await trainCompressionStage({ ...demoStage1Options(QUICK_DEMO, clara, corpus, 1), steps: 2, compressorFrozenSteps: 0 });
    expect(queryEncoderOf(clara)).toBe(ENCODER_ADAPTER);

    const rows = corpus.stage3HeldOut.slice(0, 6);
    const shared = candidateBank(clara, rows);
    const options = { bank: shared, k: 2, maxNewTokens: 3 };
    const ranked = await rankCandidates(
      clara,
      shared.bank,
      rows.map((r) => r.question),
      shared.candidates,
      { adapter: ENCODER_ADAPTER },
    );
    const retrieved = await evaluateRows(clara, rows, options);
    const gold = await evaluateRows(clara, rows, { ...options, docs: 'gold' });
    const none = await evaluateRows(clara, rows, { ...options, docs: 'none' });

    expect(retrieved.predictions.map((p) => p.read)).toEqual(ranked.map((r) => r.order.slice(0, 2)));
    expect(gold.predictions.map((p) => p.read)).toEqual(rows.map((r) => [r.posIndex[0]]));
    expect(none.predictions.map((p) => p.read)).toEqual(rows.map(() => []));
    // The retrieval figures do not depend on what the generator then reads.
    expect(gold.recall).toEqual(retrieved.recall);
    expect(none.recall).toEqual(retrieved.recall);

    for (const result of [retrieved, gold, none]) {
      const bankRows = result.predictions.map((p, i) => p.read.map((j) => shared.candidates[i]![j]!));
      const answers = await answerQuestions(
        clara,
        shared.bank,
        rows.map((r) => r.question),
        bankRows,
        { maxNewTokens: 3 },
      );
      expect(result.predictions.map((p) => p.prediction)).toEqual(answers);
    }
    // The gold rows really are other bank rows than the top-2 ones somewhere, or the test proves little.
    expect(gold.predictions.some((p, i) => p.read[0] !== retrieved.predictions[i]!.read[0])).toBe(true);

    clara.backbone.copyAdapter(ENCODER_ADAPTER, QUERY_REASONER_ADAPTER);
    expect(queryEncoderOf(clara)).toBe(QUERY_REASONER_ADAPTER);
    shared.bank.dispose();
  });
});
