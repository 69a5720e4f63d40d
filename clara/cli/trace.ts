import { TRACE_TENSORS_HELP, traceModel } from '../model/trace.ts';
import { parseOptions, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';

export const TRACE_HELP = `Usage: clara trace --model DIR --inputs FILE --out FILE [--adapter NAME] [--backend auto|webgpu|cpu]

Runs the model of a checkpoint directory (Hugging Face layout; adapters under DIR/adapters/<name>/ in
PEFT layout are loaded) on the inputs of a safetensors file, and writes every layer's hidden states,
the logits, the loss and the gradient of every trainable tensor to a safetensors file.

${TRACE_TENSORS_HELP}`;

export async function runTrace(argv: string[]): Promise<number> {
  const { values } = parseOptions('trace', argv, {
    model: { type: 'string' }, inputs: { type: 'string' }, out: { type: 'string' }, adapter: { type: 'string' },
    backend: { type: 'string' }, help: { type: 'boolean', short: 'h' },
  });
  if (values.help) {
    console.log(TRACE_HELP);
    return 0;
  }
  for (const required of ['model', 'inputs', 'out']) {
    if (typeof values[required] !== 'string') throw new UsageError(`clara trace: --${required} is required (see \`clara trace --help\`)`);
  }
  const backend = await useBackend('trace', values.backend);
  const { written } = await traceModel({
    modelDir: values.model as string, inputsFile: values.inputs as string, outFile: values.out as string,
    adapter: (values.adapter as string | undefined) ?? null, backend,
  });
  console.log(`wrote ${written.length} tensors to ${values.out}: ${written.join(', ')}`);
  return 0;
}
