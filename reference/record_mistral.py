"""Whole-model golden state: a tiny Mistral with two LoRA adapters, in plain PyTorch.

Writes test/fixtures/model/mistral_tiny.safetensors, which test/clara/model/golden.test.ts replays
on every backend. The model here is written from the CLaRa spec (§1) and Hugging Face's
MistralForCausalLM, with no transformers/peft import, in functional form over a dict of tensors
named as a Hugging Face checkpoint names them. The conventions are those clara/model/*.ts must
reproduce:

  - RMSNorm   y = x · rsqrt(mean(x², −1) + eps) · w, in float32;
  - rotary    HF "rotate half": dims i and i + Dh/2 rotate together at frequency θ^(−2i/Dh);
              positions = max(cumsum(mask) − 1, 0) per row (left padding); cos and sin computed in
              float64, then cast to float32;
  - attention grouped-query, the query heads of one group adjacent (HF's repeat_kv);
              scores = q kᵀ / √Dh; masked pairs (not causal, or a padding key) get their score
              REPLACED by −1e30 (torch.where, not added), then softmax, so a left-pad query, which
              may attend to nothing, attends uniformly to every key;
  - MLP       SwiGLU: down(silu(gate(x)) · up(x));
  - LoRA      y = x Wᵀ + (α/r) · B(A(x)) on q, k, v, o, gate, up, down (dropout 0 here);
  - output    final RMSNorm, untied lm_head; hidden states as HF: the embeddings, the output of
              blocks 1…L−1, then the final normalised states (L + 1 tensors).

Tensors in the file (float32 unless said):
  weights.<hf name>                      every base weight (model.embed_tokens.weight, …, lm_head.weight)
  adapter.<name>.<peft key>              both adapters' initial A and B (peft key:
                                         model.layers.{i}.self_attn.q_proj.lora_A.weight, …)
  input_ids, attention_mask, labels      int64 [B, S]; left padding; labels −100 where ignored
  hidden_states.{j}                      j = 0…L, [B, S, d], with the active adapter
  logits [B, S, V], loss []              with the active adapter; loss = mean cross-entropy of
                                         logits[:, :-1] against labels[:, 1:] over kept targets
  grad.<peft key>                        d loss / d(every A and B of the active adapter)
  logits_base, logits_other              logits with no adapter, and with the other adapter
  train.losses [steps]                   loss before each AdamW step (training the active adapter only)
  trained.<peft key>                     the active adapter after those steps
Metadata (JSON strings): config, lora, adapters, active, inactive, adamw, steps, and
"inactive_grads"/"base_grads" = "none": torch gave the other adapter and the frozen base no
gradient at all (their .grad stayed None).
"""
import json
import math
import os

import torch

import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = [os.path.join(HERE, f) for f in ("record_mistral.py", "safetensors_io.py")]

# The `tiny` preset of clara/model/config.ts.
CONFIG = {
    "vocab_size": 64, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "rms_norm_eps": 1e-5,
    "rope_theta": 10000, "max_position_embeddings": 512, "sliding_window": None, "tie_word_embeddings": False,
}
LORA = {"r": 4, "alpha": 8, "dropout": 0.0}
ADAPTERS = ["encoder_adapter", "decoder_adapter"]
ACTIVE = "decoder_adapter"
INACTIVE = "encoder_adapter"
ADAMW = {"lr": 1e-2, "betas": [0.9, 0.95], "eps": 1e-8, "weight_decay": 0.01}
STEPS = 10
MASKED_SCORE = -1e30
TARGETS = [("self_attn", "q_proj"), ("self_attn", "k_proj"), ("self_attn", "v_proj"), ("self_attn", "o_proj"),
           ("mlp", "gate_proj"), ("mlp", "up_proj"), ("mlp", "down_proj")]


def linear_shapes(c: dict) -> dict:
    """(out, in) of the seven projections of a block."""
    d, hd = c["hidden_size"], c["head_dim"]
    h, kv, m = c["num_attention_heads"], c["num_key_value_heads"], c["intermediate_size"]
    return {"q_proj": (h * hd, d), "k_proj": (kv * hd, d), "v_proj": (kv * hd, d), "o_proj": (d, h * hd),
            "gate_proj": (m, d), "up_proj": (m, d), "down_proj": (d, m)}


