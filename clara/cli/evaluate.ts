import { ClaraModel } from '../claraModel.ts';
import { loadStage3File } from '../data/stage3Data.ts';
import { evaluateRows } from '../eval/evaluate.ts';
import { numberOption, parseOptions, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';

export const EVAL_HELP = `Usage: clara eval --model DIR --data FILE [--k K] [--no-docs] [--limit N] [--json] [--skip-invalid]

Evaluates on stage-3 rows (question, N candidate docs, answer, pos_index): recall@1/3/5 of the
query reasoner among each row's candidates, and EM, F1 and cover accuracy of the answers generated
from the top-k compressed documents, with the official normalisation.
  --no-docs   answer with no documents (the generator alone)
  --json      print one JSON object: {count, em, f1, acc, recall: {1, 3, 5}}`;

export async function runEval(argv: string[]): Promise<number> {
  const { values } = parseOptions('eval', argv, {
    model: { type: 'string' }, data: { type: 'string' }, k: { type: 'string' }, 'no-docs': { type: 'boolean' }, limit: { type: 'string' },
    json: { type: 'boolean' }, 'skip-invalid': { type: 'boolean' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(EVAL_HELP);
    return 0;
  }
  for (const required of ['model', 'data']) {
    if (typeof values[required] !== 'string') throw new UsageError(`clara eval: --${required} is required (see \`clara eval --help\`)`);
  }
  const backend = await useBackend('eval', values.backend);
  const clara = ClaraModel.load(values.model as string, { backend });
  const { rows, warnings } = loadStage3File(values.data as string, { skipInvalid: Boolean(values['skip-invalid']) });
  for (const w of warnings) console.error(`warning: ${w}`);
  const limit = numberOption('eval', 'limit', values.limit, rows.length, (n) => Number.isInteger(n) && n >= 1);
  const k = numberOption('eval', 'k', values.k, clara.settings.generationTopK, (n) => Number.isInteger(n) && n >= 1);
  const result = await evaluateRows(clara, rows.slice(0, limit), { k, noDocs: Boolean(values['no-docs']) });
  const summary = { count: result.count, em: result.em, f1: result.f1, acc: result.acc, recall: result.recall };
  if (values.json) console.log(JSON.stringify(summary));
  else console.log(`${result.count} questions: EM ${result.em.toFixed(4)}  F1 ${result.f1.toFixed(4)}  cover ${result.acc.toFixed(4)}  recall@1 ${result.recall[1]!.toFixed(4)}  @3 ${result.recall[3]!.toFixed(4)}  @5 ${result.recall[5]!.toFixed(4)}`);
  return 0;
}
