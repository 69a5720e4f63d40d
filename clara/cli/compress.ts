import { ClaraModel } from '../claraModel.ts';
import { readDocuments } from '../data/documentsData.ts';
import { compressCorpus, saveDocumentBank } from '../retrieval/documentBank.ts';
import { ProgressBar } from '../train/progress.ts';
import { Options } from './args.ts';
import { useBackend } from './backendOption.ts';

const COMPRESS_HELP = `Usage: clara compress --model DIR [--base DIR] --docs FILE --out INDEX [--batch-size B] [--backend auto|webgpu|cpu]

Compresses every document of FILE once with the model's compressor (encoder_adapter) and writes a
document bank (safetensors): vectors F32 [docs, n, d], doc_ids I32 [docs], and the texts in the
metadata. FILE is JSON Lines, one document per line: {"text": "..."} (or {"id": .., "text": ..}, as
\`clara synth\` writes documents.jsonl), or a plain JSON string per line.`;

export async function runCompress(argv: string[]): Promise<number> {
  const options = Options.parse('compress', argv, {
    model: { type: 'string' },
    base: { type: 'string' },
    docs: { type: 'string' },
    out: { type: 'string' },
    'batch-size': { type: 'string' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(COMPRESS_HELP);
    return 0;
  }
  const [modelDir, docs, out] = [options.required('model'), options.required('docs'), options.required('out')];
  const batchSize = options.int('batch-size', 1) ?? 16;
  const backend = await useBackend('compress', options.string('backend'));
  const clara = ClaraModel.load(modelDir, { backend, base: options.string('base') });
  const texts = readDocuments(docs);
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
  await saveDocumentBank(out, { vectors, docIds: texts.map((_, i) => i), texts });
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `compressed ${texts.length} documents into ${vectors.shape[1]} vectors of ${vectors.shape[2]} each (${(texts.length / seconds).toFixed(1)} documents/s): ${out}`,
  );
  return 0;
}
