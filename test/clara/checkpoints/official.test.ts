import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { topk } from '../../../engine/index.ts';
import { DECODER_ADAPTER, ENCODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../../../clara/adapters.ts';
import { loadOfficialCheckpoint, normaliseAdapterKey, readOfficialConfig, resolveBaseDir } from '../../../clara/checkpoints/official.ts';
import { ClaraModel } from '../../../clara/claraModel.ts';
import { compressDocuments, idsTensor } from '../../../clara/compressor.ts';
import { spliceCompressed } from '../../../clara/generatorRead.ts';
import { generateGreedy } from '../../../clara/model/generate.ts';
import { cosineScores } from '../../../clara/queryReasoner.ts';
import { availableBackends } from '../../helpers/backends.ts';
import { expectClose, fixtureTokenizer, observed } from '../stage1/helpers.ts';
import { BASE, CHECKPOINT, encoderBatch, expected, N_MEM, rows, TOL } from './officialFixture.ts';

/**
 * A tiny checkpoint in exactly the released layout (reference/record_official_checkpoint.py: torch.save
 * with bf16 tensors, a CLaRaConfig, a sharded bf16 base, the three adapters of an end-to-end model
 * each saved with another of the key forms the official loader accepts), loaded through
 * `ClaraModel.load`'s official branch and run on every backend: the compressor's memory vectors,
 * the query reasoner's, the cosine scores (top-k order), the generator's logits and four greedy
 * tokens, against PyTorch computing in float32 from the same bf16 weights.
 *
 * Tolerance: officialFixture.ts's TOL. Observed: within 4.8e-7 on the CPU backend and on WebGPU (llvmpipe) alike.
 */

describe('released CLaRa layout', async () => {
  const backends = await availableBackends();

  it('accepts every adapter key form the official code can write', () => {
    const plain = 'model.layers.0.self_attn.q_proj.lora_A.weight';
    expect(normaliseAdapterKey(plain, 'encoder_adapter')).toBe(plain);
    expect(normaliseAdapterKey(`base_model.model.${plain}`, 'encoder_adapter')).toBe(plain);
    expect(normaliseAdapterKey('model.layers.0.mlp.up_proj.lora_B.decoder_adapter.weight', 'decoder_adapter')).toBe('model.layers.0.mlp.up_proj.lora_B.weight');
  });

  it("needs the base model, and says so; finds it by the config's name under a models folder", () => {
    expect(() => ClaraModel.load(CHECKPOINT)).toThrow(/--base/);
    const models = mkdtempSync(join(tmpdir(), 'clara-models-'));
    try {
      cpSync(BASE, join(models, 'tiny', 'Mistral-tiny'), { recursive: true }); // decoder_model_name "tiny/Mistral-tiny"
      const config = readOfficialConfig(CHECKPOINT);
      expect(resolveBaseDir(models, config, CHECKPOINT)).toBe(join(models, 'tiny', 'Mistral-tiny'));
      expect(resolveBaseDir(BASE, config, CHECKPOINT)).toBe(BASE);
      expect(() => resolveBaseDir(join(models, 'tiny'), { ...config, decoder_model_name: 'other/model' }, CHECKPOINT)).toThrow(/no config.json/);
    } finally {
      rmSync(models, { recursive: true, force: true });
    }
  });

  for (const backend of backends) {
    describe(backend.name, () => {
      const parts = loadOfficialCheckpoint(CHECKPOINT, { base: BASE, backend, tokenizer: fixtureTokenizer(N_MEM) });
      const clara = new ClaraModel(parts.backbone, parts.tokenizer, { ...parts.settings, questionMaxLength: 16 });
      clara.backbone.eval(); // LoRA dropout (0.1, the official setting) off, as at inference

      it('reads the config: n = doc_max_length / compr_rate, the stage, top-k, LoRA r and α = 2r', () => {
        expect(clara.settings).toMatchObject({ docMaxLength: 16, compressionRate: 4, generationTopK: 2, stage: 3, lora: { r: 4, alpha: 8, dropout: 0.1 } });
        expect(clara.backbone.adapterNames().sort()).toEqual([DECODER_ADAPTER, ENCODER_ADAPTER, QUERY_REASONER_ADAPTER].sort());
        expect(clara.backbone.config.vocab_size).toBe(64);
      });

      it('compresses documents and questions, and ranks them, as PyTorch does', async () => {
        const docs = compressDocuments(clara.backbone, encoderBatch('encoder')).compressed;
        await expectClose(docs, expected.toHost('compressed'), TOL, 'compressed');
        const query = compressDocuments(clara.backbone, encoderBatch('query'), QUERY_REASONER_ADAPTER).compressed;
        await expectClose(query, expected.toHost('query'), TOL, 'query');
        const [b, n, d] = query.shape as [number, number, number];
        const scores = cosineScores(query.reshape([b, n * d]), docs.reshape([1, docs.shape[0]!, n * d]));
        await expectClose(scores, expected.toHost('scores'), TOL, 'scores');
      });

      it('compress → score → top-k → generate: the best document spliced into the prompt answers as in PyTorch', async () => {
        const docs = compressDocuments(clara.backbone, encoderBatch('encoder')).compressed; // [docs, n, d]
        const query = compressDocuments(clara.backbone, encoderBatch('query'), QUERY_REASONER_ADAPTER).compressed;
        const [, n, d] = query.shape as [number, number, number];
        const scores = cosineScores(query.reshape([1, n * d]), docs.reshape([1, docs.shape[0]!, n * d]));
        const top = Array.from((await topk(scores, 1).indices.toArray()) as ArrayLike<number>);
        expect(top).toEqual(Array.from(expected.toHost('top1').data));
        const ids = rows(expected.toHost('generator.input_ids'));
        const slot = ids[0]!.flatMap((id, i) => (id === clara.tokenizer.special.mem[0] ? Array.from({ length: N_MEM }, (_, j) => i + j) : []));
        const embeds = spliceCompressed(clara.backbone.embed(idsTensor(clara.backbone, ids)), [[slot]], docs.slice(0, top[0]!, top[0]! + 1));
        const { logits } = clara.backbone.forward({ inputsEmbeds: embeds, attentionMask: new Array(ids[0]!.length).fill(1), adapter: DECODER_ADAPTER });
        await expectClose(logits!, expected.toHost('spliced_logits'), TOL, 'spliced logits');
        const answer = await generateGreedy(clara.backbone, { inputsEmbeds: embeds, adapter: DECODER_ADAPTER, maxNewTokens: 4 });
        expect(answer[0]).toEqual(Array.from(expected.toHost('answer').data));
      });

      it('gives the generator logits and greedy tokens PyTorch gives', async () => {
        const ids = idsTensor(clara.backbone, rows(expected.toHost('generator.input_ids')));
        const mask = Array.from(expected.toHost('generator.attention_mask').data);
        const { logits } = clara.backbone.forward({ inputIds: ids, attentionMask: mask, adapter: DECODER_ADAPTER });
        await expectClose(logits!, expected.toHost('logits'), TOL, 'logits');
        const greedy = await generateGreedy(clara.backbone, { inputIds: ids, attentionMask: mask, adapter: DECODER_ADAPTER, maxNewTokens: 4 });
        expect(greedy[0]).toEqual(Array.from(expected.toHost('greedy').data));
      });
    });
  }

  afterAll(() => console.log(`official checkpoint, largest differences: ${JSON.stringify(Object.fromEntries(observed))}`));
});
