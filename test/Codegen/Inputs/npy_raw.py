"""Converts between .npy and raw float32: npy_raw.py to-raw X.npy X.bin,
or npy_raw.py to-npy X.bin LIKE.npy X.npy (shape taken from LIKE)."""
import sys

import numpy as np

if sys.argv[1] == "to-raw":
    np.load(sys.argv[2]).astype(np.float32).tofile(sys.argv[3])
else:
    like = np.load(sys.argv[3])
    np.save(sys.argv[4], np.fromfile(sys.argv[2], np.float32).reshape(like.shape))
