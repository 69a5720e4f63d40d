import { readFileSync } from 'node:fs';
import { ClaraModel } from '../claraModel.ts';
import { compressCorpus, saveDocumentBank } from '../retrieval/documentBank.ts';
import { ProgressBar } from '../train/progress.ts';
import { parseOptions, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';

export const COMPRESS_HELP = `Usage: clara compress --model DIR --docs FILE --out INDEX [--batch-size B] [--backend auto|webgpu|cpu]

Compresses every document of FILE once with the model's compressor (encoder_adapter) and writes a
document bank (safetensors): vectors F32 [docs, n, d], doc_ids I32 [docs], and the texts in the
metadata. FILE is JSON Lines, one document per line: {"text": "..."} (or {"id": .., "text": ..}, as
\`clara synth\` writes documents.jsonl), or a plain JSON string per line.`;

/** Documents of a JSON Lines file, with a clear error naming the line of a bad row. */
export function readDocuments(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`${file}: cannot read (${(error as Error).message})`);
  }
  const docs: string[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw new Error(`${file}:${i + 1}: invalid JSON`);
    }
    const doc = typeof value === 'string' ? value : (value as { text?: unknown })?.text;
    if (typeof doc !== 'string') throw new Error(`${file}:${i + 1}: field "text" must be a string`);
    docs.push(doc);
  });
  if (docs.length === 0) throw new Error(`${file}: no documents`);
  return docs;
}

export async function runCompress(argv: string[]): Promise<number> {
  const { values } = parseOptions('compress', argv, {
    model: { type: 'string' }, docs: { type: 'string' }, out: { type: 'string' }, 'batch-size': { type: 'string' },
    backend: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(COMPRESS_HELP);
    return 0;
  }
  for (const required of ['model', 'docs', 'out']) {
    if (typeof values[required] !== 'string') throw new UsageError(`clara compress: --${required} is required (see \`clara compress --help\`)`);
  }
  const batchSize = Number(values['batch-size'] ?? 16);
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new UsageError(`clara compress: --batch-size expects a positive integer, got '${values['batch-size']}'`);
  const backend = await useBackend('compress', values.backend);
  const clara = ClaraModel.load(values.model as string, { backend });
  const texts = readDocuments(values.docs as string);
  const started = performance.now();
  const bar = new ProgressBar(texts.length);
  const vectors = compressCorpus(clara, texts, {
    batchSize,
    onProgress: (done) => {
      const seconds = (performance.now() - started) / 1000;
      bar.update({ step: done, loss: NaN, tokensPerSecond: done / seconds, etaSeconds: ((texts.length - done) * seconds) / done });
    },
  });
  bar.finish();
  await saveDocumentBank(values.out as string, { vectors, docIds: texts.map((_, i) => i), texts });
  const seconds = (performance.now() - started) / 1000;
  console.log(`compressed ${texts.length} documents into ${vectors.shape[1]} vectors of ${vectors.shape[2]} each (${(texts.length / seconds).toFixed(1)} documents/s): ${values.out}`);
  return 0;
}
