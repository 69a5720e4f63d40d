import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Generator, type Backend } from '../../engine/index.ts';
import { atomicWriteFile } from '../../engine/io/index.ts';
import { ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../adapters.ts';
import { rankCandidates } from '../answering.ts';
import { estimatorName } from '../differentiableTopK.ts';
import type { Stage3Row } from '../data/stage3Data.ts';
import { generateSyntheticCorpus } from '../data/synth.ts';
import { writeSyntheticCorpus } from '../data/writeSynthCorpus.ts';
import { documentSpecificShare } from '../eval/documentSpecificShare.ts';
import { counterfactualAnswers } from '../eval/counterfactualFacts.ts';
import { evaluateRows, type AnswerDocuments } from '../eval/evaluate.ts';
import { meanRecall } from '../eval/metrics.ts';
import { rankCandidatesBm25 } from '../retrieval/bm25.ts';
import { candidateBank, compressCorpus, compressorFingerprint, saveDocumentBank } from '../retrieval/documentBank.ts';
import type { StepMetrics } from '../train/metricsLog.ts';
import { prepareCompressionStage } from '../compressionObjective.ts';
import { trainCompressionStage } from '../trainCompressionStage.ts';
import { mix32 } from '../train/dataOrder.ts';
import { trainEndToEnd } from '../trainEndToEnd.ts';
import { demoChart, demoTable, joinPhases, SMOKE_TEST_NOTE, type AnswerQuality, type DemoResult, type Recall } from './demoReport.ts';
import { demoCorpusOptions, demoModel, demoOneFactCorpusOptions, demoStage1Options, demoStage2Phases, demoStage3Options } from './demoModel.ts';
import { demoSettingsProblem, type DemoSettings } from './demoSettings.ts';

/**
 * The demo: CLaRa end to end on a synthetic corpus, from nothing to a table of results.
 *
 *  1. generate the corpus: invented people, one document each, questions with one-word answers;
 *     some facts are held out of every training target (their documents still state them);
 *  2. stage 1 (salient compressor pretraining) on a random frozen backbone: CE + λ·MSE (λ = 0.1 unless varied);
 *     and, where the settings ask (--long), stage 2 (instruction tuning) in two phases;
 *  3. compress every document once; score the held-out questions' candidates with the compressor
 *     as query encoder (recall "before"), with BM25, and by chance;
 *  4. stage 3: the query reasoner (a copy of the compressor) and the generator trained through the
 *     answer loss alone (no relevance labels), recall tracked on held-out questions;
 *  5. recall "after"; answers generated from the retrieved compressed documents and with no
 *     documents at all, on trained and on held-out questions;
 *  6. the whole corpus compressed into a document bank in the run folder, for `clara ask`.
 */
export interface DemoOptions {
  settings: DemoSettings;
  out: string;
  seed: number;
  backend: Backend;
  /** Progress bars and phase lines on stderr. */
  progress: boolean;
}

const KS = [1, 3, 5] as const;

function asRecall(r: Record<number, number>): Recall {
  return { 1: r[1]!, 3: r[3]!, 5: r[5]! };
}

export async function runDemo(options: DemoOptions): Promise<DemoResult> {
  const started = performance.now();
  const { settings: s, out } = options;
  const problem = demoSettingsProblem(s);
  if (problem !== null) throw new Error(`runDemo: ${problem}`);
  const say = (line: string) => options.progress && process.stderr.write(`demo: ${line}\n`);
  mkdirSync(out, { recursive: true });
  if (s.smokeTest) say(SMOKE_TEST_NOTE);

  // 1. The corpus.
  const { corpus } = writeSyntheticCorpus(join(out, 'data'), demoCorpusOptions(s, options.seed));
  const { stage3Train: trainRows, stage3HeldOut: heldOutRows } = corpus;
  const trainedQuestions = corpus.questions.length - heldOutRows.length;
  say(
    `${corpus.documents.length} documents, ${trainedQuestions} trained and ${heldOutRows.length} held-out questions (${trainRows.length} stage-3 training rows), ${s.candidates} candidates each`,
  );

  // 2. The model, stage 1 and stage 2.
  const oneFact = s.stage2.oneFactSteps > 0 ? generateSyntheticCorpus(demoOneFactCorpusOptions(s, options.seed)) : null;
  const clara = demoModel(s, oneFact ? [corpus, oneFact] : corpus, options.seed, options.backend);
  const n = clara.nMem;
  const model = `${s.tokenizer} vocabulary of ${clara.tokenizer.vocabSize}, n = ${n} memory tokens`;
  let stage1: StepMetrics[] = [];
  if (s.stage1.steps > 0) {
    say(`stage 1: ${s.stage1.steps} steps (the compressor held still for the first ${s.stage1.compressorFrozenSteps}), batch ${s.stage1.batchSize}, ${model}`);
    const run = await trainCompressionStage({
      ...demoStage1Options(s, clara, corpus, options.seed),
      out: join(out, 'stage1'),
      saveEvery: 0,
      progress: options.progress,
    });
    stage1 = run.history;
  } else {
    say(`no stage 1: the compressor starts from the backbone with fresh adapters; ${model}`);
    // The stream trainCompressionStage would draw stage 1's adapters from, not the backbone's own.
    prepareCompressionStage(clara, 1, new Generator(mix32(options.seed, 1)));
  }
  const stage2Phases: StepMetrics[][] = [];
  for (const [i, phase] of demoStage2Phases(s, clara, corpus, oneFact, options.seed).entries()) {
    if (phase.steps === 0) continue;
    const kind = i === 0 && oneFact ? 'one-fact' : 'corpus';
    say(
      kind === 'one-fact'
        ? `stage 2, first phase: ${phase.steps} steps on ${oneFact!.entities.length + s.corpus.pretrainPeople} other people with one fact each (the compressor held still for the first ${phase.compressorFrozenSteps}), lr ${phase.lr}${phase.trainHead ? `, lm_head trained at ${s.stage2.headLrScale}× that` : ''}`
        : `stage 2${oneFact ? ', second phase' : ''}: ${phase.steps} steps on the corpus${s.corpus.pretrainIn === 'stage2' ? ` and ${s.corpus.pretrainPeople} pretraining people` : ''}, the question in the prompt, lr ${phase.lr}`,
    );
    const run = await trainCompressionStage({
      ...phase,
      out: join(out, kind === 'one-fact' ? 'stage2-one-fact' : 'stage2'),
      saveEvery: 0,
      progress: options.progress,
    });
    stage2Phases.push(run.history);
  }
  const stage2 = joinPhases(stage2Phases);

  // 3. Compress every candidate once; retrieval before stage 3 and the baselines.
  say('compressing the corpus');
  const allRows = [...trainRows, ...heldOutRows];
  const { bank, candidates } = candidateBank(clara, allRows);
  const trainBank = { bank, candidates: candidates.slice(0, trainRows.length) };
  const heldOutCandidates = candidates.slice(trainRows.length);
  const gold = heldOutRows.map((r) => r.posIndex);
  const memory = { documentSpecificShare: await documentSpecificShare(bank) };
  const rankHeldOut = async (adapter: string, rows = heldOutRows, cands = heldOutCandidates) =>
    (
      await rankCandidates(
        clara,
        bank,
        rows.map((r) => r.question),
        cands,
        { adapter },
      )
    ).map((r) => r.order);
  const beforeOrders = await rankHeldOut(ENCODER_ADAPTER);
  const before = asRecall(meanRecall(beforeOrders, gold, KS));
  const bm25Orders = heldOutRows.map((r) => rankCandidatesBm25(r.question, r.docs));
  const bm25 = asRecall(meanRecall(bm25Orders, gold, KS));
  // Chance: one relevant document among N, so recall@k = k / N exactly.
  const random = asRecall(Object.fromEntries(KS.map((k) => [k, Math.min(1, k / s.candidates)])));

  // 4. Stage 3, with the held-out recall curve.
  const curveRows = heldOutRows.slice(0, s.curve.questions);
  const curveCandidates = heldOutCandidates.slice(0, s.curve.questions);
  // The curve's questions are the first held-out ones, so its starting point is the "before" ranking's.
  const curve: Array<[number, number]> = [
    [
      0,
      meanRecall(
        beforeOrders.slice(0, curveRows.length),
        curveRows.map((r) => r.posIndex),
        [1],
      )[1]!,
    ],
  ];
  say(
    `stage 3: ${s.stage3.steps} steps, top-${s.stage3.k} of ${s.candidates} at τ = ${s.stage3.temperature} (${estimatorName(s.stage3.estimator)} estimator), the query reasoner held still for the first ${s.stage3.queryReasonerFrozenSteps}, no relevance labels`,
  );
  const stage3 = await trainEndToEnd({
    ...demoStage3Options(s, clara, trainRows, trainBank, options.seed),
    out: join(out, 'stage3'),
    saveEvery: 0,
    progress: options.progress,
    onStep: async (m: StepMetrics) => {
      if (m.step % s.curve.every !== 0 && m.step !== s.stage3.steps) return;
      const orders = await rankHeldOut(QUERY_REASONER_ADAPTER, curveRows, curveCandidates);
      curve.push([
        m.step,
        meanRecall(
          orders,
          curveRows.map((r) => r.posIndex),
          [1],
        )[1]!,
      ]);
      clara.backbone.train();
    },
  });

  // 5. Retrieval after stage 3, and answers from the retrieved, no, or the relevant document.
  const after = asRecall(meanRecall(await rankHeldOut(QUERY_REASONER_ADAPTER), gold, KS));
  say('answering questions');
  // Documents given to the generator: the query reasoner's top k, none, or the relevant one (the
  // paper's "oracle" setting, which tells reading apart from retrieval).
  const answer = async (rows: Stage3Row[], cands: number[][], docs: AnswerDocuments): Promise<AnswerQuality> => {
    const { em, f1 } = await evaluateRows(clara, rows.slice(0, s.answerQuestions), {
      bank: { bank, candidates: cands.slice(0, s.answerQuestions) },
      k: s.stage3.k,
      docs,
      maxNewTokens: 8,
    });
    return { em, f1 };
  };
  // And from the relevant document with the asked value changed: the new value is read, the old recalled.
  const changed = async (heldOut: boolean) => {
    const questions = corpus.questions.filter((q) => q.heldOut === heldOut).slice(0, s.answerQuestions);
    const { newValue, oldValue } = await counterfactualAnswers(clara, corpus, questions, { seed: options.seed, maxNewTokens: 8 });
    return { changedDocNew: { em: newValue.em, f1: newValue.f1 }, changedDocOld: { em: oldValue.em, f1: oldValue.f1 } };
  };
  const answerAllWays = async (rows: Stage3Row[], cands: number[][], heldOut: boolean) => ({
    withDocs: await answer(rows, cands, 'retrieved'),
    noDocs: await answer(rows, cands, 'none'),
    goldDoc: await answer(rows, cands, 'gold'),
    ...(await changed(heldOut)),
  });
  const answers = {
    trained: await answerAllWays(trainRows, trainBank.candidates, false),
    heldOut: await answerAllWays(heldOutRows, heldOutCandidates, true),
  };

  // 6. The corpus as a document bank, and the command that asks the trained model about it.
  say('compressing the corpus into a document bank for `clara ask`');
  const bankFile = join(out, 'bank.safetensors');
  const corpusVectors = compressCorpus(clara, corpus.documents);
  await saveDocumentBank(bankFile, {
    vectors: corpusVectors,
    docIds: corpus.documents.map((_, i) => i),
    texts: corpus.documents,
    compressor: await compressorFingerprint(clara),
  });
  corpusVectors.dispose();
  const stage3Dir = join(out, 'stage3');
  const example = heldOutRows[0]?.question ?? trainRows[0]!.question;
  const ask = { bank: bankFile, model: stage3Dir, command: `npx clara ask --model ${stage3Dir} --index ${bankFile} ${JSON.stringify(example)}` };

  const result: DemoResult = {
    recall: { before, after, random, bm25 },
    answers,
    memory,
    seed: options.seed,
    smokeTest: s.smokeTest,
    compressionRate: s.compressionRate,
    memoryTokens: n,
    estimator: estimatorName(s.stage3.estimator),
    candidates: s.candidates,
    tokenizer: s.tokenizer,
    backend: options.backend.name,
    seconds: (performance.now() - started) / 1000,
    counts: {
      documents: corpus.documents.length,
      trainedQuestions,
      heldOutQuestions: heldOutRows.length,
      stage3TrainingRows: trainRows.length,
      vocabulary: clara.tokenizer.vocabSize,
    },
    stage1: summary(stage1),
    stage2: summary(stage2),
    stage3: summary(stage3.history),
    runDir: out,
    ask,
  };
  const curveGold = curveRows.map((r) => r.posIndex);
  writeFileSync(
    join(out, 'curves.svg'),
    demoChart({
      stage1,
      stage2: {
        history: stage2,
        mseWeight: s.stage2.mseWeight,
        compressorHold: s.stage2.compressorFrozenSteps,
        oneFactSteps: oneFact ? s.stage2.oneFactSteps : 0,
      },
      stage3: stage3.history,
      recallCurve: curve,
      mseWeight: s.stage1.mseWeight,
      holds: { compressor: s.stage1.compressorFrozenSteps, queryReasoner: s.stage3.queryReasonerFrozenSteps },
      baselines: { chance: 1 / s.candidates, bm25: meanRecall(bm25Orders.slice(0, curveRows.length), curveGold, [1])[1]! },
    }),
  );
  writeFileSync(join(out, 'results.txt'), `${demoTable(result)}\n`);
  // Every setting of the run, the seed with them (above), so that metrics.json alone reproduces it.
  // Written last and atomically: a run folder with metrics.json is a finished run (`clara sweep`
  // resumes on that).
  const settingsRecord = { ...s, stage3: { ...s.stage3, estimator: result.estimator } };
  atomicWriteFile(join(out, 'metrics.json'), [
    new TextEncoder().encode(`${JSON.stringify({ ...result, recallCurve: curve, settings: settingsRecord }, null, 2)}\n`),
  ]);
  bank.dispose();
  return result;
}

function summary(history: readonly StepMetrics[]): { steps: number; firstLoss: number; lastLoss: number } {
  return { steps: history.length, firstLoss: history[0]?.loss ?? NaN, lastLoss: history[history.length - 1]?.loss ?? NaN };
}
