"""An outside checkpoint, as a PyTorch user would hand it over, and its PyTorch traces.

Writes under test/fixtures/peft/:
  tiny/config.json, tiny/model.safetensors     a Hugging Face Mistral (the `tiny` config, vocab 64)
  tiny/<adapter>/adapter_config.json,
  tiny/<adapter>/adapter_model.safetensors     PEFT's multi-adapter save layout, for encoder_adapter,
                                               decoder_adapter and query_reasoner_adapter (keys
                                               base_model.model.model.layers.{i}.….lora_A.weight)
  {decoder,compressor,stage1,stage3}_inputs.safetensors  ids as `clara trace` reads them (int64;
                                               the decoder's metadata names decoder_adapter)
  {decoder,compressor,stage1,stage3}_torch.safetensors   trace_torch.py's traces of them
  decoder_all_torch.safetensors                  the decoder traced with each adapter in turn (--adapter all)
No file of this project's own format (clara.json, tokenizer.json, adapters/) is written: the test
loads it with `clara trace --mem-ids 57,58,59,60` and compares its trace with PyTorch's.
The vocabulary is record_clara_stage1.py's (<s> 1, </s> 2, <MEM0..3> 57..60, <ENC> 62, <SEP> 63).
"""
import json
import os

import torch

import record_clara_stage1 as s1
import record_clara_stage3 as s3
import record_mistral as rm
import safetensors_io
import trace_torch

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = [os.path.join(HERE, f) for f in
           ("record_peft_checkpoint.py", "trace_torch.py", "record_clara_stage1.py", "record_clara_stage3.py",
            "record_mistral.py", "safetensors_io.py")]

ADAPTERS = ["encoder_adapter", "decoder_adapter", "query_reasoner_adapter"]
LORA = {"r": 4, "alpha": 8}
K = 2
CANDIDATES = 3
TEMPERATURE = 0.5  # soft enough that P, and so the query reasoner's gradient, are not all 0 and 1


def write_json(path, value):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(value, f, indent=2, sort_keys=True)
        f.write("\n")


def write_checkpoint(root: str, g: torch.Generator) -> list:
    c = dict(rm.CONFIG)
    os.makedirs(root, exist_ok=True)
    files = [os.path.join(root, "config.json"), os.path.join(root, "model.safetensors")]
    write_json(files[0], {"architectures": ["MistralForCausalLM"], "model_type": "mistral", "bos_token_id": s1.BOS,
                          "eos_token_id": s1.EOS, "torch_dtype": "float32", **c})
    safetensors_io.write(files[1], rm.init_base(c, g), {"format": "pt"})
    for name in ADAPTERS:
        folder = os.path.join(root, name)
        os.makedirs(folder, exist_ok=True)
        tensors = {trace_torch.PEFT_PREFIX + k: v for k, v in rm.init_adapter(c, g).items()}
        safetensors_io.write(os.path.join(folder, "adapter_model.safetensors"), tensors, {"format": "pt"})
        write_json(os.path.join(folder, "adapter_config.json"), {
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": LORA["r"], "lora_alpha": LORA["alpha"], "lora_dropout": 0.0,
            "bias": "none", "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"],
            "base_model_name_or_path": "..", "inference_mode": False})
        files += [os.path.join(folder, "adapter_model.safetensors"), os.path.join(folder, "adapter_config.json")]
    return files


def inputs(g: torch.Generator) -> dict:
    """The three modes' inputs: two questions or documents of different lengths (left padding)."""
    docs = [s1.ordinary(g, 6), s1.ordinary(g, 3)]
    enc_ids, enc_mask, _ = s1.encoder_batch(docs)
    gen_ids, gen_mask, labels, _ = s1.generator_batch([
        s1.generator_row(s1.ordinary(g, 3), s1.ordinary(g, 2), s1.ordinary(g, 3)),
        s1.generator_row(s1.ordinary(g, 1), s1.ordinary(g, 1), s1.ordinary(g, 2)),
    ])
    q_ids, q_mask, _ = s1.encoder_batch([s1.ordinary(g, 4), s1.ordinary(g, 2)])
    c_ids, c_mask, _ = s1.encoder_batch([s1.ordinary(g, n) for n in (5, 2, 7, 3, 4, 6)])  # question b: rows 3b..3b+2
    g3_ids, g3_mask, labels3, _ = s3.generator_batch([
        s3.generator_row(s1.ordinary(g, 2), s1.ordinary(g, 2), s1.ordinary(g, 3), K),
        s3.generator_row(s1.ordinary(g, 1), s1.ordinary(g, 3), s1.ordinary(g, 2), K),
    ])
    return {
        "decoder": {"input_ids": gen_ids, "attention_mask": gen_mask, "labels": labels},
        "compressor": {"input_ids": enc_ids, "attention_mask": enc_mask},
        "stage1": {"encoder.input_ids": enc_ids, "encoder.attention_mask": enc_mask, "generator.input_ids": gen_ids,
                   "generator.attention_mask": gen_mask, "generator.labels": labels},
        "stage3": {"query.input_ids": q_ids, "query.attention_mask": q_mask, "candidates.input_ids": c_ids,
                   "candidates.attention_mask": c_mask, "generator.input_ids": g3_ids, "generator.attention_mask": g3_mask,
                   "generator.labels": labels3},
    }


def record(fixtures_dir: str) -> list:
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(20251207)
    out = os.path.join(fixtures_dir, "peft")
    root = os.path.join(out, "tiny")
    files = write_checkpoint(root, g)
    for mode, tensors in inputs(g).items():
        inputs_file = os.path.join(out, f"{mode}_inputs.safetensors")
        safetensors_io.write(inputs_file, tensors, {"adapter": "decoder_adapter"} if mode == "decoder" else None)
        trace_file = os.path.join(out, f"{mode}_torch.safetensors")
        trace_torch.run(root, None, inputs_file, trace_file, mode, s1.MEM, temperature=TEMPERATURE)
        files += [inputs_file, trace_file]
    # Every adapter of the checkpoint in one run (`clara trace --adapter all`).
    trace_file = os.path.join(out, "decoder_all_torch.safetensors")
    trace_torch.run(root, None, os.path.join(out, "decoder_inputs.safetensors"), trace_file, "decoder", adapter="all")
    return files + [trace_file]
