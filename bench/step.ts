/**
 * One CLaRa stage-1 training step on the 'small' preset, timed: `npm run bench -- step [--backend
 * webgpu|cpu] [--steps N] [--fusion 0|1] [--optim-fusion 0|1] [--profile] [--json]`.
 *
 * Prints the best and median ms/step over N steps (after two warm-up steps that compile the
 * kernels), the time of each phase (forward, backward, clip, optimiser; measured with a sync after
 * each, so they add up to a little more than a step), and on WebGPU the dispatch count. With
 * --profile, a last step runs with a submit and wait after every dispatch and prints the time per
 * kernel (this inflates small dispatches by the ~0.1 ms a submit costs).
 */
import { AdamW, clipGradNorm, Generator, setDefaultBackend, setFusion, setOptimizerFusion, tidy, cpuBackend, type Backend } from '../engine/index.ts';
import { createWebGPUBackend, WebGPUBackend } from '../engine/backends/webgpu/backend.ts';
import { Dispatcher } from '../engine/backends/webgpu/dispatcher.ts';
import { generateSyntheticCorpus } from '../clara/data/synth.ts';
import { claraTextsForVocabulary } from '../clara/tokenizer/vocabularyTexts.ts';
import { ClaraModel } from '../clara/claraModel.ts';
import { stage1Example, collateBatch } from '../clara/examples.ts';
import { compressionLoss, prepareCompressionStage } from '../clara/compressionObjective.ts';

function flag(args: string[], name: string, fallback: string): string {
  const i = args.indexOf(name);
  return i >= 0 && i + 1 < args.length ? args[i + 1]! : fallback;
}

export async function run(args: string[]): Promise<void> {
  const which = flag(args, '--backend', 'webgpu');
  const steps = Number(flag(args, '--steps', '5'));
  const json = args.includes('--json');
  setFusion(flag(args, '--fusion', '1') !== '0');
  setOptimizerFusion(flag(args, '--optim-fusion', '1') !== '0');
  const backend: Backend = which === 'cpu' ? cpuBackend : await createWebGPUBackend();
  setDefaultBackend(backend);
  const gpu = backend instanceof WebGPUBackend ? backend : null;
  const sync = async () => {
    if (gpu) await gpu.sync();
  };

  let dispatches = 0;
  const kernelTimes = new Map<string, [number, number]>();
  let profiling = false;
  const original = Dispatcher.prototype.dispatch;
  Dispatcher.prototype.dispatch = function (kernel, group, x, y = 1, z = 1) {
    original.call(this, kernel, group, x, y, z);
    dispatches++;
    if (!profiling) return;
    const t = performance.now();
    this.flush();
    const e = kernelTimes.get(kernel.label) ?? [0, 0];
    kernelTimes.set(kernel.label, [e[0] + performance.now() - t, e[1] + 1]);
  };

  const corpus = generateSyntheticCorpus({ seed: 1, entities: 100 });
  const texts = claraTextsForVocabulary(
    { documents: corpus.documents, qa: corpus.questions.map((q) => ({ question: q.question, answer: q.answer })), paraphrases: [] },
    4,
  );
  const clara = ClaraModel.fromScratch({
    texts,
    base: 'small',
    settings: { docMaxLength: 64, compressionRate: 16, lora: { r: 16, alpha: 32, dropout: 0 } },
    seed: 1,
    backend,
  });
  const g = new Generator(5);
  const params = prepareCompressionStage(clara, 1, g);
  const opt = new AdamW(params, { lr: 2e-3, betas: [0.9, 0.95], eps: 1e-8, weightDecay: 0 });
  const rows = corpus.stage1.filter((r) => r.dataType === 'qa');
  const B = 8;

  const totals: number[] = [];
  const phases = { forward: [] as number[], backward: [] as number[], clip: [] as number[], optimiser: [] as number[] };
  let perStepDispatches = 0;
  const losses: number[] = [];
  const warmup = 2;
  const profile = args.includes('--profile') && gpu !== null;
  for (let step = 0; step < warmup + steps + (profile ? 1 : 0); step++) {
    profiling = profile && step === warmup + steps;
    const ex = Array.from({ length: B }, (_, i) => stage1Example(clara.tokenizer, rows[(step * B + i) % rows.length]!, g));
    const batch = collateBatch(clara.tokenizer, ex, 64);
    // Whole step, no intermediate syncs.
    const d0 = dispatches;
    const t0 = performance.now();
    const loss = tidy(() => {
      const out = compressionLoss(clara, batch, 0.1);
      out.loss.backward();
      clipGradNorm(params, 1.0);
      opt.step();
      opt.zeroGrad();
      return out.loss.detach();
    });
    losses.push(await loss.item());
    loss.dispose();
    const dt = performance.now() - t0;
    if (step >= warmup && !profiling) {
      totals.push(dt);
      perStepDispatches = dispatches - d0;
    }
  }
  profiling = false;
  // Phases, one more step with a sync after each.
  for (let rep = 0; rep < 2; rep++) {
    const ex = Array.from({ length: B }, (_, i) => stage1Example(clara.tokenizer, rows[(rep * B + i) % rows.length]!, g));
    const batch = collateBatch(clara.tokenizer, ex, 64);
    const times: number[] = [];
    let t = performance.now();
    const mark = async () => {
      await sync();
      const n = performance.now();
      times.push(n - t);
      t = n;
    };
    const out = compressionLoss(clara, batch, 0.1);
    await mark();
    out.loss.backward();
    await mark();
    clipGradNorm(params, 1.0).dispose();
    await mark();
    opt.step();
    opt.zeroGrad();
    await mark();
    phases.forward.push(times[0]!);
    phases.backward.push(times[1]!);
    phases.clip.push(times[2]!);
    phases.optimiser.push(times[3]!);
  }
  Dispatcher.prototype.dispatch = original;

  const best = Math.min(...totals);
  const median = [...totals].sort((a, b) => a - b)[Math.floor(totals.length / 2)]!;
  const phaseBest = Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, Math.min(...v)]));
  if (json) {
    console.log(
      JSON.stringify({
        suite: 'step',
        case: 'clara-stage1-small',
        backend: backend.name,
        ms: best,
        median,
        dispatches: perStepDispatches,
        phases: phaseBest,
        losses,
      }),
    );
  } else {
    console.log(
      `${backend.name}: best ${best.toFixed(0)} ms/step, median ${median.toFixed(0)} ms (${totals.map((x) => x.toFixed(0)).join(' ')})` +
        (gpu ? `, ${perStepDispatches} dispatches/step` : ''),
    );
    console.log(
      'phases (best, with syncs):',
      Object.entries(phaseBest)
        .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
        .join(', '),
    );
    console.log('losses', losses.map((l) => l.toFixed(4)).join(' '));
  }
  if (profile) {
    const total = [...kernelTimes.values()].reduce((s, [x]) => s + x, 0);
    const count = [...kernelTimes.values()].reduce((s, [, c]) => s + c, 0);
    console.log(`profile: ${total.toFixed(0)} ms over ${count} dispatches (each flushed)`);
    for (const [k, [x, c]] of [...kernelTimes].sort((a, b) => b[1][0] - a[1][0]).slice(0, 30)) {
      console.log(x.toFixed(1).padStart(8), String(c).padStart(5), k);
    }
  }
  gpu?.destroy();
}
