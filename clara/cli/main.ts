import { parseOptions, UsageError } from './args.ts';
import { backendOption } from './backendOption.ts';
import { doctor, DOCTOR_HELP, formatDoctorReport } from './doctor.ts';
import { runTrace } from './trace.ts';

/**
 * The `clara` command line: parse, call the library, print. Each command is a library call a
 * researcher can also make from a script.
 */
const USAGE = `Usage: clara <command> [options]

Commands:
  doctor     report the backends, the WebGPU adapter and a self-check
  trace      run a checkpoint on given inputs; write hidden states, logits, loss, gradients

Run \`clara <command> --help\` for a command's options. Every command takes
--backend auto|webgpu|cpu (default: $CLARA_BACKEND, else auto).`;

async function runDoctor(argv: string[]): Promise<number> {
  const { values } = parseOptions('doctor', argv, { json: { type: 'boolean' }, backend: { type: 'string' }, help: { type: 'boolean', short: 'h' } });
  if (values.help) {
    console.log(DOCTOR_HELP);
    return 0;
  }
  const report = await doctor(backendOption('doctor', values.backend));
  if (report.warning) console.error(`warning: ${report.warning}`);
  console.log(values.json ? JSON.stringify(report) : formatDoctorReport(report));
  return report.selfcheck.ok ? 0 : 1;
}

const COMMANDS: Record<string, (argv: string[]) => Promise<number>> = {
  doctor: runDoctor,
  trace: runTrace,
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
