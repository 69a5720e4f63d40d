#!/usr/bin/env node
// The `clara` command. The project is TypeScript run directly (no build step): tsx's loader
// compiles each module on import. Dawn's harmless warnings are filtered unless --verbose is given.
import { register } from 'tsx/esm/api';

register();
const { runQuietly } = await import('../clara/cli/quietDawn.ts');
process.exitCode = await runQuietly(process.argv.slice(2), async (argv) => (await import('../clara/cli/main.ts')).main(argv));