def init_base(c: dict, g: torch.Generator) -> dict:
    """Random base weights under HF names. Norm weights are 1 + noise, so that they matter."""
    d, v = c["hidden_size"], c["vocab_size"]

    def uniform(shape, bound):
        return (torch.rand(shape, generator=g, dtype=torch.float64) * 2 - 1).mul(bound).float()

    w = {"model.embed_tokens.weight": torch.randn((v, d), generator=g, dtype=torch.float64).float()}
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        for module, name in TARGETS:
            out_f, in_f = linear_shapes(c)[name]
            w[f"{p}{module}.{name}.weight"] = uniform((out_f, in_f), 1 / math.sqrt(in_f))
        w[p + "input_layernorm.weight"] = 1 + uniform((d,), 0.2)
        w[p + "post_attention_layernorm.weight"] = 1 + uniform((d,), 0.2)
    w["model.norm.weight"] = 1 + uniform((d,), 0.2)
    w["lm_head.weight"] = uniform((v, d), 1 / math.sqrt(d))
    return w


def init_adapter(c: dict, g: torch.Generator) -> dict:
    """A and B both non-zero (a trained-looking adapter), so outputs and gradients are non-trivial."""
    r = LORA["r"]
    out = {}
    for i in range(c["num_hidden_layers"]):
        for module, name in TARGETS:
            out_f, in_f = linear_shapes(c)[name]
            key = f"model.layers.{i}.{module}.{name}"
            bound = 1 / math.sqrt(in_f)  # kaiming-uniform(a=√5) on [r, in]
            out[f"{key}.lora_A.weight"] = ((torch.rand((r, in_f), generator=g, dtype=torch.float64) * 2 - 1) * bound).float()
            out[f"{key}.lora_B.weight"] = (torch.randn((out_f, r), generator=g, dtype=torch.float64) * 0.1).float()
    return out


# ------------------------------------------------------------------------------------------------
# the model

def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def lora_linear(x, w, adapter, key):
    y = x @ w.t()
    if adapter is None:
        return y
    a, b = adapter[f"{key}.lora_A.weight"], adapter[f"{key}.lora_B.weight"]
    return y + ((x @ a.t()) @ b.t()) * (LORA["alpha"] / LORA["r"])


def positions_from_mask(mask):
    """[B, S] int64: each real token's index among its row's real tokens; 0 on left padding."""
    return (mask.cumsum(-1) - 1).clamp(min=0)


def rotary_tables(positions, head_dim, theta):
    """cos, sin [B, 1, S, Dh] in float32, computed in float64."""
    half = head_dim // 2
    exponents = torch.arange(half, dtype=torch.float64) * 2 / head_dim
    angles = positions.to(torch.float64)[..., None] / (theta ** exponents)  # [B, S, half]
    angles = torch.cat([angles, angles], dim=-1)
    return angles.cos().float()[:, None], angles.sin().float()[:, None]


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([-x2, x1], dim=-1)


def apply_rotary(x, cos, sin):
    return x * cos + rotate_half(x) * sin


def repeat_kv(x, groups):
    """[B, Hkv, T, Dh] → [B, Hkv·groups, T, Dh], each key/value head repeated for adjacent query heads."""
    b, kv, t, dh = x.shape
    return x[:, :, None].expand(b, kv, groups, t, dh).reshape(b, kv * groups, t, dh)


def attention(x, w, adapter, p, c, cos, sin, allowed):
    bsz, s, _ = x.shape
    h, kv, hd = c["num_attention_heads"], c["num_key_value_heads"], c["head_dim"]

    def proj(name, heads):
        return lora_linear(x, w[f"{p}self_attn.{name}.weight"], adapter, f"{p}self_attn.{name}").view(bsz, s, heads, hd).transpose(1, 2)

    q = apply_rotary(proj("q_proj", h), cos, sin)
    k = repeat_kv(apply_rotary(proj("k_proj", kv), cos, sin), h // kv)
    v = repeat_kv(proj("v_proj", kv), h // kv)
    scores = q @ k.transpose(-1, -2) / math.sqrt(hd)
    scores = torch.where(allowed, scores, torch.tensor(MASKED_SCORE, dtype=scores.dtype))
    out = torch.softmax(scores, dim=-1) @ v  # [B, H, S, Dh]
    out = out.transpose(1, 2).reshape(bsz, s, h * hd)
    return lora_linear(out, w[f"{p}self_attn.o_proj.weight"], adapter, f"{p}self_attn.o_proj")


def mlp(x, w, adapter, p):
    def proj(name, inp):
        return lora_linear(inp, w[f"{p}mlp.{name}.weight"], adapter, f"{p}mlp.{name}")

    return proj("down_proj", torch.nn.functional.silu(proj("gate_proj", x)) * proj("up_proj", x))


def forward(w, adapter, c, input_ids, mask):
    """(hidden_states: L + 1 tensors, logits)."""
    s = input_ids.shape[1]
    cos, sin = rotary_tables(positions_from_mask(mask), c["head_dim"], c["rope_theta"])
    causal = torch.ones(s, s, dtype=torch.bool).tril()
    allowed = (causal[None] & mask.bool()[:, None, :])[:, None]  # [B, 1, S(query), S(key)]
    h = w["model.embed_tokens.weight"][input_ids]
    hidden = [h]
    layers = c["num_hidden_layers"]
    for i in range(layers):
        p = f"model.layers.{i}."
        eps = c["rms_norm_eps"]
        h = h + attention(rms_norm(h, w[p + "input_layernorm.weight"], eps), w, adapter, p, c, cos, sin, allowed)
        h = h + mlp(rms_norm(h, w[p + "post_attention_layernorm.weight"], eps), w, adapter, p)
        if i < layers - 1:
            hidden.append(h)
    last = rms_norm(h, w["model.norm.weight"], c["rms_norm_eps"])
    hidden.append(last)
    return hidden, last @ w["lm_head.weight"].t()


def lm_loss(logits, labels):
    """Next-token cross-entropy: logits[:, :-1] against labels[:, 1:], mean over targets ≠ −100."""
    v = logits.shape[-1]
    return torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, v), labels[:, 1:].reshape(-1), ignore_index=-100)


