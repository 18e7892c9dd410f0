"""PyTorch parity of resnetc's generated code.

Builds a model in PyTorch (torchvision, or cifar_resnet.py for the CIFAR
ResNets), randomizes all its parameters and buffers, writes them with a
stdlib safetensors writer, and runs the same model through
`resnetc new` -> `resnetc compile` -> `resnetc run` on random images. Prints

    parity ARCH bB HxW target T: rel L2 E (max abs M)

and exits 1 if the relative L2 error ||y - ref|| / ||ref|| of the logits is
not below 1e-4. Also checks that every `resnet.param` of the model is in the
PyTorch state_dict, with its shape, and with --check-init-keys that the
weights `resnetc new --weights-out` writes have exactly the state_dict's
keys (in its order), shapes and dtypes.

Needs only the system python3 with torch, torchvision and numpy.
"""
import argparse
import json
import os
import re
import struct
import subprocess
import sys
import time

import numpy as np
import torch
import torchvision

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
# The bridge for users writes state_dicts and randomizes models the same
# way the tests need: one implementation.
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
sys.dont_write_bytecode = True
import cifar_resnet  # noqa: E402
from export_torchvision import _DTYPES, randomize, write_safetensors  # noqa: E402

THRESHOLD = 1e-4


def read_safetensors_header(path):
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(length))
    header.pop("__metadata__", None)
    return header


def build_model(arch, classes):
    if arch in cifar_resnet.DEPTHS:
        return cifar_resnet.cifar_resnet(arch, num_classes=classes)
    if not hasattr(torchvision.models, arch):
        sys.exit("parity.py: unknown architecture '%s'" % arch)
    return getattr(torchvision.models, arch)(weights=None,
                                             num_classes=classes)


@torch.no_grad()
def run(cmd, what):
    start = time.time()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    if proc.returncode != 0:
        sys.stderr.write("parity.py: %s failed (exit %d): %s\n%s%s" % (
            what, proc.returncode, " ".join(cmd), proc.stdout, proc.stderr))
        sys.exit(1)
    return time.time() - start


def fail(message):
    sys.stderr.write("parity.py: " + message + "\n")
    sys.exit(1)


def check_params(mlir, state):
    """The model's `resnet.param "NAME" : tensor<AxBxf32>` ops against the
    state_dict."""
    with open(mlir) as f:
        params = re.findall(r'resnet\.param "([^"]+)" : tensor<([^>]*)>',
                            f.read())
    if not params:
        fail("no resnet.param in " + mlir)
    for name, ty in params:
        dims = ty.split("x")
        if dims[-1] != "f32":
            fail("%s has type tensor<%s>, expected f32" % (name, ty))
        shape = [int(d) for d in dims[:-1]]
        if name not in state:
            fail("resnetc's parameter %s is not in PyTorch's state_dict"
                 % name)
        if list(state[name].shape) != shape:
            fail("%s is %s in resnetc, %s in PyTorch" % (
                name, shape, list(state[name].shape)))


def check_init_keys(init, state):
    theirs = read_safetensors_header(init)
    ours = {k: {"dtype": _DTYPES[v.dtype], "shape": list(v.shape)}
            for k, v in state.items()}
    if list(theirs) != list(ours):
        missing = [k for k in ours if k not in theirs]
        extra = [k for k in theirs if k not in ours]
        fail("the keys of resnetc new --weights-out differ from PyTorch's "
             "state_dict\n  missing: %s\n  extra: %s\n  same set, other "
             "order: %s" % (missing, extra, not missing and not extra))
    for k, v in ours.items():
        got = {"dtype": theirs[k]["dtype"], "shape": theirs[k]["shape"]}
        if got != v:
            fail("%s is %s in resnetc new --weights-out, %s in PyTorch"
                 % (k, got, v))


