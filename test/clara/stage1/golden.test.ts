import { afterAll, describe, expect, it } from 'vitest';
import { Generator } from '../../../engine/index.ts';
import { answerCrossEntropy } from '../../../clara/answerLoss.ts';
import { compressionLoss, prepareCompressionStage } from '../../../clara/compressionObjective.ts';
import { DECODER_ADAPTER, ENCODER_ADAPTER } from '../../../clara/adapters.ts';
import { compressDocuments, idsTensor } from '../../../clara/compressor.ts';
import { memoryMseLoss } from '../../../clara/memoryMseLoss.ts';
import { spliceCompressed } from '../../../clara/generatorRead.ts';
import { buildEncoderBatch } from '../../../clara/tokenizer/encoderInput.ts';
import { findMemorySlots } from '../../../clara/tokenizer/chatPrompt.ts';
import { collateGeneratorInputs } from '../../../clara/tokenizer/generatorBatch.ts';
import { availableBackends } from '../../helpers/backends.ts';
import { expectClose, fixtureTokenizer, goldenClara, idTokenizer, loadStage1Golden, observed, type Tolerance } from './helpers.ts';

/**
 * The stage-1 golden state of reference/record_clara_stage1.py: one salient-compressor-pretraining
 * step (docs/clara.md §2–4) computed by its own plain-PyTorch CLaRa on the tiny backbone (V = 64, n
 * = 4, LoRA r 4 / α 8, both adapters non-zero, two documents of different lengths with their
 * generator prompts), replayed through the library on every backend: encoder rows, the compressor's
 * states, the compressed vectors, mu_mem, mu_doc, L_mse, the spliced generator embeddings, the
 * logits, L_ce, L = L_ce + 0.1·L_mse, and the gradients of both adapters and of the embedding table
 * (masked to the `<MEMi>` rows, as the trainer applies it; and unmasked), plus the MSE term's
 * gradient on its own.
 *
 * Tolerances (float32 throughout, |a − e| ≤ atol + rtol·|e|):
 *  - forward (states, compressed vectors, means, losses, embeddings, logits): rtol 1e-4, atol 1e-5,
 *    as the model's golden test — two transformer passes, the second fed by the first;
 *  - gradients: rtol 1e-4, atol 1e-6. Adapter gradients are 1e-4…1e-1, the embedding's 1e-5…4e-2;
 *    the floor is a decade below the smallest that matter.
 * Observed (printed at the end of the run), on the CPU backend and on WebGPU through Dawn alike:
 * forward within 7.2e-7 (losses exact to float32), gradients within 4e-8 — two orders of magnitude
 * inside the tolerances. Checked by mutation: pads counted in mu_doc, the splice shifted by one
 * position, the compressed vectors read one position early, or the adapters swapped between the
 * compressor and the generator each fail this file.
 */

const FORWARD: Tolerance = { rtol: 1e-4, atol: 1e-5 };
const GRAD: Tolerance = { rtol: 1e-4, atol: 1e-6 };

const golden = loadStage1Golden();
const backends = await availableBackends();

afterAll(() => {
  console.log(`stage-1 golden, largest |diff| per quantity: ${[...observed].map(([k, v]) => `${k} ${v.toExponential(1)}`).join(', ')}`);
});

