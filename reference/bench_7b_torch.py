"""PyTorch's side of bench/sevenB.ts: the same CLaRa steps on the same bf16 checkpoint.

Usage: /usr/bin/python3 reference/bench_7b_torch.py DIR   (DIR written by `npm run bench -- 7b`)

Loads DIR's shards tensor by tensor (read into bf16 tensors, as `from_pretrained(torch_dtype=
torch.bfloat16)` holds them) and the three PEFT adapters, then, in bf16 as Hugging Face runs a bf16
model: compresses one 256-token document to 16 and to 2 memory vectors (compression 16 and 128,
encoder adapter), scores a 32-token question (query reasoner adapter) against 20 candidates by
cosine, and at each compression generates 64 tokens greedily with a key/value cache (generator
adapter) from 5 retrieved documents' memory vectors and a 64-token prompt. Prints one JSON line with
the same fields as the engine's rows: load seconds, peak RSS, prefill tokens per second, decode
tokens per second over the first 16 tokens (compression 16) and over 64 (both). The token ids are
the bench's (same generator), so both sides do the same work.
Not a recorder: it writes no fixture.
"""
import json
import math
import os
import resource
import struct
import sys
import time

import torch

import safetensors_io

DOC_TOKENS, MEMORY_TOKENS, QUESTION_TOKENS, CANDIDATES, TOP_K, PROMPT_TOKENS, NEW_TOKENS, SHORT_ANSWER = 256, 16, 32, 20, 5, 64, 64, 16
COMPRESSIONS = [16, 128]
ADAPTERS = ["encoder_adapter", "query_reasoner_adapter", "decoder_adapter"]
DT = torch.bfloat16


def token_ids(n, seed, vocab):
    """bench/sevenB.ts tokenIds: the same LCG, the same ids."""
    s, out = seed, []
    for _ in range(n):
        s = (s * 1103515245 + 12345) % 2**32
        out.append(1 + s % (vocab - 1))
    return out


def load(d):
    index = json.load(open(os.path.join(d, "model.safetensors.index.json")))
    weights = {}
    for shard in sorted(set(index["weight_map"].values())):
        with open(os.path.join(d, shard), "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
            header.pop("__metadata__", None)
            start = 8 + n
            for name, info in header.items():
                b, e = info["data_offsets"]
                f.seek(start + b)
                buf = bytearray(f.read(e - b))
                weights[name] = torch.frombuffer(buf, dtype=safetensors_io.TORCH_DTYPES[info["dtype"]]).reshape(info["shape"])
    adapters = {}
    for name in ADAPTERS:
        tensors, _ = safetensors_io.read(os.path.join(d, "adapters", name, "adapter_model.safetensors"))
        config = json.load(open(os.path.join(d, "adapters", name, "adapter_config.json")))
        scale = config["lora_alpha"] / config["r"]
        adapters[name] = ({k.replace("base_model.model.", ""): v.to(DT) for k, v in tensors.items()}, scale)
    return weights, adapters


def rms_norm(x, w, eps):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps)).to(DT) * w


