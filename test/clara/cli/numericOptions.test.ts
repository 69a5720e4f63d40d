import { describe, expect, it } from 'vitest';
import { main } from '../../../clara/cli/main.ts';
import { checkTopK } from '../../../clara/cli/topK.ts';
import type { Stage3Row } from '../../../clara/data/stage3Data.ts';
import { captureConsoleInEachTest } from '../../helpers/captureConsole.ts';

/** Every numeric option is range-checked where it is read, and the message names the flag. */
describe('numeric options', () => {
  const printed = captureConsoleInEachTest();

  const e2e = ['e2e', '--model', 'no-such-model', '--data', 'no-such-data', '--out', 'no-such-out'];
  it.each([
    [['--k', '0'], "--k expects an integer ≥ 1, got '0'"],
    [['--k=-1'], "--k expects an integer ≥ 1, got '-1'"],
    [['--k', '2.5'], "--k expects an integer ≥ 1, got '2.5'"],
    [['--candidates=-1'], "--candidates expects an integer ≥ 1, got '-1'"],
    [['--temperature', '0'], "--temperature expects a positive number, got '0'"],
    [['--temperature=-0.5'], "--temperature expects a positive number, got '-0.5'"],
    [['--save-every=-1'], "--save-every expects a non-negative integer, got '-1'"],
    [['--steps', '1e99'], "--steps expects an integer ≥ 1, got '1e99'"],
    [['--lr=-1'], "--lr expects a non-negative number, got '-1'"],
  ])('clara e2e %j is a usage error naming the flag, before anything is loaded', async (flags, message) => {
    expect(await main([...e2e, ...flags])).toBe(2);
    expect(printed.stderr()).toContain(`clara e2e: ${message}`);
  });

  it('--k larger than the candidates of the rows is refused, naming both', () => {
    const rows: Stage3Row[] = [{ question: 'Q', docs: Array.from({ length: 8 }, (_, i) => `d${i}`), answer: 'a', posIndex: [0] }];
    expect(() => checkTopK('eval', 1000, rows)).toThrow('clara eval: --k 1000 exceeds the 8 candidate documents of each data row');
    expect(() => checkTopK('eval', 8, rows)).not.toThrow();
  });
});
