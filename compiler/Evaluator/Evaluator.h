//===- Evaluator.h - Reference evaluator of the resnet dialect --*- C++ -*-===//
//
// The numerical oracle of resnetc: it interprets a resnet-dialect function
// op by op with straightforward loops (sums in double, values stored as f32),
// so that every pass, and later the generated code, can be checked against
// it. Written to be trusted by reading, not to be fast.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_COMPILER_EVALUATOR_EVALUATOR_H
#define RESNETC_COMPILER_EVALUATOR_EVALUATOR_H

#include "mlir/IR/BuiltinOps.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <vector>

namespace resnetc {

class SafetensorsFile;

/// A dense row-major host tensor: f32 values, or i32 (labels) when isInt.
/// A 0-D tensor has an empty shape and one element.
struct HostTensor {
  std::vector<int64_t> shape;
  std::vector<float> f32;
  std::vector<int32_t> i32;
  bool isInt = false;

  int64_t numElements() const;

  /// An f32 tensor of `shape` filled with zeros.
  static HostTensor zeros(std::vector<int64_t> shape);
  /// An f32 tensor of `shape` holding `values` (row-major).
  static HostTensor floats(std::vector<int64_t> shape,
                           std::vector<float> values);
  /// An i32 tensor of `shape` holding `values` (row-major).
  static HostTensor ints(std::vector<int64_t> shape,
                         std::vector<int32_t> values);
};

/// Interprets `function` of `module` (a func.func in the resnet dialect; the
/// module must verify) on `inputs` and returns its results.
///
/// If the module has a func.func @init (and `function` is another one), @init
/// runs first: its results, named by the result attribute `resnet.name` (a
/// StringAttr), are the values of the `resnet.param NAME {prepared}` ops.
/// Other `resnet.param` ops read `weights` (F32, of exactly the param's
/// shape). Inputs are checked against the function's argument types (count,
/// element type, shape). Every error names what is wrong: the parameter, the
/// input index, the op and its location.
llvm::Expected<std::vector<HostTensor>>
evaluate(mlir::ModuleOp module, const SafetensorsFile &weights,
         llvm::ArrayRef<HostTensor> inputs,
         llvm::StringRef function = "forward");

} // namespace resnetc

#endif // RESNETC_COMPILER_EVALUATOR_EVALUATOR_H
