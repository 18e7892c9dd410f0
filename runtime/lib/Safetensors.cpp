//===- Safetensors.cpp - Read and write safetensors files -------*- C++ -*-===//
//
// Reading maps the file and validates the header as strictly as the reference
// implementation (huggingface/safetensors): every tensor's byte range must
// match its dtype and shape, and the ranges must tile the data buffer without
// overlaps or holes. nlohmann-json's exceptions never leave this file.
//
//===----------------------------------------------------------------------===//

#include "resnetc/runtime/Safetensors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <tuple>
#include <unistd.h>

using namespace resnetc;
using nlohmann::json;

static_assert(
    __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
    "safetensors and .npy data are read in place: little-endian only");

/// The reference implementation's limit; anything larger is not a header.
static constexpr uint64_t kMaxHeaderSize = 100'000'000;

namespace {
struct DTypeInfo {
  DType dtype;
  const char *name;
  size_t size;
};

/// A tensor of the header whose offsets still await the tiling check.
struct Entry {
  TensorView view;
  uint64_t begin = 0;
  uint64_t end = 0;
};
} // namespace

static constexpr DTypeInfo kDTypes[] = {
    {DType::F64, "F64", 8},   {DType::F32, "F32", 4}, {DType::F16, "F16", 2},
    {DType::BF16, "BF16", 2}, {DType::I64, "I64", 8}, {DType::I32, "I32", 4},
    {DType::I16, "I16", 2},   {DType::I8, "I8", 1},   {DType::U8, "U8", 1},
    {DType::Bool, "BOOL", 1}};

static const DTypeInfo &info(DType dtype) {
  for (const DTypeInfo &i : kDTypes)
    if (i.dtype == dtype)
      return i;
  return kDTypes[0]; // Unreachable for a valid enumerator.
}

const char *resnetc::dtypeName(DType dtype) { return info(dtype).name; }

size_t resnetc::dtypeSize(DType dtype) { return info(dtype).size; }

bool resnetc::parseDType(const std::string &name, DType &dtype) {
  for (const DTypeInfo &i : kDTypes) {
    if (name == i.name) {
      dtype = i.dtype;
      return true;
    }
  }
  return false;
}

int64_t TensorView::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

