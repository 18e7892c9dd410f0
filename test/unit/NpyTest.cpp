//===- NpyTest.cpp - .npy reader and writer tests ---------------*- C++ -*-===//
//
// Expected bytes come from numpy 1.24's np.save; the unit tests do not need
// Python.
//
//===----------------------------------------------------------------------===//

#include "resnetc/runtime/Npy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <stdlib.h>
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

/// A version 1.0 preamble and `header` as given, unpadded.
std::string npyV1(const std::string &header) {
  std::string bytes("\x93NUMPY\x01\x00", 8);
  bytes += static_cast<char>(header.size() & 0xff);
  bytes += static_cast<char>(header.size() >> 8);
  return bytes + header;
}

/// The numpy header of a C-order array, as numpy 1.24 writes it.
const char kHeader23[] =
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";

class NpyTest : public ::testing::Test {
protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "npy-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir = pattern;
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }

  std::string path(const std::string &name) const { return dir + "/" + name; }

  /// Writes `bytes`, expects readNpy to fail, and returns its error.
  std::string readError(const std::string &bytes) {
    std::string file = path("bad.npy");
    writeBytes(file, bytes);
    NpyArray array;
    std::string error;
    EXPECT_FALSE(readNpy(file, array, error));
    EXPECT_TRUE(contains(error, file));
    return error;
  }

  std::vector<std::string> listDir() const {
    std::vector<std::string> names;
    for (const auto &entry : std::filesystem::directory_iterator(dir))
      names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }

  std::string dir;
};

} // namespace

TEST_F(NpyTest, RoundTripsF32AndI32OfSeveralShapes) {
  std::vector<std::vector<int64_t>> shapes = {
      {2, 3}, {5}, {}, {1, 2, 3, 4}, {0}, {2, 0, 3}, {64, 3, 7, 7}};
  for (const auto &shape : shapes) {
    int64_t n = 1;
    for (int64_t d : shape)
      n *= d;
    std::vector<float> f(n);
    std::vector<int32_t> i(n);
    for (int64_t k = 0; k < n; ++k) {
      f[k] = 0.5f * k - 3;
      i[k] = static_cast<int32_t>(k * 7 - 100);
    }
    SCOPED_TRACE(shape.size());
    std::string error;
    NpyArray array;
    ASSERT_TRUE(writeNpy(path("f.npy"), DType::F32, shape, f.data(), error))
        << error;
    ASSERT_TRUE(readNpy(path("f.npy"), array, error)) << error;
    EXPECT_EQ(array.dtype, DType::F32);
    EXPECT_EQ(array.shape, shape);
    EXPECT_EQ(array.numElements(), n);
    ASSERT_EQ(array.bytes.size(), n * sizeof(float));
    EXPECT_TRUE(std::equal(f.begin(), f.end(), array.f32()));

    ASSERT_TRUE(writeNpy(path("i.npy"), DType::I32, shape, i.data(), error))
        << error;
    ASSERT_TRUE(readNpy(path("i.npy"), array, error)) << error;
    EXPECT_EQ(array.dtype, DType::I32);
    EXPECT_EQ(array.shape, shape);
    EXPECT_TRUE(std::equal(i.begin(), i.end(), array.i32()));
    // numpy aligns the data to 64 bytes.
    EXPECT_EQ((readBytes(path("i.npy")).size() - n * 4) % 64, 0u);
  }
  EXPECT_EQ(listDir(), (std::vector<std::string>{"f.npy", "i.npy"}));
}

TEST_F(NpyTest, RoundTripsOtherDTypes) {
  int64_t i64[2] = {INT64_MIN, 5};
  double f64[2] = {1.5, -0.25};
  uint8_t u8[3] = {0, 128, 255};
  bool flags[3] = {true, false, true};
  struct Case {
    DType dtype;
    const void *data;
    int64_t n;
  } cases[] = {{DType::I64, i64, 2},
               {DType::F64, f64, 2},
               {DType::U8, u8, 3},
               {DType::Bool, flags, 3}};
  for (const Case &c : cases) {
    SCOPED_TRACE(dtypeName(c.dtype));
    std::string error;
    NpyArray array;
    ASSERT_TRUE(writeNpy(path("a.npy"), c.dtype, {c.n}, c.data, error))
        << error;
    ASSERT_TRUE(readNpy(path("a.npy"), array, error)) << error;
    EXPECT_EQ(array.dtype, c.dtype);
    EXPECT_EQ(array.shape, std::vector<int64_t>{c.n});
    ASSERT_EQ(array.bytes.size(), c.n * dtypeSize(c.dtype));
    EXPECT_EQ(std::memcmp(array.bytes.data(), c.data, array.bytes.size()), 0);
  }
}

