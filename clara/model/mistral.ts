import {
  concat,
  empty,
  Generator,
  getDefaultBackend,
  isGradEnabled,
  isHalf,
  kaimingUniform,
  keep,
  siluMul,
  tidy,
  type Backend,
  type DType,
  type Tensor,
} from '../../engine/index.ts';
import { Embedding, Module, Parameter, RMSNorm, RowBlocks } from '../../engine/nn/index.ts';
import type { MistralConfig } from './config.ts';
import { attentionMask, groupedQueryAttention } from './attention.ts';
import { DEFAULT_LORA, LoraLinear, type LoraConfig } from './lora.ts';
import { applyRotary, positionsFromMask, rotaryTables } from './rotary.ts';

/**
 * A Mistral-family decoder-only transformer (Hugging Face's MistralForCausalLM), written with
 * engine ops so that it is differentiable end to end, with named LoRA adapters on all seven linear
 * layers of every block. Parameter names follow the Hugging Face checkpoint layout
 * (`model.layers.0.self_attn.q_proj.weight`, …, `lm_head.weight`).
 *
 * Per block: h ← h + o_proj(attention(rope(q_proj(n₁(h))), rope(k_proj(·)), v_proj(·)))
 *            h ← h + down_proj(silu(gate_proj(n₂(h))) · up_proj(n₂(h)))
 * then a final RMSNorm and the lm_head.
 */

/** What one forward call needs besides the weights. */
interface ForwardContext {
  adapter: string | null;
  cos: Tensor;
  sin: Tensor;
  allowed: Tensor;
  /** Draws LoRA dropout masks. */
  rng: Generator;
}

/** Keys and values of the positions already processed, per layer: [B, Hkv, T, Dh]. */
export interface KVCache {
  layers: Array<{ k: Tensor; v: Tensor } | null>;
  /** Tokens processed so far (T). */
  length: number;
}

export function emptyCache(config: MistralConfig): KVCache {
  return { layers: new Array(config.num_hidden_layers).fill(null), length: 0 };
}

export function disposeCache(cache: KVCache): void {
  for (const layer of cache.layers) {
    layer?.k.dispose();
    layer?.v.dispose();
  }
  cache.layers.fill(null);
  cache.length = 0;
}

interface InitOptions {
  /** Draws the initial weights. */
  rng?: Generator;
  backend?: Backend;
  dtype?: DType;
  /**
   * The dtype of the frozen matrices (the seven projections of every block, the embedding table,
   * lm_head), default `dtype`. A 16-bit one (bfloat16 / float16, engine/dtype.ts) keeps them 2 bytes
   * per parameter, read by the matmul and gather kernels; the norms and the LoRA adapters stay `dtype`.
   */
  weightDtype?: DType;
  /** false: weights with undefined contents (engine `empty`) instead of random draws, for a model about to be loaded in full (default true). */
  initialize?: boolean;
}

export class MistralAttention extends Module {
  readonly qProj: LoraLinear;
  readonly kProj: LoraLinear;
  readonly vProj: LoraLinear;
  readonly oProj: LoraLinear;

  constructor(
    readonly config: MistralConfig,
    init: InitOptions,
  ) {
    super();
    const { hidden_size: d, num_attention_heads: h, num_key_value_heads: kv, head_dim: hd } = config;
    this.qProj = this.registerModule('q_proj', new LoraLinear(d, h * hd, init));
    this.kProj = this.registerModule('k_proj', new LoraLinear(d, kv * hd, init));
    this.vProj = this.registerModule('v_proj', new LoraLinear(d, kv * hd, init));
    this.oProj = this.registerModule('o_proj', new LoraLinear(h * hd, d, init));
  }

