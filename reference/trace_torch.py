"""The PyTorch side of `clara compare`: trace a Hugging Face Mistral + PEFT checkpoint on the same
inputs as `clara trace`, and write the same names, so that checking this project against your own
PyTorch model is two commands:

    npx clara trace --mode stage3 --model DIR --mem-ids 32000,32001,... --inputs IN --out ours.safetensors
    /usr/bin/python3 reference/trace_torch.py --mode stage3 --model DIR --inputs IN --out torch.safetensors
    npx clara compare ours.safetensors torch.safetensors

The checkpoint is read from its files, with torch alone (no transformers, no peft): DIR holds
config.json and model.safetensors (or shards with model.safetensors.index.json), and the adapters
are PEFT folders (adapter_config.json, adapter_model.safetensors) under DIR/adapters/<name>/ or,
as PEFT's multi-adapter save_pretrained writes them, DIR/<name>/. The model is record_mistral.py's
plain-PyTorch Mistral with LoRA (imported, so the fixtures and this script share one definition),
scaled per adapter by its own lora_alpha / r. Inputs and outputs are those of `clara trace`
(clara/model/trace.ts and clara/traceStep.ts document them); the decoder mode reads input_ids
(not inputs_embeds), and stage 3 uses the straight-through top-k (the official estimator).

Usage: trace_torch.py [--mode decoder|compressor|stage1|stage3] --model DIR [--adapters DIR] --inputs FILE
                      --out FILE [--adapter NAME] [--mem-ids I,J,...] [--mse-weight X] [--k K] [--temperature T]
The <MEMi> ids give n and mark the generator's slots (k defaults to the slots of a generator row).
"""
import argparse
import json
import os

import torch
import torch.nn.functional as F

import record_clara_stage1 as s1
import record_clara_stage3 as s3
import record_mistral as rm
import safetensors_io

PEFT_PREFIX = "base_model.model."
EMBED = "model.embed_tokens.weight"


# ------------------------------------------------------------------------------------------------
# the checkpoint

def read_weights(model_dir: str) -> dict:
    single = os.path.join(model_dir, "model.safetensors")
    if os.path.exists(single):
        return {k: v.float() for k, v in safetensors_io.read(single)[0].items()}
    with open(os.path.join(model_dir, "model.safetensors.index.json"), encoding="utf-8") as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
    weights = {}
    for shard in shards:
        weights.update({k: v.float() for k, v in safetensors_io.read(os.path.join(model_dir, shard))[0].items()})
    return weights