TEST_F(NpyTest, HeaderMatchesNumpyByteForByte) {
  float data[6] = {0, 1, 2, 3, 4, 5};
  std::string error;
  ASSERT_TRUE(writeNpy(path("a.npy"), DType::F32, {2, 3}, data, error))
      << error;
  std::string header = kHeader23;
  // numpy's spare room for the growth axis plus alignment: 128 bytes in all.
  std::string expected = std::string("\x93NUMPY\x01\x00\x76\x00", 10) + header +
                         std::string(128 - 10 - header.size() - 1, ' ') + "\n";
  ASSERT_EQ(expected.size(), 128u);
  std::string bytes = readBytes(path("a.npy"));
  ASSERT_EQ(bytes.size(), 128u + sizeof(data));
  EXPECT_EQ(bytes.substr(0, 128), expected);
  EXPECT_EQ(std::memcmp(bytes.data() + 128, data, sizeof(data)), 0);

  struct Case {
    std::vector<int64_t> shape;
    const char *dict;
    size_t total;
  } cases[] = {
      {{5}, "{'descr': '<i4', 'fortran_order': False, 'shape': (5,), }", 128},
      {{}, "{'descr': '<i4', 'fortran_order': False, 'shape': (), }", 128},
      // numpy pads a header that is already aligned by a further 64 bytes.
      {{0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 100},
       "{'descr': '<i4', 'fortran_order': False, 'shape': "
       "(0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 100), }",
       192},
  };
  int32_t values[5] = {1, 2, 3, 4, 5};
  for (const Case &c : cases) {
    SCOPED_TRACE(c.dict);
    ASSERT_TRUE(writeNpy(path("b.npy"), DType::I32, c.shape, values, error))
        << error;
    std::string dict = c.dict;
    std::string want = std::string("\x93NUMPY\x01\x00", 8) +
                       static_cast<char>(c.total - 10) + '\0' + dict +
                       std::string(c.total - 10 - dict.size() - 1, ' ') + "\n";
    EXPECT_EQ(readBytes(path("b.npy")).substr(0, c.total), want);
  }
}

TEST_F(NpyTest, ReadsHandWrittenVersion1) {
  // Unpadded, unaligned, double quotes, no trailing comma: still valid.
  std::string bytes =
      npyV1("{\"shape\": (3,), \"fortran_order\": False, \"descr\": '<i4'}\n");
  bytes += std::string("\x01\x00\x00\x00\xfe\xff\xff\xff\x00\x00\x00\x80", 12);
  std::string file = path("v1.npy");
  writeBytes(file, bytes);
  NpyArray array;
  std::string error;
  ASSERT_TRUE(readNpy(file, array, error)) << error;
  EXPECT_EQ(array.dtype, DType::I32);
  EXPECT_EQ(array.shape, std::vector<int64_t>{3});
  EXPECT_EQ(array.i32()[0], 1);
  EXPECT_EQ(array.i32()[1], -2);
  EXPECT_EQ(array.i32()[2], INT32_MIN);
}

TEST_F(NpyTest, ReadsHandWrittenVersions2And3) {
  for (char major : {'\x02', '\x03'}) {
    std::string header = std::string(kHeader23) + "\n";
    std::string bytes = std::string("\x93NUMPY", 6) + major + '\0';
    bytes += static_cast<char>(header.size());
    bytes += std::string(3, '\0');
    bytes += header;
    for (int i = 0; i < 6; ++i) {
      float v = i * 1.5f;
      bytes.append(reinterpret_cast<const char *>(&v), 4);
    }
    std::string file = path("v2.npy");
    writeBytes(file, bytes);
    NpyArray array;
    std::string error;
    ASSERT_TRUE(readNpy(file, array, error)) << error;
    EXPECT_EQ(array.dtype, DType::F32);
    EXPECT_EQ(array.shape, (std::vector<int64_t>{2, 3}));
    EXPECT_EQ(array.f32()[5], 7.5f);
  }
}

TEST_F(NpyTest, RejectsFortranOrder) {
  EXPECT_TRUE(
      contains(readError(npyV1("{'descr': '<f4', 'fortran_order': True, "
                               "'shape': (2, 3), }\n") +
                         std::string(24, '\0')),
               "Fortran-order arrays are not supported"));
}

TEST_F(NpyTest, RejectsBigEndian) {
  EXPECT_TRUE(contains(readError(npyV1("{'descr': '>f4', 'fortran_order': "
                                       "False, 'shape': (2,), }\n") +
                                 std::string(8, '\0')),
                       "big-endian data ('>f4') is not supported"));
}

TEST_F(NpyTest, RejectsBadMagicAndVersion) {
  std::string good =
      npyV1(std::string(kHeader23) + "\n") + std::string(24, '\0');
  std::string bad = good;
  bad[1] = 'M';
  EXPECT_TRUE(contains(readError(bad), "bad magic"));
  EXPECT_TRUE(contains(readError("PK\x03\x04 not numpy at all"), "bad magic"));
  bad = good;
  bad[6] = 4;
  EXPECT_TRUE(contains(readError(bad), "unsupported .npy version 4.0"));
}

