"""Recording "cases": run a function on inputs, keep inputs, outputs and input gradients.

One fixture file holds many cases of one function. For case i it stores
  c{i}.in{j}        the inputs, as given (float, int64 or bool tensors)
  c{i}.out          the output; or c{i}.out.{key} for several (a dict, or a list: keys 0, 1, ...)
  c{i}.upstream     a random upstream gradient for each float output (same suffixes as out)
  c{i}.grad{j}      d(Σ out · upstream)/d(in{j}) for every differentiable input j
and in __metadata__: "c{i}" → the case's attributes as JSON, "cases" → the number of cases, and
whatever the recorder adds. JSON has no inf or NaN, so attribute numbers that are not finite are
written as the strings "inf", "-inf" and "nan".

Everything runs in the inputs' own dtype (float32 for almost every case), as the engine does: the
point is to reproduce what PyTorch computes in float32, rounding included.
"""
import json
import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable

import torch

import safetensors_io


@dataclass
class Case:
    inputs: list
    attrs: dict = field(default_factory=dict)
    # Which inputs get a gradient; by default every floating-point input.
    grad: list | None = None


def encode_attr(value: Any) -> Any:
    """Attributes with inf/NaN spelled as strings, so the JSON stays standard."""
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (list, tuple)):
        return [encode_attr(v) for v in value]
    if isinstance(value, dict):
        return {k: encode_attr(v) for k, v in value.items()}
    return value


def named_outputs(out) -> list:
    """[(suffix, tensor)]: "" for a single output, ".key" for each of several."""
    if isinstance(out, torch.Tensor):
        return [("", out)]
    if isinstance(out, dict):
        return [(f".{k}", v) for k, v in out.items()]
    return [(f".{k}", v) for k, v in enumerate(out)]


def run_case(fn: Callable, case: Case, gen: torch.Generator, differentiable: bool) -> dict:
    """The tensors of one case, named without the c{i} prefix."""
    flags = case.grad if case.grad is not None else [t.is_floating_point() for t in case.inputs]
    if not differentiable:
        flags = [False] * len(case.inputs)
    # Fresh leaves: fn must not see (or change) the tensors we store as inputs.
    leaves = [t.detach().clone().requires_grad_(flag) for t, flag in zip(case.inputs, flags)]
    outputs = named_outputs(fn(leaves, case.attrs))

    tensors = {f"in{j}": t for j, t in enumerate(case.inputs)}
    for suffix, t in outputs:
        tensors[f"out{suffix}"] = t.detach()

    wanted = [j for j, flag in enumerate(flags) if flag]
    float_outputs = [(s, t) for s, t in outputs if t.is_floating_point() and t.requires_grad]
    if wanted and float_outputs:
        upstreams = [torch.randn(t.shape, generator=gen, dtype=t.dtype) for _, t in float_outputs]
        grads = torch.autograd.grad(
            [t for _, t in float_outputs], [leaves[j] for j in wanted], grad_outputs=upstreams, allow_unused=True
        )
        for (suffix, _), up in zip(float_outputs, upstreams):
            tensors[f"upstream{suffix}"] = up
        for j, g in zip(wanted, grads):
            tensors[f"grad{j}"] = torch.zeros_like(leaves[j]) if g is None else g.detach()
    return tensors


def record_cases(path: str, fn: Callable, cases: list, gen: torch.Generator, differentiable: bool = True,
                 metadata: dict | None = None) -> None:
    tensors = {}
    meta = dict(metadata or {})
    meta["cases"] = str(len(cases))
    meta["torch"] = torch.__version__
    for i, case in enumerate(cases):
        for name, t in run_case(fn, case, gen, differentiable).items():
            tensors[f"c{i}.{name}"] = t
        meta[f"c{i}"] = json.dumps(encode_attr(case.attrs), allow_nan=False, separators=(",", ":"))
    os.makedirs(os.path.dirname(path), exist_ok=True)
    safetensors_io.write(path, tensors, meta)
