"""Relative L2 error of ACTUAL against EXPECTED (.npy); fails above TOL."""
import sys

import numpy as np

expected = np.load(sys.argv[1]).astype(np.float64)
actual = np.load(sys.argv[2]).astype(np.float64)
tol = float(sys.argv[3])
label = sys.argv[4] if len(sys.argv) > 4 else ""
assert expected.shape == actual.shape, (expected.shape, actual.shape)
err = np.linalg.norm(actual - expected) / np.linalg.norm(expected)
verdict = "OK" if err < tol else "FAIL"
print("%s %s: relative L2 %.3g (tolerance %g)" % (verdict, label, err, tol))
sys.exit(0 if err < tol else 1)
