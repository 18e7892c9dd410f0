"""Lists a safetensors file's tensors in header order: name, dtype, shape.

Reads the format with the standard library alone, independently of
resnetc's reader, so the test checks what resnetc wrote.
"""
import json
import struct
import sys

with open(sys.argv[1], "rb") as f:
    (length,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(length))
header.pop("__metadata__", None)
entries = list(header.items())
# Each tensor starts aligned to its element size.
for name, info in entries:
    size = {"F32": 4, "I64": 8}[info["dtype"]]
    assert (8 + length + info["data_offsets"][0]) % size == 0, name
    print(name, info["dtype"], info["shape"])
print("total %d tensors" % len(entries))
