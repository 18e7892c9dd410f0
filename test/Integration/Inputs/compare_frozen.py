"""Which tensors fine-tuning changed: usage compare_frozen.py BEFORE AFTER.

Prints how many tensors outside layer3 and fc are byte-identical, names any
that changed, and which of layer3 and fc changed at all.
"""
import json
import struct
import sys


def read(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
        data = f.read()
    header.pop("__metadata__", None)
    return {name: (info["dtype"], info["shape"],
                   data[info["data_offsets"][0]:info["data_offsets"][1]])
            for name, info in header.items()}


before, after = read(sys.argv[1]), read(sys.argv[2])
assert sorted(before) == sorted(after), "the tensors differ"
trainable = ("layer3.", "fc.")
same = [n for n in before
        if not n.startswith(trainable) and before[n] == after[n]]
moved = [n for n in before
         if not n.startswith(trainable) and before[n] != after[n]]
print("unchanged: %d tensors outside layer3 and fc" % len(same))
for name in moved:
    print("CHANGED:", name)
print("changed: " + ", ".join(
    p.rstrip(".") for p in trainable
    if any(before[n] != after[n] for n in before if n.startswith(p))))
