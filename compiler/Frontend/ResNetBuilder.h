//===- ResNetBuilder.h - ResNet definitions to the resnet dialect -*- C++ -*-===//
//
// Builds the `resnet` dialect form of the torchvision ResNet family and of
// the CIFAR ResNets of He et al. (2016), with torchvision's parameter names,
// and initializes their parameters as torchvision does.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_COMPILER_FRONTEND_RESNETBUILDER_H
#define RESNETC_COMPILER_FRONTEND_RESNETBUILDER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>

namespace resnetc {

/// What `resnetc new` builds. Unset sizes take the architecture's
/// defaults: 1000 classes at 224x224 for ImageNet models, 10 classes at
/// 32x32 for the CIFAR ResNets; an unset width equals the height.
struct ModelConfig {
  std::string arch;
  std::optional<int64_t> classes;
  int64_t batch = 1;
  std::optional<int64_t> height;
  std::optional<int64_t> width;
};

/// Every architecture `resnetc new` knows, in a stable order.
llvm::ArrayRef<llvm::StringRef> knownArchitectures();

/// Builds a module holding `func.func @forward(%images) -> logits` whose
/// parameters are `resnet.param` ops named by torchvision's state_dict keys.
llvm::Expected<mlir::OwningOpRef<mlir::ModuleOp>>
buildResNet(mlir::MLIRContext &context, const ModelConfig &config);

/// Writes a safetensors file with a value for every parameter the module
/// uses, initialized as torchvision does (Kaiming-normal fan_out for
/// convolutions, BN weight 1 and bias 0, running mean 0 and variance 1,
/// nn.Linear's default), plus each batch norm's `num_batches_tracked`, so
/// the file holds exactly a torchvision state_dict's keys. The values are
/// a function of `seed` alone.
llvm::Error writeInitialWeights(mlir::ModuleOp module, uint64_t seed,
                                const std::string &path);

} // namespace resnetc

#endif // RESNETC_COMPILER_FRONTEND_RESNETBUILDER_H
