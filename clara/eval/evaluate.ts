import type { Tensor } from '../../engine/index.ts';
import { ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../adapters.ts';
import { answerQuestions, rankCandidates } from '../answering.ts';
import type { ClaraModel } from '../claraModel.ts';
import type { Stage3Row } from '../data/stage3Data.ts';
import { candidateBank } from '../retrieval/documentBank.ts';
import { meanRecall, scoreAnswers, type AnswerScores } from './metrics.ts';

/**
 * Evaluation on stage-3 rows (question, N candidates, answer, pos_index): retrieval recall@1/3/5
 * among the candidates, and EM / F1 / cover accuracy of the answers generated from the top-k
 * compressed documents, from none, or from each row's relevant one (docs/clara.md §8).
 */
export interface EvaluationResult extends AnswerScores {
  recall: Record<number, number>;
  /** Per row: the answer generated, and which of the row's candidates (positions in its `docs`) the generator read. */
  predictions: Array<{ question: string; gold: string; prediction: string; read: number[] }>;
}

export interface EvaluateOptions {
  /** Documents given to the generator (default: the model's generationTopK). */
  k?: number;
  /** The query encoder (default: `queryEncoderOf(clara)`). */
  queryAdapter?: string;
  /**
   * The documents the generator reads: the query reasoner's top k (default), none (the generator
   * alone, a baseline), or each row's first relevant one (the paper's "oracle" setting, which tells
   * reading apart from retrieval).
   */
  docs?: AnswerDocuments;
  /** Skip answer generation (recall only). */
  retrievalOnly?: boolean;
  maxNewTokens?: number;
  /** A bank already compressed for these rows (retrieval/documentBank.ts `candidateBank`). */
  bank?: { bank: Tensor; candidates: number[][] };
}

export type AnswerDocuments = 'retrieved' | 'none' | 'gold';

/**
 * The adapter that encodes questions: the query reasoner once stage 3 has made one, else the
 * compressor it starts from (so a stage-1 or stage-2 model ranks as stage 3 would at its first step).
 */
export function queryEncoderOf(clara: ClaraModel): string {
  return clara.backbone.adapterNames().includes(QUERY_REASONER_ADAPTER) ? QUERY_REASONER_ADAPTER : ENCODER_ADAPTER;
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
  const rankings = await rankCandidates(clara, bank, questions, candidates, { adapter: options.queryAdapter ?? queryEncoderOf(clara) });
  const recall = meanRecall(
    rankings.map((r) => r.order),
    rows.map((r) => r.posIndex),
  );
  if (options.retrievalOnly) {
    return { recall, em: NaN, f1: NaN, acc: NaN, count: rows.length, predictions: [] };
  }
  // Positions among each row's candidates, then indices into the bank.
  const read = {
    retrieved: () => rankings.map((r) => r.order.slice(0, k)),
    none: () => rows.map(() => []),
    gold: () => rows.map((r) => r.posIndex.slice(0, 1)),
  }[options.docs ?? 'retrieved']();
  const documents = read.map((positions, i) => positions.map((j) => candidates[i]![j]!));
  const answers = await answerQuestions(clara, bank, questions, documents, { maxNewTokens: options.maxNewTokens });
  const scores = scoreAnswers(
    answers,
    rows.map((r) => r.answer),
  );
  return {
    ...scores,
    recall,
    predictions: rows.map((r, i) => ({ question: r.question, gold: r.answer, prediction: answers[i]!, read: read[i]! })),
  };
}
