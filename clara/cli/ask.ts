import { ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../adapters.ts';
import { answerQuestions, rankCandidates } from '../answering.ts';
import { ClaraModel } from '../claraModel.ts';
import { loadDocumentBank } from '../retrieval/documentBank.ts';
import { Options, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';

const ASK_HELP = `Usage: clara ask --model DIR [--base DIR] --index INDEX [--k K] [--max-new-tokens T] [--json] "question"

Encodes the question with the query reasoner, ranks every document of the bank (\`clara compress\`)
by cosine similarity, prints the top k with their scores, and the answer the generator writes from
those k compressed documents.`;

export async function runAsk(argv: string[]): Promise<number> {
  const options = Options.parse('ask', argv, {
    model: { type: 'string' },
    base: { type: 'string' },
    index: { type: 'string' },
    k: { type: 'string' },
    'max-new-tokens': { type: 'string' },
    json: { type: 'boolean' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(ASK_HELP);
    return 0;
  }
  const modelDir = options.required('model');
  const index = options.required('index');
  const question = options.positionals.join(' ').trim();
  if (question === '') throw new UsageError('clara ask: give the question as the last argument');
  const backend = await useBackend('ask', options.string('backend'));
  const clara = ClaraModel.load(modelDir, { backend, base: options.string('base') });
  const bank = loadDocumentBank(index, backend);
  const k = options.int('k', 1) ?? clara.settings.generationTopK;
  const all = Array.from({ length: bank.docIds.length }, (_, i) => i);
  const [ranking] = await rankCandidates(clara, bank.vectors, [question], [all], {
    adapter: clara.backbone.adapterNames().includes(QUERY_REASONER_ADAPTER) ? QUERY_REASONER_ADAPTER : ENCODER_ADAPTER,
  });
  const top = ranking!.order.slice(0, Math.min(k, all.length));
  const [answer] = await answerQuestions(clara, bank.vectors, [question], [top], { maxNewTokens: options.int('max-new-tokens', 1) ?? 64 });
  const documents = top.map((i) => ({ id: bank.docIds[i]!, score: ranking!.scores[i]!, text: bank.texts[i] ?? '' }));
  if (options.flag('json')) {
    console.log(JSON.stringify({ question, documents, answer }));
  } else {
    documents.forEach((d, j) => {
      console.log(`${j + 1}. [${d.score.toFixed(4)}] #${d.id} ${d.text}`);
    });
    console.log(`\nanswer: ${answer}`);
  }
  return 0;
}