  /** x [B, S, d] → [B, S, d] (plus `residual` [B, S, d], added by o_proj); appends this call's keys and values to `cache` when given. */
  forward(x: Tensor, ctx: ForwardContext, cache?: KVCache, layer = 0, residual?: Tensor): Tensor {
    const [batch, seq] = x.shape as [number, number, number];
    const { num_attention_heads: heads, num_key_value_heads: kvHeads, head_dim: headDim } = this.config;
    const project = (proj: LoraLinear, n: number) => proj.forward(x, ctx.adapter, ctx.rng).reshape([batch, seq, n, headDim]).transpose(1, 2); // [B, n, S, Dh]
    const q = applyRotary(project(this.qProj, heads), ctx.cos, ctx.sin);
    let k = applyRotary(project(this.kProj, kvHeads), ctx.cos, ctx.sin);
    let v = project(this.vProj, kvHeads);
    if (cache !== undefined) {
      const past = cache.layers[layer];
      if (past !== null && past !== undefined) {
        k = concat([past.k, k], 2);
        v = concat([past.v, v], 2);
        past.k.dispose();
        past.v.dispose();
      }
      cache.layers[layer] = { k: keep(k.detach()), v: keep(v.detach()) };
    }
    const out = groupedQueryAttention(q, k, v, ctx.allowed); // [B, H, S, Dh]
    return this.oProj.forward(out.transpose(1, 2).reshape([batch, seq, heads * headDim]), ctx.adapter, ctx.rng, residual);
  }
}

export class MistralMLP extends Module {
  readonly gateProj: LoraLinear;
  readonly upProj: LoraLinear;
  readonly downProj: LoraLinear;

  constructor(config: MistralConfig, init: InitOptions) {
    super();
    const { hidden_size: d, intermediate_size: m } = config;
    this.gateProj = this.registerModule('gate_proj', new LoraLinear(d, m, init));
    this.upProj = this.registerModule('up_proj', new LoraLinear(d, m, init));
    this.downProj = this.registerModule('down_proj', new LoraLinear(m, d, init));
  }

  /** SwiGLU: x [B, S, d] → down(silu(gate(x)) · up(x)) [B, S, d] (plus `residual`, added by down_proj). */
  forward(x: Tensor, ctx: ForwardContext, residual?: Tensor): Tensor {
    const gate = this.gateProj.forward(x, ctx.adapter, ctx.rng);
    const up = this.upProj.forward(x, ctx.adapter, ctx.rng);
    return this.downProj.forward(siluMul(gate, up), ctx.adapter, ctx.rng, residual);
  }
}

export class MistralDecoderLayer extends Module {
  readonly selfAttn: MistralAttention;
  readonly mlp: MistralMLP;
  readonly inputLayernorm: RMSNorm;
  readonly postAttentionLayernorm: RMSNorm;

  constructor(config: MistralConfig, init: InitOptions) {
    super();
    const norm = { eps: config.rms_norm_eps, backend: init.backend, dtype: init.dtype };
    this.selfAttn = this.registerModule('self_attn', new MistralAttention(config, init));
    this.mlp = this.registerModule('mlp', new MistralMLP(config, init));
    this.inputLayernorm = this.registerModule('input_layernorm', new RMSNorm(config.hidden_size, norm));
    this.postAttentionLayernorm = this.registerModule('post_attention_layernorm', new RMSNorm(config.hidden_size, norm));
  }

  /**
   * h [B, S, d] → [B, S, d] (pre-norm residual block): h + attn(norm(h)), then that + mlp(norm(that)).
   * Each residual add happens in the store of the branch's last product (o_proj, down_proj).
   */
  forward(h: Tensor, ctx: ForwardContext, cache: KVCache | undefined, layer: number): Tensor {
    const afterAttention = this.selfAttn.forward(this.inputLayernorm.forward(h), ctx, cache, layer, h);
    return this.mlp.forward(this.postAttentionLayernorm.forward(afterAttention), ctx, afterAttention);
  }
}

/** The transformer body: embeddings, blocks, final norm (HF's MistralModel, prefix `model.`). */
export class MistralModel extends Module {
  readonly embedTokens: Embedding;
  readonly layers: MistralDecoderLayer[];
  readonly norm: RMSNorm;

  constructor(config: MistralConfig, init: InitOptions) {
    super();
    this.embedTokens = this.registerModule(
      'embed_tokens',
      new Embedding(config.vocab_size, config.hidden_size, {
        generator: init.rng,
        backend: init.backend,
        dtype: init.weightDtype ?? init.dtype,
        initialize: init.initialize,
      }),
    );
    this.layers = this.registerModule(
      'layers',
      Array.from({ length: config.num_hidden_layers }, () => new MistralDecoderLayer(config, init)),
    );
    this.norm = this.registerModule('norm', new RMSNorm(config.hidden_size, { eps: config.rms_norm_eps, backend: init.backend, dtype: init.dtype }));
  }
}

