/**
 * `npm run bench -- 7b`: a CLaRa on Mistral-7B's shape, in bf16, on one machine (issue 19).
 *
 *   npm run bench -- 7b                      # the whole model (32 layers), every backend, then PyTorch
 *   npm run bench -- 7b --layers 2           # the same shapes with 2 blocks (estimate, then extrapolate)
 *   npm run bench -- 7b --backend cpu --no-torch --dir /big/disk/clara-7b
 *
 * It writes a random-weight checkpoint of Mistral-7B's shape (vocabulary 32000, hidden 4096, MLP
 * 14336, 32 heads over 8 key/value heads of 128) in bf16, sharded as Hugging Face shards it (files
 * of up to 5 GB, beyond Node's 4 GB Buffer limit, with model.safetensors.index.json), plus the three
 * CLaRa LoRA adapters (r 16) as PEFT directories, to a temporary folder (about 15 GB for 32 layers;
 * reused when present; never committed). Then, per backend, in a child process of its own (so that
 * its peak RSS is its own), and then PyTorch (reference/bench_7b_torch.py) on the same files, one
 * after the other (never two holding the weights at once):
 *
 *   load      the checkpoint with the matrices kept bf16 (loadModel dtype bfloat16), the adapters
 *   compress  one 256-token document at compression 16 and at 128 (16 and 2 memory vectors, the
 *             released models' two rates), encoder adapter
 *   score     a 32-token question through the query reasoner, cosine against 20 candidates
 *   generate  at each compression, 64 tokens greedily with the generator adapter from a prompt of
 *             64 tokens and the k = 5 retrieved documents' memory vectors spliced in (prefill
 *             5 × 16 + 64 = 144 positions, or 5 × 2 + 64 = 74), the key/value cache growing to
 *             prompt + 64 positions; the time of the 16th token gives the 16-token row
 *
 * and prints load seconds, peak RSS beside an estimate (weights, adapters, key/value cache and the
 * largest pass's activations), prefill tokens per second (both compressions, the score and the
 * generation prompts) and decode tokens per second over 16 and 64 tokens. The token ids are fixed
 * random ids: the timings do not depend on the text. Progress bars go to stderr.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Options } from '../clara/cli/args.ts';
import { selectBackendFromEnv } from '../clara/cli/backendOption.ts';
import { ENCODER_ADAPTER, DECODER_ADAPTER, QUERY_REASONER_ADAPTER } from '../clara/adapters.ts';
import { loadAdapter, loadModel } from '../clara/model/checkpoint.ts';
import { PRESETS, type MistralConfig } from '../clara/model/config.ts';
import { generateGreedy } from '../clara/model/generate.ts';
import type { MistralForCausalLM } from '../clara/model/mistral.ts';
import { cosineScores } from '../clara/queryReasoner.ts';
import { concat, noGrad, normal, tensor, tidy, type Tensor } from '../engine/index.ts';
import { float32ToBf16Array, INDEX_FILE, writeSafetensorsFile, type TensorToWrite } from '../engine/io/index.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Mistral-7B-Instruct-v0.2's shape, the base of the released CLaRa models. */
const MISTRAL_7B = PRESETS['mistral-7b']!;

const DOC_TOKENS = 256;
/** The released models' compression rates: 16 and 2 memory vectors per 256-token document. */
const COMPRESSIONS = [16, 128];
/** The query reasoner encodes a question into as many vectors as compression 16 gives a document. */
const MEMORY_TOKENS = DOC_TOKENS / 16;
const QUESTION_TOKENS = 32;
const CANDIDATES = 20;
const TOP_K = 5;
const PROMPT_TOKENS = 64;
/** An answer's length; the 16th token's time gives the shorter row too. */
const NEW_TOKENS = 64;
const SHORT_ANSWER = 16;
const LORA = { r: 16, alpha: 32, dropout: 0 };
const ADAPTERS = [ENCODER_ADAPTER, QUERY_REASONER_ADAPTER, DECODER_ADAPTER];
const SHARD_BYTES = 5e9;

/** What one `npm run bench -- 7b` runs. */
interface SevenBRun {
  layers: number;
  backends: string[];
  torch: boolean;
  dir: string;
}

const USAGE = `npm run bench -- 7b [--layers N] [--backend cpu|webgpu|all] [--no-torch] [--dir DIR]

  --layers N     Mistral-7B's widths with N blocks (1 to 32; default 32, the whole model)
  --backend B    cpu, webgpu or all (default all), each in a child process of its own
  --no-torch     without PyTorch's run on the same files
  --dir DIR      where the checkpoint is written, or reused when complete
                 (default: <tmp>/clara-bench-7b-<N>layers; about 15 GB at 32 layers)
  --help         this text`;

