//===- Npy.cpp - Read and write numpy .npy files ----------------*- C++ -*-===//
//
// The header is a Python dict literal; rather than evaluate it, a small parser
// accepts exactly the three keys numpy writes. Files are written byte for byte
// as numpy's format.write_array writes them (version 1.0).
//
//===----------------------------------------------------------------------===//

#include "resnetc/runtime/Npy.h"

#include <cctype>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

using namespace resnetc;

static constexpr char kMagic[] = "\x93NUMPY";
static constexpr size_t kMagicSize = 6;
/// numpy aligns the start of the data to this many bytes.
static constexpr size_t kArrayAlign = 64;
/// numpy pads the header so that the growth axis can reach this many digits.
static constexpr size_t kGrowthAxisMaxDigits = 21;

namespace {
struct NpyType {
  DType dtype;
  const char *descr;
};

/// Parses the header dict, e.g.
///   {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
/// Each method returns an empty string on success, else the reason.
class HeaderParser {
public:
  explicit HeaderParser(const std::string &header) : text(header) {}

  std::string parse(std::string &descr, bool &fortranOrder,
                    std::vector<int64_t> &shape);

private:
  void skipSpace() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t' ||
                                 text[pos] == '\r' || text[pos] == '\n'))
      ++pos;
  }
  bool consume(char c) {
    skipSpace();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  std::string at() const { return " at offset " + std::to_string(pos); }
  std::string parseString(std::string &s);
  std::string parseBool(bool &b);
  std::string parseShape(std::vector<int64_t> &shape);

  const std::string &text;
  size_t pos = 0;
};
} // namespace

static constexpr NpyType kNpyTypes[] = {
    {DType::F64, "<f8"}, {DType::F32, "<f4"}, {DType::F16, "<f2"},
    {DType::I64, "<i8"}, {DType::I32, "<i4"}, {DType::I16, "<i2"},
    {DType::I8, "|i1"},  {DType::U8, "|u1"},  {DType::Bool, "|b1"}};

std::string HeaderParser::parseString(std::string &s) {
  skipSpace();
  if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
    return "expected a quoted string" + at();
  char quote = text[pos++];
  size_t end = text.find(quote, pos);
  if (end == std::string::npos)
    return "unterminated string" + at();
  s = text.substr(pos, end - pos);
  if (s.find('\\') != std::string::npos)
    return "escapes in strings are not supported" + at();
  pos = end + 1;
  return {};
}

std::string HeaderParser::parseBool(bool &b) {
  skipSpace();
  for (const char *word : {"True", "False"}) {
    if (text.compare(pos, std::strlen(word), word) == 0) {
      b = word[0] == 'T';
      pos += std::strlen(word);
      return {};
    }
  }
  return "expected True or False" + at();
}

std::string HeaderParser::parseShape(std::vector<int64_t> &shape) {
  if (!consume('('))
    return "expected a tuple for 'shape'" + at();
  bool trailingComma = false;
  while (!consume(')')) {
    skipSpace();
    if (pos < text.size() && text[pos] == '-')
      return "negative dimension in 'shape'" + at();
    if (pos >= text.size() ||
        !std::isdigit(static_cast<unsigned char>(text[pos])))
      return "expected a dimension in 'shape'" + at();
    int64_t dim = 0;
    for (; pos < text.size() &&
           std::isdigit(static_cast<unsigned char>(text[pos]));
         ++pos)
      if (__builtin_mul_overflow(dim, 10, &dim) ||
          __builtin_add_overflow(dim, text[pos] - '0', &dim))
        return "dimension too large in 'shape'" + at();
    shape.push_back(dim);
    trailingComma = consume(',');
    if (!trailingComma && !consume(')'))
      return "expected ',' or ')' in 'shape'" + at();
    if (!trailingComma)
      break;
  }
  // "(5)" is the integer 5 in Python, not a tuple.
  if (shape.size() == 1 && !trailingComma)
    return "'shape' (" + std::to_string(shape[0]) + ") is not a tuple";
  return {};
}

