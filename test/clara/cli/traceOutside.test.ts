import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compareTensorFiles } from '../../../engine/io/compareTensors.ts';
import { readSafetensors, readSafetensorsFile, serializeSafetensorsToBytes, type TensorToWrite } from '../../../engine/io/index.ts';
import { main } from '../../../clara/cli/main.ts';
import { captureConsole } from '../../helpers/captureConsole.ts';

/**
 * An outside checkpoint (test/fixtures/peft/tiny: a Hugging Face Mistral and three adapters in
 * PEFT's multi-adapter layout, written by reference/record_peft_checkpoint.py) loads with no file
 * of ours, and `clara trace` of the decoder, the compressor, a stage-1 and a stage-3 step agrees with
 * reference/trace_torch.py's trace of the same inputs, name by name.
 */
const FIXTURES = 'test/fixtures/peft';
const CHECKPOINT = join(FIXTURES, 'tiny');
const MEM_IDS = '57,58,59,60';

async function trace(mode: string, inputs: string, extra: string[] = []): Promise<string> {
  const out = join(mkdtempSync(join(tmpdir(), 'clara-trace-outside-')), `${mode}.safetensors`);
  const quiet = captureConsole();
  try {
    const code = await main([
      'trace',
      '--mode',
      mode,
      '--model',
      CHECKPOINT,
      '--mem-ids',
      MEM_IDS,
      '--inputs',
      inputs,
      '--out',
      out,
      '--backend',
      'cpu',
      ...extra,
    ]);
    expect(code).toBe(0);
  } finally {
    quiet.stop();
  }
  return out;
}

describe('clara trace on an outside PEFT checkpoint', () => {
  it('needs no clara.json, tokenizer.json or adapters/ folder', () => {
    for (const ours of ['clara.json', 'tokenizer.json', 'adapters']) expect(existsSync(join(CHECKPOINT, ours))).toBe(false);
  });

  it.each([
    ['decoder', []],
    ['compressor', []],
    ['stage1', []],
    ['stage3', ['--temperature', '0.5']],
  ])('traces %s with every name PyTorch writes, and agrees with it', async (mode, extra) => {
    const ours = readSafetensorsFile(await trace(mode, join(FIXTURES, `${mode}_inputs.safetensors`), extra));
    const torch = readSafetensorsFile(join(FIXTURES, `${mode}_torch.safetensors`));
    expect(ours.names().sort()).toEqual(torch.names().sort());
    const lora = mode === 'decoder' ? 'grad.model.layers.0.self_attn.q_proj.lora_A.weight' : 'grad.base_model.model.model.layers.0.self_attn.q_proj.lora_A.';
    expect(ours.names().some((n) => n.startsWith(lora))).toBe(true);
    const report = compareTensorFiles(ours, torch);
    expect(report.firstDivergence).toBeNull();
    for (const t of compareTensorFiles(ours, ours).tensors) expect([t.name, t.maxAbs]).toEqual([t.name, 0]);
  });

  it('traces the decoder with every adapter of the checkpoint in one run (--adapter all)', async () => {
    const ours = readSafetensorsFile(await trace('decoder', join(FIXTURES, 'decoder_inputs.safetensors'), ['--adapter', 'all']));
    const torch = readSafetensorsFile(join(FIXTURES, 'decoder_all_torch.safetensors'));
    expect(ours.names().sort()).toEqual(torch.names().sort());
    for (const adapter of ['decoder_adapter', 'encoder_adapter', 'query_reasoner_adapter']) {
      expect(ours.has(`${adapter}.loss`)).toBe(true);
      expect(ours.has(`grad.base_model.model.model.layers.1.mlp.down_proj.lora_B.${adapter}.weight`)).toBe(true);
    }
    expect(compareTensorFiles(ours, torch).firstDivergence).toBeNull();
  });

  it('finds a planted perturbation of a stage-3 intermediate as the first divergence', async () => {
    const ours = readSafetensorsFile(await trace('stage3', join(FIXTURES, 'stage3_inputs.safetensors'), ['--temperature', '0.5']));
    const tensors: Record<string, TensorToWrite> = {};
    for (const name of ours.names()) {
      const data = Float32Array.from(ours.toHost(name).data as Float32Array);
      if (name === 's' || name === 'selected') data[1] = data[1]! + 1e-2; // s and what follows from it
      tensors[name] = { dtype: 'F32', shape: ours.info(name).shape, data };
    }
    const planted = readSafetensors(serializeSafetensorsToBytes(tensors, ours.metadata));
    const report = compareTensorFiles(planted, readSafetensorsFile(join(FIXTURES, 'stage3_torch.safetensors')));
    expect(report.tensors.slice(0, 4).map((t) => t.name)).toEqual(['q', 'D', 's', 'l']); // the order of the computation
    expect(report.firstDivergence).toBe('s');
  });

  it('reads the same inputs from JSON', async () => {
    const source = readSafetensorsFile(join(FIXTURES, 'stage1_inputs.safetensors'));
    const json: Record<string, number[][]> = {};
    for (const name of source.names()) {
      const [rows, width] = source.info(name).shape as [number, number];
      const flat = Array.from(source.toHost(name).data as ArrayLike<number>, Number);
      json[name] = Array.from({ length: rows }, (_, r) => flat.slice(r * width, (r + 1) * width));
    }
    const file = join(mkdtempSync(join(tmpdir(), 'clara-trace-json-')), 'inputs.json');
    writeFileSync(file, JSON.stringify(json));
    const report = compareTensorFiles(readSafetensorsFile(await trace('stage1', file)), readSafetensorsFile(join(FIXTURES, 'stage1_torch.safetensors')));
    expect(report.firstDivergence).toBeNull();
  });

  it('names the folders it searched for a missing adapter, and asks for the <MEMi> ids it cannot know', async () => {
    const printed = captureConsole();
    try {
      const out = join(mkdtempSync(join(tmpdir(), 'clara-trace-err-')), 'o.safetensors');
      const inputs = join(FIXTURES, 'compressor_inputs.safetensors');
      expect(await main(['trace', '--model', CHECKPOINT, '--adapter', 'nosuch', '--inputs', inputs, '--out', out, '--backend', 'cpu'])).toBe(1);
      expect(printed.errors.at(-1)).toContain(`looked in ${join(CHECKPOINT, 'adapters', 'nosuch')} and ${join(CHECKPOINT, 'nosuch')}`);
      expect(await main(['trace', '--mode', 'compressor', '--model', CHECKPOINT, '--inputs', inputs, '--out', out, '--backend', 'cpu'])).toBe(1);
      expect(printed.errors.at(-1)).toContain('--mem-ids');
    } finally {
      printed.stop();
    }
  });
});