def read_config(model_dir: str) -> dict:
    with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as f:
        c = json.load(f)
    c.setdefault("head_dim", c["hidden_size"] // c["num_attention_heads"])
    c.setdefault("rope_theta", 10000.0)
    return c


def find_adapters(adapters_dir: str) -> dict:
    """name -> folder, from <dir>/adapters/<name>/ first, then PEFT's <dir>/<name>/."""
    found = {}
    for parent in (os.path.join(adapters_dir, "adapters"), adapters_dir):
        if not os.path.isdir(parent):
            continue
        for name in sorted(os.listdir(parent)):
            folder = os.path.join(parent, name)
            if name not in found and all(os.path.exists(os.path.join(folder, f)) for f in ("adapter_config.json", "adapter_model.safetensors")):
                found[name] = folder
    return found


def read_adapter(folder: str) -> dict:
    """{"config": {r, alpha}, "tensors": {<our key>: tensor}}: PEFT's keys without the prefix and adapter name."""
    with open(os.path.join(folder, "adapter_config.json"), encoding="utf-8") as f:
        cfg = json.load(f)
    tensors = {}
    for key, value in safetensors_io.read(os.path.join(folder, "adapter_model.safetensors"))[0].items():
        key = key[len(PEFT_PREFIX):] if key.startswith(PEFT_PREFIX) else key
        parts = key.split(".")
        if len(parts) >= 3 and parts[-3] in ("lora_A", "lora_B"):  # ….lora_A.<adapter>.weight
            parts = parts[:-2] + parts[-1:]
        tensors[".".join(parts)] = value.float()
    return {"config": {"r": cfg["r"], "alpha": cfg["lora_alpha"], "dropout": 0.0}, "tensors": tensors}


def peft_name(adapter: str, key: str) -> str:
    """PEFT's multi-adapter parameter name (…lora_A.<adapter>.weight)."""
    head, which, weight = key.rsplit(".", 2)
    return f"{PEFT_PREFIX}{head}.{which}.{adapter}.{weight}"


# ------------------------------------------------------------------------------------------------
# the model, per adapter

def forward(base, adapter, c, embeds, mask):
    """Last post-norm states and logits. record_mistral's LoRA reads its scale from rm.LORA: set it
    to this adapter's (one adapter is active in each forward)."""
    rm.LORA = adapter["config"]
    return s1.forward_embeds(base, adapter["tensors"], c, embeds, mask)


def compressor(base, adapter, c, ids, mask, n):
    """(compressed [rows, n, d], the last states [rows, T + n, d])."""
    hidden, _ = forward(base, adapter, c, base[EMBED][ids], mask)
    return hidden[:, ids.shape[1] - n:], hidden


def mse_term(compressed, hidden, mask):
    """mu_mem, mu_doc, mse (clara/memoryMseLoss.ts), from the compressor's states; mu_mem from
    `compressed` itself, so that its gradient holds the MSE term too."""
    text = hidden.shape[1] - compressed.shape[1]
    mu_mem = compressed.mean(1)
    doc_mask = mask[:, :text].to(hidden.dtype)[..., None]
    mu_doc = (hidden[:, :text] * doc_mask).sum(1) / doc_mask.sum(1).clamp(min=1)
    return mu_mem, mu_doc, ((mu_doc - mu_mem) ** 2).mean()


def read_step(base, adapter, c, gen, mem_ids, n, compressed):
    """The generator's read step: spliced embeddings, its last states, logits, ce (from the logits)."""
    ids, mask, labels = gen["input_ids"], gen["attention_mask"], gen["labels"]
    is_mem = torch.isin(ids, torch.tensor(mem_ids)) & mask.bool()
    rows, cols = is_mem.nonzero(as_tuple=True)  # row-major: slot j of row b holds document b·k + j
    spliced = base[EMBED][ids].index_put((rows, cols), compressed.reshape(-1, compressed.shape[-1]))
    hidden, logits = forward(base, adapter, c, spliced, mask)
    return spliced, hidden, logits, rm.lm_loss(logits, labels)


def trace_decoder(c, base, adapters, inputs, active):
    """Decoder mode: hidden_states.{i}, logits, loss; the active adapter's gradients under the keys
    without PEFT's prefix (clara/model/trace.ts's names)."""
    ids = inputs["input_ids"]
    mask = inputs.get("attention_mask", torch.ones_like(ids))
    adapter = adapters[active] if active else None
    if adapter is not None:
        rm.LORA = adapter["config"]
    hidden, logits = rm.forward(base, adapter["tensors"] if adapter else None, c, ids, mask)
    out = {f"hidden_states.{i}": h for i, h in enumerate(hidden)}
    out["logits"] = logits
    if "labels" not in inputs:
        return out, None, {}
    out["loss"] = rm.lm_loss(logits, inputs["labels"])
    return out, out["loss"], {f"grad.{key}": t for key, t in (adapter["tensors"].items() if adapter else [])}


def trace(mode, c, base, adapters, inputs, mem_ids, mse_weight, k, temperature):
    """(values in order, the loss, the adapters that train)."""
    n = len(mem_ids)
    out = {}
    group = lambda prefix: {key[len(prefix):]: v for key, v in inputs.items() if key.startswith(prefix)}
    if mode == "compressor":
        enc = group("")
        out["compressed"], hidden = compressor(base, adapters["encoder_adapter"], c, enc["input_ids"], enc["attention_mask"], n)
        out["mu_mem"], out["mu_doc"], out["mse"] = mse_term(out["compressed"], hidden, enc["attention_mask"])
        return out, out["mse"], ["encoder_adapter"]
    gen = group("generator.")
    if mode == "stage1":
        enc = group("encoder.")
        out["compressed"], hidden = compressor(base, adapters["encoder_adapter"], c, enc["input_ids"], enc["attention_mask"], n)
        out["mu_mem"], out["mu_doc"], out["mse"] = mse_term(out["compressed"], hidden, enc["attention_mask"])
        selected = out["compressed"]
        trained = ["encoder_adapter", "decoder_adapter"]
    else:
        qry, cand = group("query."), group("candidates.")
        q, _ = compressor(base, adapters["query_reasoner_adapter"], c, qry["input_ids"], qry["attention_mask"], n)
        out["q"] = q.reshape(q.shape[0], -1)
        with torch.no_grad():
            docs, _ = compressor(base, adapters["encoder_adapter"], c, cand["input_ids"], cand["attention_mask"], n)
        batch = q.shape[0]
        out["D"] = docs.reshape(batch, docs.shape[0] // batch, -1)
        out["s"] = (F.normalize(out["q"], dim=-1, eps=1e-12)[:, None] @ F.normalize(out["D"], dim=-1, eps=1e-12).transpose(1, 2)).squeeze(1)
        out["l"], _, out["H"], out["P"], out["W"] = s3.straight_through_topk(out["s"], k, temperature)
        selected = (out["W"] @ out["D"]).reshape(batch * k, n, -1)
        out["selected"] = selected
        trained = ["query_reasoner_adapter", "decoder_adapter"]
    out["spliced_embeddings"], out["generator_hidden"], out["logits"], out["ce"] = read_step(base, adapters["decoder_adapter"], c, gen, mem_ids, n, selected)
    out["loss"] = out["ce"] + mse_weight * out["mse"] if mode == "stage1" else out["ce"]
    return out, out["loss"], trained


def run(model_dir, adapters_dir, inputs_file, out_file, mode, mem_ids=(), mse_weight=0.1, k=None, temperature=0.02, adapter=None):
    """Traces one step and writes `out_file` (the names of clara/traceStep.ts)."""
    torch.set_num_threads(1)
    c = read_config(model_dir)
    base = read_weights(model_dir)
    adapters = {name: read_adapter(folder) for name, folder in find_adapters(adapters_dir or model_dir).items()}
    inputs, metadata = safetensors_io.read(inputs_file)
    inputs = {name: t.long() for name, t in inputs.items()}
    if k is None and "generator.input_ids" in inputs:
        k = int(torch.isin(inputs["generator.input_ids"][0], torch.tensor(mem_ids)).sum()) // len(mem_ids)
    for name, ad in adapters.items():
        for t in ad["tensors"].values():
            t.requires_grad_(True)
    active = adapter or metadata.get("adapter")
    if mode == "decoder" and active == "all":
        # Each adapter in turn, named as `clara trace --adapter all` names them.
        values, leaves, losses = {}, {}, []
        for name in sorted(adapters):
            v, l, g = trace_decoder(c, base, adapters, inputs, name)
            values.update({f"{name}.{key}": t for key, t in v.items()})
            leaves.update({f"grad.{peft_name(name, key[5:])}": t for key, t in g.items()})
            losses.append(l)
        loss = sum(losses) if None not in losses else None  # the adapters' graphs are disjoint
    elif mode == "decoder":
        values, loss, leaves = trace_decoder(c, base, adapters, inputs, active)
    else:
        base[EMBED].requires_grad_(mode == "stage1")  # stage 1 trains the <MEMi> rows of the table
        values, loss, trained = trace(mode, c, base, adapters, inputs, mem_ids, mse_weight, k, temperature)
        for name, t in values.items():
            if t.requires_grad:
                t.retain_grad()
        leaves = {f"grad.{peft_name(a, key)}": t for a in trained for key, t in adapters[a]["tensors"].items()}
    if loss is not None:
        loss.backward()
    tensors = {name: t.detach().clone().float() for name, t in values.items()}
    for name, t in values.items():
        if mode != "decoder" and t.grad is not None:
            tensors[f"grad.{name}"] = t.grad.detach().clone()
    for name, t in leaves.items():
        if t.grad is not None:
            tensors[name] = t.grad.detach().clone()
    if mode == "stage1":
        tensors["grad.model.embed_tokens.weight.mem_rows"] = base[EMBED].grad[list(mem_ids)].clone()
    safetensors_io.write(out_file, tensors, {"mode": mode, "order": json.dumps(list(tensors)), "torch": torch.__version__})
    return out_file


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", choices=["decoder", "compressor", "stage1", "stage3"], default="decoder")
    p.add_argument("--model", required=True)
    p.add_argument("--adapters")
    p.add_argument("--inputs", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--adapter", help="decoder mode: the active adapter, or all (default: the inputs' metadata 'adapter')")
    p.add_argument("--mem-ids", default="", help="the <MEMi> token ids, comma-separated (the step modes)")
    p.add_argument("--mse-weight", type=float, default=0.1)
    p.add_argument("--k", type=int)
    p.add_argument("--temperature", type=float, default=0.02)
    a = p.parse_args()
    mem_ids = [int(x) for x in a.mem_ids.split(",") if x]
    if a.mode != "decoder" and not mem_ids:
        p.error(f"--mode {a.mode} needs --mem-ids")
    print(run(a.model, a.adapters, a.inputs, a.out, a.mode, mem_ids, a.mse_weight, a.k, a.temperature, a.adapter))


if __name__ == "__main__":
    main()
