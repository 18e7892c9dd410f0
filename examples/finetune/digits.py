#!/usr/bin/env python3
"""Exports scikit-learn's digits as .npy files for the fine-tuning example.

The 1797 8x8 images (values 0..16) are upsampled bilinearly to 32x32,
repeated over 3 channels (resnet20's input is 3x32x32) and normalized to
mean 0 and deviation 1 (the constants of the pretraining set, applied to
all). Two tasks, each split 80/20 into train and test by a fixed rule (every
fifth image of each class is a test image), so the files never change:

  pretrain-{train,test}-{images,labels}.npy   digits 0-4, labels 0-4
  finetune-{train,test}-{images,labels}.npy   digits 5-9, labels 0-4 (d - 5)

Images are float32 Nx3x32x32, labels int64 N.

Usage: digits.py OUTDIR
"""
import os
import sys

import numpy as np
from sklearn.datasets import load_digits

SIZE = 32


def bilinear_matrix(n_in, n_out):
    """The (n_out x n_in) matrix of 1-D bilinear resampling, with the
    half-pixel centers of torch's interpolate(align_corners=False)."""
    m = np.zeros((n_out, n_in))
    for o in range(n_out):
        x = min(max((o + 0.5) * n_in / n_out - 0.5, 0.0), n_in - 1)
        lo = int(np.floor(x))
        hi = min(lo + 1, n_in - 1)
        m[o, lo] += 1.0 - (x - lo)
        m[o, hi] += x - lo
    return m


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    digits = load_digits()
    resample = bilinear_matrix(8, SIZE)
    big = np.einsum("oi,nij,pj->nop", resample, digits.images / 16.0, resample)
    labels = digits.target.astype(np.int64)

    # Every fifth image of each class (in the data set's order) is a test
    # image.
    rank = np.zeros(len(labels), dtype=np.int64)
    for d in range(10):
        where = np.flatnonzero(labels == d)
        rank[where] = np.arange(len(where))
    test = rank % 5 == 4

    pretrain = labels < 5
    mean = big[pretrain & ~test].mean()
    std = big[pretrain & ~test].std()
    images = ((big - mean) / std).astype(np.float32)
    images = np.repeat(images[:, None, :, :], 3, axis=1)

    for task, select, offset in (("pretrain", pretrain, 0),
                                 ("finetune", ~pretrain, 5)):
        for split, part in (("train", ~test), ("test", test)):
            keep = select & part
            np.save(os.path.join(out, "%s-%s-images.npy" % (task, split)),
                    np.ascontiguousarray(images[keep]))
            np.save(os.path.join(out, "%s-%s-labels.npy" % (task, split)),
                    labels[keep] - offset)
            print("%s-%s: %d images" % (task, split, keep.sum()))


if __name__ == "__main__":
    main()
