import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { CpuBackend, cpuBackend } from '../../../engine/backends/cpu/index.ts';
import type { Backend } from '../../../engine/index.ts';
import { readTorchSaveFile, writeTorchSaveFile, type TorchTensor } from '../../../engine/io/index.ts';
import { DECODER_ADAPTER, ENCODER_ADAPTER } from '../../../clara/adapters.ts';
import { loadOfficialCheckpoint, type OfficialLoadOptions } from '../../../clara/checkpoints/official.ts';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { main } from '../../../clara/cli/main.ts';
import { compressDocuments, idsTensor } from '../../../clara/compressor.ts';
import type { LoadDType } from '../../../clara/model/checkpoint.ts';
import { generateGreedy } from '../../../clara/model/generate.ts';
import { compressorFingerprint, loadDocumentBank } from '../../../clara/retrieval/documentBank.ts';
import { CompactTokenizer } from '../../../clara/tokenizer/compactTokenizer.ts';
import { availableBackends } from '../../helpers/backends.ts';
import { captureConsole } from '../../helpers/captureConsole.ts';
import { acquireBackend } from '../../engine/webgpu/helpers.ts';
import { expectClose, fixtureTokenizer, observed } from '../stage1/helpers.ts';
import { BASE, CHECKPOINT, encoderBatch, expected, FIXTURES, N_MEM, rows, TOL } from './officialFixture.ts';

/**
 * A released checkpoint loaded as its files are stored (issue 19): with `dtype: 'auto'` the base's
 * bf16 shards and decoder_first_last_layers.pth's bf16 tables stay 16-bit (the adapters and norms
 * float32), and the tiny official-layout fixture (reference/record_official_checkpoint.py) still
 * gives PyTorch's memory vectors, logits and greedy tokens within the golden tolerance, on every
 * backend. A table larger than the backend's largest tensor is held as row blocks and computes
 * exactly what the whole table does. The compressor's fingerprint depends on the values only: the
 * same for a bf16 or a float32 load, split or not, so either load reads the other's bank.
 */

function load(dir: string, base: string, backend: Backend, dtype: LoadDType, tokenizer = fixtureTokenizer(N_MEM)): ClaraModel {
  const options: OfficialLoadOptions = { base, backend, dtype, tokenizer };
  const parts = loadOfficialCheckpoint(dir, options);
  const clara = new ClaraModel(parts.backbone, parts.tokenizer, { ...parts.settings, questionMaxLength: 16 });
  clara.backbone.eval();
  return clara;
}

/** The dtype of each kind of parameter: frozen matrices, norms, adapters. */
function dtypes(clara: ClaraModel): Record<string, string[]> {
  const kinds: Record<string, Set<string>> = { matrices: new Set(), norms: new Set(), adapters: new Set() };
  for (const [name, p] of clara.backbone.namedParameters()) {
    const kind = name.includes('.lora_') ? 'adapters' : p.shape.length === 2 ? 'matrices' : 'norms';
    kinds[kind]!.add(p.dtype);
  }
  for (const [, p] of clara.backbone.adapterParameters(ENCODER_ADAPTER)) kinds.adapters!.add(p.dtype);
  return Object.fromEntries(Object.entries(kinds).map(([k, v]) => [k, [...v]]));
}

describe('a released checkpoint with dtype auto', async () => {
  const backends = await availableBackends();
  const fingerprint = await compressorFingerprint(load(CHECKPOINT, BASE, backends[0]!, 'float32'));

  for (const backend of backends) {
    describe(backend.name, () => {
      const clara = load(CHECKPOINT, BASE, backend, 'auto');

      it('keeps the frozen matrices bfloat16, the norms and adapters float32', () => {
        expect(dtypes(clara)).toEqual({ matrices: ['bfloat16'], norms: ['float32'], adapters: ['float32'] });
      });

      it('compresses, and gives the logits and greedy tokens PyTorch gives, within the golden tolerance', async () => {
        await expectClose(compressDocuments(clara.backbone, encoderBatch('encoder')).compressed, expected.toHost('compressed'), TOL, 'compressed');
        const input = idsTensor(clara.backbone, rows(expected.toHost('generator.input_ids')));
        const mask = Array.from(expected.toHost('generator.attention_mask').data);
        await expectClose(
          clara.backbone.forward({ inputIds: input, attentionMask: mask, adapter: DECODER_ADAPTER }).logits!,
          expected.toHost('logits'),
          TOL,
          'logits',
        );
        const greedy = await generateGreedy(clara.backbone, { inputIds: input, attentionMask: mask, adapter: DECODER_ADAPTER, maxNewTokens: 4 });
        expect(greedy[0]).toEqual(Array.from(expected.toHost('greedy').data));
      });

      it("has the float32 load's compressor fingerprint (a bank either made is read by the other)", async () => {
        expect(await compressorFingerprint(clara)).toBe(fingerprint);
      });
    });
  }

  afterAll(() => console.log(`official checkpoint in bf16, largest differences: ${JSON.stringify(Object.fromEntries(observed))}`));
});