/** The options; an unknown option or a bad value stops the run before anything is written. */
function parse(args: string[]): SevenBRun | null {
  const options = Options.parseFor('bench 7b', 'npm run bench -- 7b --help', args, {
    layers: { type: 'string' },
    backend: { type: 'string' },
    'no-torch': { type: 'boolean' },
    dir: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
  });
  if (options.flag('help')) return null;
  const layers = options.int('layers', 1, MISTRAL_7B.num_hidden_layers) ?? MISTRAL_7B.num_hidden_layers;
  const backend = options.choice('backend', ['cpu', 'webgpu', 'all']) ?? 'all';
  return {
    layers,
    backends: backend === 'all' ? ['cpu', 'webgpu'] : [backend],
    torch: !options.flag('no-torch'),
    dir: options.string('dir') ?? path.join(os.tmpdir(), `clara-bench-7b-${layers}layers`),
  };
}

// ---- progress ------------------------------------------------------------------------------------

let shownPercent = -1;

function progress(label: string, done: number, total: number): void {
  const width = 30;
  const percent = Math.floor((100 * done) / total);
  if (percent === shownPercent) return;
  shownPercent = percent;
  const filled = Math.round((done / total) * width);
  process.stderr.write(`\r${label.padEnd(28)} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${((100 * done) / total).toFixed(0).padStart(3)}%`);
  if (done >= total) process.stderr.write('\n');
}

// ---- the checkpoint ------------------------------------------------------------------------------

interface Planned {
  name: string;
  shape: number[];
  /** Values around 1 (norm weights) or around 0 with std 0.02 (matrices). */
  around: 0 | 1;
}

