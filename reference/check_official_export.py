"""Loads a folder in the released CLaRa layout as apple/ml-clara's `CLaRa.from_pretrained` does, in
torch only, and checks what it computes against test/fixtures/clara/official/expected.safetensors.

This is the other half of `clara export --format official`: the TypeScript tests prove the export of
the tiny checkpoint is bit-identical to the files PyTorch wrote; this script proves the official
loading logic accepts the exported files themselves (torch.load with weights_only=True, the
adapters' keys through `load_adapter`'s prefix stripping and PEFT's name insertion, the first/last
layers through `load_state_dict`) and gets the recorded numbers from them.

Usage: /usr/bin/python3 reference/check_official_export.py EXPORTED_DIR [BASE_DIR]
(BASE_DIR defaults to test/fixtures/clara/official/base). Prints the largest differences; exits 1 on a mismatch.
"""
import json
import os
import sys

import torch

import record_mistral as rm
import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "test", "fixtures", "clara", "official")


def official_adapter_keys(state_dict, name):
    """transformers' load_adapter strips `base_model.model.`; PEFT's set_peft_model_state_dict puts the
    adapter name in (`lora_A.weight` → `lora_A.<name>.weight`, a key that already has it is kept)."""
    out = {}
    for key, value in state_dict.items():
        if key.startswith("base_model.model."):
            key = key[len("base_model.model."):]
        for ab in ("lora_A", "lora_B"):
            if f".{ab}.weight" in key:
                key = key.replace(f".{ab}.weight", f".{ab}.{name}.weight")
        out[key] = value
    return out


def main(exported, base_dir):
    config = json.load(open(os.path.join(exported, "config.json")))
    assert config["model_type"] == "CLaRa"
    base_config = json.load(open(os.path.join(base_dir, "config.json")))
    index = json.load(open(os.path.join(base_dir, "model.safetensors.index.json")))
    weights = {}
    for shard in sorted(set(index["weight_map"].values())):
        weights.update(safetensors_io.read(os.path.join(base_dir, shard))[0])
    # resize_token_embeddings happens, then load_state_dict(first_last, strict=False) overwrites the tables.
    first_last = torch.load(os.path.join(exported, "decoder_first_last_layers.pth"), weights_only=True)
    n = config["doc_max_length"] // config["compr_rate"]
    for key, value in first_last.items():
        assert value.shape[0] == base_config["vocab_size"] + n + 3, key
        weights[key] = value
    adapters = torch.load(os.path.join(exported, "adapters.pth"), weights_only=True)
    loaded = {name: official_adapter_keys(sd, name) for name, sd in adapters.items()}
    assert config.get("pure_inference") or config["training_stage"] != "stage1_2", "the official loader would drop decoder_adapter"
    assert config["lora_r"] * 2 == rm.LORA["alpha"] and config["lora_r"] == rm.LORA["r"]
    w = {k: v.float() for k, v in weights.items()}
    # Back to the keys record_mistral's functional model reads.
    a = {name: {k.replace(f".{name}.weight", ".weight"): v.float() for k, v in sd.items()} for name, sd in loaded.items()}
    c = dict(rm.CONFIG)
    expected, _ = safetensors_io.read(os.path.join(FIXTURE, "expected.safetensors"))
    worst = {}
    h, _ = rm.forward(w, a["encoder_adapter"], c, expected["encoder.input_ids"], expected["encoder.attention_mask"])
    worst["compressed"] = (h[-1][:, -n:] - expected["compressed"]).abs().max().item()
    hq, _ = rm.forward(w, a["query_reasoner_adapter"], c, expected["query.input_ids"], expected["query.attention_mask"])
    worst["query"] = (hq[-1][:, -n:] - expected["query"]).abs().max().item()
    _, logits = rm.forward(w, a["decoder_adapter"], c, expected["generator.input_ids"], expected["generator.attention_mask"])
    worst["logits"] = (logits - expected["logits"]).abs().max().item()
    print(json.dumps(worst))
    return 0 if max(worst.values()) <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else os.path.join(FIXTURE, "base")))
