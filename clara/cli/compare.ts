import { compareTensorFiles, DEFAULT_ATOL, DEFAULT_RTOL, formatComparison, readSafetensorsFile } from '../../engine/io/index.ts';
import { Options, UsageError } from './args.ts';

const COMPARE_HELP = `Usage: clara compare A.safetensors B.safetensors [--rtol R] [--atol A] [--mask NAME ...] [--json]

Compares the tensors of A (this engine's trace, say) with those of the same names in B (PyTorch's,
from reference/trace_torch.py), in the order A was produced, and names the first tensor past
tolerance: where the computation first diverges. Per tensor: max |a - b|, max |a - b| / |b|, and
whether every element passes |a - b| <= atol + rtol * |b| (PyTorch's allclose).

  --rtol R     relative tolerance (default ${DEFAULT_RTOL})
  --atol A     absolute tolerance (default ${DEFAULT_ATOL})
  --mask NAME  leave tensors of this name out (repeatable; * matches anything: --mask 'grad.*')
  --json       the report as JSON

Exit code: 0 when every compared tensor agrees, 1 on a divergence (or a tensor of A missing in B).`;

export async function runCompare(argv: string[]): Promise<number> {
  const options = Options.parse('compare', argv, {
    rtol: { type: 'string' },
    atol: { type: 'string' },
    mask: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(COMPARE_HELP);
    return 0;
  }
  if (options.positionals.length !== 2) throw new UsageError('clara compare: give two safetensors files, A and B (see `clara compare --help`)');
  const [a, b] = options.positionals as [string, string];
  const tolerance = (name: string) => options.number(name, (x) => x >= 0, 'a number >= 0');
  const report = compareTensorFiles(readSafetensorsFile(a), readSafetensorsFile(b), {
    rtol: tolerance('rtol'),
    atol: tolerance('atol'),
    mask: options.strings('mask'),
  });
  console.log(options.flag('json') ? JSON.stringify(report) : formatComparison(report));
  return report.firstDivergence === null ? 0 : 1;
}
