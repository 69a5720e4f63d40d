import { readDocuments } from '../data/documentsData.ts';
import { compressCorpus, compressorFingerprint, saveDocumentBank } from '../retrieval/documentBank.ts';
import { ProgressBar } from '../train/progress.ts';
import { Options } from './args.ts';
import { useBackend } from './backendOption.ts';
import { loadModelOption } from './modelOption.ts';

const COMPRESS_HELP = `Usage: clara compress --model DIR [--base DIR] --docs FILE --out INDEX [--batch-size B] [--dtype D] [--backend auto|webgpu|cpu]

Compresses every document of FILE once with the model's compressor (encoder_adapter) and writes a
document bank (safetensors): vectors F32 [docs, n, d], doc_ids I32 [docs], and the texts in the
metadata, with the compressor's fingerprint (\`clara ask\` refuses a bank another model made).
--model is a model directory or a run folder (its checkpoint). FILE is JSON Lines, one document per line: {"text": "..."} (or {"id": .., "text": ..}, as
\`clara synth\` writes documents.jsonl), or a plain JSON string per line. --dtype auto|float32|bfloat16|float16:
how the base's frozen matrices are held (default auto: a 16-bit checkpoint stays 16-bit).`;

export async function runCompress(argv: string[]): Promise<number> {
  const options = Options.parse('compress', argv, {
    model: { type: 'string' },
    base: { type: 'string' },
    docs: { type: 'string' },
    out: { type: 'string' },
    'batch-size': { type: 'string' },
    backend: { type: 'string' },
    dtype: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(COMPRESS_HELP);
    return 0;
  }
  options.required('model');
  const [docs, out] = [options.required('docs'), options.required('out')];
  const batchSize = options.int('batch-size', 1) ?? 16;
  const backend = await useBackend('compress', options.string('backend'));
  const { clara } = loadModelOption(options, backend, 'auto');
  const texts = readDocuments(docs);
  const started = performance.now();
  const bar = new ProgressBar(texts.length, process.stderr, 10, 'docs');
  const vectors = compressCorpus(clara, texts, {
    batchSize,
    onProgress: (done) => {
      bar.update({ step: done, tokensPerSecond: done / ((performance.now() - started) / 1000) });
    },
  });
  bar.finish();
  await saveDocumentBank(out, { vectors, docIds: texts.map((_, i) => i), texts, compressor: await compressorFingerprint(clara) });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `compressed ${texts.length} documents into ${vectors.shape[1]} vectors of ${vectors.shape[2]} each (${(texts.length / seconds).toFixed(1)} documents/s): ${out}`,
  );
  return 0;
}