export interface CausalLMInput {
  /** int32 [B, S]; or give `inputsEmbeds`. */
  inputIds?: Tensor;
  /** [B, S, d]: embeddings the caller built (e.g. with compressed documents spliced in). */
  inputsEmbeds?: Tensor;
  /**
   * Host 0/1 values [B, T], T = tokens in the cache + S; 0 marks (left) padding.
   * Defaults to all ones.
   */
  attentionMask?: ArrayLike<number>;
  /** The LoRA adapter active in this call, or null for the base model. */
  adapter?: string | null;
  /** Also return the input of every block and the final normalised states (HF's hidden_states). */
  outputHiddenStates?: boolean;
  /** Skip the lm_head when only hidden states are needed (the compressor). Default true. */
  computeLogits?: boolean;
  /** Continue from (and extend) this key/value cache. */
  cache?: KVCache;
}

export interface CausalLMOutput {
  /** [B, S, d], after the final RMSNorm. */
  lastHiddenState: Tensor;
  /** [B, S, V], unless computeLogits was false. */
  logits: Tensor | null;
  /** L + 1 tensors [B, S, d]: the embeddings, the output of blocks 1…L−1, and lastHiddenState. */
  hiddenStates: Tensor[] | null;
}

/** The whole model with its language-modelling head (HF's MistralForCausalLM). */
export class MistralForCausalLM extends Module {
  readonly model: MistralModel;
  /** The lm_head module; null when tie_word_embeddings (the embedding table is used instead). */
  private readonly head: LmHead | null;
  /** Draws LoRA dropout masks, so training is reproducible (its state is saved with checkpoints). */
  rng: Generator;

  constructor(
    readonly config: MistralConfig,
    init: InitOptions = {},
  ) {
    super();
    this.rng = new Generator(1234);
    this.model = this.registerModule('model', new MistralModel(config, init));
    this.head = config.tie_word_embeddings ? null : this.registerModule('lm_head', new LmHead(config, init));
    for (const p of this.parameters()) p.requiresGrad_(false); // the base is frozen; adapters train
    for (const [path, m] of this.namedModules()) if (m instanceof LoraLinear) m.path = path;
  }

  /**
   * [V, d]: lm_head.weight, or the embedding table when tie_word_embeddings. A head held as row
   * blocks (too large for one tensor on this backend) has no single tensor: use `logits`.
   */
  get lmHead(): Parameter {
    const head = this.headMatrix;
    if (head instanceof RowBlocks) {
      throw new Error(
        `lm_head: the ${head.rows} × ${head.cols} matrix is held as ${head.blocks.length} row blocks (larger than the backend's largest tensor), so it has no single tensor`,
      );
    }
    return head;
  }

  private get headMatrix(): Parameter | RowBlocks {
    const table = this.model.embedTokens;
    return this.head?.weight ?? table.blocks ?? table.weight;
  }

  /** The vocabulary projection: hidden [..., d] → logits [..., V]. */
  logits(hidden: Tensor): Tensor {
    const head = this.headMatrix;
    return head instanceof RowBlocks ? head.matmulTransposed(hidden) : hidden.matmul(head, { transB: true });
  }

  get backend(): Backend {
    return this.model.norm.weight.backend;
  }

  /** The dtype the model computes in (the norms'; the frozen matrices may be stored 16-bit). */
  get dtype(): DType {
    return this.model.norm.weight.dtype;
  }

  /** Token embeddings: ids int32 [B, S] → [B, S, d]. */
  embed(ids: Tensor): Tensor {
    return this.model.embedTokens.forward(ids);
  }