function plan(config: MistralConfig): Planned[] {
  const { hidden_size: d, intermediate_size: m, num_attention_heads: h, num_key_value_heads: kv, head_dim: hd, vocab_size: v } = config;
  const out: Planned[] = [{ name: 'model.embed_tokens.weight', shape: [v, d], around: 0 }];
  for (let i = 0; i < config.num_hidden_layers; i++) {
    const p = `model.layers.${i}.`;
    out.push(
      { name: `${p}input_layernorm.weight`, shape: [d], around: 1 },
      { name: `${p}self_attn.q_proj.weight`, shape: [h * hd, d], around: 0 },
      { name: `${p}self_attn.k_proj.weight`, shape: [kv * hd, d], around: 0 },
      { name: `${p}self_attn.v_proj.weight`, shape: [kv * hd, d], around: 0 },
      { name: `${p}self_attn.o_proj.weight`, shape: [d, h * hd], around: 0 },
      { name: `${p}post_attention_layernorm.weight`, shape: [d], around: 1 },
      { name: `${p}mlp.gate_proj.weight`, shape: [m, d], around: 0 },
      { name: `${p}mlp.up_proj.weight`, shape: [m, d], around: 0 },
      { name: `${p}mlp.down_proj.weight`, shape: [d, m], around: 0 },
    );
  }
  out.push({ name: 'model.norm.weight', shape: [d], around: 1 }, { name: 'lm_head.weight', shape: [v, d], around: 0 });
  return out;
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

/** 4096 bf16 draws of N(around, 0.02²), indexed by a xorshift stream: fast enough for 7 billion values. */
function bf16Pool(around: number, seed: number): Uint16Array {
  let s = seed;
  const values = new Float32Array(4096);
  for (let i = 0; i < values.length; i++) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const u1 = (s + 1) / 2 ** 32;
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const u2 = s / 2 ** 32;
    values[i] = around + 0.02 * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return float32ToBf16Array(values);
}

/**
 * Writes the planned tensors as bf16 shards of at most SHARD_BYTES and the index. Each shard is
 * written tensor by tensor in chunks, since a shard is larger than this process may hold (the
 * writer of engine/io takes whole tensors in memory). A `complete` marker makes a finished folder
 * reusable.
 */
function writeCheckpoint(config: MistralConfig, dir: string): void {
  const marker = path.join(dir, 'complete');
  if (fs.existsSync(marker)) {
    process.stderr.write(`reusing the checkpoint in ${dir}\n`);
    return;
  }
  fs.mkdirSync(dir, { recursive: true });
  const tensors = plan(config);
  const shards: Planned[][] = [[]];
  let bytes = 0;
  for (const t of tensors) {
    const size = numel(t.shape) * 2;
    if (bytes + size > SHARD_BYTES && shards.at(-1)!.length > 0) {
      shards.push([]);
      bytes = 0;
    }
    shards.at(-1)!.push(t);
    bytes += size;
  }
  const total = tensors.reduce((a, t) => a + numel(t.shape) * 2, 0);
  const pools = { 0: bf16Pool(0, 1), 1: bf16Pool(1, 2) };
  const chunk = new Uint16Array(1 << 22);
  let state = 0x9e3779b9;
  let written = 0;
  const weightMap: Record<string, string> = {};
  shards.forEach((shard, s) => {
    const file = `model-${String(s + 1).padStart(5, '0')}-of-${String(shards.length).padStart(5, '0')}.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: 'pt' } };
    let offset = 0;
    for (const t of shard) {
      const size = numel(t.shape) * 2;
      header[t.name] = { dtype: 'BF16', shape: t.shape, data_offsets: [offset, offset + size] };
      offset += size;
      weightMap[t.name] = file;
    }
    let json = JSON.stringify(header);
    json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8); // the data starts 8-byte aligned
    const fd = fs.openSync(path.join(dir, file), 'w');
    const length = Buffer.alloc(8);
    length.writeBigUInt64LE(BigInt(json.length));
    fs.writeSync(fd, length);
    fs.writeSync(fd, json);
    for (const t of shard) {
      const pool = pools[t.around];
      for (let left = numel(t.shape); left > 0; ) {
        const n = Math.min(left, chunk.length);
        for (let i = 0; i < n; i++) {
          state ^= state << 13;
          state ^= state >>> 17;
          state ^= state << 5;
          chunk[i] = pool[state & 4095]!;
        }
        fs.writeSync(fd, new Uint8Array(chunk.buffer, 0, n * 2));
        left -= n;
        written += n * 2;
        progress('writing the bf16 checkpoint', written, total);
      }
    }
    fs.closeSync(fd);
  });
  fs.writeFileSync(path.join(dir, INDEX_FILE), JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 2));
  fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify({ architectures: ['MistralForCausalLM'], model_type: 'mistral', ...config }, null, 2));
  writeAdapters(config, dir);
  fs.writeFileSync(marker, '');
}

/** The three CLaRa adapters, PEFT's layout (what clara/model/checkpoint.ts loadAdapter reads), float32. */
function writeAdapters(config: MistralConfig, dir: string): void {
  const { hidden_size: d, intermediate_size: m, num_attention_heads: h, num_key_value_heads: kv, head_dim: hd } = config;
  const shapes: Record<string, [number, number]> = {
    'self_attn.q_proj': [h * hd, d],
    'self_attn.k_proj': [kv * hd, d],
    'self_attn.v_proj': [kv * hd, d],
    'self_attn.o_proj': [d, h * hd],
    'mlp.gate_proj': [m, d],
    'mlp.up_proj': [m, d],
    'mlp.down_proj': [d, m],
  };
  ADAPTERS.forEach((name, a) => {
    const tensors: Record<string, TensorToWrite> = {};
    const pool = bf16Pool(0, 10 + a);
    let k = 0;
    const values = (n: number) => Float32Array.from({ length: n }, () => (pool[k++ & 4095]! === 0 ? 0 : ((k * 7919) % 1000) / 1e5 - 0.005));
    for (let i = 0; i < config.num_hidden_layers; i++) {
      for (const [module, [out, inp]] of Object.entries(shapes)) {
        const key = `base_model.model.model.layers.${i}.${module}`;
        tensors[`${key}.lora_A.weight`] = { dtype: 'F32', shape: [LORA.r, inp], data: values(LORA.r * inp) };
        tensors[`${key}.lora_B.weight`] = { dtype: 'F32', shape: [out, LORA.r], data: values(out * LORA.r) };
      }
    }
    const adapterDir = path.join(dir, 'adapters', name);
    fs.mkdirSync(adapterDir, { recursive: true });
    writeSafetensorsFile(path.join(adapterDir, 'adapter_model.safetensors'), tensors, { format: 'pt' });
    fs.writeFileSync(
      path.join(adapterDir, 'adapter_config.json'),
      JSON.stringify({ peft_type: 'LORA', r: LORA.r, lora_alpha: LORA.alpha, lora_dropout: LORA.dropout, target_modules: Object.keys(shapes) }),
    );
  });
}

// ---- one backend (in a child process) ------------------------------------------------------------

interface Result {
  backend: string;
  loadSeconds?: number;
  peakRssGB?: number;
  /** Weights, adapters, the key/value cache and the largest pass's activations (memoryEstimate). */
  estimateGB?: number;
  prefillTokensPerSecond?: number;
  /** Tokens 2 to 16 of the answer at compression 16. */
  decodeTokensPerSecond?: number;
  /** Tokens 2 to 64 of the answer, at compression 16 and at 128. */
  decode64TokensPerSecond?: Record<string, number>;
  seconds?: Record<string, number>;
  error?: string;
}

/**
 * What the run should hold at its peak, in bytes: the bf16 matrices and float32 norms, the three
 * float32 adapters, the key/value cache of the longest generation (float32, prompt + answer
 * positions in every layer) and the activations of the largest pass, the compression of one
 * document (the MLP's three [S, intermediate] tensors and the attention's [H, S, S] scores,
 * probabilities and a copy, float32).
 */
function memoryEstimate(config: MistralConfig): number {
  const {
    hidden_size: d,
    intermediate_size: m,
    num_attention_heads: h,
    num_key_value_heads: kv,
    head_dim: hd,
    vocab_size: v,
    num_hidden_layers: layers,
  } = config;
  const perLayer = d * h * hd * 2 + d * kv * hd * 2 + 3 * d * m;
  const weights = 2 * (layers * perLayer + 2 * v * d) + 4 * (2 * layers + 1) * d;
  const adapters = 3 * 4 * LORA.r * layers * (2 * (d + h * hd) + 2 * (d + kv * hd) + 3 * (d + m));
  const cache = 4 * layers * 2 * kv * hd * (TOP_K * MEMORY_TOKENS + PROMPT_TOKENS + NEW_TOKENS);
  const seq = DOC_TOKENS + MEMORY_TOKENS;
  const activations = 4 * (3 * seq * m + 3 * h * seq * seq + 8 * seq * d);
  return weights + adapters + cache + activations;
}

/** Fixed pseudo-random token ids in [1, vocab). */
function tokenIds(n: number, seed: number, vocab: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return 1 + (s % (vocab - 1));
  });
}

/** The last `n` positions' final hidden states of `ids` through `adapter`: [1, n, d]. */
function memoryStates(model: MistralForCausalLM, ids: number[], n: number, adapter: string): Tensor {
  return tidy(() => {
    const input = tensor(Int32Array.from(ids), [1, ids.length], { dtype: 'int32', backend: model.backend });
    const { lastHiddenState } = model.forward({ inputIds: input, adapter, computeLogits: false });
    return lastHiddenState.slice(1, ids.length - n);
  });
}

async function runBackend(name: string, dir: string): Promise<Result> {
  const { backend } = await selectBackendFromEnv(name as 'cpu' | 'webgpu'); // CLARA_CPU_THREADS=1: one thread
  const config = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as MistralConfig;
  const seconds: Record<string, number> = {};
  const time = async <T>(step: string, fn: () => T | Promise<T>): Promise<T> => {
    process.stderr.write(`${name}: ${step}…\n`);
    const start = performance.now();
    const out = await fn();
    seconds[step] = (performance.now() - start) / 1000;
    return out;
  };
  const model = await time('load', () => {
    const m = loadModel(dir, { backend, dtype: 'bfloat16' });
    for (const adapter of ADAPTERS) loadAdapter(m, adapter, path.join(dir, 'adapters', adapter));
    return m;
  });
  model.eval();
  const memoryIds = tokenIds(MEMORY_TOKENS, 7, config.vocab_size); // the <MEM> tokens' ids
  const docIds = tokenIds(DOC_TOKENS, 1, config.vocab_size);
  const compressed = new Map<number, Tensor>();
  for (const rate of COMPRESSIONS) {
    const n = DOC_TOKENS / rate;
    await time(`compress${rate}`, async () => {
      const states = noGrad(() => memoryStates(model, [...docIds, ...memoryIds.slice(0, n)], n, ENCODER_ADAPTER));
      await states.toArray();
      compressed.set(rate, states);
    });
  }
  await time('score', async () => {
    const scores = noGrad(() =>
      tidy(() => {
        const query = memoryStates(model, [...tokenIds(QUESTION_TOKENS, 2, config.vocab_size), ...memoryIds], MEMORY_TOKENS, QUERY_REASONER_ADAPTER).reshape([
          1, -1,
        ]);
        const others = normal([CANDIDATES - 1, MEMORY_TOKENS * config.hidden_size], { backend });
        const candidates = concat([compressed.get(16)!.reshape([1, -1]), others], 0).unsqueeze(0);
        return cosineScores(query, candidates);
      }),
    );
    await scores.toArray();
  });
  const promptIds = tensor(Int32Array.from(tokenIds(PROMPT_TOKENS, 3, config.vocab_size)), [1, PROMPT_TOKENS], { dtype: 'int32', backend });
  const decode64: Record<string, number> = {};
  let prefillTokens = DOC_TOKENS * COMPRESSIONS.length + COMPRESSIONS.reduce((sum, rate) => sum + DOC_TOKENS / rate, 0) + QUESTION_TOKENS + MEMORY_TOKENS;
  let prefillSeconds = 0;
  for (const rate of COMPRESSIONS) {
    const docs = compressed.get(rate)!;
    const prompt = noGrad(() => tidy(() => concat([...Array.from({ length: TOP_K }, () => docs), model.embed(promptIds)], 1))); // [1, k·n + prompt, d]
    const at: number[] = [];
    await time(`generate${rate}`, async () => {
      const start = performance.now();
      await generateGreedy(model, {
        inputsEmbeds: prompt,
        adapter: DECODER_ADAPTER,
        maxNewTokens: NEW_TOKENS,
        onToken: (produced) => {
          at[produced] = (performance.now() - start) / 1000;
          progress(`${name}: answer at compression ${rate}`, produced, NEW_TOKENS);
        },
      });
    });
    seconds[`prefillOfGeneration${rate}`] = at[1]!;
    prefillTokens += prompt.shape[1]!;
    prefillSeconds += at[1]!;
    decode64[rate] = (NEW_TOKENS - 1) / (at[NEW_TOKENS]! - at[1]!);
    if (rate === 16) seconds.decode16 = at[SHORT_ANSWER]! - at[1]!;
    prompt.dispose();
  }
  prefillSeconds += COMPRESSIONS.reduce((sum, rate) => sum + seconds[`compress${rate}`]!, 0) + seconds.score!;
  return {
    backend: name,
    loadSeconds: seconds.load,
    peakRssGB: (process.resourceUsage().maxRSS * 1024) / 1e9,
    estimateGB: memoryEstimate(config) / 1e9,
    prefillTokensPerSecond: prefillTokens / prefillSeconds,
    decodeTokensPerSecond: (SHORT_ANSWER - 1) / seconds.decode16!,
    decode64TokensPerSecond: decode64,
    seconds,
  };
}

// ---- the whole run -------------------------------------------------------------------------------

function child(args: string[]): Result {
  const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(ROOT, 'bench', 'main.ts'), '7b', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
    maxBuffer: 1 << 24,
  });
  const line = run.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as Result;
  } catch {
    return { backend: args.join(' '), error: `exit ${run.status}${run.signal ? ` (${run.signal})` : ''}: ${line.slice(0, 300)}` };
  }
}

export async function run(args: string[]): Promise<void> {
  const childAt = args.indexOf('--child');
  if (childAt >= 0) {
    const name = args[childAt + 1]!;
    const dir = args[childAt + 2]!;
    let result: Result;
    try {
      result = await runBackend(name, dir);
    } catch (error) {
      result = { backend: name, error: (error as Error).message, peakRssGB: (process.resourceUsage().maxRSS * 1024) / 1e9 };
    }
    process.stdout.write(`${JSON.stringify(result)}\n`);
    process.exit(0);
  }
  const options = parse(args);
  if (options === null) {
    console.log(USAGE);
    return;
  }
  const config = { ...MISTRAL_7B, num_hidden_layers: options.layers };
  writeCheckpoint(config, options.dir);
  const results: Result[] = options.backends.map((b) => child(['--child', b, options.dir]));
  if (options.torch) {
    const torch = spawnSync('/usr/bin/python3', [path.join(ROOT, 'reference', 'bench_7b_torch.py'), options.dir], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'inherit'],
      encoding: 'utf8',
    });
    const line = torch.stdout.trim().split('\n').at(-1) ?? '';
    try {
      results.push(JSON.parse(line) as Result);
    } catch {
      results.push({ backend: 'torch', error: `exit ${torch.status}: ${line.slice(0, 300)}` });
    }
  }
  console.log(`Mistral-7B shape, ${options.layers} of 32 layers, bf16 weights (${options.dir})`);
  console.table(
    results.map((r) => ({
      backend: r.backend,
      'load s': r.loadSeconds?.toFixed(1),
      'peak RSS GB': r.peakRssGB?.toFixed(2),
      'estimate GB': r.estimateGB?.toFixed(2),
      'prefill tok/s': r.prefillTokensPerSecond?.toFixed(2),
      'decode tok/s (16)': r.decodeTokensPerSecond?.toFixed(3),
      'decode tok/s (64, c16)': r.decode64TokensPerSecond?.['16']?.toFixed(3),
      'decode tok/s (64, c128)': r.decode64TokensPerSecond?.['128']?.toFixed(3),
      error: r.error?.slice(0, 160),
    })),
  );
  console.log(JSON.stringify({ layers: options.layers, results }));
}
