"""Runs ops.onnx's graph in PyTorch (its initializers read with onnx) and
the imported module with `resnetc eval`, and compares the outputs:
check_ops.py RESNETC ops.onnx ops.mlir ops.safetensors WORKDIR."""
import os
import subprocess
import sys

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper

resnetc, model_path, mlir, weights, work = sys.argv[1:6]
w = {t.name: torch.from_numpy(numpy_helper.to_array(t).copy())
     for t in onnx.load(model_path).graph.initializer}
x = np.random.default_rng(0).standard_normal((1, 3, 8, 8)).astype(np.float32)
np.save(os.path.join(work, "x.npy"), x)

t = torch.from_numpy(x)
# F.pad takes (left, right, top, bottom); ONNX pads are [t, l, b, r].
t = F.conv2d(F.pad(t, (0, 2, 1, 1)), w["conv.weight"], w["conv.bias"],
             stride=(1, 2))
t = F.max_pool2d(t, 3, 2, 1, ceil_mode=True)
t = F.avg_pool2d(F.pad(t, (0, 1, 0, 1)), 2, 1)  # count_include_pad=1
t = t.reshape(1, -1) @ w["mm.weight"] + w["mm.bias"]
ref = (t @ w["gemm.weight"] + w["gemm.bias"]).numpy()

y_path = os.path.join(work, "y.npy")
subprocess.run([resnetc, "eval", mlir, "--weights", weights, "--input",
                os.path.join(work, "x.npy"), "--output", y_path], check=True)
y = np.load(y_path)
err = np.linalg.norm(y - ref) / np.linalg.norm(ref)
print("ops.onnx: rel L2 %.1e %s" % (err, "ok" if err < 1e-5 else "FAIL"))
sys.exit(0 if err < 1e-5 else 1)
