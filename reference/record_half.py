"""16-bit weights: what PyTorch computes from bfloat16 and float16 weights read as float32.

Writes test/fixtures/half/half_weights.safetensors, which test/engine/halfWeights.test.ts replays
on every backend. The engine keeps a checkpoint's bf16 / f16 weights 16-bit and widens each
element as a kernel reads it (engine/dtype.ts); PyTorch's semantics for that is `w.float()`
(exact) followed by the float32 op, which is what is recorded here:

  linear      out = x @ w.float().t()              x float32 [m, k], w 16-bit [n, k]
              grad_x = upstream @ w.float()        (w is frozen: no gradient for it)
  embedding   out = embedding(ids, w.float())      ids int64 [s], w 16-bit [v, d]
  widened     w.float()                            every weight above, element by element

Per format f in {bf16, f16} and case i, tensors `{f}.linear{i}.{x,w,out,upstream,grad_x}` and
`{f}.embedding{i}.{ids,w,out}` (w stored as BF16 / F16, raw), `{f}.*.widened` beside each w.
The weights include the format's edge values: ±0, its smallest subnormal and largest finite
value, and (in the embedding tables, which are only moved) ±inf and NaN.
Shapes cover both matmul load paths (k a multiple of 4 and not), odd element counts (the WebGPU
backend packs two elements per 32-bit word) and a skinny product (n ≤ 16, m ≥ 64).
"""
import os

import torch

import safetensors_io

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCES = [os.path.join(HERE, f) for f in ("record_half.py", "safetensors_io.py")]

FORMATS = {"bf16": torch.bfloat16, "f16": torch.float16}

# [m, k, n]
LINEAR_SHAPES = [[3, 8, 5], [37, 64, 48], [2, 13, 7], [70, 40, 12], [5, 33, 17]]
# [v, d], ids length
EMBEDDING_SHAPES = [[5, 7, 6], [16, 32, 9]]


def edge_values(dtype: torch.dtype, with_non_finite: bool) -> torch.Tensor:
    info = torch.finfo(dtype)
    tiny_subnormal = torch.tensor([1], dtype=torch.int16).view(dtype)  # bit pattern 0x0001
    values = [torch.tensor([0.0, -0.0, info.max, -info.max, info.tiny], dtype=dtype), tiny_subnormal]
    if with_non_finite:
        values.append(torch.tensor([float("inf"), float("-inf"), float("nan")], dtype=dtype))
    return torch.cat(values)


def weight(shape: list, dtype: torch.dtype, g: torch.Generator, with_non_finite: bool) -> torch.Tensor:
    w = (torch.randn(shape, generator=g) * 0.5).to(dtype).flatten()
    edges = edge_values(dtype, with_non_finite)
    if not with_non_finite:
        # A matmul would spread the largest values into every output: scale them into range.
        edges = torch.where(edges.float().abs() > 1e4, edges * 0, edges)
    n = min(len(edges), len(w))
    w[:n] = edges[:n]
    return w[torch.randperm(len(w), generator=g)].reshape(shape)


def record(fixtures_dir: str) -> list:
    g = torch.Generator().manual_seed(20261207)
    tensors = {}
    for name, dtype in FORMATS.items():
        for i, (m, k, n) in enumerate(LINEAR_SHAPES):
            key = f"{name}.linear{i}"
            x = torch.randn([m, k], generator=g)
            w = weight([n, k], dtype, g, with_non_finite=False)
            wide = w.float()
            x.requires_grad_(True)
            out = x @ wide.t()
            upstream = torch.randn(out.shape, generator=g)
            out.backward(upstream)
            tensors.update({
                f"{key}.x": x.detach(), f"{key}.w": w, f"{key}.widened": wide,
                f"{key}.out": out.detach(), f"{key}.upstream": upstream, f"{key}.grad_x": x.grad,
            })
        for i, (v, d, s) in enumerate(EMBEDDING_SHAPES):
            key = f"{name}.embedding{i}"
            w = weight([v, d], dtype, g, with_non_finite=True)
            ids = torch.randint(0, v, [s], generator=g)
            tensors.update({
                f"{key}.ids": ids, f"{key}.w": w, f"{key}.widened": w.float(),
                f"{key}.out": torch.nn.functional.embedding(ids, w.float()),
            })
    path = os.path.join(fixtures_dir, "half", "half_weights.safetensors")
    os.makedirs(os.path.dirname(path), exist_ok=True)
    safetensors_io.write(path, tensors, {"torch": torch.__version__})
    return [path]
