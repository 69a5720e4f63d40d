import { tensor, type Tensor } from '../engine/index.ts';

/**
 * Splicing compressed documents into the generator's input (spec §3): the token embeddings of the
 * whole prompt, except that the n `<MEMi>` positions of slot j are overwritten by the compressed
 * vectors of document j, in order. `<SEP>` keeps its own embedding. Differentiable to both sides:
 * the prompt's embeddings outside the slots, and the compressed vectors (hence the compressor).
 *
 * embeds [B, L, d]; memoryPositions host (B, k, n); compressed [B·k, n, d] with document
 * b·k + j going to slot j of row b → [B, L, d].
 */
export function spliceCompressed(embeds: Tensor, memoryPositions: readonly (readonly (readonly number[])[])[], compressed: Tensor): Tensor {
  const [batch, length, hidden] = embeds.shape as [number, number, number];
  const rows = memoryPositions.flatMap((slots, b) => slots.flatMap((slot) => slot.map((p) => b * length + p)));
  if (rows.length !== compressed.size / hidden) {
    throw new Error(`spliceCompressed: the prompts hold ${rows.length} memory positions but ${compressed.size / hidden} compressed vectors were given (shape [${compressed.shape.join(', ')}])`);
  }
  const index = tensor(Int32Array.from(rows), [rows.length, 1], { dtype: 'int32', backend: embeds.backend }).expand([rows.length, hidden]);
  return embeds.reshape([batch * length, hidden]).scatter(0, index, compressed.reshape([rows.length, hidden])).reshape([batch, length, hidden]);
}
