"""make_weights.py OUT NAME:D0,D1,... ...: a safetensors file of random
float32 tensors of the given names and shapes (a valid variance, in
[0.5, 1.5), for names ending in running_var)."""
import json
import struct
import sys

import numpy as np

rng = np.random.default_rng(0)
header, blobs, offset = {}, [], 0
for spec in sys.argv[2:]:
    name, dims = spec.split(":")
    shape = [int(d) for d in dims.split(",")]
    values = 0.1 * rng.standard_normal(shape)
    if name.endswith("running_var"):
        values = 0.5 + rng.random(shape)
    raw = values.astype(np.float32).tobytes()
    header[name] = {"dtype": "F32", "shape": shape,
                    "data_offsets": [offset, offset + len(raw)]}
    blobs.append(raw)
    offset += len(raw)
text = json.dumps(header).encode()
text += b" " * (-len(text) % 8)
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))
