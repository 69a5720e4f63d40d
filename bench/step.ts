/**
 * Where a step's time goes: `npm run bench -- step [--backend webgpu|cpu] [--preset small|tiny]
 * [--steps N] [--only stage1,stage3,decode] [--fusion 0|1] [--optim-fusion 0|1] [--profile] [--json]`.
 *
 * Three steps, on the cases of bench/suites/model.ts:
 *   stage1  compressionLoss + backward + clip + AdamW, B 8 (a new batch of `qa` examples each step)
 *   stage3  stage3Loss + backward + clip + AdamW, B 8 questions, N 20 candidates, k 1
 *   decode  one new token for 4 answer prompts with a key/value cache (forward + argmax + readback)
 *
 * For each: the best and median ms/step over N steps (after two warm-up steps that compile the
 * kernels), the median CPU time per step of the process and, on WebGPU, dispatches and host transfers per step; then one profiled step
 * (bench/kernelProfile.ts: every dispatch submitted and timed alone) gives the time per kernel
 * family. Stage 1 also gives its phases (forward, backward, clip, optimiser; a sync after each, so
 * they add up to a little more than a step). --profile adds the 30 slowest kernels of each step.
 */
import { Options, UsageError } from '../clara/cli/args.ts';
import {
  AdamW,
  noGrad,
  setDefaultBackend,
  setFusion,
  setOptimizerFusion,
  tensor,
  tidy,
  clipAndStep,
  cpuBackend,
  type Backend,
  type Tensor,
} from '../engine/index.ts';
import { createWebGPUBackend, WebGPUBackend } from '../engine/backends/webgpu/backend.ts';
import { DECODER_ADAPTER } from '../clara/adapters.ts';
import { idsTensor } from '../clara/compressor.ts';
import { collateBatch, stage1Example } from '../clara/examples.ts';
import { compressionLoss } from '../clara/compressionObjective.ts';
import { stage3Loss } from '../clara/endToEndObjective.ts';
import { disposeCache, emptyCache } from '../clara/model/mistral.ts';
import { generateSyntheticCorpus } from '../clara/data/synth.ts';
import { FAMILIES, KernelProfile, type Family, type Tally } from './kernelProfile.ts';
import {
  ADAMW,
  MSE_WEIGHT,
  SETTINGS,
  SIZES,
  answerPrompts,
  disposeModel,
  freshModel,
  stage3Inputs,
  stage3Options,
  trainingStep,
  PRESET_NAMES,
  type PresetName,
} from './suites/model.ts';

const CASES = ['stage1', 'stage3', 'decode'] as const;
type CaseName = (typeof CASES)[number];

/** A prepared step: `run()` does one (and waits for it); `phases()`, where given, one with a sync between phases. */
interface StepCase {
  run(): Promise<void>;
  phases?(sync: () => Promise<void>): Promise<Record<string, number>>;
  /** Losses of the steps run so far (training steps). */
  losses?: number[];
  dispose(): void;
}

const USAGE = `npm run bench -- step [--backend webgpu|cpu] [--preset small|tiny] [--steps N] [--only stage1,stage3,decode]
                           [--fusion 0|1] [--optim-fusion 0|1] [--profile] [--json]`;

/** The options, checked: an unknown option or value is a usage error, not a default. */
function parse(args: string[]) {
  const options = Options.parseFor('bench step', 'npm run bench -- step --help', args, {
    backend: { type: 'string' },
    preset: { type: 'string' },
    steps: { type: 'string' },
    only: { type: 'string' },
    fusion: { type: 'string' },
    'optim-fusion': { type: 'string' },
    json: { type: 'boolean' },
    profile: { type: 'boolean' },
    help: { type: 'boolean' },
  });
  const only = (options.string('only') ?? CASES.join(',')).split(',');
  for (const c of only) if (!CASES.includes(c as CaseName)) throw new UsageError(`bench step: --only takes ${CASES.join(', ')}; got '${c}'`);
  return {
    help: options.flag('help'),
    which: options.choice('backend', ['webgpu', 'cpu']) ?? 'webgpu',
    preset: options.choice('preset', PRESET_NAMES) ?? 'small',
    steps: options.int('steps', 1) ?? 5,
    only: only as CaseName[],
    json: options.flag('json'),
    listKernels: options.flag('profile'),
    fusion: (options.choice('fusion', ['0', '1']) ?? '1') === '1',
    optimizerFusion: (options.choice('optim-fusion', ['0', '1']) ?? '1') === '1',
  };
}

