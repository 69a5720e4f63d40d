/**
 * Tracing a checkpoint: run a trained CLaRa model's generator on one text and look inside it:
 * the size of every layer's hidden states, the loss of the text, and which LoRA matrices its
 * gradient moves most. The trace file holds every tensor (for comparing with PyTorch tensor by
 * tensor, as `clara trace` does); this prints a summary of it.
 *
 *   npx tsx examples/traceCheckpoint.ts RUN_OR_MODEL_DIR ["a text to trace"]
 *
 * e.g. on the demo's run folder: npx tsx examples/traceCheckpoint.ts runs/demo-…/stage3
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClaraModel, DECODER_ADAPTER, resolveModelDir, traceModel } from 'clara-ts/clara';
import { readSafetensorsFile, writeSafetensorsFile } from 'clara-ts/engine/io';

const [given, text = 'Where was the first person of the corpus born?'] = process.argv.slice(2);
if (given === undefined) throw new Error('usage: traceCheckpoint.ts RUN_OR_MODEL_DIR ["text"]');
const modelDir = resolveModelDir(given);

// The inputs: the text's tokens, and the same tokens as labels (the loss of reading it).
const clara = ClaraModel.load(modelDir);
const ids = clara.tokenizer.encode(text);
const dir = mkdtempSync(join(tmpdir(), 'clara-trace-'));
const inputs = join(dir, 'inputs.safetensors');
const shape = [1, ids.length];
writeSafetensorsFile(
  inputs,
  { input_ids: { dtype: 'I32', shape, data: Int32Array.from(ids) }, labels: { dtype: 'I32', shape, data: Int32Array.from(ids) } },
  { adapter: DECODER_ADAPTER },
);
const traceFile = join(dir, 'trace.safetensors');
await traceModel({ modelDir, inputsFile: inputs, outFile: traceFile, adapter: DECODER_ADAPTER });

// The summary: root mean square of each hidden state, the loss, the largest gradients.
const trace = readSafetensorsFile(traceFile);
const rms = (data: ArrayLike<number>) => Math.sqrt(Array.from(data).reduce((s, x) => s + x * x, 0) / data.length);
console.log(`${modelDir}: ${ids.length} tokens of "${text}"`);
for (const name of trace.names().filter((n) => n.startsWith('hidden_states.')))
  console.log(`  ${name.padEnd(18)} rms ${rms(trace.toHost(name).data).toFixed(4)}`);
console.log(`  loss ${trace.toHost('loss').data[0]!.toFixed(4)}`);
const grads = trace
  .names()
  .filter((n) => n.startsWith('grad.model.'))
  .map((n) => [n.slice('grad.'.length), rms(trace.toHost(n).data)] as const)
  .sort((a, b) => b[1] - a[1]);
console.log(`  the ${Math.min(3, grads.length)} LoRA matrices the gradient moves most (rms):`);
for (const [name, g] of grads.slice(0, 3)) console.log(`    ${name}  ${g.toExponential(3)}`);
