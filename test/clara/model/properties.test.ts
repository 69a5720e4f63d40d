import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cpuBackend, Generator, noGrad, normal, setDefaultBackend, tidy, type Tensor } from '../../../engine/index.ts';
import { AdamW } from '../../../engine/optim/index.ts';
import { generateGreedy } from '../../../clara/model/generate.ts';
import { disposeCache, emptyCache } from '../../../clara/model/mistral.ts';
import { positionsFromMask, rotaryTables } from '../../../clara/model/rotary.ts';
import { addRandomAdapter, ids, leftPad, maxAbsDiff, mismatch, randomIds, randomModel, type Tolerance } from './helpers.ts';

/**
 * Properties of the Mistral model with named LoRA adapters, on the CPU backend (the oracle), tiny
 * config, random weights. fast-check draws seeds and shapes; few runs, since each is a whole model.
 *
 * "Exactly" below means bit for bit: the property follows from the arithmetic (an added zero, the
 * same ops on the same values). Where the summation order legitimately changes (more keys in an
 * attention row, a merged weight), the tolerance is TIGHT: float32 rounding of O(1) values.
 */

setDefaultBackend(cpuBackend);
const TIGHT: Tolerance = { rtol: 1e-5, atol: 1e-5 };
const RUNS = { numRuns: 12 };
const V = 64;
const seedArb = fc.integer({ min: 0, max: 1_000_000 });

const host = async (t: Tensor) => Array.from(await t.toArray());

/** [B, S, X] host values of row b, positions [from, to) → flat. */
function rows(values: number[], shape: readonly number[], b: number, from: number, to: number): number[] {
  const [, S, X] = shape as [number, number, number];
  return values.slice((b * S + from) * X, (b * S + to) * X);
}

/** Σ logits · w for a fixed random w: a scalar whose gradient reaches everything the logits depend on. */
function probe(logits: Tensor, seed: number): Tensor {
  return logits.mul(normal(logits.shape, { generator: new Generator(seed) })).sum();
}

describe('a fresh adapter (B = 0)', () => {
  it('gives exactly the base model output, in training mode (dropout on) and in evaluation', async () => {
    await fc.assert(
      fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 8 }), fc.boolean(), async (seed, len, training) => {
        const model = randomModel(seed);
        model.addAdapter('fresh', { r: 4, alpha: 8, dropout: 0.1 }, new Generator(seed + 1));
        model.train(training);
        const g = new Generator(seed + 2);
        const x = ids(randomIds(g, 2 * len, V), [2, len]);
        const base = model.forward({ inputIds: x, adapter: null, outputHiddenStates: true });
        const fresh = model.forward({ inputIds: x, adapter: 'fresh', outputHiddenStates: true });
        expect(maxAbsDiff(await host(fresh.logits!), await host(base.logits!))).toBe(0);
        for (let j = 0; j < base.hiddenStates!.length; j++) {
          expect(maxAbsDiff(await host(fresh.hiddenStates![j]!), await host(base.hiddenStates![j]!))).toBe(0);
        }
        for (const [key, p] of model.adapterParameters('fresh')) {
          const values = await host(p);
          if (key.endsWith('lora_B.weight'))
            expect(
              values.every((v) => v === 0),
              key,
            ).toBe(true);
          else
            expect(
              values.some((v) => v !== 0),
              key,
            ).toBe(true);
        }
        model.dispose();
      }),
      RUNS,
    );
  });
});

describe('left padding', () => {
  it('does not change hidden states or logits at real positions (alone, and batched with a longer row)', async () => {
    await fc.assert(
      fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 5 }), fc.boolean(), async (seed, len, pad, withAdapter) => {
        const model = randomModel(seed);
        addRandomAdapter(model, 'x', seed + 1);
        const adapter = withAdapter ? 'x' : null;
        const g = new Generator(seed + 2);
        const seq = randomIds(g, len, V);
        const other = randomIds(g, len + pad, V);
        const padIds = randomIds(g, pad, V); // padding ids are arbitrary: they must not matter
        const alone = model.forward({ inputIds: ids(seq, [1, len]), adapter, outputHiddenStates: true });
        const padded = model.forward({
          inputIds: ids([...padIds, ...seq], [1, len + pad]),
          attentionMask: [...new Array(pad).fill(0), ...new Array(len).fill(1)],
          adapter,
          outputHiddenStates: true,
        });
        const batch = leftPad([other, seq]);
        const batched = model.forward({ inputIds: ids(batch.ids, [2, batch.length]), attentionMask: batch.mask, adapter, outputHiddenStates: true });
        const outs = [alone.logits!, ...alone.hiddenStates!];
        const pads = [padded.logits!, ...padded.hiddenStates!];
        const bats = [batched.logits!, ...batched.hiddenStates!];
        for (let j = 0; j < outs.length; j++) {
          const expected = await host(outs[j]!);
          expect(mismatch(rows(await host(pads[j]!), pads[j]!.shape, 0, pad, pad + len), expected, TIGHT), `padded, output ${j}`).toBeNull();
          expect(mismatch(rows(await host(bats[j]!), bats[j]!.shape, 1, pad, pad + len), expected, TIGHT), `batched, output ${j}`).toBeNull();
        }
        model.dispose();
      }),
      RUNS,
    );
  });
});

