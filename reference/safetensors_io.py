"""A minimal safetensors writer (and reader, for self-checks), with nothing but torch and the stdlib.

The layout matches the reference implementation, and engine/io/safetensorsWriter.ts:
  8 bytes   N, the header length, little-endian u64
  N bytes   JSON header {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {...}},
            padded with spaces so the data starts 8-byte aligned
  rest      each tensor's bytes, row-major, little-endian; tensors sorted by element size (largest
            first) and then by name, so every tensor is aligned for its type
"""
import ctypes
import json
import os
import struct
import sys
import tempfile

import torch

DTYPES = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
TORCH_DTYPES = {name: dtype for dtype, name in DTYPES.items()}


def tensor_bytes(t: torch.Tensor) -> bytes:
    """The tensor's elements as little-endian bytes, without going through numpy."""
    if sys.byteorder != "little":
        raise RuntimeError("safetensors_io writes by memory copy and needs a little-endian host")
    t = t.detach().cpu().contiguous()
    return ctypes.string_at(t.data_ptr(), t.numel() * t.element_size())


def serialize(tensors: dict, metadata: dict | None = None) -> bytes:
    for key, value in (metadata or {}).items():
        if not isinstance(key, str) or not isinstance(value, str):
            raise TypeError(f"metadata must map strings to strings, got {key!r}: {value!r}")
    entries = []
    for name, t in tensors.items():
        if name == "__metadata__":
            raise ValueError('"__metadata__" is reserved for the metadata')
        if t.dtype not in DTYPES:
            raise TypeError(f"{name}: dtype {t.dtype} has no safetensors equivalent")
        entries.append((name, t))
    entries.sort(key=lambda e: (-e[1].element_size(), e[0]))

    header = {}
    if metadata:
        header["__metadata__"] = dict(metadata)
    chunks = []
    offset = 0
    for name, t in entries:
        data = tensor_bytes(t)
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + b"".join(chunks)


def write(path: str, tensors: dict, metadata: dict | None = None) -> None:
    """Writes atomically: a temporary file in the same directory, fsync, then rename."""
    data = serialize(tensors, metadata)
    directory = os.path.dirname(os.path.abspath(path))
    fd, temp = tempfile.mkstemp(dir=directory, prefix="." + os.path.basename(path) + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def read(path: str) -> tuple[dict, dict]:
    """(tensors, metadata). Trusts the file: it is only for checking what `write` produced."""
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    metadata = header.pop("__metadata__", {}) or {}
    data = raw[8 + n :]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = TORCH_DTYPES[info["dtype"]]
        chunk = bytearray(data[begin:end])
        flat = torch.frombuffer(chunk, dtype=dtype) if chunk else torch.empty(0, dtype=dtype)
        tensors[name] = flat.reshape(info["shape"]).clone()
    return tensors, metadata
