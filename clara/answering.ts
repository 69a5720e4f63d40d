import { noGrad, tidy, type Tensor } from '../engine/index.ts';
import { DECODER_ADAPTER, QUERY_REASONER_ADAPTER } from './adapters.ts';
import type { ClaraModel } from './claraModel.ts';
import { slotPromptBatch } from './examples.ts';
import { generatorInput } from './generatorRead.ts';
import { generateGreedy } from './model/generate.ts';
import { cosineScores, encodeQueries } from './queryReasoner.ts';
import { gatherCandidates } from './retrieval/documentBank.ts';

/**
 * Inference (docs/clara.md §6, last paragraph): score candidates by cosine against the query
 * reasoner's vectors, take the top k, splice them into the prompt (the generator's read step,
 * generatorRead.ts) and decode greedily until `</s>`.
 */
export interface Ranking {
  /** Candidate positions (indices into the question's candidate list), best first. */
  order: number[];
  /** Cosine score of each candidate, in candidate order. */
  scores: number[];
}

/**
 * Ranks each question's candidates (rows of `bank` [docs, n, d]) by cosine with the query.
 * `adapter` chooses the query encoder (the query reasoner, or the compressor before stage 3).
 */
export async function rankCandidates(
  clara: ClaraModel,
  bank: Tensor,
  questions: readonly string[],
  candidates: readonly (readonly number[])[],
  options: { adapter?: string; batchSize?: number } = {},
): Promise<Ranking[]> {
  const batchSize = options.batchSize ?? 16;
  const [, nMem, hidden] = bank.shape as [number, number, number];
  const out: Ranking[] = [];
  const wasTraining = clara.backbone.training;
  clara.backbone.eval();
  try {
    for (let start = 0; start < questions.length; start += batchSize) {
      const qs = questions.slice(start, start + batchSize);
      const cands = candidates.slice(start, start + batchSize);
      const width = cands[0]?.length ?? 0;
      const scores = tidy(() =>
        noGrad(() => {
          const docs = gatherCandidates(bank, cands).reshape([qs.length, width, nMem * hidden]); // [B, N, n·d]
          return cosineScores(encodeQueries(clara, qs, options.adapter ?? QUERY_REASONER_ADAPTER), docs);
        }),
      );
      const values = Array.from(await scores.toArray());
      scores.dispose();
      qs.forEach((_, b) => {
        const row = values.slice(b * width, (b + 1) * width);
        out.push({
          scores: row,
          order: row
            .map((s, i) => [s, i] as const)
            .sort((x, y) => y[0] - x[0] || x[1] - y[1])
            .map(([, i]) => i),
        });
      });
    }
  } finally {
    if (wasTraining) clara.backbone.train();
  }
  return out;
}

/**
 * Answers each question from the given rows of `bank` [docs, n, d] (k compressed documents per
 * question, best first; an empty list asks the generator with no documents at all). Returns the
 * decoded answers.
 */
export async function answerQuestions(
  clara: ClaraModel,
  bank: Tensor,
  questions: readonly string[],
  documents: readonly (readonly number[])[],
  options: { maxNewTokens?: number; batchSize?: number } = {},
): Promise<string[]> {
  const batchSize = options.batchSize ?? 16;
  const [, nMem, hidden] = bank.shape as [number, number, number];
  const answers: string[] = [];
  for (let start = 0; start < questions.length; start += batchSize) {
    const qs = questions.slice(start, start + batchSize);
    const docs = documents.slice(start, start + batchSize);
    const k = docs[0]?.length ?? 0;
    if (docs.some((d) => d.length !== k)) throw new Error('answerQuestions: every question of a batch needs the same number of documents');
    const prompts = slotPromptBatch(clara.tokenizer, qs, k);
    const embeds = tidy(() =>
      noGrad(() => generatorInput(clara, prompts, k === 0 ? null : gatherCandidates(bank, docs).reshape([qs.length * k, nMem, hidden]))),
    );
    const generated = await generateGreedy(clara.backbone, {
      inputsEmbeds: embeds,
      attentionMask: prompts.attentionMask.flat(),
      adapter: DECODER_ADAPTER,
      maxNewTokens: options.maxNewTokens ?? 32,
      eosTokenId: clara.tokenizer.eosId,
    });
    embeds.dispose();
    for (const ids of generated) answers.push(clara.tokenizer.decode(ids, { skipSpecialTokens: true }).trim());
  }
  return answers;
}
