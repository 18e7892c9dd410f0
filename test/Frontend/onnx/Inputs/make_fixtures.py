"""Writes the ONNX fixtures of the importer's lit tests (committed; rerun
this after changing it, with Debian's python3, torch 1.13 and onnx 1.12):

  toy-resnet.onnx           a two-block toy ResNet (conv-bn-relu stem, a
                            BasicBlock with identity shortcut, one with a 1x1
                            projection shortcut, GAP, flatten, fc), 4 and 8
                            channels, 1x3x8x8 images, opset 13, BN preserved
  toy-resnet-folded.onnx    the same exported in eval mode (BN folded)
  toy-resnet-dynamic.onnx   the same with a dynamic batch ('batch_size')
  toy-resnet-external.onnx  the same with its tensors in an external file,
  toy-resnet-external.data  toy-resnet-external.onnx.data
  ops.onnx                  Conv with bias, MaxPool, AveragePool, Identity,
                            Reshape by a Constant shape, MatMul + Add, Gemm
                            with transB=0 (written with onnx.helper)
  unsupported-op.onnx       a LeakyRelu
  same-upper.onnx           a Conv with auto_pad=SAME_UPPER
  missing-initializer.onnx  a Conv whose weight is no initializer

Usage: make_fixtures.py [OUTDIR] (default: this script's directory).
"""
import os
import sys

import numpy as np
import onnx
import torch
from onnx import TensorProto, helper, numpy_helper


class Block(torch.nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(cout)
        self.relu = torch.nn.ReLU()
        self.conv2 = torch.nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = torch.nn.BatchNorm2d(cout)
        self.downsample = None
        if stride != 1 or cin != cout:
            self.downsample = torch.nn.Sequential(
                torch.nn.Conv2d(cin, cout, 1, stride, bias=False),
                torch.nn.BatchNorm2d(cout))

    def forward(self, x):
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        identity = x if self.downsample is None else self.downsample(x)
        return self.relu(out + identity)


class ToyResNet(torch.nn.Module):
    def __init__(self, classes=3):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(3, 4, 3, 1, 1, bias=False)
        self.bn1 = torch.nn.BatchNorm2d(4)
        self.relu = torch.nn.ReLU()
        self.layer1 = Block(4, 4, 1)
        self.layer2 = Block(4, 8, 2)
        self.avgpool = torch.nn.AdaptiveAvgPool2d(1)
        self.fc = torch.nn.Linear(8, classes)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer2(self.layer1(x))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def export(model, path, preserve, dynamic=False):
    mode = (torch.onnx.TrainingMode.PRESERVE if preserve
            else torch.onnx.TrainingMode.EVAL)
    torch.onnx.export(
        model, torch.zeros(1, 3, 8, 8), path, opset_version=13,
        training=mode, do_constant_folding=not preserve,
        input_names=["images"], output_names=["logits"],
        dynamic_axes=({"images": {0: "batch_size"},
                       "logits": {0: "batch_size"}} if dynamic else None))


def save(graph, path, opset=13):
    model = helper.make_model(graph, producer_name="make_fixtures.py",
                              opset_imports=[helper.make_opsetid("", opset)])
    onnx.save(model, path)


def init(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def image_input(name="x", shape=(1, 3, 8, 8)):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, list(shape))


def ops_graph(rng):
    """Ops torchvision's ResNets do not export at opset 13."""
    nodes = [
        helper.make_node("Conv", ["x", "conv.weight", "conv.bias"], ["c"],
                         name="conv", pads=[1, 0, 1, 2], strides=[1, 2]),
        helper.make_node("MaxPool", ["c"], ["m"], name="maxpool",
                         kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1], ceil_mode=1),
        helper.make_node("AveragePool", ["m"], ["a"], name="avgpool",
                         kernel_shape=[2, 2], pads=[0, 0, 1, 1],
                         count_include_pad=1),
        helper.make_node("Identity", ["a"], ["i"], name="identity"),
        helper.make_node("Constant", [], ["shape"], name="shape",
                         value=numpy_helper.from_array(
                             np.array([1, -1], dtype=np.int64))),
        helper.make_node("Reshape", ["i", "shape"], ["r"], name="reshape"),
        helper.make_node("MatMul", ["r", "mm.weight"], ["mm"], name="matmul"),
        helper.make_node("Add", ["mm", "mm.bias"], ["h"], name="matmul_bias"),
        helper.make_node("Gemm", ["h", "gemm.weight", "gemm.bias"], ["y"],
                         name="gemm"),
    ]
    # x 1x3x8x8 -> conv 5x8x4 (pads t1 l0 b1 r2, stride 1x2) -> maxpool
    # (ceil) 5x5x3 -> avgpool (pads b1 r1) 5x5x3 -> 75 features -> 6 -> 2.
    inits = [
        init("conv.weight", rng.standard_normal((5, 3, 3, 3))),
        init("conv.bias", rng.standard_normal(5)),
        init("mm.weight", rng.standard_normal((75, 6))),
        init("mm.bias", rng.standard_normal(6)),
        init("gemm.weight", rng.standard_normal((6, 2))),
        init("gemm.bias", rng.standard_normal(2)),
    ]
    return helper.make_graph(
        nodes, "ops", [image_input()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])],
        inits)


def single_node_graph(rng, node, inits):
    return helper.make_graph(
        [node], "bad", [image_input()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        inits)


@torch.no_grad()
def randomize(model, gen):
    """Non-trivial batch-norm statistics, as test/pytorch/parity.py."""
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            c = m.num_features
            m.weight.copy_(torch.rand(c, generator=gen) + 0.5)
            m.bias.copy_(torch.randn(c, generator=gen) * 0.2)
            m.running_mean.copy_(torch.randn(c, generator=gen) * 0.2)
            m.running_var.copy_(torch.rand(c, generator=gen) * 1.5 + 0.5)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(
        os.path.abspath(__file__))
    torch.manual_seed(0)
    model = ToyResNet().eval()
    randomize(model, torch.Generator().manual_seed(0))
    export(model, os.path.join(out, "toy-resnet.onnx"), preserve=True)
    export(model, os.path.join(out, "toy-resnet-folded.onnx"), preserve=False)
    export(model, os.path.join(out, "toy-resnet-dynamic.onnx"), preserve=True,
           dynamic=True)
    external = onnx.load(os.path.join(out, "toy-resnet.onnx"))
    # onnx appends to an existing external data file: start afresh.
    data = os.path.join(out, "toy-resnet-external.data")
    if os.path.exists(data):
        os.remove(data)
    onnx.save_model(external, os.path.join(out, "toy-resnet-external.onnx"),
                    save_as_external_data=True, all_tensors_to_one_file=True,
                    location="toy-resnet-external.data", size_threshold=0)

    rng = np.random.default_rng(0)
    save(ops_graph(rng), os.path.join(out, "ops.onnx"))
    save(single_node_graph(
        rng, helper.make_node("LeakyRelu", ["x"], ["y"], name="leaky",
                              alpha=0.1), []),
         os.path.join(out, "unsupported-op.onnx"))
    weight = init("conv.weight", rng.standard_normal((2, 3, 3, 3)))
    save(single_node_graph(
        rng, helper.make_node("Conv", ["x", "conv.weight"], ["y"],
                              name="Conv_12", auto_pad="SAME_UPPER"),
        [weight]), os.path.join(out, "same-upper.onnx"))
    save(single_node_graph(
        rng, helper.make_node("Conv", ["x", "conv.weight"], ["y"],
                              name="conv", pads=[1, 1, 1, 1]), []),
         os.path.join(out, "missing-initializer.onnx"))


if __name__ == "__main__":
    main()
