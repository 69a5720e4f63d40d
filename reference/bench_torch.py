"""Times in PyTorch the cases of `npm run bench` (bench/runner.ts), for the side-by-side table.

    /usr/bin/python3 reference/bench_torch.py --plan PLAN.json --out RESULTS.json [--device cpu|cuda] [--threads N]

`npm run bench` writes the plan (every case's shapes, and for the model-level cases the very token
ids, masks, labels and memory positions it used; `npm run bench -- --save-plan FILE` keeps a copy)
and runs this script after its own suites. RESULTS.json holds, per case key, the median and fastest
milliseconds per call, plus the torch version, device, threads and BLAS library.

Configured for speed as a user would on the CPU (bench/README.md): Debian's
python3-torch uses the reference BLAS unless OpenBLAS is on the library path, so when
/usr/lib/x86_64-linux-gnu/openblas-pthread exists (package libopenblas0-pthread) the script re-runs
itself with it prepended to LD_LIBRARY_PATH, with OPENBLAS_CORETYPE=SKYLAKEX on AVX-512 CPUs and
OMP_WAIT_POLICY=PASSIVE (see configure_blas), and uses as many threads as cores. Variables already
set in the environment win.

The model-level steps are plain-PyTorch CLaRa built from record_mistral.py's Mistral-with-LoRA
pieces (lora_linear, rms_norm, rotary, repeat_kv, mlp, init_base, init_adapter) and
record_clara_stage3.py's straight-through top-k, on the config the TypeScript model used (the
`tiny`/`small` preset with its compact vocabulary). What each case computes:
  matmul       a @ b, or a @ b.T                                                   (no autograd)
  attention    softmax(where(causal & padding, q kᵀ/√Dh, −1e30)) v, GQA via repeat_kv; backward(upstream)
  rmsnorm      rms_norm(x, w, eps).backward(upstream), x and w require grad
  crossentropy F.cross_entropy(logits, targets, ignore_index=−100).backward()
  stage1       compressor (encoder_adapter) → L_mse; splice; generator (decoder_adapter) → answer CE on
               the supervised positions only; L_ce + w·L_mse; backward; clip 1.0; AdamW on both adapters
               and the embedding table (gradient masked to the <MEM> rows); zero_grad; loss.item()
  stage3       bank compressed once (setup); query reasoner → cosine over N candidates → top-k (W @ D);
               splice; generator → answer CE; backward; clip; AdamW on query_reasoner + decoder adapters
  compress     compressor forward under no_grad over the batches, memory-position states kept
  generate     greedy decoding with a key/value cache: prefill (all logits), then one token per step,
               the chosen ids read back each step, as clara/model/generate.ts does
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

OPENBLAS_DIR = "/usr/lib/x86_64-linux-gnu/openblas-pthread"


def configure_blas(device: str) -> None:
    """Re-runs this script with OpenBLAS on the library path (once), as webgpu-in-node.md says."""
    if device != "cpu" or os.environ.get("CLARA_BENCH_CONFIGURED") == "1":
        return
    env = dict(os.environ, CLARA_BENCH_CONFIGURED="1")
    if os.path.isdir(OPENBLAS_DIR):
        paths = [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
        if OPENBLAS_DIR not in paths:
            env["LD_LIBRARY_PATH"] = ":".join([OPENBLAS_DIR] + paths)
    try:
        with open("/proc/cpuinfo") as f:
            avx512 = " avx512f" in f.read()
    except OSError:
        avx512 = False
    if avx512:
        env.setdefault("OPENBLAS_CORETYPE", "SKYLAKEX")
    # GNU OpenMP threads spin while they wait; when another process holds a core (a shared or
    # loaded machine), a spinning thread waits on a descheduled one and a 4 ms attention step takes
    # 40-170 ms (measured). Passive waiting costs nothing measurable when the cores are free.
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.execve(sys.executable, [sys.executable] + sys.argv, env)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--plan", required=True, help="cases written by npm run bench (--save-plan FILE keeps one)")
    p.add_argument("--out", required=True, help="where to write the results (JSON)")
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="CPU threads (default: the core count)")
    p.add_argument("--only", default=None, help="run only the cases whose key contains this text")
    return p.parse_args()


ARGS = parse_args()
configure_blas(ARGS.device)

import torch  # noqa: E402  (after the re-exec: the BLAS is chosen when torch loads)
import torch.nn.functional as F  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import record_clara_stage3 as s3  # noqa: E402
import record_mistral as rm  # noqa: E402

EMBED = "model.embed_tokens.weight"
DEVICE = torch.device(ARGS.device)


def say(message: str) -> None:
    print(f"[bench_torch] {message}", file=sys.stderr, flush=True)


def synchronize() -> None:
    if DEVICE.type == "cuda":
        torch.cuda.synchronize()


def measure(fn, timing: dict) -> dict:
    """Median and fastest ms per call: `warmup` untimed calls, then at least `iterations` calls and `time` ms."""
    for _ in range(timing["warmup"]):
        fn()
        synchronize()
    samples = []
    start = time.perf_counter()
    while len(samples) < max(1, timing["iterations"]) or (time.perf_counter() - start) * 1000 < timing["time"]:
        t = time.perf_counter()
        fn()
        synchronize()
        samples.append((time.perf_counter() - t) * 1000)
        if len(samples) >= 10000:
            break
    return {"ms": statistics.median(samples), "minMs": min(samples), "samples": len(samples)}


def rand(*shape, requires_grad=False):
    return torch.randn(*shape, device=DEVICE).mul_(0.3).requires_grad_(requires_grad)


def ids(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.int64, device=DEVICE)


# ------------------------------------------------------------------------------------------------
# operators

def case_matmul(spec, timing):
    m, n, k = spec["m"], spec["n"], spec["k"]
    a = rand(m, k)
    if spec["transB"]:
        b = rand(n, k)
        return measure(lambda: a @ b.t(), timing)
    b = rand(k, n)
    return measure(lambda: a @ b, timing)


def padding_allowed(mask, queries):
    """[B, 1, S, T] bool: causal (queries are the last S of T positions) and not a padding key."""
    t = mask.shape[1]
    causal = torch.ones(queries, t, dtype=torch.bool, device=DEVICE).tril(diagonal=t - queries)
    return (causal[None] & mask.bool()[:, None, :])[:, None]


def grouped_attention(q, k, v, allowed):
    """record_mistral.attention's core: GQA by repeat_kv, masked scores replaced by −1e30."""
    groups = q.shape[1] // k.shape[1]
    k, v = rm.repeat_kv(k, groups), rm.repeat_kv(v, groups)
    scores = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
    scores = scores.masked_fill(~allowed, rm.MASKED_SCORE)
    return torch.softmax(scores, dim=-1) @ v


