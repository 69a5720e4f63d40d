"""A tiny CLaRa checkpoint in exactly the released layout, and what PyTorch computes from it.

The released models (apple/CLaRa-7B-{Base,Instruct,E2E}, docs/clara.md §9) are a folder written by
`CLaRa.save_pretrained` in apple/ml-clara openrlhf/models/modeling_clara.py:
  config.json                     the CLaRaConfig (model_type "CLaRa", compr_rate, doc_max_length, …)
  adapters.pth                    torch.save({adapter name: decoder.get_adapter_state_dict(name)}), bf16
  decoder_first_last_layers.pth   torch.save({"model.embed_tokens.weight", "lm_head.weight"}), bf16,
                                  [V0 + n + 3, d]: the base rows and the added tokens' trained rows
plus the base model (Mistral) in its own folder: config.json and sharded bf16 safetensors with
model.safetensors.index.json. This recorder writes that layout with torch.save itself, on the tiny
backbone of record_mistral.py (V0 = 57 base tokens, n = doc_max_length / compr_rate = 16 / 4 = 4,
V = 64, LoRA r 4 / α 8 as lora_alpha = 2·lora_r), and the three adapters of an end-to-end model
(training_stage "stage2"), each saved with one of the key forms the official loader accepts:
  encoder_adapter          model.layers.{i}.….lora_A.weight (what get_adapter_state_dict returns)
  decoder_adapter          base_model.model.model.layers.{i}.….lora_A.weight (stripped by load_adapter)
  query_reasoner_adapter   model.layers.{i}.….lora_A.query_reasoner_adapter.weight (a named PEFT key)

Files under test/fixtures/clara/official/:
  checkpoint/{config.json, adapters.pth, decoder_first_last_layers.pth}
  base/{config.json, model-00001-of-00002.safetensors, model-00002-of-00002.safetensors,
        model.safetensors.index.json}
  expected.safetensors  (float32 unless said; every weight is the bf16 value widened, compute fp32)
    encoder.input_ids, encoder.attention_mask   int64 [docs, T + n]: two documents' compressor rows
    compressed [docs, n, d]                    compressor (encoder_adapter) memory states, post-norm
    query.input_ids, query.attention_mask      int64 [1, T + n]: a question's rows
    query [1, n, d]                            the query reasoner's (query_reasoner_adapter) vectors
    scores [1, docs]                           cosine of flattened query and documents
    generator.input_ids, generator.attention_mask  int64 [1, L]: a generator row whose <MEMi> ids
                                               stay ordinary tokens (their rows are the trained ones)
    logits [1, L, V]                           generator (decoder_adapter) logits
    greedy int64 [4]                           four greedy tokens after the generator row
    top1 int64 [1]                             the best-scoring document (top-k with k = 1)
    spliced_logits [1, L, V]                   the generator row with that document's compressed
                                               vectors over its <MEMi> slots (CLaRa's generation)
    answer int64 [4]                           four greedy tokens from those spliced embeddings
And test/fixtures/io/torch_save_zoo.pth (what torch.save does with views, transposes, parameters,
OrderedDicts and every dtype) with torch_save_zoo.safetensors holding each tensor contiguous under
"<group>/<key>", and torch_save_zoo_deflate_zip64.pth, the same archive re-packed with deflate and
zip64 records.
"""
import collections
import json
import os
import zipfile

import torch

import record_mistral as rm
import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = [os.path.join(HERE, f) for f in ("record_official_checkpoint.py", "record_mistral.py", "safetensors_io.py")]

BASE_VOCAB = 57
DOC_MAX_LENGTH, COMPR_RATE = 16, 4
N_MEM = DOC_MAX_LENGTH // COMPR_RATE
LORA_R = 4
BOS, EOS, PAD = 1, 2, 1
MEM = [BASE_VOCAB + i for i in range(N_MEM)]
AE, ENC, SEP = BASE_VOCAB + N_MEM, BASE_VOCAB + N_MEM + 1, BASE_VOCAB + N_MEM + 2
ADAPTERS = ["encoder_adapter", "decoder_adapter", "query_reasoner_adapter"]

# The CLaRaConfig fields save_pretrained writes (the defaults of CLaRaConfig, with this model's settings).
CLARA_CONFIG = {
    "architectures": ["CLaRa"], "auto_map": {"AutoConfig": "modeling_clara.CLaRaConfig", "AutoModel": "modeling_clara.CLaRa"},
    "model_type": "CLaRa", "decoder_model_name": "tiny/Mistral-tiny", "doc_max_length": DOC_MAX_LENGTH,
    "quantization": "no", "sep": True, "compr_model_name": None, "compr_rate": COMPR_RATE, "compr_n_layers": None,
    "compr_every_n_layer": None, "compr_base_model_name": "mistralai/Mistral-7B-Instruct-v0.2", "compr_rms_norm": False,
    "compr_mlp_hidden_dim": 8096, "compr_use_mlp": False, "compr_linear_type": "concat", "lora": True,
    "lora_compressor": False, "training_form": "both_separately", "training_stage": "stage2", "generation_top_k": 2,
    "lora_r": LORA_R, "lora_r_compressor": LORA_R, "load_adapters": True, "kbtc_training": False,
    "optimize_mem_tokens": True, "different_mem_tokens": True, "attn_implementation": None,
    "_attn_implementation_autoset": True, "ae_mode": "token", "max_new_tokens": 128, "stage2_retrieval_top_n": 1,
    "load_pretrained_checkpoint": False, "device_map": None, "torch_dtype": "bfloat16", "transformers_version": "4.56.0",
}


