#!/usr/bin/python3
"""Times N_train_step of a model compiled by `resnetc compile --train`.

Loads DIR/libNAME.so through ctypes (no PyTorch in this process), creates the
model from a weights file (N_create), sets the threads (N_set_num_threads),
runs warm-up steps and then N timed steps on one fixed random batch (normal
images, uniform labels), and prints, like resnetc run --bench,

  resnetc: median X ms, min Y ms, max Z ms over N runs

(the median is the upper middle one for even N, as on the PyTorch side).
The lr is small so that the weights stay finite: the speed of dense float32
kernels does not depend on the values, but NaNs and denormals could.

Usage: resnetc_training.py DIR --name NAME --weights W.safetensors
                           [--threads 2] [--runs 10] [--warmup 3] [--lr 1e-3]
Needs python3 with numpy.
"""
import argparse
import ctypes
import os
import sys
import time

import numpy as np


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dir")
    p.add_argument("--name", required=True)
    p.add_argument("--weights", required=True)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()

    n = args.name
    lib = ctypes.CDLL(os.path.join(os.path.abspath(args.dir), "lib%s.so" % n))

    def fn(suffix, argtypes, restype=ctypes.c_int):
        f = getattr(lib, n + "_" + suffix)
        f.argtypes, f.restype = argtypes, restype
        return f

    create = fn("create", [ctypes.POINTER(ctypes.c_void_p), ctypes.c_char_p])
    train_step = fn("train_step", [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                   ctypes.POINTER(ctypes.c_int32), ctypes.c_float,
                                   ctypes.POINTER(ctypes.c_float)])
    set_threads = fn("set_num_threads", [ctypes.c_void_p, ctypes.c_int])
    last_error = fn("last_error", [ctypes.c_void_p], ctypes.c_char_p)
    destroy = fn("destroy", [ctypes.c_void_p], None)
    in_shape = list((ctypes.c_int32 * 4).in_dll(lib, n + "_input_shape"))
    out_shape = list((ctypes.c_int32 * 2).in_dll(lib, n + "_output_shape"))

    model = ctypes.c_void_p()

    def check(rc, what):
        if rc != 0:
            msg = last_error(model)
            sys.exit("resnetc_training.py: %s failed: %s" % (
                what, msg.decode(errors="replace") if msg else "?"))

    check(create(ctypes.byref(model), args.weights.encode()), "%s_create" % n)
    check(set_threads(model, args.threads), "%s_set_num_threads" % n)

    rng = np.random.default_rng(args.seed)
    images = np.ascontiguousarray(rng.standard_normal(in_shape), dtype=np.float32)
    labels = np.ascontiguousarray(rng.integers(0, out_shape[1], in_shape[0]),
                                  dtype=np.int32)
    x = images.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    y = labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))
    loss = ctypes.c_float()
    lr = ctypes.c_float(args.lr)

    def step():
        check(train_step(model, x, y, lr, ctypes.byref(loss)), "%s_train_step" % n)

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1e3)
    destroy(model)
    if not np.isfinite(loss.value):
        sys.exit("resnetc_training.py: the loss became %s" % loss.value)
    med = sorted(times)[len(times) // 2]
    print("  batch %s, %d classes, threads %d, last loss %.4g" % (
        "x".join(map(str, in_shape)), out_shape[1], args.threads, loss.value),
        file=sys.stderr)
    print("resnetc: median %.3f ms, min %.3f ms, max %.3f ms over %d runs" % (
        med, min(times), max(times), len(times)))


if __name__ == "__main__":
    main()