def case_attention(spec, timing):
    b, h, kv, s, d = spec["batch"], spec["heads"], spec["kvHeads"], spec["seq"], spec["headDim"]
    q, k, v = rand(b, h, s, d, requires_grad=True), rand(b, kv, s, d, requires_grad=True), rand(b, kv, s, d, requires_grad=True)
    upstream = rand(b, h, s, d)
    mask = torch.ones(b, s, dtype=torch.int64, device=DEVICE)
    for row, pad in enumerate(spec["pads"]):
        mask[row, :pad] = 0
    allowed = padding_allowed(mask, s)

    def step():
        for t in (q, k, v):
            t.grad = None
        grouped_attention(q, k, v, allowed).backward(upstream)

    return measure(step, timing)


def case_rmsnorm(spec, timing):
    shape = spec["shape"]
    x = rand(*shape, requires_grad=True)
    w = torch.ones(shape[-1], device=DEVICE, requires_grad=True)
    upstream = rand(*shape)

    def step():
        x.grad = w.grad = None
        rm.rms_norm(x, w, spec["eps"]).backward(upstream)

    return measure(step, timing)


def case_crossentropy(spec, timing):
    logits = rand(spec["rows"], spec["vocab"], requires_grad=True)
    targets = ids(spec["targets"])

    def step():
        logits.grad = None
        F.cross_entropy(logits, targets, ignore_index=-100).backward()

    return measure(step, timing)