def bf16(t):
    return t.to(torch.bfloat16)


def widened(d):
    return {k: v.float() for k, v in d.items()}


def encoder_rows(docs):
    rows = [[ENC, BOS, *d, EOS] for d in docs]
    width = max(len(r) for r in rows)
    ids = [[PAD] * (width - len(r)) + r + MEM for r in rows]
    mask = [[0] * (width - len(r)) + [1] * (len(r) + N_MEM) for r in rows]
    return torch.tensor(ids), torch.tensor(mask)


def last_states(w, adapter, c, ids, mask):
    hidden, logits = rm.forward(w, adapter, c, ids, mask)
    return hidden[-1], logits


def forward_embeds(w, adapter, c, embeds):
    """record_mistral.forward from input embeddings (no padding): (last post-norm states, logits)."""
    mask = torch.ones(embeds.shape[:2], dtype=torch.int64)
    s = embeds.shape[1]
    cos, sin = rm.rotary_tables(rm.positions_from_mask(mask), c["head_dim"], c["rope_theta"])
    allowed = torch.ones(s, s, dtype=torch.bool).tril()[None, None]
    h, eps = embeds, c["rms_norm_eps"]
    for i in range(c["num_hidden_layers"]):
        p = f"model.layers.{i}."
        h = h + rm.attention(rm.rms_norm(h, w[p + "input_layernorm.weight"], eps), w, adapter, p, c, cos, sin, allowed)
        h = h + rm.mlp(rm.rms_norm(h, w[p + "post_attention_layernorm.weight"], eps), w, adapter, p)
    last = rm.rms_norm(h, w["model.norm.weight"], eps)
    return last, last @ w["lm_head.weight"].t()