std::string HeaderParser::parse(std::string &descr, bool &fortranOrder,
                                std::vector<int64_t> &shape) {
  if (!consume('{'))
    return "header is not a dict";
  bool seenDescr = false, seenOrder = false, seenShape = false;
  while (!consume('}')) {
    std::string key, why;
    if (!(why = parseString(key)).empty())
      return why;
    if (!consume(':'))
      return "expected ':'" + at();
    bool *seen;
    if (key == "descr") {
      if (consume('['))
        return "structured dtypes are not supported";
      seen = &seenDescr;
      why = parseString(descr);
    } else if (key == "fortran_order") {
      seen = &seenOrder;
      why = parseBool(fortranOrder);
    } else if (key == "shape") {
      seen = &seenShape;
      why = parseShape(shape);
    } else {
      return "unexpected key '" + key + "'";
    }
    if (!why.empty())
      return why;
    if (*seen)
      return "key '" + key + "' appears twice";
    *seen = true;
    if (!consume(',')) {
      if (!consume('}'))
        return "expected ',' or '}'" + at();
      break;
    }
  }
  skipSpace();
  if (pos != text.size())
    return "unexpected text after the dict" + at();
  if (!seenDescr || !seenOrder || !seenShape)
    return std::string("header lacks '") +
           (!seenDescr   ? "descr"
            : !seenOrder ? "fortran_order"
                         : "shape") +
           "'";
  return {};
}

/// Python's repr of a shape tuple: (), (5,), (2, 3).
static std::string pythonTuple(const std::vector<int64_t> &shape) {
  std::string tuple = "(";
  for (size_t i = 0; i < shape.size(); ++i)
    tuple += (i ? ", " : "") + std::to_string(shape[i]);
  return tuple + (shape.size() == 1 ? ",)" : ")");
}

/// Bytes of `shape` elements of `size` bytes each; false on overflow.
static bool byteSize(const std::vector<int64_t> &shape, size_t size,
                     uint64_t &nbytes) {
  nbytes = size;
  for (int64_t d : shape)
    if (d < 0 || __builtin_mul_overflow(nbytes, uint64_t(d), &nbytes))
      return false;
  return true;
}

int64_t NpyArray::numElements() const {
  int64_t n = 1;
  for (int64_t d : shape)
    n *= d;
  return n;
}

/// Reads exactly `size` bytes; false with errno set (0 at end of file).
static bool readFully(int fd, void *buffer, size_t size) {
  char *p = static_cast<char *>(buffer);
  while (size > 0) {
    ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      if (n == 0)
        errno = 0;
      return false;
    }
    p += n;
    size -= n;
  }
  return true;
}

