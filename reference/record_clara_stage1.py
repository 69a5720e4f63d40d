"""CLaRa stage-1 golden state: one salient-compressor-pretraining step (spec §2–4) in plain PyTorch.

Writes test/fixtures/clara/stage1_tiny.safetensors, which test/clara/stage1/golden.test.ts replays on
every backend through the library (compressDocuments, memoryMseLoss, spliceCompressed,
compressionLoss, prepareCompressionStage). The backbone is record_mistral.py's plain-PyTorch Mistral
with LoRA (its building blocks are imported, so the two fixtures share one definition of the model),
on the `tiny` config, with a compact vocabulary of 64 ids laid out as clara/tokenizer/compactTokenizer.ts
lays them out for 54 kept pieces and n = 4:

  0 <unk>, 1 <s> (also the pad id), 2 </s>, 3…56 ordinary tokens,
  57…60 <MEM0>…<MEM3>, 61 <AE>, 62 <ENC>, 63 <SEP>.

The step, exactly what clara/compressionLoss.ts computes:
  encoder rows   [pad … | <ENC> <s> t… </s> | <MEM0> … <MEM3>], left padding to the longest document
  compressor     forward with encoder_adapter; h = last layer's output after the final RMSNorm
  compressed     h at the 4 memory positions  [docs, n, d]
  mu_mem, mu_doc means of h over the memory positions, and over every other non-pad position
  L_mse          mean over docs and d of (mu_doc − mu_mem)²
  generator rows `<s> p… <MEM0>…<MEM3><SEP> p… a… </s>` (one slot), labels −100 on the prompt,
                 left padding (pad id 1, label −100)
  splice         token embeddings of the generator rows with the memory positions overwritten by
                 the compressed vectors (index_put: no gradient reaches the overwritten rows)
  generator      forward with decoder_adapter on the spliced embeddings → logits
  L_ce           next-token cross-entropy, logits[:, :-1] against labels[:, 1:], mean over kept targets
  L              L_ce + 0.1 · L_mse
Trained (spec §4): both adapters, and the <MEMi> rows of the embedding table only. The whole table
takes part in autograd; its gradient is then masked to the memory rows, as the trainer does with
Parameter.setTrainableRows. Base weights and lm_head are frozen (no gradient at all).

Tensors in the file (float32 unless said):
  weights.<hf name>                      every base weight
  adapter.<name>.<peft key>              encoder_adapter and decoder_adapter, A and B both non-zero
  encoder.input_ids, encoder.attention_mask   int64 [docs, T + n]
  encoder.memory_positions               int64 [docs, n]
  generator.input_ids, generator.attention_mask, generator.labels   int64 [B, L]
  generator.memory_positions             int64 [B, 1, n]
  encoder.hidden [docs, T + n, d]        the compressor's last post-norm states
  compressed [docs, n, d], mu_mem [docs, d], mu_doc [docs, d], mse []
  spliced_embeds [B, L, d], logits [B, L, V], ce [], loss []
  grad.<adapter>.<peft key>              dL/d(every A and B of both adapters)
  grad.embed_tokens [V, d]               dL/dE with every non-memory row zero (what trains)
  grad.embed_tokens_unmasked [V, d]      dL/dE before the mask (every row the step touched)
  mse_grad.encoder_adapter.<peft key>, mse_grad.embed_tokens_unmasked
                                         d L_mse / d(…) alone: the MSE term's own gradient, which
                                         the 0.1 weight would otherwise make hard to see in grad.*
Metadata (JSON strings): config, lora, adapters, special (ids), mse_weight, n_mem, doc_max_length,
compression_rate, and "base_grads" = "none" (every frozen weight's .grad stayed None).
"""
import json
import os

import torch

import record_mistral as rm
import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = [os.path.join(HERE, f) for f in ("record_clara_stage1.py", "record_mistral.py", "safetensors_io.py")]

