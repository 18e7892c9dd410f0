//===- ResnetDialect.td - The resnet dialect ---------------*- tablegen -*-===//
//
// The graph-level dialect of resnetc: ResNet layers over ranked, statically
// shaped f32 tensors in NCHW. Parameter values live outside the IR and are
// named by their torchvision state_dict keys.
//
//===----------------------------------------------------------------------===//
#ifndef RESNET_DIALECT
#define RESNET_DIALECT

include "mlir/IR/OpBase.td"

def Resnet_Dialect : Dialect {
  let name = "resnet";
  let summary = "ResNet layers over NCHW f32 tensors";
  let description = [{
    The `resnet` dialect describes ResNet-family networks at the level of
    PyTorch modules: convolutions, batch normalization, pooling, linear
    layers and the loss. Tensors are ranked, statically shaped and f32
    (labels are i32), activations in NCHW. Parameters are `resnet.param`
    ops whose values live outside the IR, in safetensors files, under their
    torchvision state_dict names (`layer1.0.conv1.weight`).
  }];
  let cppNamespace = "::mlir::resnet";
}

class Resnet_Op<string mnemonic, list<Trait> traits = []>
    : Op<Resnet_Dialect, mnemonic, traits>;

#endif // RESNET_DIALECT
