"""Writes weights for head-softmax.mlir: usage head-softmax.py OUT."""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..",
                                "Evaluator", "Inputs"))
from safetensors_writer import write_safetensors  # noqa: E402

rng = np.random.default_rng(0)
write_safetensors(sys.argv[1], {
    "stem.weight": rng.standard_normal((6, 3, 1, 1)).astype(np.float32),
    "classifier.weight": rng.standard_normal((5, 6)).astype(np.float32),
    "classifier.bias": rng.standard_normal(5).astype(np.float32),
    "step": np.array(7, dtype=np.int64),
})