/**
 * The same checkpoint with a vocabulary of 128 (a base config of 121 tokens + 4 memory tokens +
 * <AE> <ENC> <SEP>), so that its bf16 tables (8 KiB) pass a forced limit of 4 KiB that every other
 * weight (the largest, 64 × 32 in bf16, is 4 KiB) and the activations of 8 tokens fit. The new base
 * rows repeat the fixture's; the base's own 57-row tables are never read (the .pth's replace them).
 */
const LIMIT = 4096;
const ROOT = mkdtempSync(join(tmpdir(), 'clara-official-half-'));
const WIDE_BASE = join(ROOT, 'base');
const WIDE = join(ROOT, 'checkpoint');
const WIDE_VOCAB = 128;
cpSync(BASE, WIDE_BASE, { recursive: true });
const baseConfig = JSON.parse(readFileSync(join(BASE, 'config.json'), 'utf8'));
writeFileSync(join(WIDE_BASE, 'config.json'), JSON.stringify({ ...baseConfig, vocab_size: WIDE_VOCAB - N_MEM - 3 }));
cpSync(CHECKPOINT, WIDE, { recursive: true });
const tables = readTorchSaveFile(join(CHECKPOINT, 'decoder_first_last_layers.pth')) as Map<string, TorchTensor>;
writeTorchSaveFile(
  join(WIDE, 'decoder_first_last_layers.pth'),
  Object.fromEntries(
    [...tables].map(([key, t]) => {
      const [vocab, hidden] = t.shape as [number, number];
      const added = N_MEM + 3;
      const values = t.read() as Uint16Array;
      const data = new Uint16Array(WIDE_VOCAB * hidden);
      for (let row = 0; row < WIDE_VOCAB; row++) {
        const from = row >= WIDE_VOCAB - added ? row - WIDE_VOCAB + vocab : row % (vocab - added);
        data.set(values.subarray(from * hidden, (from + 1) * hidden), row * hidden);
      }
      return [key, { dtype: t.dtype, shape: [WIDE_VOCAB, hidden], data }];
    }),
  ),
);
const wideTokenizer = () =>
  new CompactTokenizer(
    Array.from({ length: WIDE_VOCAB - N_MEM - 6 }, (_, i) => 1000 + i),
    { nMem: N_MEM },
  );

const unlimitedGpu = await acquireBackend();
const limitedGpu = await acquireBackend({ maxBindingBytes: LIMIT });
afterAll(() => {
  unlimitedGpu?.destroy();
  limitedGpu?.destroy();
  rmSync(ROOT, { recursive: true, force: true });
});
const cases: Array<[string, Backend, Backend]> = [['cpu', new CpuBackend(), new CpuBackend({ maxTensorBytes: LIMIT })]];
if (unlimitedGpu !== null && limitedGpu !== null) cases.push(['webgpu', unlimitedGpu, limitedGpu]);

