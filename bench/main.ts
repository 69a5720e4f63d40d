/**
 * Benchmark dispatcher: `npm run bench [-- SUITE…] [--json] [--quick]`, e.g. `npm run bench -- matmul --json`.
 * The compared suites (bench/runner.ts: matmul, attention, rmsnorm, crossentropy, stage1, stage3,
 * compress, generate) run on every backend and side by side with PyTorch; a standalone suite below
 * is a module in bench/ exporting `run(args)` that prints its own rows.
 */
import { UsageError } from '../clara/cli/args.ts';

const SUITES: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  step: () => import('./step.ts'),
  '7b': () => import('./sevenB.ts'),
};

const [suite, ...args] = process.argv.slice(2);
const load = suite ? SUITES[suite] : undefined;
try {
  if (load) await (await load()).run(args);
  else await (await import('./runner.ts')).main(process.argv.slice(2));
} catch (error) {
  // A bad option is the user's to fix: its message, without a stack.
  if (!(error instanceof UsageError)) throw error;
  console.error(error.message);
  process.exitCode = 2;
}
