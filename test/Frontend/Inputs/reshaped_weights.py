"""Compares the weights reshape-head wrote with those it read.

Usage: reshaped_weights.py OLD NEW HEAD_TENSOR...

Every tensor of OLD other than the HEAD_TENSORs must be in NEW with the same
dtype, shape and bytes, in the same order, and the metadata must match. For
each head tensor prints its dtype and shape, and whether its values lie in
nn.Linear's range +-1/sqrt(fan_in) (fan_in from the weight, the first head
tensor) without being constant.
"""
import json
import struct
import sys

import numpy as np


def read(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    metadata = header.pop("__metadata__", {})
    tensors = []
    for name, info in header.items():
        begin, end = info["data_offsets"]
        tensors.append((name, info["dtype"], info["shape"], data[begin:end]))
    return tensors, metadata


old, old_meta = read(sys.argv[1])
new, new_meta = read(sys.argv[2])
head = sys.argv[3:]
assert [t[0] for t in old] == [t[0] for t in new], "names or order differ"
assert old_meta == new_meta, "metadata differs"
kept = 0
for (name, dtype, shape, data), (_, ndtype, nshape, ndata) in zip(old, new):
    if name in head:
        continue
    assert (dtype, shape, data) == (ndtype, nshape, ndata), name + " changed"
    kept += 1
print("kept %d tensors byte for byte" % kept)

by_name = {t[0]: t for t in new}
fan_in = by_name[head[0]][2][1]
bound = 1.0 / np.sqrt(fan_in)
for name in head:
    _, dtype, shape, data = by_name[name]
    values = np.frombuffer(data, dtype="<f4")
    inside = bool(np.all(np.abs(values) <= bound)) and values.std() > bound / 4
    print(name, dtype, shape, "uniform(+-1/sqrt(%d))" % fan_in
          if inside else "OUT OF RANGE")