  forward(input: CausalLMInput): CausalLMOutput {
    const embeds = input.inputsEmbeds ?? (input.inputIds !== undefined ? this.embed(input.inputIds) : null);
    if (embeds === null) throw new Error('MistralForCausalLM.forward: give inputIds or inputsEmbeds');
    if (embeds.rank !== 3 || embeds.shape[2] !== this.config.hidden_size) {
      throw new Error(`MistralForCausalLM.forward: input embeddings must be [batch, seq, ${this.config.hidden_size}], got [${embeds.shape.join(', ')}]`);
    }
    const [batch, seq] = embeds.shape as [number, number, number];
    const past = input.cache?.length ?? 0;
    const total = past + seq;
    const mask = input.attentionMask ?? new Uint8Array(batch * total).fill(1);
    if (mask.length !== batch * total) {
      throw new Error(`MistralForCausalLM.forward: attentionMask must have ${batch}×${total} values (batch × (cached + new tokens)), got ${mask.length}`);
    }
    const allPositions = positionsFromMask(mask, batch, total);
    const positions = new Int32Array(batch * seq);
    for (let b = 0; b < batch; b++) positions.set(allPositions.subarray(b * total + past, (b + 1) * total), b * seq);
    const tables = rotaryTables(positions, batch, seq, this.config.head_dim, this.config.rope_theta, {
      backend: this.backend,
      dtype: this.dtype as 'float32' | 'float64',
    });
    const ctx: ForwardContext = {
      adapter: input.adapter ?? null,
      ...tables,
      allowed: attentionMask(mask, batch, seq, total, this.config.sliding_window, this.backend),
      rng: this.rng,
    };
    const hiddenStates: Tensor[] | null = input.outputHiddenStates ? [embeds] : null;
    let h = embeds;
    // Without a graph, each block's intermediates are freed as soon as the block is done, so a pass
    // holds one block's activations, not all of them (a 7B prompt of 272 tokens held 5 GB). With a
    // graph they must live until backward, which the caller's tidy ends.
    const block = isGradEnabled() ? (fn: () => Tensor) => fn() : tidy;
    this.model.layers.forEach((layer, i) => {
      h = block(() => layer.forward(h, ctx, input.cache, i));
      if (hiddenStates !== null && i < this.model.layers.length - 1) hiddenStates.push(h);
    });
    if (input.cache !== undefined) input.cache.length = total;
    const last = this.model.norm.forward(h);
    hiddenStates?.push(last);
    const logits = input.computeLogits === false ? null : this.logits(last);
    return { lastHiddenState: last, logits, hiddenStates };
  }

  // ---- adapters ------------------------------------------------------------------------------
  loraLayers(): LoraLinear[] {
    return this.namedModules()
      .map(([, m]) => m)
      .filter((m): m is LoraLinear => m instanceof LoraLinear);
  }

  /** Adds a fresh adapter (B = 0: the model's output is unchanged) to all seven linears of every block. */
  addAdapter(name: string, config: LoraConfig = DEFAULT_LORA, rng?: Generator): void {
    for (const layer of this.loraLayers()) layer.addAdapter(name, config, rng);
  }

  copyAdapter(from: string, to: string): void {
    for (const layer of this.loraLayers()) layer.copyAdapter(from, to);
  }

  deleteAdapter(name: string): void {
    for (const layer of this.loraLayers()) layer.deleteAdapter(name);
  }

  mergeAdapter(name: string): void {
    for (const layer of this.loraLayers()) layer.mergeAdapter(name);
  }

  adapterNames(): string[] {
    return this.loraLayers()[0]?.adapterNames() ?? [];
  }

  /** An adapter's parameters under PEFT key names: `model.layers.0.self_attn.q_proj.lora_A.weight`. */
  adapterParameters(name: string): Array<[string, Parameter]> {
    return this.loraLayers().flatMap((layer) => {
      const a = layer.adapter(name);
      return [
        [`${layer.path}.lora_A.weight`, a.A],
        [`${layer.path}.lora_B.weight`, a.B],
      ] as Array<[string, Parameter]>;
    });
  }
}

/**
 * lm_head: a bias-free projection [V, d] onto the vocabulary; a frozen one larger than the
 * backend's largest tensor is held as row blocks (engine/nn/rowBlocks.ts), like the embedding table.
 */
class LmHead extends Module {
  readonly weight: Parameter | RowBlocks;
  constructor(config: MistralConfig, init: InitOptions) {
    super();
    const dtype = init.weightDtype ?? init.dtype;
    const { vocab_size: rows, hidden_size: cols } = config;
    const options = { generator: init.rng, backend: init.backend, dtype };
    const make = (shape: number[]) => (init.initialize === false ? empty(shape, options) : kaimingUniform(shape, options));
    const frozen = dtype !== undefined && isHalf(dtype);
    const blockRows = frozen ? RowBlocks.blockRows(rows, cols, dtype, init.backend ?? getDefaultBackend()) : null;
    this.weight =
      blockRows === null
        ? this.registerParameter('weight', Parameter.adopt(make([rows, cols]), { requiresGrad: !frozen }))
        : this.registerModule('weight', new RowBlocks(rows, cols, blockRows, make));
  }
}
