import { Options, UsageError } from './args.ts';
import { backendOption } from './backendOption.ts';
import { doctor, DOCTOR_HELP, formatDoctorReport } from './doctor.ts';
import { runAsk } from './ask.ts';
import { runCompare } from './compare.ts';
import { runCompress } from './compress.ts';
import { runDemoCommand } from './demo.ts';
import { runE2e } from './e2e.ts';
import { runEval } from './evaluate.ts';
import { runExport } from './export.ts';
import { runInspect } from './inspect.ts';
import { runPretrain } from './pretrain.ts';
import { runSweepCommand } from './sweep.ts';
import { runSynth } from './synth.ts';
import { runTrace } from './trace.ts';

/**
 * The `clara` command line: parse, call the library, print. Each command is a library call a
 * researcher can also make from a script.
 */
const USAGE = `Usage: clara <command> [options]

Commands:
  demo       the whole pipeline on a generated corpus, with a table of results (the main job)
  sweep      the demo over a grid of settings and seeds, resumable, with a table and plots
  doctor     report the backends, the WebGPU adapter and a self-check
  synth      write the seeded synthetic corpus (stage 1, 2 and 3 files)
  pretrain   train stage 1 (compressor pretraining) or stage 2 (instruction tuning)
  e2e        train stage 3 (query reasoner and generator, end to end)
  compress   compress a corpus into a document bank
  ask        retrieve from a document bank and answer a question
  eval       recall@1/3/5, EM, F1 and cover accuracy on stage-3 rows
  trace      run a checkpoint on given inputs; write hidden states, logits, loss, gradients
  compare    compare two traces tensor by tensor; name the first divergence
  export     write a model in the official CLaRa layout (adapters.pth, …) or PEFT's
  inspect    what a model folder holds (layout, adapters, compression, stage) and what is missing

Run \`clara <command> --help\` for a command's options. Every command takes
--backend auto|webgpu|cpu (default: $CLARA_BACKEND, else auto); --verbose shows the warnings
Dawn prints on every run that need no action (filtered by default).`;

async function runDoctor(argv: string[]): Promise<number> {
  const options = Options.parse('doctor', argv, { json: { type: 'boolean' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (options.flag('help')) {
    console.log(DOCTOR_HELP);
    return 0;
  }
  const report = await doctor(backendOption('doctor', options.string('backend')));
  if (report.warning) console.error(`warning: ${report.warning}`);
  console.log(options.flag('json') ? JSON.stringify(report) : formatDoctorReport(report));
  return report.selfcheck.ok ? 0 : 1;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  demo: runDemoCommand,
  sweep: runSweepCommand,
  doctor: runDoctor,
  synth: runSynth,
  pretrain: runPretrain,
  e2e: runE2e,
  compress: runCompress,
  ask: runAsk,
  eval: runEval,
  trace: runTrace,
  compare: runCompare,
  export: runExport,
  inspect: runInspect,
};

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    console.log(USAGE);
    return command === undefined ? 2 : 0;
  }
  const run = COMMANDS[command];
  try {
    if (run === undefined) throw new UsageError(`clara: unknown command '${command}'\n\n${USAGE}`);
    return await run(rest);
  } catch (error) {
    console.error(error instanceof UsageError ? error.message : `clara ${command}: ${(error as Error).message}`);
    return error instanceof UsageError ? 2 : 1;
  }
}