export async function run(args: string[]): Promise<void> {
  const { help, which, preset, steps, only, json, listKernels, fusion, optimizerFusion } = parse(args);
  if (help) {
    console.log(USAGE);
    return;
  }
  setFusion(fusion);
  setOptimizerFusion(optimizerFusion);
  const backend: Backend = which === 'cpu' ? cpuBackend : await createWebGPUBackend();
  setDefaultBackend(backend);
  const gpu = backend instanceof WebGPUBackend ? backend : null;
  const sync = async () => {
    if (gpu) await gpu.sync();
  };
  const profile = new KernelProfile();
  const uninstall = profile.install();

  for (const name of CASES.filter((c) => only.includes(c))) {
    const step = await PREPARE[name](preset, backend);
    const totals: number[] = [];
    const cpu: number[] = [];
    let dispatches = 0;
    let transfers = 0;
    for (let i = 0; i < 2 + steps; i++) {
      const [d0, u0] = [profile.dispatches, profile.transfers];
      const t0 = performance.now();
      const c0 = process.cpuUsage();
      await step.run();
      if (i < 2) continue;
      totals.push(performance.now() - t0);
      const c = process.cpuUsage(c0);
      cpu.push((c.user + c.system) / 1000);
      [dispatches, transfers] = [profile.dispatches - d0, profile.transfers - u0];
    }
    profile.kernels.clear();
    if (gpu) await profile.timed(() => step.run());
    const phases = step.phases ? await step.phases(sync) : undefined;
    const best = Math.min(...totals);
    const median = medianOf(totals);
    // CPU time of the process (llvmpipe's threads included): on a shared machine it moves far less
    // than the wall clock, so it is the figure to compare runs made under different loads.
    const cpuMs = medianOf(cpu);
    const families = gpu ? profile.families() : undefined;
    const kernels = [...profile.kernels].sort((a, b) => b[1].ms - a[1].ms).slice(0, 30);
    if (json) {
      console.log(
        JSON.stringify({
          suite: 'step',
          case: `clara-${name}-${preset}`,
          backend: backend.name,
          ms: best,
          median,
          cpuMs,
          ...(gpu ? { dispatches, transfers, families, kernels: Object.fromEntries(kernels) } : {}),
          ...(phases ? { phases } : {}),
          ...(step.losses ? { losses: step.losses } : {}),
        }),
      );
    } else {
      console.log(
        `${name} (${preset}) on ${backend.name}: best ${best.toFixed(1)} ms/step, median ${median.toFixed(1)} ms (${totals.map((x) => x.toFixed(0)).join(' ')}), CPU ${cpuMs.toFixed(1)} ms/step` +
          (gpu ? `, ${dispatches} dispatches and ${transfers} uploads/readbacks per step` : ''),
      );
      if (phases)
        console.log(
          '  phases (best, with syncs):',
          Object.entries(phases)
            .map(([k, v]) => `${k} ${v.toFixed(0)} ms`)
            .join(', '),
        );
      if (step.losses) console.log('  losses', step.losses.map((l) => l.toFixed(4)).join(' '));
      if (families) printFamilies(families);
      if (listKernels) for (const [k, t] of kernels) console.log(`  ${t.ms.toFixed(1).padStart(8)} ${String(t.count).padStart(5)}  ${k}`);
    }
    step.dispose();
  }
  uninstall();
  gpu?.destroy();
}

function medianOf(xs: number[]): number {
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
}

