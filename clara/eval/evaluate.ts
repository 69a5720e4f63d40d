import type { Tensor } from '../../engine/index.ts';
import { answerQuestions, rankCandidates, topCandidates } from '../answering.ts';
import type { ClaraModel } from '../claraModel.ts';
import type { Stage3Row } from '../data/stage3Data.ts';
import { candidateBank } from '../retrieval/documentBank.ts';
import { meanRecall, scoreAnswers, type AnswerScores } from './metrics.ts';

/**
 * Evaluation on stage-3 rows (question, N candidates, answer, pos_index): retrieval recall@1/3/5
 * among the candidates, and EM / F1 / cover accuracy of the answers generated from the top-k
 * compressed documents (docs/clara.md §8).
 */
export interface EvaluationResult extends AnswerScores {
  recall: Record<number, number>;
  predictions: Array<{ question: string; gold: string; prediction: string; retrieved: number[] }>;
}

export interface EvaluateOptions {
  /** Documents given to the generator (default: the model's generationTopK). */
  k?: number;
  /** The query encoder (default the query reasoner). */
  queryAdapter?: string;
  /** Answer with no documents at all (a baseline). */
  noDocs?: boolean;
  /** Skip answer generation (recall only). */
  retrievalOnly?: boolean;
  maxNewTokens?: number;
  /** A bank already compressed for these rows (retrieval/documentBank.ts `candidateBank`). */
  bank?: { bank: Tensor; candidates: number[][] };
}

export async function evaluateRows(clara: ClaraModel, rows: readonly Stage3Row[], options: EvaluateOptions = {}): Promise<EvaluationResult> {
  const { bank, candidates } = options.bank ?? candidateBank(clara, rows);
  try {
    return await evaluateWithBank(clara, rows, bank, candidates, options);
  } finally {
    if (options.bank === undefined) bank.dispose();
  }
}

async function evaluateWithBank(
  clara: ClaraModel,
  rows: readonly Stage3Row[],
  bank: Tensor,
  candidates: number[][],
  options: EvaluateOptions,
): Promise<EvaluationResult> {
  const k = options.k ?? clara.settings.generationTopK;
  const questions = rows.map((r) => r.question);
  const rankings = await rankCandidates(clara, bank, questions, candidates, { adapter: options.queryAdapter });
  const recall = meanRecall(
    rankings.map((r) => r.order),
    rows.map((r) => r.posIndex),
  );
  const retrieved = rankings.map((r) => r.order.slice(0, k));
  if (options.retrievalOnly) {
    return { recall, em: NaN, f1: NaN, acc: NaN, count: rows.length, predictions: [] };
  }
  const documents = options.noDocs ? rows.map(() => []) : topCandidates(rankings, candidates, k);
  const answers = await answerQuestions(clara, bank, questions, documents, { maxNewTokens: options.maxNewTokens });
  const scores = scoreAnswers(
    answers,
    rows.map((r) => r.answer),
  );
  return {
    ...scores,
    recall,
    predictions: rows.map((r, i) => ({ question: r.question, gold: r.answer, prediction: answers[i]!, retrieved: options.noDocs ? [] : retrieved[i]! })),
  };
}
