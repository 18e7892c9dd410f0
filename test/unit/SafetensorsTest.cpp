//===- SafetensorsTest.cpp - Safetensors read/write tests -------*- C++ -*-===//
//
// Most inputs are crafted byte by byte here, so that the reader is checked
// independently of the writer.
//
//===----------------------------------------------------------------------===//

#include "resnetc/runtime/Safetensors.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

using namespace resnetc;

namespace {

/// Whether `text` contains `part`; on failure, says what `text` was.
::testing::AssertionResult contains(const std::string &text,
                                    const std::string &part) {
  if (text.find(part) != std::string::npos)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\" lacks \"" << part << "\"";
}

std::string readBytes(const std::string &path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void writeBytes(const std::string &path, const std::string &bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

/// A safetensors file as the format prescribes: length, header, data.
std::string safetensorsBytes(const std::string &header,
                             const std::string &data) {
  std::string bytes(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i)
    bytes[i] = static_cast<char>(n >> (8 * i));
  return bytes + header + data;
}

class SafetensorsTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "safetensors-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::string path(const std::string &name) const { return dir + "/" + name; }

  /// Writes `bytes`, expects open() to fail, and returns its error.
  std::string openError(const std::string &bytes) {
    std::string file = path("bad.safetensors");
    writeBytes(file, bytes);
    std::string error;
    EXPECT_EQ(SafetensorsFile::open(file, error), nullptr);
    EXPECT_TRUE(contains(error, file));
    return error;
  }

  /// The names in the test directory.
  std::vector<std::string> listDir() const {
    std::vector<std::string> names;
    for (const auto &entry : std::filesystem::directory_iterator(dir))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir;
};

/// A file spelled out byte for byte as the format prescribes: the header
/// length, the JSON header padded with spaces to a multiple of 8 bytes, then
/// the data buffer. As the reference writer does, the data is laid out by
/// element size, largest first, while the header keeps the caller's order.
const char kReferenceHeader[] =
    R"({"__metadata__":{"format":"pt"},)"
    R"("bias":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},)"
    R"("count":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})";
const char kReferenceData[] = "\x07\x00\x00\x00\x00\x00\x00\x00" // 7
                              "\x00\x00\x80\x3f"                  // 1.0f
                              "\x00\x00\x00\xc0";                 // -2.0f

std::string referenceFile() {
  std::string header = std::string(kReferenceHeader) + "       ";
  EXPECT_EQ(header.size(), 0x98u);
  return std::string("\x98\0\0\0\0\0\0\0", 8) + header +
         std::string(kReferenceData, 16);
}

} // namespace

TEST_F(SafetensorsTest, ReadsHandWrittenFile) {
  std::string file = path("ref.safetensors");
  writeBytes(file, referenceFile());

  std::string error;
  auto st = SafetensorsFile::open(file, error);
  ASSERT_NE(st, nullptr) << error;
  EXPECT_EQ(st->path(), file);
  EXPECT_EQ(st->metadata(),
            (std::map<std::string, std::string>{{"format", "pt"}}));
  ASSERT_EQ(st->tensors().size(), 2u);
  EXPECT_EQ(st->tensors()[0].name, "count"); // in the order of the data
  EXPECT_EQ(st->tensors()[1].name, "bias");

  const float *bias = st->getF32("bias", {2}, error);
  ASSERT_NE(bias, nullptr) << error;
  EXPECT_EQ(bias[0], 1.0f);
  EXPECT_EQ(bias[1], -2.0f);

  const TensorView *count = st->find("count");
  ASSERT_NE(count, nullptr);
  EXPECT_EQ(count->dtype, DType::I64);
  EXPECT_TRUE(count->shape.empty());
  EXPECT_EQ(count->numElements(), 1);
  EXPECT_EQ(count->nbytes, 8u);
  EXPECT_EQ(*static_cast<const int64_t *>(count->data), 7);
  EXPECT_EQ(st->find("absent"), nullptr);
}

TEST_F(SafetensorsTest, WriterProducesReferenceBytes) {
  float bias[] = {1.0f, -2.0f};
  int64_t count = 7;
  std::string file = path("out.safetensors");
  std::string error;
  ASSERT_TRUE(writeSafetensors(
      file,
      {{"bias", DType::F32, {2}, bias}, {"count", DType::I64, {}, &count}},
      {{"format", "pt"}}, error))
      << error;
  EXPECT_EQ(readBytes(file), referenceFile());
}

TEST_F(SafetensorsTest, GetF32RejectsUnalignedData) {
  // Without the padding the data starts at byte 153 and the F32 tensor at
  // 161: valid, but unaligned.
  std::string file = path("unpadded.safetensors");
  writeBytes(file, safetensorsBytes(kReferenceHeader,
                                    std::string(kReferenceData, 16)));
  std::string error;
  auto st = SafetensorsFile::open(file, error);
  ASSERT_NE(st, nullptr) << error;
  float bias[2];
  std::memcpy(bias, st->find("bias")->data, sizeof(bias));
  EXPECT_EQ(bias[1], -2.0f);
  EXPECT_EQ(st->getF32("bias", {2}, error), nullptr);
  EXPECT_TRUE(contains(error, "tensor 'bias' in " + file +
                                  " is not 4-byte aligned (it starts at "
                                  "byte 161 of the file)"));
}

TEST_F(SafetensorsTest, RoundTripsSeveralDTypes) {
  float f32[6] = {0, 1, 2, 3, 4, 5.5f};
  int64_t i64[4] = {-1, 0, 1, INT64_MAX};
  uint8_t u8[5] = {1, 2, 3, 4, 255}; // Odd size: tests the layout order.
  int32_t i32[3] = {-7, 8, 9};
  double scalar = 3.25;
  uint16_t bf16[2] = {0x3f80, 0xc000};
  bool flags[3] = {true, false, true};
  std::vector<TensorToWrite> tensors = {
      {"conv.weight", DType::F32, {2, 3}, f32},
      {"counts", DType::I64, {4}, i64},
      {"bytes", DType::U8, {5}, u8},
      {"ints", DType::I32, {3, 1}, i32},
      {"scalar", DType::F64, {}, &scalar},
      {"empty", DType::F32, {0, 3}, nullptr},
      {"half", DType::BF16, {2}, bf16},
      {"flags", DType::Bool, {3}, flags},
  };
  std::map<std::string, std::string> metadata = {{"format", "pt"},
                                                 {"note", "ü \"quoted\""}};
  std::string file = path("round.safetensors");
  std::string error;
  ASSERT_TRUE(writeSafetensors(file, tensors, metadata, error)) << error;
  EXPECT_EQ(listDir(), std::vector<std::string>{"round.safetensors"});

  std::string bytes = readBytes(file);
  uint64_t headerSize;
  std::memcpy(&headerSize, bytes.data(), 8);
  EXPECT_EQ(headerSize % 8, 0u);

  auto st = SafetensorsFile::open(file, error);
  ASSERT_NE(st, nullptr) << error;
  EXPECT_EQ(st->metadata(), metadata);
  ASSERT_EQ(st->tensors().size(), tensors.size());
  for (const TensorToWrite &want : tensors) {
    SCOPED_TRACE(want.name);
    const TensorView *view = st->find(want.name);
    ASSERT_NE(view, nullptr);
    EXPECT_EQ(view->dtype, want.dtype);
    EXPECT_EQ(view->shape, want.shape);
    EXPECT_EQ(view->nbytes, view->numElements() * dtypeSize(want.dtype));
    if (view->nbytes) {
      EXPECT_EQ(std::memcmp(view->data, want.data, view->nbytes), 0);
    }
    // Every tensor starts aligned to its element size.
    EXPECT_EQ(reinterpret_cast<uintptr_t>(view->data) % dtypeSize(want.dtype),
              0u);
  }
  // Laid out contiguously, larger elements first.
  size_t offset = 0;
  for (size_t i = 0; i < st->tensors().size(); ++i) {
    const TensorView &view = st->tensors()[i];
    EXPECT_EQ(static_cast<const char *>(view.data) -
                  static_cast<const char *>(st->tensors()[0].data),
              static_cast<ptrdiff_t>(offset));
    if (i > 0)
      EXPECT_LE(dtypeSize(view.dtype), dtypeSize(st->tensors()[i - 1].dtype));
    offset += view.nbytes;
  }
  const float *w = st->getF32("conv.weight", {2, 3}, error);
  ASSERT_NE(w, nullptr) << error;
  EXPECT_EQ(w[5], 5.5f);
  EXPECT_NE(st->getF32("empty", {0, 3}, error), nullptr) << error;
}

TEST_F(SafetensorsTest, WritesAndReadsEmptyFile) {
  std::string file = path("empty.safetensors");
  std::string error;
  ASSERT_TRUE(writeSafetensors(file, {}, {}, error)) << error;
  EXPECT_EQ(readBytes(file), safetensorsBytes("{}      ", ""));
  auto st = SafetensorsFile::open(file, error);
  ASSERT_NE(st, nullptr) << error;
  EXPECT_TRUE(st->tensors().empty());
  EXPECT_TRUE(st->metadata().empty());
}

TEST_F(SafetensorsTest, SortsTensorsByOffset) {
  std::string header =
      R"({"b":{"dtype":"U8","shape":[2],"data_offsets":[1,3]},)"
      R"("z":{"dtype":"F32","shape":[0],"data_offsets":[3,3]},)"
      R"("a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}})"
      "   \n\t"; // Trailing whitespace is allowed.
  std::string file = path("sorted.safetensors");
  writeBytes(file, safetensorsBytes(header, "xyz"));
  std::string error;
  auto st = SafetensorsFile::open(file, error);
  ASSERT_NE(st, nullptr) << error;
  ASSERT_EQ(st->tensors().size(), 3u);
  EXPECT_EQ(st->tensors()[0].name, "a");
  EXPECT_EQ(st->tensors()[1].name, "b");
  EXPECT_EQ(st->tensors()[2].name, "z");
  EXPECT_EQ(*static_cast<const char *>(st->find("b")->data), 'y');
}

