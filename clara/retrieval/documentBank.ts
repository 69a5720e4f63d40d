import { concat, keep, noGrad, tensor, tidy, type Backend, type Tensor } from '../../engine/index.ts';
import { bf16ToFloat32Array, f16ToFloat32Array, readSafetensorsFile, writeSafetensorsFile } from '../../engine/io/index.ts';
import { ENCODER_ADAPTER } from '../adapters.ts';
import type { ClaraModel } from '../claraModel.ts';
import { compressDocuments } from '../compressor.ts';
import type { Stage3Row } from '../data/stage3Data.ts';
import { buildEncoderBatch } from '../tokenizer/encoderInput.ts';
import { FNV_OFFSET, fnv1a } from '../train/checkpoint.ts';

/**
 * The document bank: every document of a corpus compressed once by the (frozen) compressor, stored
 * as n·d numbers per document (docs/clara.md §6: "compressed documents can be precomputed").
 *
 * On disk (`clara compress`), a safetensors file:
 *   vectors   F32 [docs, n, d]   the compressed documents
 *   doc_ids   I32 [docs]         each row's document id (its line in the corpus file)
 *   metadata  "documents"        the texts, as a JSON array (so `clara ask` can show them)
 *             "compressor"       the compressor's fingerprint (`compressorFingerprint`), so that a
 *                                bank is only ever read by the model whose compressor made it
 */
export interface DocumentBank {
  /** [docs, n, d] */
  vectors: Tensor;
  docIds: number[];
  texts: string[];
  /** The fingerprint of the compressor that made the bank (absent in banks written before it was kept). */
  compressor?: string;
}

/**
 * What identifies a compressor: a hash of the encoder adapter's weights, the embedding table (whose
 * <MEMi> rows stage 1 trains) and the settings that shape its output (document length, compression
 * rate). Stage 3 keeps all of these frozen, so a stage-3 model and the stage-1 model it started
 * from share it: their banks are interchangeable, and no other model's are.
 *
 * It hashes values, not storage: every weight as float32 (a 16-bit one widened, which is exact),
 * a table held as row blocks block after block (the same bytes as the whole table). So the same
 * model loaded with `--dtype bfloat16` or `float32`, split or not, has one fingerprint, while a
 * float32 table that 16-bit would round (another model, to the compressor) has its own.
 */
export async function compressorFingerprint(clara: ClaraModel): Promise<string> {
  const model = clara.backbone;
  const table = model.model.embedTokens;
  const weights: Array<readonly [string, readonly Tensor[]]> = [
    ['model.embed_tokens.weight', table.blocks?.blocks ?? [table.weight]],
    ...model.adapterParameters(ENCODER_ADAPTER).map(([key, p]) => [`${ENCODER_ADAPTER}.${key}`, [p]] as const),
  ];
  const encoder = new TextEncoder();
  let h = FNV_OFFSET;
  for (const [name, parts] of weights) {
    h = fnv1a(encoder.encode(name), h);
    for (const part of parts) {
      const values = await float32Values(part);
      h = fnv1a(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), h);
    }
  }
  return `${h.toString(16).padStart(8, '0')}-${clara.settings.docMaxLength}/${clara.settings.compressionRate}`;
}

/** A tensor's values as float32: 16-bit storage reads back as bit patterns, widened here (exactly). */
async function float32Values(t: Tensor): Promise<Float32Array> {
  const host = await t.toArray();
  if (t.dtype === 'bfloat16') return bf16ToFloat32Array(host as Uint16Array);
  if (t.dtype === 'float16') return f16ToFloat32Array(host as Uint16Array);
  return host instanceof Float32Array ? host : Float32Array.from(host as ArrayLike<number>);
}

/** Compresses `texts` in batches, without gradients. `onProgress(done)` after each batch. */
export function compressCorpus(clara: ClaraModel, texts: readonly string[], options: { batchSize?: number; onProgress?: (done: number) => void } = {}): Tensor {
  const batchSize = options.batchSize ?? 16;
  const wasTraining = clara.backbone.training;
  clara.backbone.eval();
  const parts: Tensor[] = [];
  try {
    for (let start = 0; start < texts.length; start += batchSize) {
      const batch = buildEncoderBatch(clara.tokenizer, texts.slice(start, start + batchSize), {
        maxTextLength: clara.settings.docMaxLength,
        padding: 'longest',
      });
      parts.push(keep(tidy(() => noGrad(() => compressDocuments(clara.backbone, batch, ENCODER_ADAPTER).compressed))));
      options.onProgress?.(Math.min(start + batchSize, texts.length));
    }
  } finally {
    if (wasTraining) clara.backbone.train();
  }
  if (parts.length === 0) throw new Error('compressCorpus: no documents to compress');
  const bank = keep(concat(parts, 0));
  if (parts.length > 1) for (const p of parts) p.dispose();
  return bank;
}

