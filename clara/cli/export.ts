import { EXPORT_FORMATS, exportModel, type ExportFormat } from '../checkpoints/export.ts';
import { ClaraModel } from '../claraModel.ts';
import { Options, UsageError } from './args.ts';
import { useBackend } from './backendOption.ts';

const EXPORT_HELP = `Usage: clara export --model DIR [--base DIR] --format official|peft --out DIR [--decoder-model-name NAME] [--dtype float32|bfloat16]

Writes a model (saved by this project, or a released CLaRa checkpoint with --base) in another layout:
  official  what apple/ml-clara's CLaRa.save_pretrained writes: adapters.pth (every adapter),
            decoder_first_last_layers.pth (embedding and lm_head rows, the added tokens' included)
            and config.json, bf16; the base model is named by --decoder-model-name
            (default mistralai/Mistral-7B-Instruct-v0.2) and not written
  peft      PEFT's multi-adapter layout: OUT/<adapter>/adapter_model.safetensors + adapter_config.json,
            with the backbone as Hugging Face files in OUT (--dtype, default float32)`;

export async function runExport(argv: string[]): Promise<number> {
  const options = Options.parse('export', argv, {
    model: { type: 'string' },
    base: { type: 'string' },
    format: { type: 'string' },
    out: { type: 'string' },
    'decoder-model-name': { type: 'string' },
    dtype: { type: 'string' },
    backend: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) {
    console.log(EXPORT_HELP);
    return 0;
  }
  const [modelDir, format, out] = [options.required('model'), options.required('format'), options.required('out')];
  if (!EXPORT_FORMATS.includes(format as ExportFormat))
    throw new UsageError(`clara export: --format must be one of ${EXPORT_FORMATS.join(', ')}, got '${format}'`);
  const dtype = options.string('dtype') ?? 'float32';
  if (dtype !== 'float32' && dtype !== 'bfloat16') throw new UsageError(`clara export: --dtype must be float32 or bfloat16, got '${dtype}'`);
  const backend = await useBackend('export', options.string('backend'));
  const clara = ClaraModel.load(modelDir, { backend, base: options.string('base') });
  await exportModel(clara, out, format as ExportFormat, { decoderModelName: options.string('decoder-model-name'), dtype });
  console.log(`exported ${clara.backbone.adapterNames().join(', ')} (${format} layout): ${out}`);
  return 0;
}