def record_zoo(fixtures_dir):
    g = torch.Generator().manual_seed(7)
    base = torch.randn(6, 5, generator=g)
    zoo = {
        "plain": {
            "bf16": bf16(torch.randn(3, 4, generator=g)),
            "f16": torch.randn(2, 3, generator=g).half(),
            "f32": torch.randn(4, generator=g),
            "f64": torch.randn(2, 2, generator=g, dtype=torch.float64),
            "i64": torch.arange(-3, 5),
            "i32": torch.arange(6, dtype=torch.int32).view(2, 3),
            "u8": torch.arange(4, dtype=torch.uint8),
            "bool": torch.tensor([True, False, True]),
            "scalar": torch.tensor(2.5),
            "empty": torch.zeros(0, 3),
        },
        "views": collections.OrderedDict([
            ("transposed", base.t()),
            ("row", base[2]),
            ("column", base[:, 1]),
            ("window", base[1:4, 2:5]),
            ("shared", base),
            ("parameter", torch.nn.Parameter(torch.randn(2, 3, generator=g))),
        ]),
    }
    pth = os.path.join(fixtures_dir, "io", "torch_save_zoo.pth")
    os.makedirs(os.path.dirname(pth), exist_ok=True)
    torch.save(zoo, pth)
    # The same archive re-packed by Python's zipfile with deflate and forced zip64 records: torch never
    # writes these, other tools that re-pack a .pth may.
    deflated = os.path.join(fixtures_dir, "io", "torch_save_zoo_deflate_zip64.pth")
    with zipfile.ZipFile(pth) as src, zipfile.ZipFile(deflated, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            out = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            out.compress_type = zipfile.ZIP_DEFLATED
            with dst.open(out, "w", force_zip64=True) as f:
                f.write(src.read(info.filename))
    flat = {f"{group}/{key}": t.detach().contiguous() for group, d in zoo.items() for key, t in d.items()}
    st = os.path.join(fixtures_dir, "io", "torch_save_zoo.safetensors")
    safetensors_io.write(st, flat)
    return [pth, deflated, st]


def record(fixtures_dir: str) -> list:
    files = record_zoo(fixtures_dir)
    g = torch.Generator().manual_seed(20251207)
    c = dict(rm.CONFIG)
    root = os.path.join(fixtures_dir, "clara", "official")
    ckpt, base_dir = os.path.join(root, "checkpoint"), os.path.join(root, "base")
    os.makedirs(ckpt, exist_ok=True)
    os.makedirs(base_dir, exist_ok=True)

    # The base model: V0 rows; bf16 on disk in two shards, like Mistral's.
    base_c = dict(c, vocab_size=BASE_VOCAB)
    weights = rm.init_base(c, g)  # V rows: the first V0 are the base's, the rest the trained added rows
    base_w = {k: bf16(v[:BASE_VOCAB] if k in ("model.embed_tokens.weight", "lm_head.weight") else v) for k, v in weights.items()}
    names = sorted(base_w)
    shards = [names[: len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, part in enumerate(shards):
        shard = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        path = os.path.join(base_dir, shard)
        safetensors_io.write(path, {k: base_w[k] for k in part}, {"format": "pt"})
        files.append(path)
        weight_map.update({k: shard for k in part})
    total = sum(t.numel() * 2 for t in base_w.values())
    index = os.path.join(base_dir, "model.safetensors.index.json")
    with open(index, "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    config = os.path.join(base_dir, "config.json")
    with open(config, "w") as f:
        json.dump({"architectures": ["MistralForCausalLM"], "model_type": "mistral", "torch_dtype": "bfloat16", **base_c}, f, indent=2)
    files += [index, config]

    # The CLaRa folder.
    first_last = {k: bf16(weights[k]) for k in ("model.embed_tokens.weight", "lm_head.weight")}
    path = os.path.join(ckpt, "decoder_first_last_layers.pth")
    torch.save(first_last, path)
    files.append(path)
    adapters = {name: {k: bf16(v) for k, v in rm.init_adapter(c, g).items()} for name in ADAPTERS}
    saved = {
        "encoder_adapter": adapters["encoder_adapter"],
        "decoder_adapter": {"base_model.model." + k: v for k, v in adapters["decoder_adapter"].items()},
        "query_reasoner_adapter": {k.replace(".weight", ".query_reasoner_adapter.weight"): v for k, v in adapters["query_reasoner_adapter"].items()},
    }
    path = os.path.join(ckpt, "adapters.pth")
    torch.save(saved, path)
    files.append(path)
    path = os.path.join(ckpt, "config.json")
    with open(path, "w") as f:
        json.dump(CLARA_CONFIG, f, indent=2)
    files.append(path)

    # What the official model computes from these files, in float32 from the bf16 values.
    w = widened({**base_w, **first_last})
    a = {name: widened(ad) for name, ad in adapters.items()}
    docs = [torch.randint(3, BASE_VOCAB, (n,), generator=g).tolist() for n in (12, 7)]
    enc_ids, enc_mask = encoder_rows(docs)
    h, _ = last_states(w, a["encoder_adapter"], c, enc_ids, enc_mask)
    compressed = h[:, -N_MEM:]
    q_ids, q_mask = encoder_rows([torch.randint(3, BASE_VOCAB, (5,), generator=g).tolist()])
    hq, _ = last_states(w, a["query_reasoner_adapter"], c, q_ids, q_mask)
    query = hq[:, -N_MEM:]
    scores = torch.nn.functional.normalize(query.flatten(1), dim=-1, eps=1e-12) @ torch.nn.functional.normalize(compressed.flatten(1), dim=-1, eps=1e-12).t()
    gen = [BOS, *torch.randint(3, BASE_VOCAB, (4,), generator=g).tolist(), *MEM, SEP, *torch.randint(3, BASE_VOCAB, (3,), generator=g).tolist()]
    gen_ids, gen_mask = torch.tensor([gen]), torch.ones(1, len(gen), dtype=torch.int64)
    _, logits = last_states(w, a["decoder_adapter"], c, gen_ids, gen_mask)
    greedy, ids = [], gen_ids
    for _ in range(4):
        _, step = last_states(w, a["decoder_adapter"], c, ids, torch.ones_like(ids))
        nxt = int(step[0, -1].argmax())
        greedy.append(nxt)
        ids = torch.cat([ids, torch.tensor([[nxt]])], dim=1)
    # CLaRa's generation: the top-1 document's compressed vectors spliced over the <MEMi> slots
    # (the <SEP> kept), then greedy decoding from those embeddings.
    top = int(scores[0].argmax())
    slot = [1 + 4 + i for i in range(N_MEM)]
    embeds = w["model.embed_tokens.weight"][gen_ids].clone()
    embeds[0, slot] = compressed[top]
    _, spliced_logits = forward_embeds(w, a["decoder_adapter"], c, embeds)
    answer = []
    for _ in range(4):
        _, step = forward_embeds(w, a["decoder_adapter"], c, embeds)
        nxt = int(step[0, -1].argmax())
        answer.append(nxt)
        embeds = torch.cat([embeds, w["model.embed_tokens.weight"][torch.tensor([[nxt]])]], dim=1)
    path = os.path.join(root, "expected.safetensors")
    safetensors_io.write(path, {
        "encoder.input_ids": enc_ids, "encoder.attention_mask": enc_mask, "compressed": compressed.contiguous(),
        "query.input_ids": q_ids, "query.attention_mask": q_mask, "query": query.contiguous(), "scores": scores,
        "generator.input_ids": gen_ids, "generator.attention_mask": gen_mask, "logits": logits, "greedy": torch.tensor(greedy),
        "top1": torch.tensor([top]), "spliced_logits": spliced_logits, "answer": torch.tensor(answer),
    })
    files.append(path)
    return files
