import { loadStage3File } from '../data/stage3Data.ts';
import { evaluateRows } from '../eval/evaluate.ts';
import { Options, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';
import { checkTopK } from './topK.ts';
import { loadModelOption } from './modelOption.ts';

const EVAL_HELP = `Usage: clara eval --model DIR [--base DIR] --data FILE [--k K] [--no-docs | --gold] [--limit N] [--json] [--skip-invalid] [--dtype D]

Evaluates on stage-3 rows (question, N candidate docs, answer, pos_index): recall@1/3/5 of the
query reasoner among each row's candidates, and EM, F1 and cover accuracy of the answers generated
from the top-k compressed documents, with the official normalisation. A model without a query
reasoner (stage 1 or 2) ranks with its compressor, as stage 3 starts from.
  --no-docs   answer with no documents (the generator alone)
  --gold      answer from each row's first relevant document (pos_index), the paper's "oracle"
              setting: it scores reading apart from retrieval
  --json      print one JSON object: {count, em, f1, acc, recall: {1, 3, 5}}
  --dtype D   auto|float32|bfloat16|float16: how the base's frozen matrices are held (default auto:
              a 16-bit checkpoint stays 16-bit)`;

export async function runEval(argv: string[]): Promise<number> {
  const options = Options.parse('eval', argv, {
    model: { type: 'string' },
    base: { type: 'string' },
    data: { type: 'string' },
    k: { type: 'string' },
    'no-docs': { type: 'boolean' },
    gold: { type: 'boolean' },
    limit: { type: 'string' },
    json: { type: 'boolean' },
    'skip-invalid': { type: 'boolean' },
    backend: { type: 'string' },
    dtype: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(EVAL_HELP);
    return 0;
  }
  options.required('model');
  if (options.flag('no-docs') && options.flag('gold')) throw new UsageError('clara eval: --no-docs and --gold exclude each other');
  const data = options.required('data');
  const backend = await useBackend('eval', options.string('backend'));
  const { clara } = loadModelOption(options, backend, 'auto');
  const { rows, warnings } = loadStage3File(data, { skipInvalid: options.flag('skip-invalid') });
  for (const w of warnings) console.error(`warning: ${w}`);
  const limit = options.int('limit', 1) ?? rows.length;
  const kFlag = options.int('k', 1);
  checkTopK('eval', kFlag, rows);
  const k = kFlag ?? clara.settings.generationTopK;
  const result = await evaluateRows(clara, rows.slice(0, limit), { k, docs: options.flag('no-docs') ? 'none' : options.flag('gold') ? 'gold' : 'retrieved' });
  const summary = { count: result.count, em: result.em, f1: result.f1, acc: result.acc, recall: result.recall };
  if (options.flag('json')) console.log(JSON.stringify(summary));
  else
    console.log(
      `${result.count} questions: EM ${result.em.toFixed(4)}  F1 ${result.f1.toFixed(4)}  cover ${result.acc.toFixed(4)}  recall@1 ${result.recall[1]!.toFixed(4)}  @3 ${result.recall[3]!.toFixed(4)}  @5 ${result.recall[5]!.toFixed(4)}`,
    );
  return 0;
}
