import { afterEach, beforeEach } from 'vitest';

/**
 * What the code under test prints, kept from the terminal and collected so a test can assert on it:
 * the CLI tests run `main(argv)` in-process, and the commands report through console.log /
 * console.error. Each call is one entry, its arguments joined by spaces.
 *
 * Plain replacement rather than vi.spyOn: spying on an already spied method returns the same spy, so
 * an inner capture's restore would end an outer one; here each capture puts back what it replaced.
 */
class CapturedConsole {
  readonly logs: string[] = [];
  readonly errors: string[] = [];
  private restoreAll: (() => void) | null = null;

  /**
   * `stderrWrites` also swallows process.stderr.write, where the demo draws its progress bars: they
   * are not asserted on, only kept off the terminal.
   */
  constructor(private readonly options: { stderrWrites?: boolean } = {}) {}

  /** Starts collecting, from empty. */
  start(): this {
    this.stop();
    this.clear();
    const { log, error } = console;
    const { write } = process.stderr;
    console.log = (...args: unknown[]) => void this.logs.push(args.join(' '));
    console.error = (...args: unknown[]) => void this.errors.push(args.join(' '));
    if (this.options.stderrWrites) process.stderr.write = () => true;
    this.restoreAll = () => {
      console.log = log;
      console.error = error;
      if (this.options.stderrWrites) process.stderr.write = write;
    };
    return this;
  }

  /** Puts back what start() replaced; what was collected stays readable. */
  stop(): void {
    this.restoreAll?.();
    this.restoreAll = null;
  }

  clear(): void {
    this.logs.length = 0;
    this.errors.length = 0;
  }

  /** The console.log calls, one per line. */
  stdout(): string {
    return this.logs.join('\n');
  }

  /** The console.error calls, one per line. */
  stderr(): string {
    return this.errors.join('\n');
  }
}

/** Collects from here until stop(): for a test's own try / finally, or a beforeAll. */
export function captureConsole(options: { stderrWrites?: boolean } = {}): CapturedConsole {
  return new CapturedConsole(options).start();
}

/** Collects during every test of the enclosing describe block, afresh for each, and restores after it. */
export function captureConsoleInEachTest(options: { stderrWrites?: boolean } = {}): CapturedConsole {
  const captured = new CapturedConsole(options);
  beforeEach(() => void captured.start());
  afterEach(() => captured.stop());
  return captured;
}