CONFIG = dict(rm.CONFIG)  # the tiny preset, vocab_size 64
LORA = {"r": 4, "alpha": 8, "dropout": 0.0}
ADAPTERS = ["encoder_adapter", "decoder_adapter"]
N_MEM = 4
DOC_MAX_LENGTH = 16
COMPRESSION_RATE = 4  # n = 16 / 4 = 4
MSE_WEIGHT = 0.1
UNK, BOS, EOS, PAD = 0, 1, 2, 1
MEM = [57, 58, 59, 60]
AE, ENC, SEP = 61, 62, 63
FIRST_ORDINARY, LAST_ORDINARY = 3, 56
EMBED = "model.embed_tokens.weight"


def forward_embeds(w, adapter, c, embeds, mask):
    """record_mistral.forward, from input embeddings: (last post-norm states, logits)."""
    s = embeds.shape[1]
    cos, sin = rm.rotary_tables(rm.positions_from_mask(mask), c["head_dim"], c["rope_theta"])
    causal = torch.ones(s, s, dtype=torch.bool).tril()
    allowed = (causal[None] & mask.bool()[:, None, :])[:, None]
    h = embeds
    eps = c["rms_norm_eps"]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = h + rm.attention(rm.rms_norm(h, w[p + "input_layernorm.weight"], eps), w, adapter, p, c, cos, sin, allowed)
        h = h + rm.mlp(rm.rms_norm(h, w[p + "post_attention_layernorm.weight"], eps), w, adapter, p)
    last = rm.rms_norm(h, w["model.norm.weight"], eps)
    return last, last @ w["lm_head.weight"].t()


def ordinary(g, count):
    return torch.randint(FIRST_ORDINARY, LAST_ORDINARY + 1, (count,), generator=g).tolist()


def encoder_batch(docs):
    """[pad … | <ENC> <s> t… </s> | <MEM…>], padded to the longest document ('longest')."""
    rows = [[ENC, BOS, *d, EOS] for d in docs]
    width = max(len(r) for r in rows)
    ids, mask = [], []
    for r in rows:
        pad = width - len(r)
        ids.append([PAD] * pad + r + MEM)
        mask.append([0] * pad + [1] * (len(r) + N_MEM))
    positions = [[width + i for i in range(N_MEM)] for _ in rows]
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(positions)


def generator_row(prefix, suffix, answer):
    """`<s> prefix <MEM…><SEP> suffix` is the prompt; `answer </s>` is supervised."""
    prompt = [BOS, *prefix, *MEM, SEP, *suffix]
    ids = prompt + answer + [EOS]
    labels = [-100] * len(prompt) + answer + [EOS]
    slot = [1 + len(prefix) + i for i in range(N_MEM)]
    return ids, labels, slot


def generator_batch(rows):
    width = max(len(r[0]) for r in rows)
    ids, mask, labels, positions = [], [], [], []
    for r_ids, r_labels, slot in rows:
        pad = width - len(r_ids)
        ids.append([PAD] * pad + r_ids)
        mask.append([0] * pad + [1] * len(r_ids))
        labels.append([-100] * pad + r_labels)
        positions.append([[p + pad for p in slot]])
    return torch.tensor(ids), torch.tensor(mask), torch.tensor(labels), torch.tensor(positions)