describe('key/value cache', () => {
  it('prefill then chunks of new tokens give the logits of one full forward (batched, left-padded, ids or embeddings)', async () => {
    await fc.assert(
      fc.asyncProperty(
        seedArb,
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.integer({ min: 1, max: 3 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.boolean(),
        async (seed, promptLengths, chunks, withAdapter, embeds) => {
          const model = randomModel(seed);
          model.eval();
          addRandomAdapter(model, 'x', seed + 1);
          const adapter = withAdapter ? 'x' : null;
          const g = new Generator(seed + 2);
          const B = promptLengths.length;
          const prompt = leftPad(promptLengths.map((n) => randomIds(g, n, V)));
          const P = prompt.length;
          const extra = chunks.reduce((a, b) => a + b, 0);
          const T = P + extra;
          // Every row continues with `extra` real tokens after its (left-padded) prompt.
          const all: number[] = [];
          const mask: number[] = [];
          const more = randomIds(g, B * extra, V);
          for (let b = 0; b < B; b++) {
            all.push(...prompt.ids.slice(b * P, (b + 1) * P), ...more.slice(b * extra, (b + 1) * extra));
            mask.push(...prompt.mask.slice(b * P, (b + 1) * P), ...new Array(extra).fill(1));
          }
          const full = await host(model.forward({ inputIds: ids(all, [B, T]), attentionMask: mask, adapter }).logits!);
          const columns = (from: number, to: number) => {
            const out: number[] = [];
            for (let b = 0; b < B; b++) out.push(...all.slice(b * T + from, b * T + to));
            return ids(out, [B, to - from]);
          };
          const maskUpTo = (to: number) => {
            const out: number[] = [];
            for (let b = 0; b < B; b++) out.push(...mask.slice(b * T, b * T + to));
            return out;
          };
          const cache = emptyCache(model.config);
          let done = 0;
          for (const size of [P, ...chunks]) {
            const x = columns(done, done + size);
            const input = embeds ? { inputsEmbeds: model.embed(x) } : { inputIds: x };
            const step = model.forward({ ...input, attentionMask: maskUpTo(done + size), adapter, cache });
            expect(cache.length).toBe(done + size);
            const got = await host(step.logits!);
            for (let b = 0; b < B; b++) {
              // Real positions only: a left pad attends uniformly to whatever keys exist so far (its
              // output is never used), so it legitimately differs between a prefill and a full forward.
              for (let t = done; t < done + size; t++) {
                if (mask[b * T + t] === 0) continue;
                expect(
                  mismatch(rows(got, step.logits!.shape, b, t - done, t - done + 1), rows(full, [B, T, V], b, t, t + 1), TIGHT),
                  `row ${b}, position ${t}`,
                ).toBeNull();
              }
            }
            done += size;
          }
          disposeCache(cache);
          model.dispose();
        },
      ),
      RUNS,
    );
  });

  it('generateGreedy gives the argmax of full forwards, batched with left padding, stopping at eos or the budget', async () => {
    await fc.assert(
      fc.asyncProperty(
        seedArb,
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: 1, max: 6 }),
        fc.boolean(),
        fc.boolean(),
        fc.nat(),
        async (seed, promptLengths, maxNewTokens, withAdapter, embeds, eosPick) => {
          const model = randomModel(seed);
          addRandomAdapter(model, 'x', seed + 1);
          const adapter = withAdapter ? 'x' : null;
          const g = new Generator(seed + 2);
          const B = promptLengths.length;
          const prompt = leftPad(promptLengths.map((n) => randomIds(g, n, V)));
          // Reference: full forwards on the growing sequences, no cache, argmax at the last position.
          const reference: number[][] = Array.from({ length: B }, () => []);
          let seqIds = prompt.ids.slice();
          let mask = prompt.mask.slice();
          let length = prompt.length;
          for (let step = 0; step < maxNewTokens; step++) {
            const logits = await host(model.forward({ inputIds: ids(seqIds, [B, length]), attentionMask: mask, adapter }).logits!);
            const nextIds: number[] = [];
            const nextMask: number[] = [];
            for (let b = 0; b < B; b++) {
              const last = rows(logits, [B, length, V], b, length - 1, length);
              const sorted = [...last].sort((p, q) => q - p);
              fc.pre(sorted[0]! - sorted[1]! > 1e-4); // a near tie could go either way in float32
              const next = last.indexOf(sorted[0]!);
              reference[b]!.push(next);
              nextIds.push(...seqIds.slice(b * length, (b + 1) * length), next);
              nextMask.push(...mask.slice(b * length, (b + 1) * length), 1);
            }
            seqIds = nextIds;
            mask = nextMask;
            length++;
          }
          const promptIds = ids(prompt.ids, [B, prompt.length]);
          const input = embeds ? { inputsEmbeds: model.embed(promptIds) } : { inputIds: promptIds };
          // Without eos: exactly the budget.
          expect(await generateGreedy(model, { ...input, attentionMask: prompt.mask, adapter, maxNewTokens })).toEqual(reference);
          // With eos = one of the generated tokens: each row stops before its first eos.
          const flat = reference.flat();
          const eos = flat[eosPick % flat.length]!;
          const truncated = reference.map((r) => (r.includes(eos) ? r.slice(0, r.indexOf(eos)) : r));
          expect(await generateGreedy(model, { ...input, attentionMask: prompt.mask, adapter, maxNewTokens, eosTokenId: eos })).toEqual(truncated);
          expect(model.training).toBe(true); // restored after generation
          model.dispose();
        },
      ),
      RUNS,
    );
  });
});