static std::string formatShape(const std::vector<int64_t> &shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

static std::string formatRange(uint64_t begin, uint64_t end) {
  return "[" + std::to_string(begin) + ", " + std::to_string(end) + "]";
}

/// Bytes a tensor of `shape` and `dtype` occupies; empty reason on success.
static std::string byteSize(const std::vector<int64_t> &shape, DType dtype,
                            uint64_t &nbytes) {
  nbytes = dtypeSize(dtype);
  for (int64_t d : shape)
    if (d < 0)
      return "shape " + formatShape(shape) + " has a negative dimension";
  for (int64_t d : shape)
    if (__builtin_mul_overflow(nbytes, static_cast<uint64_t>(d), &nbytes))
      return "shape " + formatShape(shape) + " is too large";
  return {};
}

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

/// Parses one header entry against a data buffer of `dataSize` bytes.
static bool parseEntry(const std::string &name, const json &value,
                       uint64_t dataSize, const std::string &path, Entry &entry,
                       std::string &error) {
  auto fail = [&](const std::string &why) {
    error = "tensor '" + name + "' in " + path + ": " + why;
    return false;
  };
  if (!value.is_object())
    return fail("header entry is not a JSON object");

  auto dtype = value.find("dtype");
  if (dtype == value.end() || !dtype->is_string())
    return fail("'dtype' is missing or not a string");
  if (!parseDType(dtype->get<std::string>(), entry.view.dtype))
    return fail("unsupported dtype '" + dtype->get<std::string>() + "'");

  auto shape = value.find("shape");
  if (shape == value.end() || !shape->is_array())
    return fail("'shape' is missing or not an array");
  for (const json &dim : *shape) {
    if (!dim.is_number_integer())
      return fail("'shape' holds a non-integer: " + dim.dump());
    if (dim.is_number_unsigned() &&
        dim.get<uint64_t>() > uint64_t(std::numeric_limits<int64_t>::max()))
      return fail("'shape' holds a dimension too large: " + dim.dump());
    entry.view.shape.push_back(dim.get<int64_t>());
  }

  auto offsets = value.find("data_offsets");
  if (offsets == value.end() || !offsets->is_array() || offsets->size() != 2 ||
      !(*offsets)[0].is_number_unsigned() ||
      !(*offsets)[1].is_number_unsigned())
    return fail("'data_offsets' is missing or not two non-negative integers");
  entry.begin = (*offsets)[0].get<uint64_t>();
  entry.end = (*offsets)[1].get<uint64_t>();

  uint64_t nbytes;
  std::string why = byteSize(entry.view.shape, entry.view.dtype, nbytes);
  if (!why.empty())
    return fail(why);
  std::string range = "data_offsets " + formatRange(entry.begin, entry.end);
  if (entry.end < entry.begin)
    return fail(range + " end before they begin");
  if (entry.end > dataSize)
    return fail(range + " reach past the end of the data buffer (" +
                std::to_string(dataSize) +
                " bytes): the file is truncated or its header is wrong");
  if (entry.end - entry.begin != nbytes)
    return fail(range + " hold " + std::to_string(entry.end - entry.begin) +
                " bytes, but " + dtypeName(entry.view.dtype) + " " +
                formatShape(entry.view.shape) + " needs " +
                std::to_string(nbytes));
  entry.view.name = name;
  entry.view.nbytes = nbytes;
  return true;
}

/// Parses and validates the JSON header; offsets are relative to the data
/// buffer of `dataSize` bytes that follows it.
static bool parseHeader(const char *begin, const char *end, uint64_t dataSize,
                        const std::string &path, std::vector<Entry> &entries,
                        std::map<std::string, std::string> &metadata,
                        std::string &error) {
  // nlohmann-json keeps the last of duplicate keys; the format forbids them.
  std::string duplicate;
  std::set<std::string> keys;
  json::parser_callback_t noteKeys = [&](int depth, json::parse_event_t event,
                                         json &parsed) {
    if (depth == 1 && event == json::parse_event_t::key &&
        !keys.insert(parsed.get<std::string>()).second && duplicate.empty())
      duplicate = parsed.get<std::string>();
    return true;
  };
  json header;
  try {
    header = json::parse(begin, end, noteKeys);
  } catch (const json::exception &e) {
    error = path + ": header is not valid JSON: " + e.what();
    return false;
  }
  if (!header.is_object()) {
    error = path + ": header is not a JSON object";
    return false;
  }
  if (!duplicate.empty()) {
    error = path + ": header names '" + duplicate + "' twice";
    return false;
  }

  for (const auto &[name, value] : header.items()) {
    if (name == "__metadata__") {
      if (!value.is_object()) {
        error = path + ": '__metadata__' is not a JSON object";
        return false;
      }
      for (const auto &[key, text] : value.items()) {
        if (!text.is_string()) {
          error =
              path + ": '__metadata__' value of '" + key + "' is not a string";
          return false;
        }
        metadata[key] = text.get<std::string>();
      }
      continue;
    }
    entries.emplace_back();
    if (!parseEntry(name, value, dataSize, path, entries.back(), error))
      return false;
  }

  // Like the reference: sorted by offset, the tensors must tile the buffer.
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry &a, const Entry &b) {
                     return std::tie(a.begin, a.end) < std::tie(b.begin, b.end);
                   });
  uint64_t covered = 0;
  const Entry *previous = nullptr;
  for (const Entry &e : entries) {
    std::string where = "tensor '" + e.view.name + "' in " + path +
                        ": data_offsets " + formatRange(e.begin, e.end);
    if (e.begin < covered) {
      error = where + " overlap tensor '" + previous->view.name + "' at " +
              formatRange(previous->begin, previous->end);
      return false;
    }
    if (e.begin > covered) {
      error = where + " leave a hole of " + std::to_string(e.begin - covered) +
              " bytes " +
              (previous ? "after tensor '" + previous->view.name + "'"
                        : std::string("at the start of the data buffer"));
      return false;
    }
    covered = e.end;
    previous = &e;
  }
  if (covered != dataSize) {
    error = path + ": tensors cover " + std::to_string(covered) + " of the " +
            std::to_string(dataSize) + " bytes of the data buffer";
    return false;
  }
  return true;
}