TEST_F(SafetensorsTest, RejectsTruncationAtEveryByte) {
  float data[4] = {1, 2, 3, 4};
  std::string good = path("good.safetensors");
  std::string error;
  ASSERT_TRUE(writeSafetensors(
      good, {{"x", DType::F32, {2}, data}, {"y", DType::F32, {2}, data + 2}},
      {}, error))
      << error;
  std::string bytes = readBytes(good);
  uint64_t headerSize;
  std::memcpy(&headerSize, bytes.data(), 8);
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    std::string message = openError(bytes.substr(0, cut));
    EXPECT_TRUE(contains(message, "truncated"));
    if (cut < 8) {
      EXPECT_TRUE(contains(message, "too short"));
    } else if (cut >= 8 + headerSize) {
      EXPECT_TRUE(contains(message, "tensor '"));
    }
  }
}

TEST_F(SafetensorsTest, RejectsOffsetsPastTheBuffer) {
  std::string error = openError(safetensorsBytes(
      R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", "1234"));
  EXPECT_TRUE(contains(error, "tensor 'w'"));
  EXPECT_TRUE(contains(error, "data_offsets [0, 8] reach past the end of the "
                              "data buffer (4 bytes)"));
}

TEST_F(SafetensorsTest, RejectsOverlappingTensors) {
  std::string error = openError(safetensorsBytes(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::string(12, '\0')));
  EXPECT_TRUE(contains(error, "tensor 'b'"));
  EXPECT_TRUE(contains(error, "overlap tensor 'a' at [0, 8]"));

  // A zero-size tensor inside another overlaps it too.
  error = openError(safetensorsBytes(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})",
      std::string(8, '\0')));
  EXPECT_TRUE(contains(error, "tensor 'z'"));
  EXPECT_TRUE(contains(error, "overlap"));
}