def linear(x, w, key, adapter):
    y = torch.nn.functional.linear(x, w[key + ".weight"])
    if adapter is None:
        return y
    a, scale = adapter
    return y + torch.nn.functional.linear(torch.nn.functional.linear(x, a[key + ".lora_A.weight"]), a[key + ".lora_B.weight"]) * scale


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def forward(w, c, h, adapter, cache, start):
    """h [1, S, d] (bf16) → final normed states; `cache` per layer (k, v) grows by S."""
    s = h.shape[1]
    nh, kv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]
    pos = torch.arange(start, start + s, dtype=torch.float64)
    inv = c["rope_theta"] ** (torch.arange(hd // 2, dtype=torch.float64) * 2 / hd)
    ang = torch.cat([pos[:, None] / inv] * 2, dim=-1)
    cos, sin = ang.cos().to(DT), ang.sin().to(DT)
    mask = torch.ones(s, start + s, dtype=torch.bool).tril(start)
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = rms_norm(h, w[p + "input_layernorm.weight"], c["rms_norm_eps"])
        q = linear(x, w, p + "self_attn.q_proj", adapter).view(1, s, nh, hd).transpose(1, 2)
        k = linear(x, w, p + "self_attn.k_proj", adapter).view(1, s, kv, hd).transpose(1, 2)
        v = linear(x, w, p + "self_attn.v_proj", adapter).view(1, s, kv, hd).transpose(1, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        if cache[i] is not None:
            k, v = torch.cat([cache[i][0], k], 2), torch.cat([cache[i][1], v], 2)
        cache[i] = (k, v)
        k, v = k.repeat_interleave(nh // kv, 1), v.repeat_interleave(nh // kv, 1)
        scores = (q @ k.transpose(-1, -2)).float() / math.sqrt(hd)
        scores = scores.masked_fill(~mask, -1e30)
        out = (torch.softmax(scores, -1).to(DT) @ v).transpose(1, 2).reshape(1, s, nh * hd)
        h = h + linear(out, w, p + "self_attn.o_proj", adapter)
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], c["rms_norm_eps"])
        gate = linear(x, w, p + "mlp.gate_proj", adapter)
        h = h + linear(torch.nn.functional.silu(gate) * linear(x, w, p + "mlp.up_proj", adapter), w, p + "mlp.down_proj", adapter)
    return rms_norm(h, w["model.norm.weight"], c["rms_norm_eps"])


def main(d):
    torch.set_num_threads(os.cpu_count() or 1)
    c = json.load(open(os.path.join(d, "config.json")))
    v = c["vocab_size"]
    seconds = {}
    t = time.time()
    w, adapters = load(d)
    seconds["load"] = time.time() - t
    emb = w["model.embed_tokens.weight"]
    mem = token_ids(MEMORY_TOKENS, 7, v)

    def memory_states(ids, n, adapter):
        cache = [None] * c["num_hidden_layers"]
        return forward(w, c, emb[torch.tensor([ids])], adapters[adapter], cache, 0)[:, -n:]

    def next_token(h):
        return int((h[:, -1] @ w["lm_head.weight"].t()).argmax())

    doc = token_ids(DOC_TOKENS, 1, v)
    compressed, decode64 = {}, {}
    prefill_tokens, prefill_seconds = 0, 0.0
    with torch.no_grad():
        for rate in COMPRESSIONS:
            n = DOC_TOKENS // rate
            t = time.time()
            compressed[rate] = memory_states(doc + mem[:n], n, "encoder_adapter")
            seconds[f"compress{rate}"] = time.time() - t
            prefill_tokens += DOC_TOKENS + n
        t = time.time()
        query = memory_states(token_ids(QUESTION_TOKENS, 2, v) + mem, MEMORY_TOKENS, "query_reasoner_adapter").reshape(1, -1).float()
        cands = torch.cat([compressed[16].reshape(1, -1).float(), torch.randn(CANDIDATES - 1, query.shape[1])])
        torch.nn.functional.cosine_similarity(query, cands)
        seconds["score"] = time.time() - t
        prefill_tokens += QUESTION_TOKENS + MEMORY_TOKENS
        prefill_seconds += sum(seconds[f"compress{rate}"] for rate in COMPRESSIONS) + seconds["score"]
        dec = adapters["decoder_adapter"]
        for rate in COMPRESSIONS:
            prompt = torch.cat([compressed[rate]] * TOP_K + [emb[torch.tensor([token_ids(PROMPT_TOKENS, 3, v)])]], 1)
            t = time.time()
            cache = [None] * c["num_hidden_layers"]
            nxt = next_token(forward(w, c, prompt, dec, cache, 0))
            first = time.time() - t
            seconds[f"prefillOfGeneration{rate}"] = first
            prefill_tokens += prompt.shape[1]
            prefill_seconds += first
            length = prompt.shape[1]
            for produced in range(2, NEW_TOKENS + 1):
                nxt = next_token(forward(w, c, emb[torch.tensor([[nxt]])], dec, cache, length))
                length += 1
                if rate == 16 and produced == SHORT_ANSWER:
                    seconds["decode16"] = time.time() - t - first
            seconds[f"generate{rate}"] = time.time() - t
            decode64[str(rate)] = (NEW_TOKENS - 1) / (seconds[f"generate{rate}"] - first)
    print(json.dumps({
        "backend": f"torch {torch.__version__} (bf16)",
        "loadSeconds": seconds["load"],
        "peakRssGB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e9,
        "prefillTokensPerSecond": prefill_tokens / prefill_seconds,
        "decodeTokensPerSecond": (SHORT_ANSWER - 1) / seconds["decode16"],
        "decode64TokensPerSecond": decode64,
        "seconds": seconds,
    }))

if __name__ == "__main__":
    main(sys.argv[1])
