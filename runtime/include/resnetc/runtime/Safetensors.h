//===- Safetensors.h - Read and write safetensors files ---------*- C++ -*-===//
//
// The safetensors format (8-byte little-endian header length, a JSON header,
// then raw little-endian tensor data). Shared by the compiler and the runtime,
// so it depends on neither MLIR nor LLVM. Files are memory-mapped on read.
// Errors are values: every fallible call returns false / nullptr and fills
// an error string naming the file and, where there is one, the tensor.
//
//===----------------------------------------------------------------------===//
#ifndef RESNETC_RUNTIME_SAFETENSORS_H
#define RESNETC_RUNTIME_SAFETENSORS_H

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace resnetc {

/// Element types of the safetensors format that resnetc reads or writes.
enum class DType { F64, F32, F16, BF16, I64, I32, I16, I8, U8, Bool };

/// The format's spelling ("F32"), and its inverse (false if unknown).
const char *dtypeName(DType dtype);
bool parseDType(const std::string &name, DType &dtype);
/// Size in bytes of one element.
size_t dtypeSize(DType dtype);

/// One tensor of a mapped file: a view, valid while the file lives.
struct TensorView {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data = nullptr;
  size_t nbytes = 0;

  int64_t numElements() const;
};

/// A safetensors file mapped read-only into memory.
class SafetensorsFile {
public:
  /// Maps and validates `path`. On failure returns nullptr and sets `error`.
  static std::unique_ptr<SafetensorsFile> open(const std::string &path,
                                               std::string &error);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile &) = delete;
  SafetensorsFile &operator=(const SafetensorsFile &) = delete;

  const std::string &path() const { return path_; }
  /// Tensors in the order of their data offsets.
  const std::vector<TensorView> &tensors() const { return tensors_; }
  /// nullptr if absent.
  const TensorView *find(const std::string &name) const;
  const std::map<std::string, std::string> &metadata() const {
    return metadata_;
  }

  /// Looks up an F32 tensor of exactly `shape`. On failure (missing, wrong
  /// dtype, wrong shape) returns nullptr and sets `error` naming the tensor.
  const float *getF32(const std::string &name,
                      const std::vector<int64_t> &shape,
                      std::string &error) const;

private:
  SafetensorsFile() = default;
  std::string path_;
  void *mapping_ = nullptr;
  size_t mappingSize_ = 0;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

/// A tensor to be written; `data` holds numElements * dtypeSize bytes.
struct TensorToWrite {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  const void *data = nullptr;
};

/// Writes `tensors` to `path` atomically: a temporary file beside it, fsync,
/// rename. On failure nothing at `path` changes; returns false and sets
/// `error`. Duplicate names are an error.
bool writeSafetensors(const std::string &path,
                      const std::vector<TensorToWrite> &tensors,
                      const std::map<std::string, std::string> &metadata,
                      std::string &error);

/// A run of bytes to be written.
struct ByteSpan {
  const void *data;
  size_t size;
};

/// Writes the concatenation of `chunks` to `path` atomically: the bytes go to
/// `path + ".tmp.<pid>"` beside it, are fsync'ed, then renamed over `path`.
/// On failure the temporary file is removed, `path` is untouched, and `error`
/// names the path and the system's reason. Shared by the safetensors and .npy
/// writers.
bool writeFileAtomically(const std::string &path,
                         const std::vector<ByteSpan> &chunks,
                         std::string &error);

} // namespace resnetc

#endif // RESNETC_RUNTIME_SAFETENSORS_H