TEST_F(SafetensorsTest, RejectsHoles) {
  std::string error = openError(safetensorsBytes(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
      R"("b":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}})",
      std::string(20, '\0')));
  EXPECT_TRUE(contains(error, "tensor 'b'"));
  EXPECT_TRUE(contains(error, "hole of 4 bytes after tensor 'a'"));

  error = openError(safetensorsBytes(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
      std::string(12, '\0')));
  EXPECT_TRUE(contains(error, "tensor 'a'"));
  EXPECT_TRUE(contains(error, "at the start of the data buffer"));

  // Bytes after the last tensor.
  error = openError(safetensorsBytes(
      R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})",
      std::string(12, '\0')));
  EXPECT_TRUE(contains(error, "tensors cover 8 of the 12 bytes"));
}

TEST_F(SafetensorsTest, RejectsSizeLies) {
  std::string error = openError(safetensorsBytes(
      R"({"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,8]}})",
      std::string(8, '\0')));
  EXPECT_TRUE(contains(error, "tensor 'w'"));
  EXPECT_TRUE(contains(error, "hold 8 bytes, but F32 [2, 3] needs 24"));

  error = openError(safetensorsBytes(
      R"({"w":{"dtype":"U8","shape":[0],"data_offsets":[8,0]}})",
      std::string(8, '\0')));
  EXPECT_TRUE(contains(error, "tensor 'w'"));
  EXPECT_TRUE(contains(error, "end before they begin"));

  error = openError(
      safetensorsBytes(R"({"w":{"dtype":"F64","shape":[4294967296,4294967296],)"
                       R"("data_offsets":[0,0]}})",
                       ""));
  EXPECT_TRUE(contains(error, "tensor 'w'"));
  EXPECT_TRUE(contains(error, "too large"));
}

