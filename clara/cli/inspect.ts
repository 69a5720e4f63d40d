import { formatInspectReport, inspectModelDir } from '../checkpoints/inspect.ts';
import { Options, UsageError } from './args.ts';

const INSPECT_HELP = `Usage: clara inspect DIR [--base DIR] [--json]

Says what a model folder holds without loading it: the layout (a released CLaRa checkpoint, this
project's, PEFT adapter folders, a bare Hugging Face model), the adapters with their ranks, dtypes
and hidden size, the compression rate and memory tokens, the stage, the tokenizer, the base model
(--base, for a released checkpoint) and every problem that would stop a load. Exits 1 when there is
a problem.`;

export async function runInspect(argv: string[]): Promise<number> {
  const options = Options.parse('inspect', argv, { base: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } });
  if (options.flag('help')) {
    console.log(INSPECT_HELP);
    return 0;
  }
  if (options.positionals.length !== 1) throw new UsageError('clara inspect: give one folder (see `clara inspect --help`)');
  const report = inspectModelDir(options.positionals[0]!, { base: options.string('base') });
  console.log(options.flag('json') ? JSON.stringify(report) : formatInspectReport(report));
  return report.problems.length === 0 ? 0 : 1;
}
