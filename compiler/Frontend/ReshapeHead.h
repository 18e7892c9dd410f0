//===- ReshapeHead.h - Replace a classifier's final layer -------*- C++ -*-===//
//
// Head replacement for fine-tuning: the final nn.Linear of a model gets a
// new number of outputs, its parameters fresh values drawn as nn.Linear
// draws them, and every other weight stays as it was.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_COMPILER_FRONTEND_RESHAPEHEAD_H
#define RESNETC_COMPILER_FRONTEND_RESHAPEHEAD_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/Support/LogicalResult.h"

#include "llvm/Support/Error.h"

#include <cstdint>
#include <string>

namespace resnetc {

/// The final linear layer of a classifier, by its parameters' names.
struct ClassifierHead {
  std::string weightName;
  /// Empty when the layer has no bias.
  std::string biasName;
  int64_t features = 0;
  int64_t classes = 0;
};

/// Finds the `resnet.linear` whose result `@forward` returns, directly or
/// through a softmax, with its weight and bias read by `resnet.param` ops
/// that nothing else uses. Emits an error at the offending op otherwise.
mlir::FailureOr<ClassifierHead> findClassifierHead(mlir::ModuleOp module);

/// Gives the classifier head `classes` outputs: the types of its
/// parameters, of the linear layer, of the ops after it and of `@forward`'s
/// result. Returns the head as it was; on failure (no head, `classes` < 1)
/// emits an error and leaves the module unchanged.
mlir::FailureOr<ClassifierHead> reshapeHead(mlir::ModuleOp module,
                                            int64_t classes);

/// Copies every tensor of the safetensors file `inPath` to `outPath`
/// unchanged (same names, order, dtypes and bytes, same metadata), except
/// the parameters of `oldHead`, which must be there with its shapes and are
/// replaced by `classes`-output values drawn as torch.nn.Linear draws them
/// (uniform in +-1/sqrt(features) for weight and bias) from `seed`. The
/// output is written atomically; on any error nothing is written.
llvm::Error writeReshapedWeights(const ClassifierHead &oldHead,
                                 int64_t classes, uint64_t seed,
                                 const std::string &inPath,
                                 const std::string &outPath);

} // namespace resnetc

#endif // RESNETC_COMPILER_FRONTEND_RESHAPEHEAD_H
