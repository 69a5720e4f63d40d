import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { HARMLESS_DAWN_WARNINGS } from '../../engine/index.ts';

/**
 * Quiet by default: Dawn writes its known-harmless warnings (engine/backends/webgpu/dawnWarnings.ts) to
 * the process's stderr from native code, where no JavaScript stream sees them, so the `clara`
 * command runs itself as a child whose stderr it reads, line by line, dropping those warnings and
 * passing everything else on. `--verbose` (anywhere on the command line) runs in this process and
 * shows everything.
 */
const CHILD_MARK = 'CLARA_STDERR_FILTERED';

/** Runs `main` on `argv` with Dawn's harmless warnings filtered from stderr (see above). */
export async function runQuietly(argv: string[], main: (argv: string[]) => Promise<number>): Promise<number> {
  if (argv.includes('--verbose')) return main(argv.filter((a) => a !== '--verbose'));
  if (process.env[CHILD_MARK] === '1') return main(argv);
  const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, ...argv], {
    stdio: ['inherit', 'inherit', 'pipe'],
    env: { ...process.env, [CHILD_MARK]: '1' },
  });
  const filter = harmlessLineFilter();
  createInterface({ input: child.stderr! }).on('line', (line) => {
    if (filter(line)) process.stderr.write(`${line}\n`);
  });
  return new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 128 : 1))));
}

/**
 * A line filter: false for a harmless warning, for the source-location lines Dawn prints under it
 * ("    at operator() (…)") and for the blank line that ends it; true for every other line.
 */
export function harmlessLineFilter(): (line: string) => boolean {
  let inWarning = false;
  return (line) => {
    if (HARMLESS_DAWN_WARNINGS.some((pattern) => pattern.test(line))) {
      inWarning = true;
      return false;
    }
    if (inWarning && (/^\s+at /.test(line) || line.trim() === '')) return false;
    inWarning = false;
    return true;
  };
}