TEST_F(NpyTest, RejectsTruncationAtEveryByte) {
  float data[6] = {};
  std::string error;
  ASSERT_TRUE(writeNpy(path("a.npy"), DType::F32, {2, 3}, data, error));
  std::string bytes = readBytes(path("a.npy"));
  for (size_t cut = 0; cut < bytes.size(); ++cut) {
    SCOPED_TRACE("cut at " + std::to_string(cut));
    EXPECT_TRUE(contains(readError(bytes.substr(0, cut)), "truncated"));
  }
  // Bytes beyond the data mean the header is wrong.
  EXPECT_TRUE(contains(readError(bytes + "xx"),
                       "data holds 26 bytes, but '<f4' shape (2, 3) needs 24"));
}

TEST_F(NpyTest, RejectsMalformedHeaders) {
  using namespace std::string_literals;
  struct Case {
    std::string header;
    const char *message;
  } cases[] = {
      {"{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }",
       "unsupported dtype '<c8'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1), }",
       "not a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }",
       "negative dimension"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': "
       "(99999999999999999999,), }",
       "too large"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': "
       "(4294967296, 4294967296, 4294967296), }",
       "shape is too large"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': [1], }",
       "expected a tuple"},
      {"{'descr': '<f4', 'fortran_order': False, }", "header lacks 'shape'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)}\0"s,
       "unexpected text after the dict"},
      {"{'descr': '<f4', 'fortran_order': 0, 'shape': (1,), }",
       "expected True or False"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
       "unexpected key 'x'"},
      {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
       "'shape': (1,)}",
       "appears twice"},
      {"{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,)}",
       "structured dtypes"},
      {"{'descr' '<f4', 'fortran_order': False, 'shape': (1,)}",
       "expected ':'"},
      {"{'descr': '<f4 , 'fortran_order': False, 'shape': (1,)}",
       "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)} x",
       "unexpected text"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1,)",
       "expected ',' or '}'"},
      {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2",
       "expected ',' or ')'"},
      {"{'descr': '<f4", "unterminated string"},
      {"", "header is not a dict"},
  };
  for (const Case &c : cases) {
    SCOPED_TRACE(c.header);
    EXPECT_TRUE(
        contains(readError(npyV1(c.header) + std::string(4, '\0')), c.message));
  }
}

TEST_F(NpyTest, RejectsMissingFile) {
  NpyArray array;
  std::string error;
  EXPECT_FALSE(readNpy(path("absent.npy"), array, error));
  EXPECT_TRUE(contains(error, "cannot open " + path("absent.npy")));
  EXPECT_TRUE(contains(error, "No such file or directory"));
}

TEST_F(NpyTest, WriteFailuresLeaveNothingBehind) {
  float data[2] = {1, 2};
  std::string error;
  std::string file = path("no/such/dir/a.npy");
  EXPECT_FALSE(writeNpy(file, DType::F32, {2}, data, error));
  EXPECT_TRUE(contains(error, file));
  EXPECT_TRUE(contains(error, "No such file or directory"));

  EXPECT_FALSE(writeNpy(path("a.npy"), DType::BF16, {2}, data, error));
  EXPECT_TRUE(contains(error, "BF16 has no .npy equivalent"));
  EXPECT_FALSE(writeNpy(path("a.npy"), DType::F32, {-2}, data, error));
  EXPECT_TRUE(contains(error, "negative dimension"));
  EXPECT_FALSE(writeNpy(path("a.npy"), DType::F32, {2}, nullptr, error));
  EXPECT_TRUE(contains(error, "no data"));
  EXPECT_TRUE(listDir().empty());
}

TEST_F(NpyTest, ReplacesAtomically) {
  float a[2] = {1, 2}, b[3] = {3, 4, 5};
  std::string file = path("a.npy");
  std::string error;
  ASSERT_TRUE(writeNpy(file, DType::F32, {2}, a, error)) << error;
  std::string old = readBytes(file);

  std::string temp = file + ".tmp." + std::to_string(::getpid());
  ASSERT_TRUE(std::filesystem::create_directory(temp));
  EXPECT_FALSE(writeNpy(file, DType::F32, {3}, b, error));
  EXPECT_TRUE(contains(error, temp));
  EXPECT_EQ(readBytes(file), old);
  std::filesystem::remove(temp);

  ASSERT_TRUE(writeNpy(file, DType::F32, {3}, b, error)) << error;
  EXPECT_EQ(listDir(), std::vector<std::string>{"a.npy"});
  NpyArray array;
  ASSERT_TRUE(readNpy(file, array, error)) << error;
  EXPECT_EQ(array.shape, std::vector<int64_t>{3});
  EXPECT_EQ(array.f32()[2], 5.0f);
}