describe("stage-1 golden: the recorded rows are the library's layouts", () => {
  it("the fixture's ids are the compact tokenizer's (V = 64, <MEM0..3> = 57…60 just before <AE>, <ENC>, <SEP>)", () => {
    const tok = fixtureTokenizer(golden.nMem);
    expect(tok.vocabSize).toBe(golden.config.vocab_size);
    expect({ unk: tok.unkId, bos: tok.bosId, eos: tok.eosId, pad: tok.padId, ...tok.special }).toEqual(golden.special);
    expect(golden.docMaxLength / golden.compressionRate).toBe(golden.nMem);
  });

  it('buildEncoderBatch and collateGeneratorInputs rebuild the recorded encoder and generator rows', () => {
    const tok = idTokenizer(fixtureTokenizer(golden.nMem));
    const { enc, bos, eos } = golden.special;
    const enc_ = golden.batch.encoder;
    // The documents' own tokens: between `<ENC> <s>` and `</s>` of each row.
    const docs = enc_.inputIds.map((row, b) => {
      const start = enc_.attentionMask[b]!.indexOf(1);
      expect(row.slice(start, start + 2)).toEqual([enc, bos]);
      const text = row.slice(start + 2, row.length - golden.nMem - 1);
      expect(row[row.length - golden.nMem - 1]).toBe(eos);
      return text.map((id) => `t${id}`).join(' ');
    });
    expect(buildEncoderBatch(tok, docs, { maxTextLength: golden.docMaxLength, padding: 'longest' })).toEqual(enc_);

    const gen = golden.batch.generator;
    const inputs = gen.inputIds.map((row, b) => {
      const start = gen.attentionMask[b]!.indexOf(1);
      const inputIds = row.slice(start);
      const labels = gen.labels[b]!.slice(start);
      const promptLength = labels.findIndex((l) => l !== -100);
      return { inputIds, labels, promptLength, memoryPositions: findMemorySlots(tok, inputIds, 1) };
    });
    expect(collateGeneratorInputs(inputs, tok.padId)).toEqual(gen);
  });

  it('the recorded splice: plain token embeddings outside the slot (<SEP> included), the compressed vectors in it', () => {
    const { generator } = golden.batch;
    const table = golden.host('weights.model.embed_tokens.weight').data as Float32Array;
    const spliced = golden.host('spliced_embeds').data as Float32Array;
    const compressed = golden.host('compressed').data as Float32Array;
    const d = golden.config.hidden_size;
    const n = golden.nMem;
    const L = generator.inputIds[0]!.length;
    generator.inputIds.forEach((row, b) => {
      const slot = generator.memoryPositions[b]![0]!;
      expect(row[slot[n - 1]! + 1]).toBe(golden.special.sep);
      row.forEach((id, t) => {
        const j = slot.indexOf(t);
        const want = j >= 0 ? compressed.slice((b * n + j) * d, (b * n + j + 1) * d) : table.slice(id * d, (id + 1) * d);
        expect(spliced.slice((b * L + t) * d, (b * L + t + 1) * d), `row ${b} position ${t}`).toEqual(want);
      });
    });
  });
});

