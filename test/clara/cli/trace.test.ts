import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Generator, tensor } from '../../../engine/index.ts';
import { readSafetensorsFile, writeSafetensorsFile } from '../../../engine/io/index.ts';
import { answerCrossEntropy } from '../../../clara/answerLoss.ts';
import { main } from '../../../clara/cli/main.ts';
import { saveAdapter, saveModel } from '../../../clara/model/checkpoint.ts';
import { PRESETS } from '../../../clara/model/config.ts';
import { MistralForCausalLM } from '../../../clara/model/mistral.ts';

/** `clara trace` writes what the library computes, under the documented names. */
describe('clara trace', () => {
  it("writes hidden states, logits, loss and the active adapter's gradients", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clara-trace-'));
    const model = new MistralForCausalLM(PRESETS.tiny!, { rng: new Generator(3) });
    model.addAdapter('decoder_adapter', { r: 4, alpha: 8, dropout: 0 }, new Generator(4));
    // Non-zero B so that the adapter changes the output and A gets a gradient.
    for (const layer of model.loraLayers())
      layer
        .adapter('decoder_adapter')
        .B.assign(tensor(new Float32Array(layer.adapter('decoder_adapter').B.size).fill(0.01), layer.adapter('decoder_adapter').B.shape));
    await saveModel(model, join(dir, 'model'));
    await saveAdapter(model, 'decoder_adapter', join(dir, 'model', 'adapters', 'decoder_adapter'));
    const ids = [5, 6, 7, 8, 1, 9, 10, 11];
    const mask = [1, 1, 1, 1, 0, 1, 1, 1];
    const labels = [-100, 6, 7, 8, -100, -100, 10, 11];
    writeSafetensorsFile(
      join(dir, 'inputs.safetensors'),
      {
        input_ids: { dtype: 'I32', shape: [2, 4], data: Int32Array.from(ids) },
        attention_mask: { dtype: 'I32', shape: [2, 4], data: Int32Array.from(mask) },
        labels: { dtype: 'I32', shape: [2, 4], data: Int32Array.from(labels) },
      },
      { adapter: 'decoder_adapter' },
    );

    const code = await main([
      'trace',
      '--model',
      join(dir, 'model'),
      '--inputs',
      join(dir, 'inputs.safetensors'),
      '--out',
      join(dir, 'trace.safetensors'),
      '--backend',
      'cpu',
    ]);
    expect(code).toBe(0);
    const trace = readSafetensorsFile(join(dir, 'trace.safetensors'));
    expect(trace.names().filter((n) => n.startsWith('hidden_states.')).length).toBe(PRESETS.tiny!.num_hidden_layers + 1);
    expect(trace.names().filter((n) => n.startsWith('grad.')).length).toBe(2 * 7 * PRESETS.tiny!.num_hidden_layers);

    model.eval();
    const out = model.forward({ inputIds: tensor(Int32Array.from(ids), [2, 4], { dtype: 'int32' }), attentionMask: mask, adapter: 'decoder_adapter' });
    const loss = answerCrossEntropy(out.logits!, [labels.slice(0, 4), labels.slice(4)]);
    loss.backward();
    expect(Array.from(trace.toHost('logits').data)).toEqual(Array.from(await out.logits!.toArray()));
    expect(trace.toHost('loss').data[0]).toBe(await loss.item());
    const name = 'model.layers.1.mlp.down_proj.lora_A.weight';
    const expected = model.adapterParameters('decoder_adapter').find(([n]) => n === name)![1].grad!;
    expect(Array.from(trace.toHost(`grad.${name}`).data)).toEqual(Array.from(await expected.toArray()));
  });

  it('rejects inputs with neither or both of input_ids and inputs_embeds, and missing flags', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'clara-trace-'));
    const model = new MistralForCausalLM(PRESETS.tiny!, { rng: new Generator(3) });
    await saveModel(model, join(dir, 'model'));
    writeSafetensorsFile(join(dir, 'empty.safetensors'), { attention_mask: { dtype: 'I32', shape: [1, 2], data: Int32Array.from([1, 1]) } });
    expect(
      await main(['trace', '--model', join(dir, 'model'), '--inputs', join(dir, 'empty.safetensors'), '--out', join(dir, 'o.safetensors'), '--backend', 'cpu']),
    ).toBe(1);
    expect(await main(['trace', '--model', join(dir, 'model')])).toBe(2);
  });
});
