import { noGrad, tidy, type Tensor } from '../../engine/index.ts';
import { DECODER_ADAPTER } from '../adapters.ts';
import type { ClaraModel } from '../claraModel.ts';
import { generatorInput } from '../generatorRead.ts';
import { gatherCandidates } from '../retrieval/documentBank.ts';
import { answerPrompt, stage1QaPrompt, tokenizeChatPrompt } from '../tokenizer/chatPrompt.ts';
import { collateGeneratorInputs } from '../tokenizer/generatorBatch.ts';

/**
 * Does the generator read its memory tokens, or look answers up? (docs/clara.md §4)
 *
 * After stage 1 the generator has been trained on `qa` rows only: given one document's memory
 * vectors, it writes `Question: q\nAnswer: a`. This probe gives it each fact's question and scores
 * whether it would then write the answer, teacher-forced: the row is the stage-1 target for the
 * fact, and the fact counts when every token of `a` is the generator's argmax given the tokens
 * before it. Run twice, it tells reading from look-up:
 *
 *   - with the fact's own document, on facts whose question stage 1 never trained (held out),
 *     it is high only if the generator reads values out of the memory vectors;
 *   - with another person's document it should fall to chance: a generator that answers as well
 *     from the wrong memory answers from the question (memorised), not from the document.
 *
 * bank [docs, n, d]; `facts[i].document` is a row of the bank. Returns the share of facts answered
 * and, per fact, the argmax tokens at the answer's positions, decoded. `format: 'answer'` asks in
 * the answer prompt of stages 2 and 3 (the question in the prompt, the answer the whole target)
 * instead of stage 1's `Question: q\nAnswer: a` target, for a generator trained that way.
 */
export interface ProbeFact {
  question: string;
  answer: string;
  /** The bank row whose memory vectors the generator reads. */
  document: number;
}

export async function readingProbe(
  clara: ClaraModel,
  bank: Tensor,
  facts: readonly ProbeFact[],
  options: { batchSize?: number; format?: 'stage1' | 'answer' } = {},
): Promise<{ accuracy: number; predictions: string[] }> {
  const batchSize = options.batchSize ?? 16;
  const { tokenizer, backbone } = clara;
  const wasTraining = backbone.training;
  backbone.eval();
  const predictions: string[] = [];
  let right = 0;
  const prompt = (f: ProbeFact) =>
    options.format === 'answer'
      ? answerPrompt(f.question, f.answer, { nMem: clara.nMem, k: 1 })
      : stage1QaPrompt([f.question], [f.answer], { nMem: clara.nMem });
  try {
    for (let start = 0; start < facts.length; start += batchSize) {
      const part = facts.slice(start, start + batchSize);
      const rows = part.map((f) => tokenizeChatPrompt(tokenizer, prompt(f), { k: 1 }));
      const batch = collateGeneratorInputs(rows, tokenizer.padId);
      const length = batch.inputIds[0]!.length;
      const argmax = tidy(() =>
        noGrad(() => {
          const memory = gatherCandidates(
            bank,
            part.map((f) => [f.document]),
          ).reshape([part.length, clara.nMem, -1]);
          const embeds = generatorInput(clara, batch, memory);
          const { logits } = backbone.forward({ inputsEmbeds: embeds, attentionMask: batch.attentionMask.flat(), adapter: DECODER_ADAPTER });
          return logits!.argmax(2); // [B, L]
        }),
      );
      const ids = await argmax.toArray();
      argmax.dispose();
      part.forEach((fact, b) => {
        // Rows are left-padded and end `… a</s>`: the answer's tokens are the ones before </s>,
        // each predicted at the position before it.
        const answerLength = tokenizer.encode(fact.answer, { addBos: false }).length;
        const first = length - 1 - answerLength;
        const predicted: number[] = [];
        for (let p = first; p < length - 1; p++) predicted.push(Number(ids[b * length + p - 1]));
        if (predicted.every((id, j) => id === batch.inputIds[b]![first + j])) right++;
        predictions.push(tokenizer.decode(predicted, { skipSpecialTokens: true }).trim());
      });
    }
  } finally {
    if (wasTraining) backbone.train();
  }
  return { accuracy: facts.length === 0 ? 0 : right / facts.length, predictions };
}
