"""Rewrites a safetensors file with random values of the same names/shapes.

Batch-norm statistics get non-trivial values (means off zero, variances
off one), so that folding them into convolutions is really exercised.
Usage: randomize_weights.py IN OUT SEED [--drop NAME] [--f64 NAME], the
last two making a broken file (a tensor missing, or stored as F64). Also
writes images with --images OUT.npy N C H W. Standard library + numpy only.
"""
import json
import struct
import sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", None)
    return header, data, meta


def write(path, tensors, meta):
    header, blobs, offset = {}, [], 0
    for name, array in tensors:
        raw = array.tobytes()
        dtype = {np.float32: "F32", np.float64: "F64",
                 np.int64: "I64"}[array.dtype.type]
        header[name] = {"dtype": dtype, "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    if meta:
        header["__metadata__"] = meta
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


def main():
    if sys.argv[1] == "--images":
        out, shape = sys.argv[2], [int(v) for v in sys.argv[3:7]]
        rng = np.random.default_rng(1)
        np.save(out, rng.standard_normal(shape).astype(np.float32))
        return
    src, dst, seed = sys.argv[1], sys.argv[2], int(sys.argv[3])
    options = dict(zip(sys.argv[4::2], sys.argv[5::2]))
    rng = np.random.default_rng(seed)
    header, data, meta = read(src)
    tensors = []
    for name, info in header.items():
        shape = info["shape"]
        if info["dtype"] != "F32":
            begin, end = info["data_offsets"]
            tensors.append((name, np.frombuffer(data[begin:end], np.int64)
                            .reshape(shape)))
            continue
        if name.endswith("running_var"):
            v = rng.uniform(0.5, 2.0, shape)
        elif name.endswith("running_mean") or name.endswith(".bias"):
            v = 0.2 * rng.standard_normal(shape)
        elif len(shape) == 1:
            v = rng.uniform(0.5, 1.5, shape)  # batch-norm gamma
        else:
            fan_in = int(np.prod(shape[1:]))
            v = rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)
        tensors.append((name, v.astype(np.float32)))
    tensors = [(n, a.astype(np.float64) if n == options.get("--f64") else a)
               for n, a in tensors if n != options.get("--drop")]
    write(dst, tensors, meta)


main()