TEST_F(SafetensorsTest, RejectsMalformedEntries) {
  struct Case {
    const char *header;
    const char *message;
  } cases[] = {
      {R"({"w":5})", "tensor 'w' in"},
      {R"({"w":{"shape":[],"data_offsets":[0,0]}})", "'dtype' is missing"},
      {R"({"w":{"dtype":4,"shape":[],"data_offsets":[0,0]}})",
       "'dtype' is missing or not a string"},
      {R"({"w":{"dtype":"U16","shape":[],"data_offsets":[0,2]}})",
       "unsupported dtype 'U16'"},
      {R"({"w":{"dtype":"U8","data_offsets":[0,1]}})", "'shape' is missing"},
      {R"({"w":{"dtype":"U8","shape":3,"data_offsets":[0,1]}})",
       "'shape' is missing or not an array"},
      {R"({"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,1]}})",
       "non-integer"},
      {R"({"w":{"dtype":"U8","shape":[2,-1],"data_offsets":[0,0]}})",
       "shape [2, -1] has a negative dimension"},
      {R"({"w":{"dtype":"U8","shape":[18446744073709551615],)"
       R"("data_offsets":[0,0]}})",
       "too large"},
      {R"({"w":{"dtype":"U8","shape":[]}})", "'data_offsets' is missing"},
      {R"({"w":{"dtype":"U8","shape":[],"data_offsets":[0]}})",
       "'data_offsets'"},
      {R"({"w":{"dtype":"U8","shape":[],"data_offsets":[-1,0]}})",
       "'data_offsets'"},
      {R"({"w":{"dtype":"U8","shape":[],"data_offsets":[0,1.0]}})",
       "'data_offsets'"},
      {R"({"w":{"dtype":"U8","shape":[],"data_offsets":"0,1"}})",
       "'data_offsets'"},
      {R"({"__metadata__":[]})", "'__metadata__' is not a JSON object"},
      {R"({"__metadata__":{"k":1}})", "value of 'k' is not a string"},
      {R"({"w":{"dtype":"U8","shape":[],"data_offsets":[0,1]},)"
       R"("w":{"dtype":"U8","shape":[],"data_offsets":[0,1]}})",
       "names 'w' twice"},
      {R"([1,2])", "not a JSON object"},
      {R"({"w":)", "not valid JSON"},
      {"", "not valid JSON"},
      {"{\"w\xff\":1}", "not valid JSON"}, // Not UTF-8.
      {R"({} x)", "not valid JSON"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.header);
    EXPECT_TRUE(
        contains(openError(safetensorsBytes(c.header, "x")), c.message));
  }
}