# ------------------------------------------------------------------------------------------------
# the model (record_mistral.py's pieces, with a key/value cache and without logits where unneeded)

class Model:
    def __init__(self, spec, adapters):
        self.c = dict(spec["config"])
        rm.LORA = dict(spec["lora"])  # lora_linear's α/r and init_adapter's rank
        g = torch.Generator().manual_seed(1)
        self.w = {k: v.to(DEVICE) for k, v in rm.init_base(self.c, g).items()}
        self.adapters = {name: {k: v.to(DEVICE).requires_grad_(True) for k, v in rm.init_adapter(self.c, g).items()} for name in adapters}
        self.n_mem = spec["nMem"]

    def attention(self, x, adapter, p, cos, sin, allowed, cache, layer):
        c, w = self.c, self.w
        bsz, s, _ = x.shape
        h, kv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]

        def proj(name, heads):
            return rm.lora_linear(x, w[f"{p}self_attn.{name}.weight"], adapter, f"{p}self_attn.{name}").view(bsz, s, heads, hd).transpose(1, 2)

        q = rm.apply_rotary(proj("q_proj", h), cos, sin)
        k = rm.apply_rotary(proj("k_proj", kv), cos, sin)
        v = proj("v_proj", kv)
        if cache is not None:
            if cache[layer] is not None:
                k = torch.cat([cache[layer][0], k], 2)
                v = torch.cat([cache[layer][1], v], 2)
            cache[layer] = (k, v)
        out = grouped_attention(q, k, v, allowed).transpose(1, 2).reshape(bsz, s, h * hd)
        return rm.lora_linear(out, w[f"{p}self_attn.o_proj.weight"], adapter, f"{p}self_attn.o_proj")

    def hidden(self, embeds, mask, adapter, cache=None):
        """Last post-norm states [B, S, d] of embeds [B, S, d]; mask [B, T] covers the cache and the new positions."""
        c, w = self.c, self.w
        s = embeds.shape[1]
        positions = rm.positions_from_mask(mask.cpu())[:, mask.shape[1] - s:]
        cos, sin = (t.to(DEVICE) for t in rm.rotary_tables(positions, c["head_dim"], c["rope_theta"]))
        allowed = padding_allowed(mask, s)
        eps = c["rms_norm_eps"]
        h = embeds
        for i in range(c["num_hidden_layers"]):
            p = f"model.layers.{i}."
            h = h + self.attention(rm.rms_norm(h, w[p + "input_layernorm.weight"], eps), adapter, p, cos, sin, allowed, cache, i)
            h = h + rm.mlp(rm.rms_norm(h, w[p + "post_attention_layernorm.weight"], eps), w, adapter, p)
        return rm.rms_norm(h, w["model.norm.weight"], eps)

    def compress(self, embed, batch, adapter):
        """(compressed [docs, n, d], hidden [docs, T + n, d]) of an encoder batch."""
        hidden = self.hidden(embed[ids(batch["inputIds"])], ids(batch["attentionMask"]), adapter)
        return hidden[:, hidden.shape[1] - self.n_mem:], hidden


def splice(embeds, memory_positions, vectors):
    """Overwrites the memory positions ([B][k][n]) of embeds [B, L, d] with vectors [B·k·n, d] (index_put)."""
    b = len(memory_positions)
    per_row = len(memory_positions[0]) * len(memory_positions[0][0])
    rows = torch.arange(b, device=DEVICE)[:, None].expand(-1, per_row).reshape(-1)
    cols = ids(memory_positions).reshape(-1)
    return embeds.index_put((rows, cols), vectors)