/**
 * The candidate texts of stage-3 rows as one bank, each distinct text compressed once:
 * `bank` [docs, n, d] and, per row, the bank rows of its N candidates, in the row's order.
 */
export function candidateBank(
  clara: ClaraModel,
  rows: readonly Stage3Row[],
  onProgress?: (done: number, total: number) => void,
): { bank: Tensor; candidates: number[][] } {
  const rowOf = new Map<string, number>();
  for (const row of rows) for (const doc of row.docs) if (!rowOf.has(doc)) rowOf.set(doc, rowOf.size);
  const texts = [...rowOf.keys()];
  const bank = compressCorpus(clara, texts, { onProgress: onProgress && ((done) => onProgress(done, texts.length)) });
  return { bank, candidates: rows.map((row) => row.docs.map((doc) => rowOf.get(doc)!)) };
}

/**
 * Each question's candidates, gathered from the bank: bank [docs, n, d] and `candidates` (B, N) bank
 * rows → [B, N, n, d]. Every question needs the same number N.
 */
export function gatherCandidates(bank: Tensor, candidates: readonly (readonly number[])[]): Tensor {
  const [, nMem, hidden] = bank.shape as [number, number, number];
  const width = candidates[0]?.length ?? 0;
  if (candidates.some((row) => row.length !== width)) throw new Error('gatherCandidates: every question of a batch needs the same number of candidates');
  const ids = tensor(Int32Array.from(candidates.flat()), [candidates.length * width], { dtype: 'int32', backend: bank.backend });
  return bank.indexSelect(0, ids).reshape([candidates.length, width, nMem, hidden]);
}

/**
 * Refuses a bank that another model's compressor made: its vectors would mean nothing to this
 * model. Returns a warning instead for a bank that carries no fingerprint (written before banks
 * kept one), which cannot be checked.
 */
export async function checkBankCompressor(clara: ClaraModel, bank: DocumentBank, file: string): Promise<string | null> {
  if (bank.compressor === undefined)
    return `${file} records no compressor fingerprint; it cannot be checked against the model (compress it again to record one)`;
  const ours = await compressorFingerprint(clara);
  if (bank.compressor !== ours) {
    throw new Error(
      `${file} was made by another model's compressor (fingerprint ${bank.compressor}; this model's is ${ours}): its vectors mean nothing to this model. Run \`clara compress\` with this model.`,
    );
  }
  return null;
}

export async function saveDocumentBank(file: string, bank: DocumentBank): Promise<void> {
  writeSafetensorsFile(
    file,
    {
      vectors: { dtype: 'F32', shape: bank.vectors.shape, data: Float32Array.from(await bank.vectors.toArray()) },
      doc_ids: { dtype: 'I32', shape: [bank.docIds.length], data: Int32Array.from(bank.docIds) },
    },
    { documents: JSON.stringify(bank.texts), format: 'clara-document-bank', ...(bank.compressor === undefined ? {} : { compressor: bank.compressor }) },
  );
}

export function loadDocumentBank(file: string, backend: Backend): DocumentBank {
  const f = readSafetensorsFile(file);
  for (const name of ['vectors', 'doc_ids']) if (!f.has(name)) throw new Error(`${file}: not a document bank (no tensor '${name}')`);
  const vectors = f.toHost('vectors');
  if (vectors.shape.length !== 3) throw new Error(`${file}: 'vectors' must be [docs, n, d], got [${vectors.shape.join(', ')}]`);
  let texts: string[];
  try {
    texts = JSON.parse(f.metadata.documents ?? '[]');
  } catch {
    throw new Error(`${file}: metadata "documents" is not a JSON array of strings`);
  }
  return {
    vectors: keep(tensor(vectors.data, vectors.shape, { dtype: 'float32', backend })),
    docIds: Array.from(f.toHost('doc_ids').data),
    texts,
    compressor: f.metadata.compressor,
  };
}
