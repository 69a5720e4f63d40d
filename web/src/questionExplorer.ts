import { noGrad, tidy, type Tensor } from '../../engine/index.ts';
import { DECODER_ADAPTER, ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../../clara/adapters.ts';
import type { ClaraModel } from '../../clara/claraModel.ts';
import type { Stage3Row } from '../../clara/data/stage3Data.ts';
import { topKEstimator } from '../../clara/differentiableTopK.ts';
import { collateStage3, stage3Loss } from '../../clara/endToEndObjective.ts';
import { slotPromptBatch } from '../../clara/examples.ts';
import { generatorInput } from '../../clara/generatorRead.ts';
import { generateGreedy } from '../../clara/model/generate.ts';
import { encodeQueries } from '../../clara/queryReasoner.ts';
import { candidateBank, gatherCandidates } from '../../clara/retrieval/documentBank.ts';

/**
 * One question through a trained CLaRa (docs/clara.md §6), every intermediate value read out for
 * the page: the relevant document's memory tokens, the query reasoner's vector, the cosine scores
 * over the N candidates, the top-k choice and its soft P, the answer generated from the chosen
 * memory tokens, and the gradient of the answer loss with respect to the scores after one
 * backward pass (what the estimator lets through; nothing is updated).
 */
export interface QuestionTrace {
  /** n memory tokens of d values: [n, d]. */
  shape: [number, number];
  /** The relevant document's memory tokens, [n, d] row-major. */
  memory: number[];
  /** The query reasoner's n vectors for the question, [n, d] row-major. */
  query: number[];
  /** s [N]: cosine of the query with each candidate. */
  scores: number[];
  /** The top-k candidates the estimator chose, best first. */
  chosen: number[];
  /** P [N] of the first choice (the soft relaxation whose gradient the estimator passes on). */
  soft: number[];
  /** dL/ds [N]. */
  gradient: number[];
  /** The answer loss L for the reference answer. */
  loss: number;
  /** The generated answer's tokens, in order, as vocabulary entries. */
  answerTokens: string[];
  answer: string;
}

export async function traceQuestion(clara: ClaraModel, row: Stage3Row, options: { estimator: string; temperature: number }): Promise<QuestionTrace> {
  // A model stopped before stage 3 has no query reasoner yet: stage 3 starts it as a copy of the compressor.
  if (!clara.backbone.adapterNames().includes(QUERY_REASONER_ADAPTER)) clara.backbone.copyAdapter(ENCODER_ADAPTER, QUERY_REASONER_ADAPTER);
  const k = clara.settings.generationTopK;
  const estimator = topKEstimator(options.estimator);
  const wasTraining = clara.backbone.training;
  clara.backbone.eval();
  const { bank, candidates } = candidateBank(clara, [row]); // bank [N, n, d]
  const [, n, d] = bank.shape as [number, number, number];
  try {
    const gold = candidates[0]![row.posIndex[0] ?? 0]!;
    const memory = Array.from(await bank.slice(0, gold, gold + 1).toArray());
    const queryTensor = noGrad(() => encodeQueries(clara, [row.question]));
    const query = Array.from(await queryTensor.toArray());
    queryTensor.dispose();

    // The scores become a leaf just before the estimator, so that backward() stops there and
    // leaves dL/ds in its .grad; the rest is the library's stage-3 loss unchanged.
    const batch = collateStage3(clara.tokenizer, [{ question: row.question, candidates: candidates[0]!, answer: row.answer }], k);
    const out = tidy(() => {
      let leaf: Tensor | null = null;
      const result = stage3Loss(clara, bank, batch, {
        k,
        temperature: options.temperature,
        estimator: (scores, topk) => {
          leaf = scores.detach().requireGrad();
          return estimator(leaf, topk);
        },
      });
      result.loss.backward();
      const scores = leaf as unknown as Tensor;
      // Returned, so that tidy keeps them: the leaf and its gradient too.
      return { loss: result.loss.detach(), soft: result.selection.soft.detach(), indices: result.selection.indices, scores, gradient: scores.grad! };
    });
    const trace = {
      scores: Array.from(await out.scores.toArray()),
      gradient: Array.from(await out.gradient.toArray()),
      soft: Array.from(await out.soft.toArray()).slice(0, row.docs.length),
      chosen: Array.from(await out.indices.toArray()),
      loss: await out.loss.item(),
    };
    clara.backbone.zeroGrad();
    for (const t of [out.loss, out.soft, out.indices, out.scores, out.gradient]) t.dispose();

    // The answer, from the chosen candidates' memory tokens.
    const prompts = slotPromptBatch(clara.tokenizer, [row.question], k);
    const chosenRows = trace.chosen.map((j) => candidates[0]![j]!);
    const embeds = tidy(() => noGrad(() => generatorInput(clara, prompts, gatherCandidates(bank, [chosenRows]).reshape([k, n, d]))));
    const [ids] = await generateGreedy(clara.backbone, {
      inputsEmbeds: embeds,
      attentionMask: prompts.attentionMask.flat(),
      adapter: DECODER_ADAPTER,
      maxNewTokens: 8,
      eosTokenId: clara.tokenizer.eosId,
    });
    embeds.dispose();
    return {
      ...trace,
      shape: [n, d],
      memory,
      query,
      answerTokens: ids!.map((id) => clara.tokenizer.idToToken(id)),
      answer: clara.tokenizer.decode(ids!, { skipSpecialTokens: true }).trim(),
    };
  } finally {
    bank.dispose();
    if (wasTraining) clara.backbone.train();
  }
}

/** A question row as the page lists it. */
export function questionLabel(row: Stage3Row): string {
  return `${row.question} (answer: ${row.answer})`;
}