describe('named adapters', () => {
  it('the output with adapter X is unchanged when adapter Y changes; changing X in the last block leaves earlier states alone', async () => {
    await fc.assert(
      fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 6 }), async (seed, len) => {
        const model = randomModel(seed);
        addRandomAdapter(model, 'x', seed + 1);
        addRandomAdapter(model, 'y', seed + 2);
        const x = ids(randomIds(new Generator(seed + 3), 2 * len, V), [2, len]);
        const run = async (adapter: string) => {
          const out = model.forward({ inputIds: x, adapter, outputHiddenStates: true });
          return Promise.all([out.logits!, ...out.hiddenStates!].map(host));
        };
        const beforeX = await run('x');
        const beforeY = await run('y');
        addRandomAdapter(model, 'y', seed + 4); // replace y everywhere
        const afterX = await run('x');
        const afterY = await run('y');
        afterX.forEach((values, j) => {
          expect(maxAbsDiff(values, beforeX[j]!), `output ${j} with x`).toBe(0);
        });
        expect(maxAbsDiff(afterY[0]!, beforeY[0]!)).toBeGreaterThan(1e-4);
        // Now change x in the last block only: the embeddings and the earlier blocks' outputs stay.
        const L = model.config.num_hidden_layers;
        const layer = model.loraLayers().find((l) => l.path === `model.layers.${L - 1}.mlp.down_proj`)!;
        const a = layer.adapter('x');
        layer.setAdapter('x', a.config, a.A, normal(a.B.shape, { generator: new Generator(seed + 5) }));
        const changed = await run('x');
        for (let j = 1; j <= L; j++) expect(maxAbsDiff(changed[j]!, beforeX[j]!), `hidden state ${j - 1}`).toBe(0);
        expect(maxAbsDiff(changed[L + 1]!, beforeX[L + 1]!)).toBeGreaterThan(1e-4);
        expect(maxAbsDiff(changed[0]!, beforeX[0]!)).toBeGreaterThan(1e-4);
        model.dispose();
      }),
      RUNS,
    );
  });

  it('gradients reach only the adapter(s) a forward used, never the frozen base', async () => {
    await fc.assert(
      fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 6 }), async (seed, len) => {
        const model = randomModel(seed);
        addRandomAdapter(model, 'x', seed + 1);
        addRandomAdapter(model, 'y', seed + 2);
        addRandomAdapter(model, 'z', seed + 3);
        const x = ids(randomIds(new Generator(seed + 4), 2 * len, V), [2, len]);
        const lossOf = (adapter: string) => probe(model.forward({ inputIds: x, adapter }).logits!, seed + 5);
        const grads = (name: string) => model.adapterParameters(name).map(([, p]) => p.grad);

        lossOf('x').backward();
        expect(grads('x').every((gr) => gr !== null)).toBe(true);
        expect(grads('y').every((gr) => gr === null)).toBe(true);
        expect(grads('z').every((gr) => gr === null)).toBe(true);
        for (const [name, p] of model.namedParameters()) expect(p.grad, name).toBeNull();
        const alone = await Promise.all(grads('x').map((gr) => host(gr!)));
        for (const [, p] of [...model.adapterParameters('x')]) p.grad = null;

        // Two sub-forwards in one graph (as CLaRa's compressor and generator): both adapters get theirs.
        lossOf('x').add(lossOf('y')).backward();
        expect(grads('y').every((gr) => gr !== null)).toBe(true);
        expect(grads('z').every((gr) => gr === null)).toBe(true);
        const together = await Promise.all(grads('x').map((gr) => host(gr!)));
        together.forEach((values, i) => {
          expect(mismatch(values, alone[i]!, { rtol: 1e-6, atol: 1e-9 })).toBeNull();
        });
        for (const [name, p] of model.namedParameters()) expect(p.grad, name).toBeNull();
        model.dispose();
      }),
      RUNS,
    );
  });

  it('the frozen base gets no gradient even when the input embeddings do (no adapter)', async () => {
    const model = randomModel(7);
    const embeds = normal([2, 5, model.config.hidden_size], { generator: new Generator(8), requiresGrad: true });
    probe(model.forward({ inputsEmbeds: embeds, adapter: null }).logits!, 9).backward();
    expect(embeds.grad).not.toBeNull();
    expect((await host(embeds.grad!)).some((v) => v !== 0)).toBe(true);
    for (const [name, p] of model.namedParameters()) {
      expect(p.requiresGrad, name).toBe(false);
      expect(p.grad, name).toBeNull();
    }
  });

  it('copyAdapter gives identical outputs and independent parameters', async () => {
    await fc.assert(
      fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 6 }), async (seed, len) => {
        const model = randomModel(seed);
        addRandomAdapter(model, 'x', seed + 1);
        model.copyAdapter('x', 'copy');
        expect(model.adapterNames()).toEqual(['x', 'copy']);
        expect(() => model.copyAdapter('x', 'copy')).toThrow(/already exists/);
        const x = ids(randomIds(new Generator(seed + 2), 2 * len, V), [2, len]);
        const logits = async (adapter: string) => host(model.forward({ inputIds: x, adapter }).logits!);
        const original = await logits('x');
        expect(maxAbsDiff(await logits('copy'), original)).toBe(0);
        const source = model.adapterParameters('x');
        const copy = model.adapterParameters('copy');
        copy.forEach(([key, p], i) => {
          expect(p, key).not.toBe(source[i]![1]);
        });
        // Train the copy: the source does not move.
        const before = await Promise.all(source.map(([, p]) => host(p)));
        const opt = new AdamW(copy, { lr: 0.05 });
        for (let step = 0; step < 2; step++) {
          tidy(() => {
            opt.zeroGrad();
            probe(model.forward({ inputIds: x, adapter: 'copy' }).logits!, seed + 3).backward();
            opt.step();
          });
        }
        const after = await Promise.all(source.map(([, p]) => host(p)));
        after.forEach((values, i) => {
          expect(maxAbsDiff(values, before[i]!)).toBe(0);
        });
        expect(source.every(([, p]) => p.grad === null)).toBe(true);
        expect(maxAbsDiff(await logits('x'), original)).toBe(0);
        expect(maxAbsDiff(await logits('copy'), original)).toBeGreaterThan(1e-4);
        opt.dispose();
        model.dispose();
      }),
      { numRuns: 6 },
    );
  });

  it('mergeAdapter gives the outputs of the unmerged adapter; the base stays frozen and the adapter is gone', async () => {
    await fc.assert(
      fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 6 }), async (seed, len) => {
        const model = randomModel(seed);
        addRandomAdapter(model, 'x', seed + 1);
        addRandomAdapter(model, 'y', seed + 2);
        const x = ids(randomIds(new Generator(seed + 3), 2 * len, V), [2, len]);
        const unmerged = await host(model.forward({ inputIds: x, adapter: 'x' }).logits!);
        const base = await host(model.forward({ inputIds: x, adapter: null }).logits!);
        model.mergeAdapter('x');
        expect(model.adapterNames()).toEqual(['y']);
        const merged = await host(model.forward({ inputIds: x, adapter: null }).logits!);
        expect(mismatch(merged, unmerged, TIGHT)).toBeNull();
        expect(maxAbsDiff(merged, base)).toBeGreaterThan(1e-3);
        expect(() => model.forward({ inputIds: x, adapter: 'x' })).toThrow(/does not exist/);
        for (const [name, p] of model.namedParameters()) expect(p.requiresGrad, name).toBe(false);
        model.dispose();
      }),
      RUNS,
    );
  });
});