describe.each(backends.map((b) => [b.name, b] as const))('stage-1 golden on %s', (_, backend) => {
  it('compressor, MSE term, splice, logits and losses match PyTorch', async () => {
    const clara = goldenClara(golden, backend);
    const model = clara.backbone;
    const { encoder, generator } = golden.batch;
    const n = clara.nMem;

    const { compressed, hidden } = compressDocuments(model, encoder);
    await expectClose(hidden, golden.host('encoder.hidden'), FORWARD, 'encoder.hidden');
    await expectClose(compressed, golden.host('compressed'), FORWARD, 'compressed');
    const { loss: mse, muMem, muDoc } = memoryMseLoss(hidden, encoder.attentionMask, n);
    await expectClose(muMem, golden.host('mu_mem'), FORWARD, 'mu_mem');
    await expectClose(muDoc, golden.host('mu_doc'), FORWARD, 'mu_doc');
    await expectClose(mse, golden.host('mse'), FORWARD, 'mse');

    const embeds = model.embed(idsTensor(model, generator.inputIds));
    const spliced = spliceCompressed(embeds, generator.memoryPositions, compressed);
    await expectClose(spliced, golden.host('spliced_embeds'), FORWARD, 'spliced_embeds');
    const logits = model.forward({ inputsEmbeds: spliced, attentionMask: generator.attentionMask.flat(), adapter: DECODER_ADAPTER }).logits!;
    await expectClose(logits, golden.host('logits'), FORWARD, 'logits');
    await expectClose(answerCrossEntropy(logits, generator.labels), golden.host('ce'), FORWARD, 'ce');

    // The whole loss as the trainer computes it.
    const out = compressionLoss(clara, golden.batch, golden.mseWeight);
    await expectClose(out.compressed, golden.host('compressed'), FORWARD, 'compressed');
    await expectClose(out.logits, golden.host('logits'), FORWARD, 'logits');
    await expectClose(out.mse, golden.host('mse'), FORWARD, 'mse');
    await expectClose(out.ce, golden.host('ce'), FORWARD, 'ce');
    await expectClose(out.loss, golden.host('loss'), FORWARD, 'loss');
    model.dispose();
  });

  it('stage 1 trains both adapters and only the <MEMi> embedding rows: every gradient matches PyTorch, the frozen base gets none', async () => {
    const clara = goldenClara(golden, backend);
    const model = clara.backbone;
    const adapterValues = (name: string) => Promise.all(model.adapterParameters(name).map(([, p]) => p.toArray()));
    const before = await adapterValues(ENCODER_ADAPTER);
    const params = prepareCompressionStage(clara, 1, new Generator(0));
    // The existing adapters are kept (not re-created), and the trained set is exactly: both adapters + the table.
    expect(await adapterValues(ENCODER_ADAPTER)).toEqual(before);
    const embedding = model.model.embedTokens.weight;
    const adapters = [ENCODER_ADAPTER, DECODER_ADAPTER].flatMap((name) => model.adapterParameters(name).map(([, p]) => p));
    expect(new Set(params)).toEqual(new Set([...adapters, embedding]));
    expect(params).toHaveLength(adapters.length + 1);
    expect(embedding.trainableRows).toEqual(golden.special.mem);

    const out = compressionLoss(clara, golden.batch, golden.mseWeight);
    await expectClose(out.loss, golden.host('loss'), FORWARD, 'loss');
    out.loss.backward();

    for (const name of golden.adapters) {
      for (const [key, p] of model.adapterParameters(name)) {
        expect(p.grad, `${name}.${key} has no gradient`).not.toBeNull();
        await expectClose(p.grad!, golden.host(`grad.${name}.${key}`), GRAD, `grad.${name}.${key}`, `grad.${name}`);
      }
    }
    // The table's raw gradient reaches every row the step used; the trainer's mask keeps the memory rows.
    expect(embedding.grad).not.toBeNull();
    await expectClose(embedding.grad!, golden.host('grad.embed_tokens_unmasked'), GRAD, 'grad.embed_tokens_unmasked');
    const masked = embedding.maskGrad()!;
    await expectClose(masked, golden.host('grad.embed_tokens'), GRAD, 'grad.embed_tokens');
    const values = await masked.toArray();
    const d = golden.config.hidden_size;
    const mem = new Set(golden.special.mem);
    for (let row = 0; row < golden.config.vocab_size; row++) {
      const slice = Array.from(values.slice(row * d, (row + 1) * d) as ArrayLike<number>);
      if (mem.has(row))
        expect(
          slice.some((v) => v !== 0),
          `memory row ${row} gets a gradient`,
        ).toBe(true);
      else
        expect(
          slice.every((v) => v === 0),
          `row ${row} is masked out`,
        ).toBe(true);
    }
    // Every other base weight (lm_head included) is frozen and received nothing.
    expect(golden.file.metadata['base_grads']).toBe('none');
    for (const [name, p] of model.namedParameters()) {
      if (p === embedding) continue;
      expect(p.requiresGrad, name).toBe(false);
      expect(p.grad, name).toBeNull();
    }
    model.dispose();
  });

  it('the MSE term alone: its gradient reaches the compressor and the table, not the generator', async () => {
    const clara = goldenClara(golden, backend);
    const model = clara.backbone;
    prepareCompressionStage(clara, 1, new Generator(0));
    const { hidden } = compressDocuments(model, golden.batch.encoder);
    memoryMseLoss(hidden, golden.batch.encoder.attentionMask, clara.nMem).loss.backward();
    for (const [key, p] of model.adapterParameters(ENCODER_ADAPTER)) {
      await expectClose(p.grad!, golden.host(`mse_grad.${ENCODER_ADAPTER}.${key}`), GRAD, `mse_grad.${key}`, 'mse_grad.encoder_adapter');
    }
    await expectClose(model.model.embedTokens.weight.grad!, golden.host('mse_grad.embed_tokens_unmasked'), GRAD, 'mse_grad.embed_tokens_unmasked');
    for (const [key, p] of model.adapterParameters(DECODER_ADAPTER)) expect(p.grad, key).toBeNull();
    model.dispose();
  });
});
