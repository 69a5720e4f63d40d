/**
 * Benchmark dispatcher: `npm run bench -- <suite> [--json]`, e.g. `npm run bench -- matmul --json`.
 * Each suite is a module in bench/ exporting `run(args)`; with --json every row is printed as one
 * JSON object ({ suite, case, backend, ms, gflops? }), otherwise as a table.
 */
const SUITES: Record<string, () => Promise<{ run(args: string[]): Promise<void> }>> = {
  matmul: () => import('./matmul.ts'),
};

const [suite, ...args] = process.argv.slice(2);
const load = suite ? SUITES[suite] : undefined;
if (!load) {
  console.error(`usage: npm run bench -- <${Object.keys(SUITES).join('|')}> [--json]`);
  process.exit(2);
}
await (await load()).run(args);