describe('inference with a merged adapter weight', () => {
  it('without gradients, each layer uses W + scale·B·A: the outputs of the three products, made again when the adapter is trained or replaced', async () => {
    await fc.assert(
      fc.asyncProperty(seedArb, fc.integer({ min: 1, max: 6 }), async (seed, len) => {
        const model = randomModel(seed);
        addRandomAdapter(model, 'x', seed + 1);
        const x = ids(randomIds(new Generator(seed + 2), 2 * len, V), [2, len]);
        const logits = (inference: boolean) => {
          const run = () => model.forward({ inputIds: x, adapter: 'x' }).logits!;
          return host(inference ? noGrad(run) : run());
        };
        const agree = async () => {
          const merged = await logits(true);
          expect(mismatch(merged, await logits(false), TIGHT)).toBeNull();
          expect(maxAbsDiff(await logits(true), merged), 'the kept merged weight').toBe(0);
          return merged;
        };
        const first = await agree();
        // One AdamW step gives A and B new storage: the merged weights must follow.
        const opt = new AdamW(model.adapterParameters('x'), { lr: 0.05 });
        tidy(() => {
          probe(model.forward({ inputIds: x, adapter: 'x' }).logits!, seed + 3).backward();
          opt.step();
        });
        const trained = await agree();
        expect(maxAbsDiff(trained, first)).toBeGreaterThan(1e-4);
        // So must replacing B in one layer, and a changed base weight.
        const L = model.config.num_hidden_layers;
        const layer = model.loraLayers().find((l) => l.path === `model.layers.${L - 1}.mlp.down_proj`)!;
        const a = layer.adapter('x');
        layer.setAdapter('x', a.config, a.A, normal(a.B.shape, { generator: new Generator(seed + 4) }));
        expect(maxAbsDiff(await agree(), trained)).toBeGreaterThan(1e-4);
        layer.weight.assign(normal(layer.weight.shape, { generator: new Generator(seed + 5) }));
        await agree();
        opt.dispose();
        model.dispose();
      }),
      { numRuns: 6 },
    );
  });
});

