import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * Option parsing shared by every command: node's parseArgs in strict mode, so an unknown option
 * or a missing value is an error that names it, plus typed readers for numbers and choices.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export function parseOptions(command: string, argv: string[], options: OptionSpec): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({ args: argv, options, strict: true, allowPositionals: true });
    return { values: values as Record<string, string | boolean | undefined>, positionals };
  } catch (error) {
    throw new UsageError(`clara ${command}: ${(error as Error).message.replace(/\. To specify a positional argument.*$/s, '')} (see \`clara ${command} --help\`)`);
  }
}

export function numberOption(command: string, name: string, value: string | boolean | undefined, fallback: number, check: (n: number) => boolean = Number.isFinite): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== 'string' || value.trim() === '' || !check(n)) throw new UsageError(`clara ${command}: --${name} expects a valid number, got '${String(value)}'`);
  return n;
}

export function choiceOption<T extends string>(command: string, name: string, value: string | boolean | undefined, choices: readonly T[], fallback: T): T {
  if (value === undefined) return fallback;
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw new UsageError(`clara ${command}: --${name} must be one of ${choices.join(', ')}; got '${String(value)}'`);
  }
  return value as T;
}
