import { ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../adapters.ts';
import { answerQuestions, rankCandidates } from '../answering.ts';
import type { ClaraModel } from '../claraModel.ts';
import { checkBankCompressor, loadDocumentBank } from '../retrieval/documentBank.ts';
import { Options, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';
import { loadModelOption } from './modelOption.ts';

const ASK_HELP = `Usage: clara ask --model DIR [--base DIR] --index INDEX [--k K] [--max-new-tokens T] [--dtype D] [--json] "question"

Encodes the question with the query reasoner, ranks every document of the bank (\`clara compress\`)
by cosine similarity, prints the top k with their scores, and the answer the generator writes from
those k compressed documents. --model is a model directory or a run folder (its checkpoint); a
model without a query reasoner (stages 1 and 2) encodes the question with its compressor, and says
so. A bank made by another model's compressor is refused. --dtype auto|float32|bfloat16|float16: how
the base's frozen matrices are held (default auto: a 16-bit checkpoint stays 16-bit).`;

/** The adapter that encodes questions, and why: stage 3's query reasoner, else the compressor. */
function queryEncoder(clara: ClaraModel): { adapter: string; why: string } {
  if (clara.backbone.adapterNames().includes(QUERY_REASONER_ADAPTER)) return { adapter: QUERY_REASONER_ADAPTER, why: "stage 3's query reasoner" };
  return {
    adapter: ENCODER_ADAPTER,
    why: `the compressor: this stage-${clara.settings.stage} model has no query reasoner (stage 3, \`clara e2e\`, trains one)`,
  };
}

export async function runAsk(argv: string[]): Promise<number> {
  const options = Options.parse('ask', argv, {
    model: { type: 'string' },
    base: { type: 'string' },
    index: { type: 'string' },
    k: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    json: { type: 'boolean' },
    backend: { type: 'string' },
    dtype: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(ASK_HELP);
    return 0;
  }
  options.required('model');
  const index = options.required('index');
  const question = options.positionals.join(' ').trim();
  if (question === '') throw new UsageError('clara ask: give the question as the last argument');
  const backend = await useBackend('ask', options.string('backend'));
  const { clara, dir } = loadModelOption(options, backend, 'auto');
  const bank = loadDocumentBank(index, backend);
  const warning = await checkBankCompressor(clara, bank, index);
  if (warning !== null) console.error(`warning: ${warning}`);
  const encoder = queryEncoder(clara);
  console.error(`model ${dir}; questions encoded by ${encoder.adapter} (${encoder.why})`);
  const k = options.int('k', 1) ?? clara.settings.generationTopK;
  const all = Array.from({ length: bank.docIds.length }, (_, i) => i);
  const [ranking] = await rankCandidates(clara, bank.vectors, [question], [all], { adapter: encoder.adapter });
  const top = ranking!.order.slice(0, Math.min(k, all.length));
  const [answer] = await answerQuestions(clara, bank.vectors, [question], [top], { maxNewTokens: options.int('max-new-tokens', 1) ?? 64 });
  const documents = top.map((i) => ({ id: bank.docIds[i]!, score: ranking!.scores[i]!, text: bank.texts[i] ?? '' }));
  if (options.flag('json')) {
    console.log(JSON.stringify({ question, documents, answer, queryAdapter: encoder.adapter }));
  } else {
    for (const [j, d] of documents.entries()) console.log(`${j + 1}. [${d.score.toFixed(4)}] #${d.id} ${d.text}`);
    console.log(`\nanswer: ${answer}`);
  }
  return 0;
}
