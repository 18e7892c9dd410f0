"""PyTorch parity through ONNX: tools/export_torchvision.py -> resnetc
import -> resnetc compile -> resnetc run, against the PyTorch model.

Exports a torchvision model with random weights (non-trivial batch-norm
statistics) to ONNX, folded (eval mode) or with --preserve-batchnorm, at
--opset; imports it, compiles and runs it on random images and prints

    onnx-parity ARCH opset O MODE bB HxW: rel L2 E (max abs M)

exiting 1 unless the relative L2 error of the logits is below 1e-4. With
--preserve-batchnorm it also checks that the imported weights are named
exactly as the state_dict's keys, less num_batches_tracked, in order.
"""
import argparse
import os
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.dont_write_bytecode = True  # no __pycache__ in tools/
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
sys.path.insert(0, HERE)
import export_torchvision  # noqa: E402
from parity import THRESHOLD, fail, read_safetensors_header, rel_l2, run  # noqa: E402,E501


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("arch")
    parser.add_argument("--resnetc", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--opset", type=int, default=13)
    parser.add_argument("--preserve-batchnorm", action="store_true")
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--image", default="32")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.set_num_threads(1)
    h, w = export_torchvision.parse_image(args.image)
    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    onnx_path = os.path.join(work, "model.onnx")
    mlir = os.path.join(work, "model.mlir")
    weights = os.path.join(work, "model.safetensors")
    x_path = os.path.join(work, "x.npy")
    y_path = os.path.join(work, "y.npy")
    out = os.path.join(work, "out")

    model = export_torchvision.build_model(args.arch, args.classes,
                                           seed=args.seed)
    export_torchvision.export(model, onnx_path, args.batch, h, w, args.opset,
                              args.preserve_batchnorm)
    x = np.random.default_rng(args.seed).standard_normal(
        (args.batch, 3, h, w)).astype(np.float32)
    np.save(x_path, x)
    with torch.no_grad():
        ref = model(torch.from_numpy(x)).numpy()

    run([args.resnetc, "import", onnx_path, "-o", mlir, "--weights-out",
         weights, "--classes", str(args.classes)], "resnetc import")
    if args.preserve_batchnorm:
        keys = [k for k in model.state_dict()
                if not k.endswith("num_batches_tracked")]
        got = list(read_safetensors_header(weights))
        if got != keys:
            fail("the imported weights' names differ from the state_dict's"
                 "\n  missing: %s\n  extra: %s\n  same set, other order: %s"
                 % ([k for k in keys if k not in got],
                    [k for k in got if k not in keys],
                    sorted(got) == sorted(keys)))
    run([args.resnetc, "compile", mlir, "-o", out, "--name", "m", "-j", "2"],
        "resnetc compile")
    run([args.resnetc, "run", out, "--weights", weights, "--input", x_path,
         "--output", y_path, "--threads", "1"], "resnetc run")
    y = np.load(y_path)
    if y.shape != ref.shape:
        fail("resnetc run gave logits of shape %s, PyTorch %s"
             % (y.shape, ref.shape))
    err, max_abs = rel_l2(y, ref)
    ok = err < THRESHOLD  # also False for NaN
    line = ("onnx-parity %s opset %d %s b%d %dx%d: rel L2 %.1e (max abs "
            "%.1e)%s" % (args.arch, args.opset,
                         "bn" if args.preserve_batchnorm else "folded",
                         args.batch, h, w, err, max_abs,
                         "" if ok else " FAIL (threshold %.0e)" % THRESHOLD))
    print(line)
    sys.stdout.flush()
    with open(os.path.join(work, "parity.txt"), "w") as f:
        f.write(line + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
