import { readFileSync } from 'node:fs';
import { ClaraModel } from '../claraModel.ts';
import { loadStage3File, type Stage3Row } from '../data/stage3Data.ts';
import { TOPK_ESTIMATORS } from '../differentiableTopK.ts';
import { trainEndToEnd } from '../trainEndToEnd.ts';
import { parseOptions, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';

export const E2E_HELP = `Usage: clara e2e --model DIR --data FILE --out DIR [options]

Stage 3: trains the query reasoner (created as a copy of the compressor) and the generator end to
end through the answer loss alone, on stage-3 rows {question, docs: N candidates, answer, pos_index}
(pos_index is never used in training). Candidates are compressed once by the frozen compressor.

  --steps N              optimiser steps (default: one pass over the data)
  --batch-size B         questions per step (default 8)
  --lr X                 learning rate (default 1e-4; official 5e-6 at batch 32)
  --generator-lr-scale X the generator's learning rate as a multiple of --lr (default 1)
  --freeze-query-reasoner N
                         hold the query reasoner still for the first N steps, while the generator
                         learns the answer prompt (default 0)
  --k K                  documents given to the generator (default: the model's, 5)
  --temperature T        τ of the differentiable top-k (default 0.02)
  --estimator NAME       ${Object.keys(TOPK_ESTIMATORS).join(' | ')} (default straight-through)
  --candidates N         keep N candidates per question (the relevant ones included)
  --freeze-generator     train the query reasoner only
  --config FILE          a JSON object with any of the options above (camelCase or as flags); flags win
  --seed S, --save-every N, --resume, --skip-invalid, --backend auto|webgpu|cpu`;

const NUMERIC = ['steps', 'batch-size', 'lr', 'generator-lr-scale', 'freeze-query-reasoner', 'k', 'temperature', 'candidates', 'seed', 'save-every'] as const;

/** Keeps N candidates per row: the relevant ones, then the others in order. */
export function limitCandidates(rows: readonly Stage3Row[], n: number): Stage3Row[] {
  return rows.map((row) => {
    if (row.docs.length <= n) return row;
    const keep = [...row.posIndex, ...row.docs.map((_, i) => i).filter((i) => !row.posIndex.includes(i))].slice(0, n).sort((a, b) => a - b);
    return { ...row, docs: keep.map((i) => row.docs[i]!), posIndex: row.posIndex.filter((i) => keep.includes(i)).map((i) => keep.indexOf(i)) };
  });
}

function readConfigFile(file: string): Record<string, unknown> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UsageError(`clara e2e: --config ${file}: ${(error as Error).message}`);
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new UsageError(`clara e2e: --config ${file}: expected a JSON object`);
  // Accept camelCase keys too (batchSize → batch-size).
  const known = new Set<string>([...NUMERIC, 'estimator', 'freeze-generator']);
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const flag = key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
    if (!known.has(flag)) throw new UsageError(`clara e2e: --config ${file}: unknown option "${key}" (known: ${[...known].join(', ')})`);
    out[flag] = value;
  }
  return out;
}

export async function runE2e(argv: string[]): Promise<number> {
  const { values } = parseOptions('e2e', argv, {
    model: { type: 'string' }, data: { type: 'string' }, out: { type: 'string' }, config: { type: 'string' },
    steps: { type: 'string' }, 'batch-size': { type: 'string' }, lr: { type: 'string' }, 'generator-lr-scale': { type: 'string' }, 'freeze-query-reasoner': { type: 'string' }, k: { type: 'string' },
    temperature: { type: 'string' }, estimator: { type: 'string' }, candidates: { type: 'string' }, seed: { type: 'string' },
    'save-every': { type: 'string' }, 'freeze-generator': { type: 'boolean' }, resume: { type: 'boolean' },
    'skip-invalid': { type: 'boolean' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(E2E_HELP);
    return 0;
  }
  for (const required of ['model', 'data', 'out']) {
    if (typeof values[required] !== 'string') throw new UsageError(`clara e2e: --${required} is required (see \`clara e2e --help\`)`);
  }
  const options: Record<string, unknown> = { ...(values.config ? readConfigFile(values.config as string) : {}) };
  for (const [key, value] of Object.entries(values)) if (value !== undefined) options[key] = value;
  const num = (name: (typeof NUMERIC)[number]): number | undefined => {
    const v = options[name];
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || (typeof v === 'string' && v.trim() === '')) throw new UsageError(`clara e2e: --${name} expects a number, got '${String(v)}'`);
    return n;
  };
  const estimator = options.estimator === undefined ? undefined : String(options.estimator);
  if (estimator !== undefined && !(estimator in TOPK_ESTIMATORS)) throw new UsageError(`clara e2e: --estimator must be one of ${Object.keys(TOPK_ESTIMATORS).join(', ')}; got '${estimator}'`);

  const backend = await useBackend('e2e', values.backend);
  const clara = ClaraModel.load(values.model as string, { backend });
  const loaded = loadStage3File(values.data as string, { skipInvalid: Boolean(options['skip-invalid']) });
  for (const w of loaded.warnings) console.error(`warning: ${w}`);
  const candidates = num('candidates');
  const rows = candidates === undefined ? loaded.rows : limitCandidates(loaded.rows, candidates);
  const result = await trainEndToEnd({
    clara, rows, out: values.out as string,
    steps: num('steps'), batchSize: num('batch-size'), lr: num('lr'), generatorLrScale: num('generator-lr-scale'), queryReasonerFrozenSteps: num('freeze-query-reasoner'), k: num('k'), temperature: num('temperature'),
    estimator, seed: num('seed'), saveEvery: num('save-every'), resume: Boolean(options.resume),
    trainGenerator: !options['freeze-generator'],
  });
  const last = result.history[result.history.length - 1];
  console.log(`stage 3: ${result.step} steps${last ? `, final loss ${last.loss.toFixed(4)}` : ''}; model saved in ${result.checkpoint ?? values.out}`);
  return 0;
}