/** The family table of one profiled step: ms, share, dispatches (or transfers), ms per call. */
function printFamilies(families: Record<Family, Tally>): void {
  const total = FAMILIES.reduce((s, f) => s + families[f].ms, 0);
  const count = FAMILIES.reduce((s, f) => s + families[f].count, 0);
  console.log(`  profiled step: ${total.toFixed(1)} ms over ${count} submits (each dispatch submitted alone)`);
  console.log(`  ${'family'.padEnd(12)} ${'ms'.padStart(8)} ${'share'.padStart(6)} ${'calls'.padStart(6)} ${'ms/call'.padStart(8)}`);
  for (const f of FAMILIES) {
    const { ms, count: n } = families[f];
    if (n === 0) continue;
    const share = `${((100 * ms) / total).toFixed(0)}%`;
    console.log(`  ${f.padEnd(12)} ${ms.toFixed(1).padStart(8)} ${share.padStart(6)} ${String(n).padStart(6)} ${(ms / n).toFixed(3).padStart(8)}`);
  }
}

const PREPARE: Record<CaseName, (preset: PresetName, backend: Backend) => Promise<StepCase>> = {
  async stage1(preset, backend) {
    const { clara, params, g } = freshModel(preset, backend);
    const opt = new AdamW(params, ADAMW);
    const rows = generateSyntheticCorpus({ seed: 1, entities: 100 }).stage1.filter((r) => r.dataType === 'qa');
    let next = 0;
    const batch = () => {
      const examples = Array.from({ length: SIZES.batch }, () => stage1Example(clara.tokenizer, rows[next++ % rows.length]!, g));
      return collateBatch(clara.tokenizer, examples, SETTINGS.docMaxLength);
    };
    const losses: number[] = [];
    return {
      losses,
      async run() {
        const b = batch();
        losses.push(await trainingStep(opt, () => compressionLoss(clara, b, MSE_WEIGHT).loss));
      },
      async phases(sync) {
        const times: Record<string, number> = {};
        let t = performance.now();
        const mark = async (phase: string) => {
          await sync();
          const now = performance.now();
          times[phase] = now - t;
          t = now;
        };
        const out = compressionLoss(clara, batch(), MSE_WEIGHT);
        await mark('forward');
        out.loss.backward();
        await mark('backward');
        await clipAndStep(opt, 1.0);
        opt.zeroGrad();
        await mark('clip and step');
        return times;
      },
      dispose: () => disposeModel(clara),
    };
  },

  async stage3(preset, backend) {
    const { clara } = freshModel(preset, backend);
    const { params, bank, batch } = stage3Inputs(clara, SIZES);
    const opt = new AdamW(params, ADAMW);
    const losses: number[] = [];
    return {
      losses,
      async run() {
        losses.push(await trainingStep(opt, () => stage3Loss(clara, bank, batch, stage3Options(SIZES)).loss));
      },
      dispose() {
        bank.dispose();
        disposeModel(clara);
      },
    };
  },

  async decode(preset, backend) {
    // The prompt fills the cache once (untimed); each step then feeds one token per row, as
    // generateGreedy's loop does, and reads the chosen ids back.
    const { clara } = freshModel(preset, backend);
    const model = clara.backbone;
    model.eval();
    const prompts = answerPrompts(clara, SIZES.prompts);
    const rows = prompts.inputIds.length;
    const cache = emptyCache(model.config);
    let mask = prompts.attentionMask.flat();
    /** The most likely next token of each row, on the host. */
    const choose = async (inputIds: Tensor) => {
      const ids = tidy(() =>
        noGrad(() => model.forward({ inputIds, attentionMask: mask, adapter: DECODER_ADAPTER, cache }).logits!.slice(1, -1).argmax(-1).reshape([-1])),
      );
      const values = Int32Array.from(await ids.toArray());
      ids.dispose();
      inputIds.dispose();
      return values;
    };
    let chosen = await choose(idsTensor(model, prompts.inputIds));
    return {
      async run() {
        const length = mask.length / rows;
        mask = Array.from({ length: rows }, (_, b) => [...mask.slice(b * length, (b + 1) * length), 1]).flat();
        chosen = await choose(tensor(chosen, [rows, 1], { dtype: 'int32', backend }));
      },
      dispose() {
        disposeCache(cache);
        disposeModel(clara);
      },
    };
  },
};
