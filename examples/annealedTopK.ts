/**
 * A variant of CLaRa's differentiable top-k of your own, run end to end: the soft estimator (the
 * generator reads the softmax mixture) with its temperature annealed geometrically from 10τ to τ over
 * stage 3, so that early mixtures spread over many candidates and late ones are nearly one document,
 * on the demo's corpus and pipeline, nothing else changed. The library's table has the linear
 * straight-through schedule (`--estimator annealed`); this one shows how to write another outside it.
 *
 *   npx tsx examples/annealedTopK.ts [--quick] [--out DIR]     (CLARA_BACKEND=cpu for the CPU backend)
 *
 * --quick runs the demo's smoke-test sizes (about a minute); without it, the full demo's (about
 * 15 minutes on 2 CPU cores). Compare its table with `npx clara demo --estimator soft` and `--estimator annealed`.
 */
import { parseArgs } from 'node:util';
import { demoTable, FULL_DEMO, QUICK_DEMO, runDemo, selectBackend, softTopK, varyDemo, type BackendChoice, type TopKEstimator } from 'clara-ts/clara';

/** τ(step) = τ · 10^(1 − step / (totalSteps − 1)): 10τ at the first step, τ at the last (and outside training). */
const annealedTopK: TopKEstimator = (scores, options) => {
  const progress = options.step === undefined || options.totalSteps === undefined ? 1 : options.step / Math.max(1, options.totalSteps - 1);
  return softTopK(scores, { ...options, temperature: options.temperature * 10 ** (1 - progress) });
};

const { values } = parseArgs({
  options: { quick: { type: 'boolean' }, tiny: { type: 'boolean' }, out: { type: 'string', default: 'runs/annealed-top-k' } },
});
// --tiny: a few steps on a few people, only to show the script still runs (the tests use it).
const tiny = { people: 12, candidates: 6, stage1Steps: 3, stage3Steps: 3 };
const settings = varyDemo(values.quick || values.tiny ? QUICK_DEMO : FULL_DEMO, { estimator: annealedTopK, ...(values.tiny ? tiny : {}) });
const { backend, warning } = await selectBackend((process.env.CLARA_BACKEND as BackendChoice | undefined) || 'auto');
if (warning) console.error(`warning: ${warning}`);
const result = await runDemo({ settings, out: values.out, seed: 0, backend, progress: true });
console.log(demoTable(result));
