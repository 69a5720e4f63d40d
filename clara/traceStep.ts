import { Generator, noGrad, type Tensor, tensor, withCaptureAsync } from '../engine/index.ts';
import { DECODER_ADAPTER, ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from './adapters.ts';
import type { ClaraModel } from './claraModel.ts';
import { compressionLoss } from './compressionObjective.ts';
import { compressDocuments } from './compressor.ts';
import { topKEstimator } from './differentiableTopK.ts';
import { stage3LossOf } from './endToEndObjective.ts';
import { memoryMseLoss } from './memoryMseLoss.ts';
import { peftParameterName } from './model/peftCheckpoint.ts';
import type { TraceInputs } from './model/traceInputs.ts';
import { encodeQueryBatch } from './queryReasoner.ts';
import type { EncoderBatch } from './tokenizer/encoderInput.ts';
import type { GeneratorBatch } from './tokenizer/generatorBatch.ts';
import { tokenizeTraceTexts } from './traceTexts.ts';

/**
 * One step of the method on given token ids, with every intermediate the method names and its
 * gradient (`clara trace --mode compressor|stage1|stage3`), for comparing with a PyTorch run of
 * the same checkpoint tensor by tensor (reference/trace_torch.py writes the same names).
 *
 * Inputs (ids, left-padded; a row's memory tokens `<MEM0…MEM{n-1}>` are the last n of an encoder
 * row and, in a generator row, found by their ids, n at a time, one slot per document):
 *   compressor  input_ids, attention_mask                               [docs, T + n]
 *   stage1      encoder.input_ids, encoder.attention_mask               [B·k, T + n]
 *               generator.input_ids, generator.attention_mask, generator.labels   [B, L]
 *   stage3      query.input_ids, query.attention_mask                   [B, T + n]
 *               candidates.input_ids, candidates.attention_mask         [B·N, T + n] (question b's N in a row)
 *               generator.input_ids, generator.attention_mask, generator.labels   [B, L], k slots each
 *
 * Written (float32), in the order the computation produces them, each value followed by the names
 * after it; then `grad.<name>` = d loss / d value for those the loss depends on, and every LoRA
 * gradient under PEFT's multi-adapter name (grad.base_model.model.model.layers.0.self_attn.q_proj.lora_A.decoder_adapter.weight):
 *   compressor  compressed [docs, n, d], mu_mem (the mean of compressed), mu_doc [docs, d], mse = loss []
 *   stage1      compressed, mu_mem, mu_doc, mse, spliced_embeddings [B, L, d], generator_hidden [B, L, d],
 *               logits [B, L, V], ce, loss = ce + λ·mse
 *   stage3      q [B, n·d], D [B, N, n·d], s [B, N], l [B, N], H, P, W [B, k, N], selected [B·k, n, d],
 *               spliced_embeddings, generator_hidden, logits, ce, loss
 * grad.compressed is the whole d loss / d compressed: the generator's path and the MSE term's (mu_mem is
 * computed from compressed itself). The logits are computed in full and the loss taken from them
 * (generatorRead.ts, while a capture runs; not when they outgrow the backend's largest tensor), so
 * grad.logits is there too. Stage 1 adds, last, the
 * gradient of the <MEMi> embedding rows it trains: grad.model.embed_tokens.weight.mem_rows [n, d].
 * (docs/clara.md names them: §2 compressor, §4 MSE, §3 the read step, §6 the top-k.)
 */
export const TRACE_MODES = ['decoder', 'compressor', 'stage1', 'stage3'] as const;
export type TraceMode = (typeof TRACE_MODES)[number];

export interface StepTraceOptions {
  mode: Exclude<TraceMode, 'decoder'>;
  /** λ of stage 1 (default 0.1). */
  mseWeight?: number;
  /** Stage 3: k, τ, the estimator (default straight-through) and the seed of a noisy one. */
  k?: number;
  temperature?: number;
  estimator?: string;
  seed?: number;
}

/** Runs the step and backward; returns the tensors to write, in order. */
export async function traceStep(clara: ClaraModel, given: TraceInputs, options: StepTraceOptions): Promise<Map<string, Tensor>> {
  const inputs = given.texts.length > 0 ? tokenizeTraceTexts(clara, given, options.mode, options.k) : given;
  const model = clara.backbone;
  model.eval();
  // Stage 1 trains the <MEMi> rows of the embedding table too (compressionObjective.ts): for the
  // trace, the table requires a gradient for this step only.
  const embedding = model.model.embedTokens.weight;
  const embeddingTrains = embedding.requiresGrad;
  if (options.mode === 'stage1') embedding.requiresGrad_(true);
  try {
    return await withCaptureAsync(async (capture) => {
      let loss: Tensor;
      let trained: string[];
      if (options.mode === 'compressor') {
        const encoder = encoderBatch(inputs, '', clara.nMem);
        const { compressed, hidden } = compressDocuments(model, encoder, ENCODER_ADAPTER);
        capture.add('compressed', compressed);
        loss = memoryMseLoss(hidden, encoder.attentionMask, clara.nMem, compressed).loss;
        trained = [ENCODER_ADAPTER];
      } else if (options.mode === 'stage1') {
        const encoder = encoderBatch(inputs, 'encoder.', clara.nMem);
        const out = compressionLoss(clara, { encoder, generator: generatorBatch(inputs, clara) }, options.mseWeight ?? 0.1);
        loss = out.loss;
        trained = [ENCODER_ADAPTER, DECODER_ADAPTER];
      } else {
        const prompts = generatorBatch(inputs, clara);
        const queries = encodeQueryBatch(clara, encoderBatch(inputs, 'query.', clara.nMem));
        const candidateRows = encoderBatch(inputs, 'candidates.', clara.nMem);
        const batch = prompts.inputIds.length;
        if (candidateRows.inputIds.length % batch !== 0)
          throw new Error(`${inputs.file}: candidates.input_ids has ${candidateRows.inputIds.length} rows, not a multiple of the ${batch} questions`);
        // The bank is compressed once by the frozen compressor: no gradient, as in stage 3.
        const compressed = noGrad(() => compressDocuments(model, candidateRows, ENCODER_ADAPTER).compressed);
        const [, n, d] = compressed.shape as [number, number, number];
        const candidates = compressed.reshape([batch, candidateRows.inputIds.length / batch, n, d]);
        const k = options.k ?? prompts.memoryPositions[0]!.length;
        const estimator = topKEstimator(options.estimator ?? 'straight-through');
        const out = stage3LossOf(clara, queries, candidates, prompts, {
          k,
          temperature: options.temperature ?? 0.02,
          estimator,
          rng: new Generator(options.seed ?? 0),
        });
        loss = out.loss;
        trained = [QUERY_REASONER_ADAPTER, DECODER_ADAPTER];
      }
      for (const name of trained)
        if (!model.adapterNames().includes(name))
          throw new Error(`${options.mode} needs the adapter '${name}' (the checkpoint has: ${model.adapterNames().join(', ') || 'none'})`);
      loss.backward();
      const written = new Map(capture.values);
      for (const [name, g] of capture.gradients()) written.set(`grad.${name}`, g);
      for (const adapter of trained) {
        for (const [key, p] of model.adapterParameters(adapter)) if (p.grad !== null) written.set(`grad.${peftParameterName(adapter, key)}`, p.grad);
      }
      if (options.mode === 'stage1' && embedding.grad !== null) {
        const mem = clara.tokenizer.special.mem;
        const rows = tensor(Int32Array.from(mem), [mem.length], { dtype: 'int32', backend: model.backend });
        written.set(MEM_ROWS_GRADIENT, embedding.grad.indexSelect(0, rows));
      }
      return written;
    });
  } finally {
    embedding.requiresGrad_(embeddingTrains);
  }
}

/** Stage 1: the <MEMi> rows, in order, of d loss / d model.embed_tokens.weight [n, d]. */
const MEM_ROWS_GRADIENT = 'grad.model.embed_tokens.weight.mem_rows';

/** Encoder rows `<prefix>input_ids` / `<prefix>attention_mask`; the memory tokens are the last n. */
function encoderBatch(inputs: TraceInputs, prefix: string, n: number): EncoderBatch {
  const inputIds = inputs.rows(`${prefix}input_ids`);
  const width = inputIds[0]?.length ?? 0;
  const attentionMask = inputs.has(`${prefix}attention_mask`)
    ? inputs.rows(`${prefix}attention_mask`, [inputIds.length, width])
    : inputIds.map((r) => r.map(() => 1));
  const memoryPositions = inputIds.map(() => Array.from({ length: n }, (_, i) => width - n + i));
  return { inputIds, attentionMask, memoryPositions };
}

/** Generator rows; each row's `<MEMi>` ids, found in order, make its slots (n positions each). */
function generatorBatch(inputs: TraceInputs, clara: ClaraModel): GeneratorBatch {
  const inputIds = inputs.rows('generator.input_ids');
  const shape = [inputIds.length, inputIds[0]?.length ?? 0] as const;
  const attentionMask = inputs.has('generator.attention_mask') ? inputs.rows('generator.attention_mask', shape) : inputIds.map((r) => r.map(() => 1));
  const labels = inputs.rows('generator.labels', shape);
  const mem = new Set(clara.tokenizer.special.mem);
  const n = clara.nMem;
  const memoryPositions = inputIds.map((row, b) => {
    const positions = row.flatMap((id, t) => (mem.has(id) && attentionMask[b]![t] === 1 ? [t] : []));
    if (positions.length === 0 || positions.length % n !== 0)
      throw new Error(`${inputs.file}: generator row ${b} holds ${positions.length} memory tokens, not a positive multiple of n = ${n}`);
    return Array.from({ length: positions.length / n }, (_, j) => positions.slice(j * n, (j + 1) * n));
  });
  return { inputIds, attentionMask, labels, memoryPositions };
}