TEST_F(SafetensorsTest, RejectsBadHeaderLengths) {
  // Longer than the file.
  std::string bytes = safetensorsBytes("{}", "");
  bytes[0] = 100;
  EXPECT_TRUE(contains(openError(bytes),
                       "header length 100 exceeds the 2 bytes after the "
                       "length field: the file is truncated"));
  // Absurd, and 8 + length would overflow.
  EXPECT_TRUE(
      contains(openError(std::string(8, '\xff') + "{}"), "implausible"));
  EXPECT_TRUE(contains(openError(""), "file is 0 bytes, too short"));
}

TEST_F(SafetensorsTest, RejectsMissingAndNonRegularFiles) {
  std::string error;
  EXPECT_EQ(SafetensorsFile::open(path("absent.safetensors"), error), nullptr);
  EXPECT_TRUE(contains(error, "cannot open " + path("absent.safetensors")));
  EXPECT_TRUE(contains(error, "No such file or directory"));
  EXPECT_EQ(SafetensorsFile::open(dir, error), nullptr);
  EXPECT_TRUE(contains(error, "not a regular file"));
}

TEST_F(SafetensorsTest, GetF32ChecksNameDTypeAndShape) {
  std::string file = path("w.safetensors");
  std::string header = R"({"f":{"dtype":"F32","shape":[3,4],)"
                       R"("data_offsets":[0,48]},)"
                       R"("x":{"dtype":"I64","shape":[3,4],)"
                       R"("data_offsets":[48,144]}})";
  header.append((8 - header.size() % 8) % 8, ' ');
  writeBytes(file, safetensorsBytes(header, std::string(144, '\0')));
  std::string error;
  auto st = SafetensorsFile::open(file, error);
  ASSERT_NE(st, nullptr) << error;

  EXPECT_EQ(st->getF32("y", {3, 4}, error), nullptr);
  EXPECT_EQ(error, "missing tensor 'y' in " + file);
  EXPECT_EQ(st->getF32("x", {3, 4}, error), nullptr);
  EXPECT_EQ(error, "tensor 'x' in " + file + " has dtype I64, expected F32");
  EXPECT_EQ(st->getF32("f", {4, 3}, error), nullptr);
  EXPECT_EQ(error,
            "tensor 'f' in " + file + " has shape [3, 4], expected [4, 3]");
  EXPECT_EQ(st->getF32("f", {}, error), nullptr);
  EXPECT_EQ(error, "tensor 'f' in " + file + " has shape [3, 4], expected []");
  EXPECT_NE(st->getF32("f", {3, 4}, error), nullptr);
}

TEST_F(SafetensorsTest, WriteToMissingDirectoryFails) {
  float x = 1;
  std::string file = path("no/such/dir/w.safetensors");
  std::string error;
  EXPECT_FALSE(writeSafetensors(file, {{"x", DType::F32, {}, &x}}, {}, error));
  EXPECT_TRUE(contains(error, file));
  EXPECT_TRUE(contains(error, "No such file or directory"));
  EXPECT_TRUE(listDir().empty());
}

