import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { TRACE_TENSORS_HELP, traceModel } from '../model/trace.ts';
import { Options } from './args.ts';
import { useBackend } from './backendOption.ts';
import { modelDirOption } from './modelOption.ts';

const TRACE_HELP = `Usage: clara trace --model DIR --inputs FILE --out FILE [--adapter NAME] [--backend auto|webgpu|cpu]

Runs the model of a checkpoint directory (or a run folder's checkpoint; Hugging Face layout; adapters under DIR/adapters/<name>/ in
PEFT layout are loaded) on the inputs of a safetensors file, and writes every layer's hidden states,
the logits, the loss and the gradient of every trainable tensor to a safetensors file.

${TRACE_TENSORS_HELP}`;

export async function runTrace(argv: string[]): Promise<number> {
  const options = Options.parse('trace', argv, {
    model: { type: 'string' },
    inputs: { type: 'string' },
    out: { type: 'string' },
    adapter: { type: 'string' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(TRACE_HELP);
    return 0;
  }
  const [inputsFile, outFile] = [options.required('inputs'), options.required('out')];
  // A Hugging Face layout (config.json) is traced as it is; otherwise --model is a run folder.
  const given = options.required('model');
  const modelDir = existsSync(join(given, 'config.json')) ? given : modelDirOption(options);
  const backend = await useBackend('trace', options.string('backend'));
  const { written } = await traceModel({ modelDir, inputsFile, outFile, adapter: options.string('adapter') ?? null, backend });
  console.log(`wrote ${written.length} tensors to ${outFile}: ${written.join(', ')}`);
  return 0;
}
