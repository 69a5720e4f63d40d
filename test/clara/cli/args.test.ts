import { describe, expect, it } from 'vitest';
import { Options, UsageError } from '../../../clara/cli/args.ts';

/** Option parsing, as `clara COMMAND` and as the benchmarks use it: every error names who asks and the flag. */

const spec = { layers: { type: 'string' }, backend: { type: 'string' }, help: { type: 'boolean' } } as const;

const usageError = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(UsageError);
    return (e as Error).message;
  }
  throw new Error('expected a UsageError');
};

describe('Options', () => {
  it('reads typed values, and leaves a missing flag undefined', () => {
    const o = Options.parseFor('bench 7b', 'npm run bench -- 7b --help', ['--layers', '4', '--backend', 'cpu'], spec);
    expect([o.int('layers', 1, 32), o.choice('backend', ['cpu', 'webgpu']), o.flag('help')]).toEqual([4, 'cpu', false]);
    expect(Options.parseFor('bench 7b', 'h', [], spec).int('layers', 1)).toBeUndefined();
  });

  it('names the program in every error, and points to its help on an unknown option', () => {
    const bench = (argv: string[]) => Options.parseFor('bench 7b', 'npm run bench -- 7b --help', argv, spec);
    expect(usageError(() => bench(['--bogus']))).toBe("bench 7b: Unknown option '--bogus' (see `npm run bench -- 7b --help`)");
    expect(usageError(() => bench(['--layers', '40']).int('layers', 1, 32))).toBe("bench 7b: --layers expects an integer in [1, 32], got '40'");
    expect(usageError(() => bench(['--backend', 'gpu']).choice('backend', ['cpu', 'webgpu']))).toBe(
      "bench 7b: --backend must be one of cpu, webgpu; got 'gpu'",
    );
    expect(usageError(() => Options.parse('demo', ['--bogus'], spec))).toBe("clara demo: Unknown option '--bogus' (see `clara demo --help`)");
    expect(usageError(() => Options.parse('demo', [], spec).required('layers'))).toBe('clara demo: --layers is required (see `clara demo --help`)');
  });
});