def supervised(labels):
    """Flat positions b·L + t whose next label is kept, and those labels (clara/answerLoss.ts)."""
    positions, targets = [], []
    for b, row in enumerate(labels):
        for t in range(len(row) - 1):
            if row[t + 1] != -100:
                positions.append(b * len(row) + t)
                targets.append(row[t + 1])
    return ids(positions), ids(targets)


def answer_loss(hidden, lm_head, positions, targets):
    rows = hidden.reshape(-1, hidden.shape[-1])[positions]
    return F.cross_entropy(rows @ lm_head.t(), targets)


def adamw(params, spec):
    a = spec["adamw"]
    return torch.optim.AdamW(params, lr=a["lr"], betas=tuple(a["betas"]), eps=a["eps"], weight_decay=a["weightDecay"])


def case_stage1(spec, timing):
    model = Model(spec, ["encoder_adapter", "decoder_adapter"])
    enc_ad, dec_ad = model.adapters["encoder_adapter"], model.adapters["decoder_adapter"]
    embed = model.w[EMBED].requires_grad_(True)
    row_mask = torch.zeros(embed.shape[0], 1, device=DEVICE)
    row_mask[spec["memIds"]] = 1
    embed.register_hook(lambda grad: grad * row_mask)  # only the <MEM> rows train (setTrainableRows)
    params = list(enc_ad.values()) + list(dec_ad.values()) + [embed]
    opt = adamw(params, spec)
    enc, gen = spec["encoder"], spec["generator"]
    enc_mask = ids(enc["attentionMask"])
    gen_ids, gen_mask = ids(gen["inputIds"]), ids(gen["attentionMask"])
    positions, targets = supervised(gen["labels"])
    n, d = model.n_mem, model.c["hidden_size"]

    def step():
        compressed, hidden = model.compress(embed, enc, enc_ad)
        text = hidden.shape[1] - n
        mu_mem = compressed.mean(1)
        doc_mask = enc_mask[:, :text].to(hidden.dtype)[..., None]
        mu_doc = (hidden[:, :text] * doc_mask).sum(1) / doc_mask.sum(1)
        mse = ((mu_doc - mu_mem) ** 2).mean()
        spliced = splice(embed[gen_ids], gen["memoryPositions"], compressed.reshape(-1, d))
        states = model.hidden(spliced, gen_mask, dec_ad)
        loss = answer_loss(states, model.w["lm_head.weight"], positions, targets) + spec["mseWeight"] * mse
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, spec["clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return measure(step, timing)


def case_stage3(spec, timing):
    model = Model(spec, ["encoder_adapter", "decoder_adapter", "query_reasoner_adapter"])
    enc_ad, dec_ad, qr_ad = (model.adapters[k] for k in ("encoder_adapter", "decoder_adapter", "query_reasoner_adapter"))
    for t in enc_ad.values():
        t.requires_grad_(False)
    embed = model.w[EMBED]
    with torch.no_grad():
        bank = torch.cat([model.compress(embed, b, enc_ad)[0] for b in spec["bank"]])  # [docs, n, d]
    params = list(qr_ad.values()) + list(dec_ad.values())
    opt = adamw(params, spec)
    gen = spec["generator"]
    gen_ids, gen_mask = ids(gen["inputIds"]), ids(gen["attentionMask"])
    positions, targets = supervised(gen["labels"])
    candidates = ids(spec["candidates"])
    k, n, d = spec["k"], model.n_mem, model.c["hidden_size"]
    bsz = candidates.shape[0]
    flat_bank = bank.reshape(bank.shape[0], -1)

    def step():
        q = model.compress(embed, spec["query"], qr_ad)[0].reshape(bsz, -1)
        docs = flat_bank[candidates]  # [B, N, n·d]
        s = (F.normalize(q, dim=-1, eps=1e-12)[:, None] @ F.normalize(docs, dim=-1, eps=1e-12).transpose(1, 2)).squeeze(1)
        _, _, _, _, w = s3.straight_through_topk(s, k, spec["temperature"])
        selected = (w @ docs).reshape(bsz * k * n, d)
        spliced = splice(embed[gen_ids], gen["memoryPositions"], selected)
        states = model.hidden(spliced, gen_mask, dec_ad)
        loss = answer_loss(states, model.w["lm_head.weight"], positions, targets)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, spec["clip"])
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()

    return measure(step, timing)


