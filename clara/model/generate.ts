import { noGrad, tensor, tidy, type Tensor } from '../../engine/index.ts';
import { disposeCache, emptyCache, type MistralForCausalLM } from './mistral.ts';

/**
 * Greedy decoding with a key/value cache. The prompt (token ids or input embeddings, left-padded
 * across the batch) is run once to fill the cache; then each step feeds only the newly chosen
 * token, attending to the cached keys and values, and picks the most likely next token.
 */
export interface GenerateOptions {
  /** int32 [B, S]; or give inputsEmbeds. */
  inputIds?: Tensor;
  /** [B, S, d] (compressed documents already spliced in). */
  inputsEmbeds?: Tensor;
  /** Host 0/1 [B, S], 0 on left padding; default all ones. */
  attentionMask?: ArrayLike<number>;
  adapter?: string | null;
  /** Stop after this many new tokens. */
  maxNewTokens: number;
  /** A row stops at its first end-of-sequence token (which is not returned). */
  eosTokenId?: number;
  /** Called once each new token is chosen, with the number chosen so far (1 after the prompt's pass). */
  onToken?: (produced: number) => void;
}

/** The new tokens of each row (without the prompt and without the end-of-sequence token). */
export async function generateGreedy(model: MistralForCausalLM, options: GenerateOptions): Promise<number[][]> {
  const prompt = options.inputsEmbeds ?? options.inputIds;
  if (prompt === undefined) throw new Error('generateGreedy: give inputIds or inputsEmbeds');
  const [batch, promptLength] = prompt.shape as [number, number];
  const mask: number[] = options.attentionMask ? Array.from(options.attentionMask) : new Array(batch * promptLength).fill(1);
  const cache = emptyCache(model.config);
  const outputs: number[][] = Array.from({ length: batch }, () => []);
  const done = new Array<boolean>(batch).fill(false);
  const wasTraining = model.training;
  model.eval();
  try {
    let length = promptLength;
    // The cache's tensors are kept; everything else a step creates is freed by tidy. Only the last
    // position's logits choose the next token, so the prompt's pass projects that position alone
    // onto the vocabulary (not all S: with 32000 tokens that product would outweigh a 7B layer).
    const step = (input: { inputIds?: Tensor; inputsEmbeds?: Tensor }) =>
      pickNext(
        tidy(() =>
          noGrad(() => {
            const { lastHiddenState } = model.forward({ ...input, attentionMask: mask, adapter: options.adapter ?? null, cache, computeLogits: false });
            return model.logits(lastHiddenState.slice(1, -1)); // [B, 1, V]
          }),
        ),
      );
    let next = await step({ inputIds: options.inputIds, inputsEmbeds: options.inputsEmbeds });
    for (let produced = 0; produced < options.maxNewTokens; produced++) {
      for (let b = 0; b < batch; b++) {
        if (done[b]) continue;
        if (next[b] === options.eosTokenId) done[b] = true;
        else outputs[b]!.push(next[b]!);
      }
      options.onToken?.(produced + 1);
      if (done.every(Boolean) || produced === options.maxNewTokens - 1) break;
      // Extend every row's mask by one real token (finished rows keep decoding; their output is dropped).
      const grown: number[] = [];
      for (let b = 0; b < batch; b++) grown.push(...mask.slice(b * length, (b + 1) * length), 1);
      mask.splice(0, mask.length, ...grown);
      length++;
      const ids = tensor(Int32Array.from(next), [batch, 1], { dtype: 'int32', backend: model.backend });
      next = await step({ inputIds: ids });
      ids.dispose();
    }
  } finally {
    disposeCache(cache);
    if (wasTraining) model.train();
  }
  return outputs;
}

/** Argmax of each row's logits (the last position's, the only one projected): logits [B, 1, V] → host ids [B]. */
async function pickNext(logits: Tensor): Promise<number[]> {
  const ids = tidy(() => logits.argmax(-1).reshape([-1]));
  logits.dispose();
  const values = Array.from(await ids.toArray());
  ids.dispose();
  return values;
}