# ------------------------------------------------------------------------------------------------

def batch(c: dict, g: torch.Generator):
    """Two rows of 9 tokens: the first full, the second left-padded by 3 (pad id 0)."""
    s, pad = 9, 3
    ids = torch.randint(1, c["vocab_size"], (2, s), generator=g)
    mask = torch.ones(2, s, dtype=torch.int64)
    mask[1, :pad] = 0
    ids[1, :pad] = 0
    labels = ids.clone()
    labels[mask == 0] = -100
    labels[0, 4] = -100  # a few real positions ignored too (e.g. a prompt)
    labels[1, pad + 1] = -100
    return ids, mask, labels


def record(fixtures_dir: str) -> list:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(20251124)
    c = CONFIG
    base = init_base(c, g)
    adapters = {name: init_adapter(c, g) for name in ADAPTERS}
    ids, mask, labels = batch(c, g)

    tensors = {f"weights.{k}": v for k, v in base.items()}
    for name, ad in adapters.items():
        tensors.update({f"adapter.{name}.{k}": v.clone() for k, v in ad.items()})
    tensors.update({"input_ids": ids, "attention_mask": mask, "labels": labels})

    # Base frozen; both adapters are leaves that could take a gradient; only the active one is used.
    for ad in adapters.values():
        for t in ad.values():
            t.requires_grad_(True)
    active = adapters[ACTIVE]
    hidden, logits = forward(base, active, c, ids, mask)
    loss = lm_loss(logits, labels)
    loss.backward()
    for j, hs in enumerate(hidden):
        tensors[f"hidden_states.{j}"] = hs.detach()
    tensors["logits"] = logits.detach()
    tensors["loss"] = loss.detach()
    for k, t in active.items():
        tensors[f"grad.{k}"] = t.grad.detach().clone()
    assert all(t.grad is None for t in adapters[INACTIVE].values()), "the inactive adapter got a gradient"
    assert all(not t.requires_grad and t.grad is None for t in base.values()), "the base got a gradient"

    with torch.no_grad():
        tensors["logits_base"] = forward(base, None, c, ids, mask)[1]
        tensors["logits_other"] = forward(base, adapters[INACTIVE], c, ids, mask)[1]

    # AdamW on the active adapter only, from the same starting values.
    for t in active.values():
        t.grad = None
    params = list(active.values())
    opt = torch.optim.AdamW(params, lr=ADAMW["lr"], betas=tuple(ADAMW["betas"]), eps=ADAMW["eps"],
                            weight_decay=ADAMW["weight_decay"])
    losses = []
    for _ in range(STEPS):
        opt.zero_grad(set_to_none=True)
        step_loss = lm_loss(forward(base, active, c, ids, mask)[1], labels)
        step_loss.backward()
        opt.step()
        losses.append(step_loss.detach())
    tensors["train.losses"] = torch.stack(losses)
    tensors.update({f"trained.{k}": v.detach().clone() for k, v in active.items()})
    assert all(t.grad is None for t in adapters[INACTIVE].values())

    meta = {
        "config": json.dumps(c), "lora": json.dumps(LORA), "adapters": json.dumps(ADAPTERS),
        "active": ACTIVE, "inactive": INACTIVE, "adamw": json.dumps(ADAMW), "steps": str(STEPS),
        "inactive_grads": "none", "base_grads": "none", "torch": torch.__version__,
    }
    path = os.path.join(fixtures_dir, "model", "mistral_tiny.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    safetensors_io.write(path, tensors, meta)
    return [path]