static bool readNpyFrom(int fd, const std::string &path, NpyArray &out,
                        std::string &error) {
  auto fail = [&](const std::string &why) {
    error = path + ": " + why;
    return false;
  };
  auto failRead = [&]() {
    return fail(errno ? std::string("read failed: ") + std::strerror(errno)
                      : std::string("file shrank while being read"));
  };
  struct stat st;
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
    return fail("not a regular file");
  uint64_t fileSize = st.st_size;

  unsigned char prefix[12];
  if (fileSize < 10)
    return fail("file is " + std::to_string(fileSize) +
                " bytes, too short for a .npy preamble (truncated?)");
  if (!readFully(fd, prefix, 10))
    return failRead();
  if (std::memcmp(prefix, kMagic, kMagicSize) != 0)
    return fail("bad magic: not a .npy file");
  unsigned major = prefix[6], minor = prefix[7];
  uint64_t preambleSize, headerSize;
  if (major == 1 && minor == 0) {
    preambleSize = 10;
    headerSize = prefix[8] | prefix[9] << 8;
  } else if ((major == 2 || major == 3) && minor == 0) {
    preambleSize = 12;
    if (fileSize < 12)
      return fail("file is too short for a version 2.0 preamble (truncated?)");
    if (!readFully(fd, prefix + 10, 2))
      return failRead();
    headerSize = prefix[8] | prefix[9] << 8 | prefix[10] << 16 |
                 uint64_t(prefix[11]) << 24;
  } else {
    return fail("unsupported .npy version " + std::to_string(major) + "." +
                std::to_string(minor));
  }
  if (headerSize > fileSize - preambleSize)
    return fail("header length " + std::to_string(headerSize) +
                " exceeds the file: the file is truncated");
  std::string header(headerSize, '\0');
  if (!readFully(fd, header.data(), headerSize))
    return failRead();

  std::string descr;
  bool fortranOrder = false;
  NpyArray array;
  std::string why =
      HeaderParser(header).parse(descr, fortranOrder, array.shape);
  if (!why.empty())
    return fail("malformed header: " + why);
  if (fortranOrder)
    return fail("Fortran-order arrays are not supported");
  const NpyType *type = nullptr;
  for (const NpyType &t : kNpyTypes)
    if (descr == t.descr)
      type = &t;
  if (!type && !descr.empty() && descr[0] == '>')
    return fail("big-endian data ('" + descr + "') is not supported");
  if (!type)
    return fail("unsupported dtype '" + descr + "'");
  array.dtype = type->dtype;

  uint64_t nbytes;
  if (!byteSize(array.shape, dtypeSize(array.dtype), nbytes))
    return fail("shape is too large");
  uint64_t available = fileSize - preambleSize - headerSize;
  if (available != nbytes)
    return fail("data holds " + std::to_string(available) + " bytes, but '" +
                descr + "' shape " + pythonTuple(array.shape) + " needs " +
                std::to_string(nbytes) +
                (available < nbytes ? ": the file is truncated" : ""));
  array.bytes.resize(nbytes);
  if (!readFully(fd, array.bytes.data(), nbytes))
    return failRead();
  out = std::move(array);
  return true;
}

bool resnetc::readNpy(const std::string &path, NpyArray &out,
                      std::string &error) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    error = "cannot open " + path + ": " + std::strerror(errno);
    return false;
  }
  bool ok;
  try {
    ok = readNpyFrom(fd, path, out, error);
  } catch (const std::exception &e) { // std::bad_alloc for huge shapes.
    error = path + ": " + e.what();
    ok = false;
  }
  ::close(fd);
  return ok;
}

bool resnetc::writeNpy(const std::string &path, DType dtype,
                       const std::vector<int64_t> &shape, const void *data,
                       std::string &error) {
  auto fail = [&](const std::string &why) {
    error = "cannot write " + path + ": " + why;
    return false;
  };
  const NpyType *type = nullptr;
  for (const NpyType &t : kNpyTypes)
    if (t.dtype == dtype)
      type = &t;
  if (!type)
    return fail(std::string("dtype ") + dtypeName(dtype) +
                " has no .npy equivalent");
  uint64_t nbytes;
  if (!byteSize(shape, dtypeSize(dtype), nbytes))
    return fail("shape has a negative dimension or is too large");
  if (nbytes > 0 && !data)
    return fail("no data");

  std::string header =
      std::string("{'descr': '") + type->descr +
      "', 'fortran_order': False, 'shape': " + pythonTuple(shape) + ", }";
  if (!shape.empty())
    header.append(kGrowthAxisMaxDigits - std::to_string(shape[0]).size(), ' ');
  // numpy pads even when already aligned: a full kArrayAlign then.
  size_t preambleSize = kMagicSize + 4;
  header.append(kArrayAlign - (preambleSize + header.size() + 1) % kArrayAlign,
                ' ');
  header += '\n';
  if (header.size() > 0xffff)
    return fail("header too long for .npy version 1.0");

  unsigned char preamble[10];
  std::memcpy(preamble, kMagic, kMagicSize);
  preamble[6] = 1;
  preamble[7] = 0;
  preamble[8] = header.size() & 0xff;
  preamble[9] = header.size() >> 8;
  return writeFileAtomically(path,
                             {{preamble, sizeof(preamble)},
                              {header.data(), header.size()},
                              {data, static_cast<size_t>(nbytes)}},
                             error);
}