describe.each(cases)('a released checkpoint past the limit on %s', (_, whole, limited) => {
  it('holds its bf16 embedding table and lm_head as row blocks and gives the unsplit logits exactly', async () => {
    const split = load(WIDE, WIDE_BASE, limited, 'auto', wideTokenizer());
    const reference = load(WIDE, WIDE_BASE, whole, 'auto', wideTokenizer());
    const names = split.backbone.namedParameters().map(([name]) => name);
    expect(names).toContain('model.embed_tokens.weight.1');
    expect(names).toContain('lm_head.weight.1');
    expect(dtypes(split)).toEqual({ matrices: ['bfloat16'], norms: ['float32'], adapters: ['float32'] });
    const ids = [[1, 5, 9, 60, 100, 121, 124, 127]];
    const mask = new Array(8).fill(1);
    for (const adapter of [null, DECODER_ADAPTER]) {
      const got = split.backbone.forward({ inputIds: idsTensor(split.backbone, ids), attentionMask: mask, adapter }).logits!;
      expect(got.shape).toEqual([1, 8, WIDE_VOCAB]);
      const want = reference.backbone.forward({ inputIds: idsTensor(reference.backbone, ids), attentionMask: mask, adapter }).logits!;
      expect(await got.toArray()).toEqual(await want.toArray());
    }
    // The fingerprint reads the blocks: the same as the whole table's, bf16 or widened to float32.
    const fingerprint = await compressorFingerprint(split);
    expect(await compressorFingerprint(reference)).toBe(fingerprint);
    expect(await compressorFingerprint(load(WIDE, WIDE_BASE, whole, 'float32', wideTokenizer()))).toBe(fingerprint);
    split.backbone.dispose();
    reference.backbone.dispose();
  });

  it('refuses float32 tables past the limit, saying to load them 16-bit', () => {
    expect(() => load(WIDE, WIDE_BASE, limited, 'float32', wideTokenizer())).toThrow(
      /(lm_head|model\.embed_tokens)\.weight \[128, 32\] needs 16384 bytes as float32.*--dtype bfloat16/,
    );
  });
});

/**
 * The CLI's --dtype reaches a released checkpoint: `compress` with the default (auto: bf16) and with
 * `--dtype float32` make banks of one fingerprint, and `ask` loaded either way reads the other's.
 * The tiny base gets a tokenizer.json of 57 tokens (Mistral's tiny fixture file cut to its special
 * tokens and single characters) so that the commands find a tokenizer as they do for a real base.
 */
describe('compress and ask on a released checkpoint with --dtype', () => {
  it('make and read banks across dtypes', async () => {
    const root = join(ROOT, 'cli');
    cpSync(FIXTURES, root, { recursive: true });
    const [checkpoint, base] = [join(root, 'checkpoint'), join(root, 'base')];
    const tokenizers = join(import.meta.dirname, '../../fixtures/tokenizer/mistral_tiny');
    const json = JSON.parse(readFileSync(join(tokenizers, 'tokenizer.json'), 'utf8'));
    const pieces = ['<unk>', '<s>', '</s>', '▁', ...'abcdefghijklmnopqrstuvwxyz', ...'ABCDEFGHIJKLMNOPQRSTUVWXYZ', '.'];
    const vocab = Object.fromEntries(pieces.map((p, i) => [p, i]));
    writeFileSync(join(base, 'tokenizer.json'), JSON.stringify({ ...json, model: { ...json.model, vocab, merges: [], byte_fallback: false } }));
    cpSync(join(tokenizers, 'tokenizer_config.json'), join(base, 'tokenizer_config.json'));
    const docs = join(root, 'docs.jsonl');
    writeFileSync(docs, `${JSON.stringify({ text: 'the river flows north' })}\n${JSON.stringify({ text: 'the bridge opened' })}\n`);
    const model = ['--model', checkpoint, '--base', base, '--backend', 'cpu'];
    const quiet = captureConsole();
    try {
      const banks = { auto: join(root, 'auto.safetensors'), float32: join(root, 'float32.safetensors') };
      expect(await main(['compress', ...model, '--docs', docs, '--out', banks.auto])).toBe(0);
      expect(await main(['compress', ...model, '--dtype', 'float32', '--docs', docs, '--out', banks.float32])).toBe(0);
      const [auto, float32] = [loadDocumentBank(banks.auto, cpuBackend), loadDocumentBank(banks.float32, cpuBackend)];
      expect(auto.compressor).toBe(float32.compressor);
      await expectClose(
        auto.vectors,
        { dtype: 'float32', shape: [...float32.vectors.shape], data: (await float32.vectors.toArray()) as Float32Array },
        TOL,
        'bank',
      );
      const ask = ['ask', ...model, '--k', '1', '--max-new-tokens', '2', '--json'];
      expect(await main([...ask, '--index', banks.float32, 'where does the river flow?'])).toBe(0);
      expect(await main([...ask, '--dtype', 'float32', '--index', banks.auto, 'where does the river flow?'])).toBe(0);
    } finally {
      quiet.stop();
    }
  });
});
