//===- OnnxImporter.h - ONNX models to the resnet dialect -------*- C++ -*-===//
//
// Imports an ONNX ResNet (as torch.onnx.export writes one: Conv,
// BatchNormalization, Relu, Add, pooling, Flatten, Gemm ...) into the
// `resnet` dialect. Initializers become `resnet.param` ops named by the
// initializer name (torch.onnx.export keeps the state_dict keys), and their
// values are collected for a safetensors file.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_COMPILER_FRONTEND_ONNXIMPORTER_H
#define RESNETC_COMPILER_FRONTEND_ONNXIMPORTER_H

#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OwningOpRef.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace resnetc {

/// Sizes that pin the input's dynamic dimensions, and an optional check of
/// the number of classes. A pinned size that contradicts a static dimension
/// of the model is an error.
struct OnnxImportOptions {
  std::optional<int64_t> batch;
  std::optional<int64_t> height;
  std::optional<int64_t> width;
  std::optional<int64_t> classes;
};

/// One parameter's value, in the layout its `resnet.param` declares.
struct ImportedTensor {
  std::string name;
  std::vector<int64_t> shape;
  std::vector<float> data;
};

struct ImportedModel {
  mlir::OwningOpRef<mlir::ModuleOp> module;
  /// Every parameter the module uses, in the order of first use.
  std::vector<ImportedTensor> weights;
};

/// Parses the ONNX file at `path` (external data is read relative to its
/// directory) and builds `func.func @forward(%images) -> logits`. The
/// module is verified. Errors name the node, its op type and the opset.
llvm::Expected<ImportedModel> importOnnx(mlir::MLIRContext &context,
                                         llvm::StringRef path,
                                         const OnnxImportOptions &options);

/// Writes the imported parameters to `path` as F32 safetensors, atomically.
llvm::Error writeImportedWeights(const ImportedModel &model,
                                 const std::string &path);

} // namespace resnetc

#endif // RESNETC_COMPILER_FRONTEND_ONNXIMPORTER_H