TEST_F(SafetensorsTest, WriteRejectsBadTensors) {
  float x[2] = {1, 2};
  struct Case {
    std::vector<TensorToWrite> tensors;
    const char *message;
  } cases[] = {
      {{{"x", DType::F32, {}, x}, {"x", DType::F32, {}, x}},
       "tensor 'x' appears twice"},
      {{{"", DType::F32, {}, x}}, "empty name"},
      {{{"__metadata__", DType::F32, {}, x}}, "reserved"},
      {{{"x", DType::F32, {2, -2}, x}}, "negative dimension"},
      {{{"x", DType::F32, {2}, nullptr}}, "has no data"},
      {{{"bad\xff", DType::F32, {}, x}}, "UTF-8"},
  };
  std::string file = path("w.safetensors");
  for (const Case &c : cases) {
    SCOPED_TRACE(c.message);
    std::string error;
    EXPECT_FALSE(writeSafetensors(file, c.tensors, {}, error));
    EXPECT_TRUE(contains(error, file));
    EXPECT_TRUE(contains(error, c.message));
    EXPECT_TRUE(listDir().empty());
  }
}

TEST_F(SafetensorsTest, ReplacesAtomically) {
  float a[2] = {1, 2}, b[3] = {3, 4, 5};
  std::string file = path("w.safetensors");
  std::string error;
  ASSERT_TRUE(writeSafetensors(file, {{"a", DType::F32, {2}, a}}, {}, error));
  std::string old = readBytes(file);

  // A rejected write leaves the old file as it was.
  EXPECT_FALSE(writeSafetensors(
      file, {{"b", DType::F32, {3}, b}, {"b", DType::F32, {3}, b}}, {}, error));
  EXPECT_EQ(readBytes(file), old);

  // So does one whose temporary file cannot be created.
  std::string temp = file + ".tmp." + std::to_string(::getpid());
  ASSERT_TRUE(std::filesystem::create_directory(temp));
  EXPECT_FALSE(writeSafetensors(file, {{"b", DType::F32, {3}, b}}, {}, error));
  EXPECT_TRUE(contains(error, temp));
  EXPECT_EQ(readBytes(file), old);
  std::filesystem::remove(temp);

  // A successful write replaces it and leaves nothing else behind.
  ASSERT_TRUE(writeSafetensors(file, {{"b", DType::F32, {3}, b}}, {}, error))
      << error;
  EXPECT_EQ(listDir(), std::vector<std::string>{"w.safetensors"});
  auto st = SafetensorsFile::open(file, error);
  ASSERT_NE(st, nullptr) << error;
  EXPECT_EQ(st->find("a"), nullptr);
  const float *got = st->getF32("b", {3}, error);
  ASSERT_NE(got, nullptr) << error;
  EXPECT_EQ(got[2], 5.0f);
}

TEST_F(SafetensorsTest, FailedWriteMidwayLeavesOldFile) {
  std::vector<float> big(4096, 1.0f);
  float a = 1;
  std::string file = path("w.safetensors");
  std::string error;
  ASSERT_TRUE(writeSafetensors(file, {{"a", DType::F32, {}, &a}}, {}, error));
  std::string old = readBytes(file);

  // In a child limited to 1 KiB files, the write fails with EFBIG after part
  // of the data is out.
  pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    struct rlimit limit = {1024, 1024};
    ::setrlimit(RLIMIT_FSIZE, &limit);
    bool ok = writeSafetensors(file, {{"big", DType::F32, {4096}, big.data()}},
                               {}, error);
    ::_exit(ok ? 1 : error.find("File too large") == std::string::npos ? 2 : 0);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_EQ(readBytes(file), old);
  EXPECT_EQ(listDir(), std::vector<std::string>{"w.safetensors"});
}