std::unique_ptr<SafetensorsFile> SafetensorsFile::open(const std::string &path,
                                                       std::string &error) {
  try {
    std::unique_ptr<SafetensorsFile> file(new SafetensorsFile());
    file->path_ = path;

    int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      error = "cannot open " + path + ": " + std::strerror(errno);
      return nullptr;
    }
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
      error = path + ": not a regular file";
      ::close(fd);
      return nullptr;
    }
    uint64_t size = st.st_size;
    if (size < 8) {
      error = path + ": file is " + std::to_string(size) +
              " bytes, too short for the 8-byte header length (truncated?)";
      ::close(fd);
      return nullptr;
    }
    void *mapping = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int mmapErrno = errno;
    ::close(fd);
    if (mapping == MAP_FAILED) {
      error = "cannot map " + path + ": " + std::strerror(mmapErrno);
      return nullptr;
    }
    file->mapping_ = mapping;
    file->mappingSize_ = size;

    const char *bytes = static_cast<const char *>(mapping);
    uint64_t headerSize;
    std::memcpy(&headerSize, bytes, 8);
    if (headerSize > kMaxHeaderSize) {
      error = path + ": header length " + std::to_string(headerSize) +
              " is implausible (limit " + std::to_string(kMaxHeaderSize) +
              "): not a safetensors file";
      return nullptr;
    }
    if (headerSize > size - 8) {
      error = path + ": header length " + std::to_string(headerSize) +
              " exceeds the " + std::to_string(size - 8) +
              " bytes after the length field: the file is truncated";
      return nullptr;
    }
    const char *data = bytes + 8 + headerSize;
    std::vector<Entry> entries;
    if (!parseHeader(bytes + 8, data, size - 8 - headerSize, path, entries,
                     file->metadata_, error))
      return nullptr;

    for (Entry &e : entries) {
      e.view.data = data + e.begin;
      file->index_[e.view.name] = file->tensors_.size();
      file->tensors_.push_back(std::move(e.view));
    }
    return file;
  } catch (const std::exception &e) {
    error = path + ": " + e.what();
    return nullptr;
  }
}

SafetensorsFile::~SafetensorsFile() {
  if (mapping_)
    ::munmap(mapping_, mappingSize_);
}

const TensorView *SafetensorsFile::find(const std::string &name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors_[it->second];
}

const float *SafetensorsFile::getF32(const std::string &name,
                                     const std::vector<int64_t> &shape,
                                     std::string &error) const {
  const TensorView *tensor = find(name);
  if (!tensor) {
    error = "missing tensor '" + name + "' in " + path_;
    return nullptr;
  }
  if (tensor->dtype != DType::F32) {
    error = "tensor '" + name + "' in " + path_ + " has dtype " +
            dtypeName(tensor->dtype) + ", expected F32";
    return nullptr;
  }
  if (tensor->shape != shape) {
    error = "tensor '" + name + "' in " + path_ + " has shape " +
            formatShape(tensor->shape) + ", expected " + formatShape(shape);
    return nullptr;
  }
  // Files whose writer did not pad the header leave the data unaligned;
  // reading floats through such a pointer is undefined behaviour.
  if (tensor->nbytes > 0 &&
      reinterpret_cast<uintptr_t>(tensor->data) % alignof(float) != 0) {
    error = "tensor '" + name + "' in " + path_ +
            " is not 4-byte aligned (it starts at byte " +
            std::to_string(static_cast<const char *>(tensor->data) -
                           static_cast<const char *>(mapping_)) +
            " of the file); rewrite the file with its header padded to a "
            "multiple of 8 bytes";
    return nullptr;
  }
  return static_cast<const float *>(tensor->data);
}