def record(fixtures_dir: str) -> list:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(20251125)
    c = CONFIG
    base = rm.init_base(c, g)
    adapters = {name: rm.init_adapter(c, g) for name in ADAPTERS}

    # Two documents of different lengths (the second is left-padded), each read by one generator row.
    docs = [ordinary(g, 7), ordinary(g, 3)]
    enc_ids, enc_mask, enc_pos = encoder_batch(docs)
    gen_ids, gen_mask, labels, gen_pos = generator_batch([
        generator_row(ordinary(g, 3), ordinary(g, 2), ordinary(g, 4)),
        generator_row(ordinary(g, 1), ordinary(g, 1), ordinary(g, 2)),
    ])
    n_docs, width = enc_ids.shape
    text_len = width - N_MEM

    tensors = {f"weights.{k}": v.clone() for k, v in base.items()}
    for name, ad in adapters.items():
        tensors.update({f"adapter.{name}.{k}": v.clone() for k, v in ad.items()})
    tensors.update({
        "encoder.input_ids": enc_ids, "encoder.attention_mask": enc_mask, "encoder.memory_positions": enc_pos,
        "generator.input_ids": gen_ids, "generator.attention_mask": gen_mask, "generator.labels": labels,
        "generator.memory_positions": gen_pos,
    })

    # What trains: both adapters and (through a row mask applied afterwards) the embedding table.
    for ad in adapters.values():
        for t in ad.values():
            t.requires_grad_(True)
    embed = base[EMBED].requires_grad_(True)
    enc_ad, dec_ad = adapters["encoder_adapter"], adapters["decoder_adapter"]

    # Compressor.
    hidden, _ = forward_embeds(base, enc_ad, c, embed[enc_ids], enc_mask)
    assert (enc_pos == torch.arange(text_len, width)).all()
    compressed = hidden[:, text_len:]
    # MSE term.
    mu_mem = compressed.mean(1)
    doc_mask = enc_mask[:, :text_len].to(hidden.dtype)[..., None]
    mu_doc = (hidden[:, :text_len] * doc_mask).sum(1) / doc_mask.sum(1)
    mse = ((mu_doc - mu_mem) ** 2).mean()
    # Splice (slot 0 of row b gets document b) and the generator.
    d = c["hidden_size"]
    rows = torch.arange(gen_ids.shape[0])[:, None].expand(-1, N_MEM).reshape(-1)
    cols = gen_pos[:, 0].reshape(-1)
    spliced = embed[gen_ids].index_put((rows, cols), compressed.reshape(-1, d))
    _, logits = forward_embeds(base, dec_ad, c, spliced, gen_mask)
    ce = rm.lm_loss(logits, labels)
    loss = ce + MSE_WEIGHT * mse

    # The MSE term's own gradient, then the whole step's.
    enc_keys = list(enc_ad.keys())
    mse_grads = torch.autograd.grad(mse, [enc_ad[k] for k in enc_keys] + [embed], retain_graph=True)
    assert all(t.grad is None for t in dec_ad.values())
    loss.backward()

    for name, value in {"encoder.hidden": hidden, "compressed": compressed, "mu_mem": mu_mem, "mu_doc": mu_doc,
                        "mse": mse, "spliced_embeds": spliced, "logits": logits, "ce": ce, "loss": loss}.items():
        tensors[name] = value.detach().clone()
    for name, ad in adapters.items():
        for k, t in ad.items():
            assert t.grad is not None and t.grad.abs().max() > 0, f"{name}.{k} got no gradient"
            tensors[f"grad.{name}.{k}"] = t.grad.detach().clone()
    for k, gr in zip(enc_keys, mse_grads[:-1]):
        tensors[f"mse_grad.encoder_adapter.{k}"] = gr.detach().clone()
    tensors["mse_grad.embed_tokens_unmasked"] = mse_grads[-1].detach().clone()
    full = embed.grad.detach().clone()
    row_mask = torch.zeros(c["vocab_size"], 1, dtype=torch.bool)
    row_mask[MEM] = True
    tensors["grad.embed_tokens_unmasked"] = full
    tensors["grad.embed_tokens"] = torch.where(row_mask, full, torch.zeros_like(full))
    assert full[MEM].abs().min() > 0, "every memory row should get a gradient (through the compressor)"
    assert all(t.grad is None for k, t in base.items() if k != EMBED), "a frozen weight got a gradient"

    meta = {
        "config": json.dumps(c), "lora": json.dumps(LORA), "adapters": json.dumps(ADAPTERS),
        "special": json.dumps({"unk": UNK, "bos": BOS, "eos": EOS, "pad": PAD, "mem": MEM, "ae": AE, "enc": ENC, "sep": SEP}),
        "mse_weight": str(MSE_WEIGHT), "n_mem": str(N_MEM), "doc_max_length": str(DOC_MAX_LENGTH),
        "compression_rate": str(COMPRESSION_RATE), "base_grads": "none", "torch": torch.__version__,
    }
    path = os.path.join(fixtures_dir, "clara", "stage1_tiny.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    safetensors_io.write(path, tensors, meta)
    return [path]
