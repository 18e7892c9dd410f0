#!/usr/bin/python3
"""Exports a torchvision ResNet to ONNX, for `resnetc import`.

    export_torchvision.py --arch resnet18 --out model.onnx \
        --weights-out model.safetensors [--state-dict model.pth] \
        [--random-seed S] [--batch B] [--image H[xW]] [--classes N] \
        [--opset 13] [--preserve-batchnorm]

Writes the ONNX model (torch.onnx.export, eval mode, input "images",
output "logits") and the model's state_dict as safetensors (stdlib writer;
the keys are the state_dict's, num_batches_tracked included). The weights
come from --state-dict (a torch.save'd state_dict) or, without it, are
random with non-trivial batch-norm statistics, drawn from --random-seed.

By default torch folds each batch norm into its convolution (the
initializers of the folded convolutions get generated names). With
--preserve-batchnorm the graph keeps BatchNormalization nodes and every
initializer is named by its state_dict key: torch 1.13 needs
training=TrainingMode.PRESERVE for that (eval mode folds batch norms even
with do_constant_folding=False); the model itself stays in eval mode, so
the nodes use the running statistics, and constant folding is off.

Needs Debian's python3 with python3-torch and python3-torchvision.
"""
import argparse
import json
import struct
import sys

import numpy as np
import torch
import torchvision

_DTYPES = {torch.float32: "F32", torch.int64: "I64", torch.int32: "I32"}


def write_safetensors(path, state_dict):
    """A state_dict (in its order) as safetensors: an 8-byte LE header
    length, a JSON header padded with spaces to a multiple of 8, then the
    raw little-endian data."""
    header, chunks, offset = {}, [], 0
    for name, tensor in state_dict.items():
        array = tensor.detach().cpu().numpy()
        array = np.ascontiguousarray(array,
                                     dtype=array.dtype.newbyteorder("<"))
        header[name] = {"dtype": _DTYPES[tensor.dtype],
                        "shape": list(tensor.shape),  # 0-d stays 0-d
                        "data_offsets": [offset, offset + array.nbytes]}
        chunks.append(array)
        offset += array.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for array in chunks:
            f.write(array.reshape(-1).view(np.uint8).data)


@torch.no_grad()
def randomize(model, gen):
    """As test/pytorch/parity.py: He-normal convolutions, and batch norms
    whose weight, bias and running statistics are all far from 1 and 0, so
    that folding and the statistics are exercised."""
    for module in model.modules():
        if isinstance(module, torch.nn.Conv2d):
            w = module.weight
            fan_in = w.shape[1] * w.shape[2] * w.shape[3]
            w.copy_(torch.randn(w.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            if module.bias is not None:
                module.bias.copy_(torch.randn(module.bias.shape,
                                              generator=gen) * 0.1)
        elif isinstance(module, torch.nn.BatchNorm2d):
            c = module.num_features
            module.weight.copy_(torch.rand(c, generator=gen) + 0.5)
            module.bias.copy_(torch.randn(c, generator=gen) * 0.2)
            module.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
            module.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)
            module.num_batches_tracked.fill_(
                int(torch.randint(1, 100000, (1,), generator=gen)))


def parse_image(text):
    h, _, w = text.partition("x")
    return int(h), int(w or h)


def build_model(arch, classes, state_dict=None, seed=0):
    """The torchvision model in eval mode, with its weights."""
    if not arch.startswith(("resnet", "resnext", "wide_resnet")) or \
            not hasattr(torchvision.models, arch):
        sys.exit("export_torchvision.py: unknown architecture '%s'" % arch)
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None,
                                              num_classes=classes)
    if state_dict is not None:
        model.load_state_dict(torch.load(state_dict, map_location="cpu"))
    else:
        randomize(model, torch.Generator().manual_seed(seed))
    return model.eval()


def export(model, path, batch, height, width, opset, preserve_batchnorm):
    if preserve_batchnorm:
        training, fold = torch.onnx.TrainingMode.PRESERVE, False
    else:
        training, fold = torch.onnx.TrainingMode.EVAL, True
    torch.onnx.export(model, torch.zeros(batch, 3, height, width), path,
                      opset_version=opset, training=training,
                      do_constant_folding=fold, input_names=["images"],
                      output_names=["logits"])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--arch", required=True)
    parser.add_argument("--out", required=True, help="the ONNX file")
    parser.add_argument("--weights-out", help="the state_dict (safetensors)")
    parser.add_argument("--state-dict", help="weights (torch.save'd)")
    parser.add_argument("--random-seed", type=int, default=0)
    parser.add_argument("--batch", type=int, default=1)
    parser.add_argument("--image", default="224", help="H or HxW")
    parser.add_argument("--classes", type=int, default=1000)
    parser.add_argument("--opset", type=int, default=13)
    parser.add_argument("--preserve-batchnorm", action="store_true")
    args = parser.parse_args()

    height, width = parse_image(args.image)
    model = build_model(args.arch, args.classes, args.state_dict,
                        args.random_seed)
    export(model, args.out, args.batch, height, width, args.opset,
           args.preserve_batchnorm)
    if args.weights_out:
        write_safetensors(args.weights_out, model.state_dict())
    return 0


if __name__ == "__main__":
    sys.exit(main())
