//===- Npy.h - Read and write numpy .npy files ------------------*- C++ -*-===//
//
// numpy's .npy format, versions 1.0-3.0 on read and 1.0 on write, C order
// only, little-endian float32 / int32 / int64 / float64. Errors are values.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_RUNTIME_NPY_H
#define RESNETC_RUNTIME_NPY_H

#include "resnetc/runtime/Safetensors.h"

#include <cstdint>
#include <string>
#include <vector>

namespace resnetc {

/// An array read from a .npy file, owning its bytes.
struct NpyArray {
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;

  int64_t numElements() const;
  const float *f32() const { return reinterpret_cast<const float *>(bytes.data()); }
  const int32_t *i32() const { return reinterpret_cast<const int32_t *>(bytes.data()); }
};

/// Reads `path`. Rejects Fortran order, big-endian data, unsupported dtypes
/// and truncated files with an error naming the file and the problem.
bool readNpy(const std::string &path, NpyArray &out, std::string &error);

/// Writes a C-order array atomically (temporary file, fsync, rename).
bool writeNpy(const std::string &path, DType dtype,
              const std::vector<int64_t> &shape, const void *data,
              std::string &error);

} // namespace resnetc

#endif // RESNETC_RUNTIME_NPY_H
