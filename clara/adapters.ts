/**
 * The three LoRA roles on the one frozen backbone (docs/clara.md §1). Each is a named adapter of the
 * backbone's linear layers; exactly one is active in each sub-forward.
 *
 *   encoder_adapter         the compressor: a document → n memory vectors [n, d]   (stages 1–3)
 *   decoder_adapter         the generator: reads the spliced prompt, writes the answer (stages 1–3)
 *   query_reasoner_adapter  the query reasoner: a question → n vectors [n, d]      (stage 3)
 *
 * The names are those of the released checkpoints' PEFT folders (docs/clara.md §9).
 */
export const ENCODER_ADAPTER = 'encoder_adapter';
export const DECODER_ADAPTER = 'decoder_adapter';
export const QUERY_REASONER_ADAPTER = 'query_reasoner_adapter';