def rel_l2(y, ref):
    y = y.astype(np.float64)
    ref = ref.astype(np.float64)
    return float(np.linalg.norm(y - ref) / np.linalg.norm(ref)), \
        float(np.max(np.abs(y - ref)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch")
    parser.add_argument("--resnetc", required=True, help="the resnetc binary")
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--image", default=None, help="H or HxW")
    parser.add_argument("--classes", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--target", default="host")
    parser.add_argument("--jobs", type=int, default=1,
                        help="kernels compiled in parallel (resnetc -j)")
    parser.add_argument("--eval", action="store_true",
                        help="also run the reference evaluator (resnetc eval)"
                             " and compare it with PyTorch and resnetc run")
    parser.add_argument("--check-init-keys", action="store_true",
                        help="check that resnetc new --weights-out writes "
                             "exactly the keys of PyTorch's state_dict")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="print the time of each step on stderr")
    args = parser.parse_args()

    torch.set_num_threads(1)
    cifar = args.arch in cifar_resnet.DEPTHS
    classes = args.classes or (10 if cifar else 1000)
    image = args.image or ("32" if cifar else "224")
    h, _, w = image.partition("x")
    h, w = int(h), int(w or h)

    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    mlir = os.path.join(work, "model.mlir")
    init = os.path.join(work, "init.safetensors")
    weights = os.path.join(work, "weights.safetensors")
    x_path = os.path.join(work, "x.npy")
    y_path = os.path.join(work, "y.npy")
    out = os.path.join(work, "out")

    # The PyTorch model, randomized, and its logits.
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = build_model(args.arch, classes).eval()
    randomize(model, gen)
    state = model.state_dict()
    write_safetensors(weights, state)
    x = np.random.default_rng(args.seed).standard_normal(
        (args.batch, 3, h, w)).astype(np.float32)
    np.save(x_path, x)
    start = time.time()
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()
    t_torch = time.time() - start

    # resnetc: new, compile, run. Every parameter of the model must be in the
    # state_dict, with its shape; with --check-init-keys, the weights that
    # `resnetc new --weights-out` writes must have exactly the state_dict's
    # keys (in order), shapes and dtypes.
    new_cmd = [args.resnetc, "new", args.arch, "--batch", str(args.batch),
               "--image", "%dx%d" % (h, w), "--classes", str(classes),
               "-o", mlir]
    if args.check_init_keys:
        new_cmd += ["--weights-out", init]
    t_new = run(new_cmd, "resnetc new")
    check_params(mlir, state)
    if args.check_init_keys:
        check_init_keys(init, state)

    compile_cmd = [args.resnetc, "compile", mlir, "-o", out, "--name", "m",
                   "-j", str(args.jobs)]
    if args.target != "host":
        compile_cmd += ["--target", args.target]
    t_compile = run(compile_cmd, "resnetc compile")
    t_run = run([args.resnetc, "run", out, "--weights", weights, "--input",
                 x_path, "--output", y_path, "--threads", "1"], "resnetc run")
    y = np.load(y_path)
    if y.shape != ref.shape:
        sys.stderr.write("parity.py: resnetc run gave logits of shape %s, "
                         "PyTorch %s\n" % (y.shape, ref.shape))
        sys.exit(1)
    err, max_abs = rel_l2(y, ref)
    ok = err < THRESHOLD  # also False for NaN

    if args.verbose:
        sys.stderr.write("torch %.1f s, new %.1f s, compile %.1f s, "
                         "run %.1f s; |ref| %.3g\n" % (
                             t_torch, t_new, t_compile, t_run,
                             np.linalg.norm(ref)))
    if args.eval:
        e_path = os.path.join(work, "y_eval.npy")
        run([args.resnetc, "eval", mlir, "--weights", weights, "--input",
             x_path, "--output", e_path], "resnetc eval")
        e = np.load(e_path)
        sys.stderr.write("eval vs torch: rel L2 %.1e (max abs %.1e); "
                         "run vs eval: rel L2 %.1e (max abs %.1e)\n" % (
                             rel_l2(e, ref) + rel_l2(y, e)))

    line = "parity %s b%d %dx%d target %s: rel L2 %.1e (max abs %.1e)%s" % (
        args.arch, args.batch, h, w, args.target, err, max_abs,
        "" if ok else " FAIL (threshold %.0e)" % THRESHOLD)
    print(line)
    sys.stdout.flush()
    with open(os.path.join(work, "parity.txt"), "w") as f:
        f.write(line + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