/** A traced tensor as a flat array of numbers, with its shape. */
function read(file: ReturnType<typeof readSafetensorsFile>, name: string): { data: number[]; shape: number[] } {
  return { data: Array.from(file.toHost(name).data as ArrayLike<number>, Number), shape: [...file.info(name).shape] };
}

describe('clara trace gives every intermediate its whole gradient', () => {
  it.each([['stage1'], ['stage3']])('%s: grad.logits, and grad.generator_hidden = grad.logits · lm_head', async (mode) => {
    const ours = readSafetensorsFile(await trace(mode, join(FIXTURES, `${mode}_inputs.safetensors`), ['--temperature', '0.5']));
    const order = JSON.parse(ours.metadata.order!) as string[];
    expect(order.indexOf('logits')).toBe(order.indexOf('generator_hidden') + 1);
    const gLogits = read(ours, 'grad.logits');
    const gHidden = read(ours, 'grad.generator_hidden');
    const head = read(readSafetensorsFile(join(CHECKPOINT, 'model.safetensors')), 'lm_head.weight'); // [V, d]
    const [vocab, d] = head.shape as [number, number];
    expect(gLogits.shape).toEqual([...gHidden.shape.slice(0, 2), vocab]);
    let largest = 0;
    for (let row = 0; row < gHidden.data.length / d; row++) {
      for (let j = 0; j < d; j++) {
        let sum = 0;
        for (let v = 0; v < vocab; v++) sum += gLogits.data[row * vocab + v]! * head.data[v * d + j]!;
        expect(gHidden.data[row * d + j]).toBeCloseTo(sum, 6);
        largest = Math.max(largest, Math.abs(sum));
      }
    }
    expect(largest).toBeGreaterThan(0);
  });

  it("stage1: grad.compressed holds the generator's path and the MSE term (mu_mem is the mean of compressed)", async () => {
    const inputs = readSafetensorsFile(join(FIXTURES, 'stage1_inputs.safetensors'));
    const ours = readSafetensorsFile(await trace('stage1', join(FIXTURES, 'stage1_inputs.safetensors')));
    const gCompressed = read(ours, 'grad.compressed'); // [docs, n, d]
    const gSpliced = read(ours, 'grad.spliced_embeddings'); // [B, L, d]
    const gMuMem = read(ours, 'grad.mu_mem'); // [docs, d]
    const [, n, d] = gCompressed.shape as [number, number, number];
    const ids = read(inputs, 'generator.input_ids').data;
    const mem = new Set(MEM_IDS.split(',').map(Number));
    // Row b's memory positions, in order, are documents b·k + j's n vectors (the splice).
    const positions = ids.flatMap((id, i) => (mem.has(id) ? [i] : []));
    expect(positions.length).toBe(gCompressed.data.length / d);
    let mseShare = 0;
    positions.forEach((flat, r) => {
      const doc = Math.floor(r / n);
      for (let j = 0; j < d; j++) {
        const fromMse = gMuMem.data[doc * d + j]! / n;
        expect(gCompressed.data[r * d + j]).toBeCloseTo(gSpliced.data[flat * d + j]! + fromMse, 7);
        mseShare = Math.max(mseShare, Math.abs(fromMse));
      }
    });
    expect(mseShare).toBeGreaterThan(0);
  });

  it('stage1: the gradient of the <MEMi> embedding rows it trains, as PyTorch computes it', async () => {
    const ours = readSafetensorsFile(await trace('stage1', join(FIXTURES, 'stage1_inputs.safetensors')));
    const torch = readSafetensorsFile(join(FIXTURES, 'stage1_torch.safetensors'));
    const name = 'grad.model.embed_tokens.weight.mem_rows';
    const rows = read(ours, name);
    expect(rows.shape).toEqual([MEM_IDS.split(',').length, read(ours, 'compressed').shape[2]]);
    expect(rows.data.some((x) => x !== 0)).toBe(true);
    const report = compareTensorFiles(ours, torch);
    expect(report.tensors.find((t) => t.name === name)?.status).toBe('ok');
  });
});
