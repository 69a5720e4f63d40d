import type { Backend } from '../backend.ts';
import '../methods.ts'; // the Tensor methods the checks call
import { Generator } from '../random.ts';
import { normal } from '../ops/creation.ts';
import { softmax } from '../ops/nn.ts';
import { cpuBackend } from './cpu/index.ts';

/**
 * A quick end-to-end check of a backend: a matmul and a softmax on random inputs (sizes that are
 * no multiple of any tile), compared with the CPU backend. Used by `clara doctor`.
 */
export interface SelfCheckResult {
  ok: boolean;
  maxAbsError: number;
  checks: Array<{ name: string; maxAbsError: number }>;
}

const TOLERANCE = 1e-4;

export async function selfCheck(backend: Backend): Promise<SelfCheckResult> {
  const cases: Array<{ name: string; run: (b: Backend) => ReturnType<typeof normal> }> = [
    {
      name: 'matmul 67x129 @ 129x33',
      run: (b) => normal([67, 129], { generator: new Generator(1), backend: b }).matmul(normal([129, 33], { generator: new Generator(2), backend: b })),
    },
    {
      name: 'softmax 17x257',
      run: (b) => softmax(normal([17, 257], { generator: new Generator(3), backend: b, std: 5 }), -1),
    },
  ];
  const checks = [];
  for (const c of cases) {
    const got = await c.run(backend).toArray();
    const want = await c.run(cpuBackend).toArray();
    let worst = 0;
    for (let i = 0; i < want.length; i++) {
      const e = Math.abs(got[i]! - want[i]!);
      worst = Number.isNaN(e) ? Infinity : Math.max(worst, e);
    }
    checks.push({ name: c.name, maxAbsError: worst });
  }
  const maxAbsError = Math.max(...checks.map((c) => c.maxAbsError));
  return { ok: maxAbsError <= TOLERANCE, maxAbsError, checks };
}
