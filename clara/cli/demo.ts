import { join } from 'node:path';
import { demoTable } from '../demo/demoReport.ts';
import { FULL_DEMO, QUICK_DEMO } from '../demo/demoSettings.ts';
import { runDemo } from '../demo/runDemo.ts';
import { TOPK_ESTIMATORS } from '../differentiableTopK.ts';
import { Options } from './args.ts';
import { useBackend } from './backendOption.ts';

const DEMO_HELP = `Usage: clara demo [--quick] [--json] [--out DIR] [--seed S] [--estimator NAME] [--backend auto|webgpu|cpu]

CLaRa end to end on a generated corpus: stage 1 (compressor pretraining), stage 3 (query reasoner
and generator trained through the answer loss, no relevance labels), then retrieval recall@1/3/5
among 20 candidates on held-out questions (before and after stage 3, against chance and BM25) and
EM/F1 of answers from retrieved compressed documents against no documents and the relevant one.
Writes a run folder (metrics.json, curves.svg, per-stage metrics.jsonl). About 10 minutes on 2 CPU
cores; --quick runs the whole pipeline on a small corpus in under 2 minutes (a smoke test, no
quality claim).
  --json            the last line of output is one JSON object with recall, answers, compressionRate,
                    backend, seconds
  --estimator NAME  stage 3's top-k estimator: soft (the demo's, measured best here),
                    straight-through (the official one) or gumbel`;

export async function runDemoCommand(argv: string[]): Promise<number> {
  const options = Options.parse('demo', argv, {
    quick: { type: 'boolean' },
    json: { type: 'boolean' },
    out: { type: 'string' },
    seed: { type: 'string' },
    estimator: { type: 'string' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(DEMO_HELP);
    return 0;
  }
  const seed = options.number('seed', Number.isInteger, 'an integer') ?? 0;
  const settings = options.flag('quick') ? QUICK_DEMO : FULL_DEMO;
  const estimator = options.choice('estimator', Object.keys(TOPK_ESTIMATORS)) ?? settings.stage3.estimator;
  const backend = await useBackend('demo', options.string('backend'));
  const out = options.string('out') ?? join('runs', `demo-${new Date().toISOString().replace(/[:.]/g, '-')}`);
  const result = await runDemo({ settings: { ...settings, stage3: { ...settings.stage3, estimator } }, out, seed, backend, progress: true });
  console.log(demoTable(result));
  if (options.flag('json')) console.log(JSON.stringify(result));
  return 0;
}
