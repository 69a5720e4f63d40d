import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * Option parsing for every command: node's parseArgs in strict mode (an unknown option or a missing
 * value is an error that names it), then one typed reader per command whose errors name the flag
 * and what it expects. A missing optional flag reads as undefined; the command supplies the default.
 */
export class UsageError extends Error {
  override name = 'UsageError';
}

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

export class Options {
  private constructor(
    /** Who is asking, as errors name it: `clara demo`, `bench 7b`. */
    readonly program: string,
    /** Where its help is, as errors point to it: `clara demo --help`. */
    private readonly helpCommand: string,
    private readonly values: Readonly<Record<string, unknown>>,
    readonly positionals: readonly string[],
  ) {}

  /** Parses a `clara COMMAND`'s `argv` against `spec` (a usage error names an unknown option or a missing value). */
  static parse(command: string, argv: string[], spec: OptionSpec): Options {
    return Options.parseFor(`clara ${command}`, `clara ${command} --help`, argv, spec);
  }

  /** The same for any program (the benchmarks: `bench 7b`, whose help is `npm run bench -- 7b --help`). */
  static parseFor(program: string, helpCommand: string, argv: string[], spec: OptionSpec): Options {
    const { values, positionals } = parseStrict(argv, spec, (message) => `${program}: ${message} (see \`${helpCommand}\`)`);
    return new Options(program, helpCommand, values, positionals);
  }

  /** The same options over `defaults` (e.g. a config file's values, keyed by flag name): flags win. */
  withDefaults(defaults: Readonly<Record<string, unknown>>): Options {
    const given = Object.fromEntries(Object.entries(this.values).filter(([, v]) => v !== undefined));
    return new Options(this.program, this.helpCommand, { ...defaults, ...given }, this.positionals);
  }

  has(name: string): boolean {
    return this.values[name] !== undefined;
  }

  /** A boolean flag: true when given. */
  flag(name: string): boolean {
    return Boolean(this.values[name]);
  }

  string(name: string): string | undefined {
    const v = this.values[name];
    return v === undefined ? undefined : String(v);
  }

  /** A repeatable flag's values (empty when not given). */
  strings(name: string): string[] {
    const v = this.values[name];
    return v === undefined ? [] : (Array.isArray(v) ? v : [v]).map(String);
  }

  required(name: string): string {
    const v = this.values[name];
    if (typeof v !== 'string' || v === '') throw new UsageError(`${this.program}: --${name} is required (see \`${this.helpCommand}\`)`);
    return v;
  }

  /** A number that passes `check`; `what` says what is expected when it does not. */
  number(name: string, check: (x: number) => boolean = () => true, what = 'a number'): number | undefined {
    const v = this.values[name];
    if (v === undefined) return undefined;
    const x = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
    if (!Number.isFinite(x) || !check(x)) throw this.bad(name, `expects ${what},`);
    return x;
  }

  /** An integer in [`min`, `max`]; above 2^53 integers are no longer exact, so that is the largest. */
  int(name: string, min: number, max = Number.MAX_SAFE_INTEGER): number | undefined {
    const what = max < Number.MAX_SAFE_INTEGER ? `an integer in [${min}, ${max}]` : min === 0 ? 'a non-negative integer' : `an integer ≥ ${min}`;
    return this.number(name, (x) => Number.isInteger(x) && x >= min && x <= max, what);
  }

  /** A number above zero (a temperature, a scale that must not vanish). */
  positive(name: string): number | undefined {
    return this.number(name, (x) => x > 0, 'a positive number');
  }

  /** A number ≥ 0. */
  nonNegative(name: string): number | undefined {
    return this.number(name, (x) => x >= 0, 'a non-negative number');
  }

  /** One of `choices`. */
  choice<T extends string>(name: string, choices: readonly T[]): T | undefined {
    const v = this.values[name];
    return v === undefined ? undefined : checkChoice(this.program, name, v, choices);
  }

  private bad(name: string, expectation: string): UsageError {
    return new UsageError(`${this.program}: --${name} ${expectation} got '${String(this.values[name])}'`);
  }
}

/**
 * node's parseArgs in strict mode, positionals allowed; its error (an unknown option, a missing
 * value) becomes a UsageError whose text `frame` wraps (with the command and where to find help),
 * without node's advice about positionals, which misleads here.
 */
function parseStrict(argv: string[], spec: OptionSpec, frame: (message: string) => string): ReturnType<typeof parseArgs> {
  try {
    return parseArgs({ args: argv, options: spec, strict: true, allowPositionals: true });
  } catch (error) {
    throw new UsageError(frame((error as Error).message.replace(/\. To specify a positional argument.*$/s, '')));
  }
}

function checkChoice<T extends string>(program: string, name: string, value: unknown, choices: readonly T[]): T {
  if (typeof value !== 'string' || !choices.includes(value as T)) {
    throw new UsageError(`${program}: --${name} must be one of ${choices.join(', ')}; got '${String(value)}'`);
  }
  return value as T;
}

/**
 * One choice flag read outside an `Options` (backendOption.ts reads --backend with it): `value`,
 * else `fallback`.
 */
export function choiceOption<T extends string>(command: string, name: string, value: string | boolean | undefined, choices: readonly T[], fallback: T): T {
  return value === undefined ? fallback : checkChoice(`clara ${command}`, name, value, choices);
}