//===----------------------------------------------------------------------===//
// Writing
//===----------------------------------------------------------------------===//

bool resnetc::writeFileAtomically(const std::string &path,
                                  const std::vector<ByteSpan> &chunks,
                                  std::string &error) {
  std::string temp = path + ".tmp." + std::to_string(::getpid());
  auto fail = [&](const std::string &what, int err) {
    error = "cannot write " + path + ": " + what + ": " + std::strerror(err);
    return false;
  };
  int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return fail("cannot create " + temp, errno);
  auto abandon = [&](const std::string &what) {
    int err = errno;
    ::close(fd);
    ::unlink(temp.c_str());
    return fail(what, err);
  };
  for (const ByteSpan &chunk : chunks) {
    const char *p = static_cast<const char *>(chunk.data);
    size_t left = chunk.size;
    while (left > 0) {
      ssize_t n = ::write(fd, p, left);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        return abandon("write to " + temp + " failed");
      p += n;
      left -= n;
    }
  }
  if (::fsync(fd) != 0)
    return abandon("fsync of " + temp + " failed");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return fail("close of " + temp + " failed", err);
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(temp.c_str());
    return fail("cannot rename " + temp + " over it", err);
  }
  // Make the rename itself durable; best effort, the data is already safe.
  size_t slash = path.rfind('/');
  std::string dir =
      slash == std::string::npos ? "." : path.substr(0, slash + 1);
  int dirFd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirFd >= 0) {
    ::fsync(dirFd);
    ::close(dirFd);
  }
  return true;
}

bool resnetc::writeSafetensors(
    const std::string &path, const std::vector<TensorToWrite> &tensors,
    const std::map<std::string, std::string> &metadata, std::string &error) {
  try {
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty())
      header["__metadata__"] = metadata;
    std::set<std::string> names;
    std::vector<ByteSpan> chunks(2);
    uint64_t offset = 0;
    // Header entries keep the given order; the data is laid out by element
    // size, largest first (as the reference implementation does), so every
    // tensor starts aligned to its element size.
    std::vector<const TensorToWrite *> layout;
    for (const TensorToWrite &t : tensors)
      layout.push_back(&t);
    std::stable_sort(layout.begin(), layout.end(),
                     [](const TensorToWrite *a, const TensorToWrite *b) {
                       return dtypeSize(a->dtype) > dtypeSize(b->dtype);
                     });
    for (const TensorToWrite &t : tensors)
      header[t.name] = nullptr;
    for (const TensorToWrite *tensor : layout) {
      const TensorToWrite &t = *tensor;
      auto fail = [&](const std::string &why) {
        error = "cannot write " + path + ": tensor '" + t.name + "' " + why;
        return false;
      };
      if (t.name.empty())
        return fail("has an empty name");
      if (t.name == "__metadata__")
        return fail("uses the name reserved for metadata");
      if (!names.insert(t.name).second)
        return fail("appears twice");
      uint64_t nbytes;
      std::string why = byteSize(t.shape, t.dtype, nbytes);
      if (!why.empty())
        return fail(why);
      if (nbytes > 0 && !t.data)
        return fail("has no data");
      nlohmann::ordered_json &entry = header[t.name];
      entry["dtype"] = dtypeName(t.dtype);
      entry["shape"] = t.shape;
      entry["data_offsets"] = {offset, offset + nbytes};
      offset += nbytes;
      chunks.push_back({t.data, static_cast<size_t>(nbytes)});
    }
    // Pad with spaces so that the data buffer starts 8-byte aligned.
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    uint64_t headerSize = text.size();
    chunks[0] = {&headerSize, 8};
    chunks[1] = {text.data(), text.size()};
    return writeFileAtomically(path, chunks, error);
  } catch (const json::type_error &e) {
    error = "cannot write " + path +
            ": tensor names and metadata must be valid UTF-8 (" + e.what() +
            ")";
    return false;
  } catch (const std::exception &e) {
    error = "cannot write " + path + ": " + e.what();
    return false;
  }
}