def case_compress(spec, timing):
    model = Model(spec, ["encoder_adapter"])
    enc_ad = model.adapters["encoder_adapter"]
    embed = model.w[EMBED]

    def run():
        with torch.no_grad():
            return torch.cat([model.compress(embed, b, enc_ad)[0] for b in spec["batches"]])

    return measure(run, timing)


def case_generate(spec, timing):
    model = Model(spec, ["decoder_adapter"])
    dec_ad = model.adapters["decoder_adapter"]
    embed, lm_head = model.w[EMBED], model.w["lm_head.weight"]
    prompt, prompt_mask = ids(spec["inputIds"]), ids(spec["attentionMask"])
    new_tokens = spec["maxNewTokens"]

    def run():
        with torch.no_grad():
            cache = [None] * model.c["num_hidden_layers"]
            mask = prompt_mask
            logits = model.hidden(embed[prompt], mask, dec_ad, cache) @ lm_head.t()  # [B, S, V], as generate.ts
            nxt = logits[:, -1].argmax(-1)
            out = [nxt.tolist()]
            for _ in range(new_tokens - 1):
                mask = torch.cat([mask, torch.ones(mask.shape[0], 1, dtype=mask.dtype, device=DEVICE)], 1)
                logits = model.hidden(embed[nxt[:, None]], mask, dec_ad, cache) @ lm_head.t()
                nxt = logits[:, -1].argmax(-1)
                out.append(nxt.tolist())
            return out

    return measure(run, timing)


CASES = {
    "matmul": case_matmul, "attention": case_attention, "rmsnorm": case_rmsnorm, "crossentropy": case_crossentropy,
    "stage1": case_stage1, "stage3": case_stage3, "compress": case_compress, "generate": case_generate,
}


def blas_library():
    """The BLAS shared library this process loaded (from /proc/self/maps), or None."""
    try:
        with open("/proc/self/maps") as f:
            libs = {line.split()[-1] for line in f if "blas" in line.lower() and "/" in line}
        return ", ".join(sorted(libs)) or None
    except OSError:
        return None


def main():
    with open(ARGS.plan) as f:
        plan = json.load(f)
    if DEVICE.type == "cpu":
        torch.set_num_threads(ARGS.threads)
    torch.manual_seed(0)
    started = time.perf_counter()
    results, errors = {}, {}
    for case in plan["cases"]:
        key = case["key"]
        if ARGS.only and ARGS.only not in key:
            continue
        say(f"{key}")
        try:
            results[key] = CASES[case["suite"]](case["spec"], case["timing"])
        except Exception as error:  # one failing case must not lose the others
            errors[key] = f"{type(error).__name__}: {error}"
    out = {
        "torch": torch.__version__,
        "device": torch.cuda.get_device_name() if DEVICE.type == "cuda" else "cpu",
        "threads": torch.get_num_threads(),
        "blas": blas_library(),
        "env": {k: os.environ.get(k, "") for k in ("LD_LIBRARY_PATH", "OPENBLAS_CORETYPE", "OMP_WAIT_POLICY", "OMP_NUM_THREADS")},
        "seconds": time.perf_counter() - started,
        "results": results,
        "errors": errors,
    }
    with open(ARGS.out, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
