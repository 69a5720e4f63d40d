/**
 * The backbone's hyper-parameters, with Hugging Face `MistralConfig` field names so that a
 * checkpoint's `config.json` reads as it is.
 */
export interface MistralConfig {
  vocab_size: number;
  hidden_size: number;
  intermediate_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  num_key_value_heads: number;
  head_dim: number;
  rms_norm_eps: number;
  rope_theta: number;
  max_position_embeddings: number;
  /** Attend only to the last `sliding_window` positions; null = full causal attention. */
  sliding_window: number | null;
  tie_word_embeddings: boolean;
}

/** Named configurations: `tiny` for tests, `small` for CPU demos, `mistral-7b` the real one. */
export const PRESETS: Readonly<Record<string, MistralConfig>> = {
  tiny: {
    vocab_size: 64,
    hidden_size: 32,
    intermediate_size: 64,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 8,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 512,
    sliding_window: null,
    tie_word_embeddings: false,
  },
  small: {
    vocab_size: 512,
    hidden_size: 128,
    intermediate_size: 256,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 32,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 1024,
    sliding_window: null,
    tie_word_embeddings: false,
  },
  'mistral-7b': {
    vocab_size: 32000,
    hidden_size: 4096,
    intermediate_size: 14336,
    num_hidden_layers: 32,
    num_attention_heads: 32,
    num_key_value_heads: 8,
    head_dim: 128,
    rms_norm_eps: 1e-5,
    rope_theta: 1e6,
    max_position_embeddings: 32768,
    sliding_window: null,
    tie_word_embeddings: false,
  },
};

const INTEGER_FIELDS = [
  'vocab_size',
  'hidden_size',
  'intermediate_size',
  'num_hidden_layers',
  'num_attention_heads',
  'num_key_value_heads',
  'head_dim',
  'max_position_embeddings',
] as const;

/**
 * Completes and validates a config: `head_dim` defaults to hidden_size / num_attention_heads as in
 * Hugging Face; every field is checked, and an error names the field and the source.
 */
export function validateConfig(raw: Record<string, unknown>, source = 'config'): MistralConfig {
  const heads = raw.num_attention_heads;
  const headDim = raw.head_dim ?? (typeof raw.hidden_size === 'number' && typeof heads === 'number' ? raw.hidden_size / heads : undefined);
  const config = {
    ...raw,
    head_dim: headDim,
    rms_norm_eps: raw.rms_norm_eps ?? 1e-5,
    rope_theta: raw.rope_theta ?? 10000,
    max_position_embeddings: raw.max_position_embeddings ?? 32768,
    sliding_window: raw.sliding_window ?? null,
    tie_word_embeddings: raw.tie_word_embeddings ?? false,
  } as Record<string, unknown>;
  for (const field of INTEGER_FIELDS) {
    const v = config[field];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0)
      throw new Error(`${source}: field "${field}" must be a positive integer, got ${JSON.stringify(v)}`);
  }
  for (const field of ['rms_norm_eps', 'rope_theta'] as const) {
    const v = config[field];
    if (typeof v !== 'number' || !(v > 0)) throw new Error(`${source}: field "${field}" must be a positive number, got ${JSON.stringify(v)}`);
  }
  const sw = config.sliding_window;
  if (sw !== null && (typeof sw !== 'number' || !Number.isInteger(sw) || sw <= 0))
    throw new Error(`${source}: field "sliding_window" must be null or a positive integer, got ${JSON.stringify(sw)}`);
  if (typeof config.tie_word_embeddings !== 'boolean') throw new Error(`${source}: field "tie_word_embeddings" must be a boolean`);
  const c = config as unknown as MistralConfig;
  if (c.num_attention_heads % c.num_key_value_heads !== 0) {
    throw new Error(`${source}: num_attention_heads (${c.num_attention_heads}) must be a multiple of num_key_value_heads (${c.num_key_value_heads})`);
  }
  if (c.head_dim % 2 !== 0) throw new Error(`${source}: head_dim (${c.head_dim}) must be even for rotary embeddings`);
  const fields = Object.keys(PRESETS.tiny!) as Array<keyof MistralConfig>;
  return Object.fromEntries(fields.map((f) => [f, c[f]])) as unknown as MistralConfig;
}