describe('rotary positions', () => {
  it('are max(cumsum(mask) − 1, 0) per row, and the tables are cos/sin of position·θ^(−2i/Dh) on both halves', async () => {
    expect(Array.from(positionsFromMask([0, 0, 1, 1, 1, 1, 1, 1, 1, 1], 2, 5))).toEqual([0, 0, 0, 1, 2, 0, 1, 2, 3, 4]);
    const { cos, sin } = rotaryTables([0, 3, 7], 1, 3, 4, 100, { backend: cpuBackend, dtype: 'float32' });
    expect(cos.shape).toEqual([1, 1, 3, 4]);
    // Dh = 4, θ = 100: frequencies θ^0 = 1 and θ^(−2/4) = 1/10, each on dims i and i + 2.
    const expected = (f: (a: number) => number) => [0, 3, 7].flatMap((p) => [f(p), f(p / 10), f(p), f(p / 10)]);
    expect(Array.from(await cos.toArray())).toEqual(expected(Math.cos).map(Math.fround));
    expect(Array.from(await sin.toArray())).toEqual(expected(Math.sin).map(Math.fround));
  });
});

it('rejects an attention mask of the wrong length and an unknown adapter, with clear messages', () => {
  const model = randomModel(1);
  const x = ids([1, 2, 3, 4], [2, 2]);
  expect(() => model.forward({ inputIds: x, attentionMask: [1, 1, 1] })).toThrow(/attentionMask must have 2×2 values/);
  expect(() => model.forward({ inputIds: x, adapter: 'nope' })).toThrow(/LoRA adapter 'nope' does not exist on model\.layers\.0\.self_attn\.q_proj/);
  expect(() => model.forward({})).toThrow(/give inputIds or inputsEmbeds/);
});
