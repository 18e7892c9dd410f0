"""Writes a small, learnable data set for the resnetc train tests.

Usage: train_data.py PREFIX N C H W CLASSES [options]
Writes PREFIX-images.npy (float32 NxCxHxW) and PREFIX-labels.npy (N): each
image is its class's fixed pattern plus a little noise, so a few steps of
SGD already separate them.
"""
import argparse

import numpy as np

parser = argparse.ArgumentParser()
parser.add_argument("prefix")
for dim in ("n", "c", "h", "w", "classes"):
    parser.add_argument(dim, type=int)
parser.add_argument("--labels-dtype", default="int64")
parser.add_argument("--label", nargs=2, type=int, action="append",
                    default=[], metavar=("INDEX", "VALUE"),
                    help="set one label (e.g. out of range)")
args = parser.parse_args()

rng = np.random.default_rng(0)
patterns = rng.standard_normal((args.classes, args.c, args.h, args.w))
labels = np.arange(args.n) % args.classes
images = patterns[labels] + 0.1 * rng.standard_normal(
    (args.n, args.c, args.h, args.w))
for index, value in args.label:
    labels[index] = value
np.save(args.prefix + "-images.npy", images.astype(np.float32))
np.save(args.prefix + "-labels.npy", labels.astype(args.labels_dtype))
