#!/usr/bin/env node
// The `clara` command. The project is TypeScript run directly (no build step): tsx's loader
// compiles each module on import.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../clara/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
