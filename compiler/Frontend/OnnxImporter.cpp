//===- OnnxImporter.cpp - ONNX models to the resnet dialect ---------------===//
//
// The model is parsed with protobuf (onnx-ml.pb.h); nodes are visited in the
// graph's order, which ONNX requires to be topological. Values computed from
// the image map to SSA values; initializers and Constant outputs stay
// constants until a node uses them as a parameter, where they become one
// `resnet.param` each (at first use, so every later use is dominated).
//
// Every op is created with result types inferred beforehand, so that a shape
// the dialect rejects becomes an error naming the node rather than the
// builder's fatal error.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/OnnxImporter.h"

#include "Resnet/IR/ResnetOps.h"
#include "resnetc/runtime/Safetensors.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Verifier.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallString.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

#include <onnx/onnx_pb.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>

using namespace mlir;
using namespace mlir::resnet;

namespace resnetc {
namespace {

std::string shapeString(llvm::ArrayRef<int64_t> shape) {
  std::string text = "[";
  for (auto [i, size] : llvm::enumerate(shape))
    text += (i ? ", " : "") + std::to_string(size);
  return text + "]";
}

int64_t numElements(llvm::ArrayRef<int64_t> shape) {
  int64_t n = 1;
  for (int64_t size : shape)
    n *= size;
  return n;
}

/// ONNX stores float attributes in 32 bits: epsilon 1e-5 arrives as
/// 9.99999974e-06. The shortest decimal that reads back as the same float
/// is what the exporter meant (and what `resnetc new` writes).
double shortestDouble(float value) {
  char text[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(text, sizeof(text), "%.*g", digits, value);
    if (std::strtof(text, nullptr) == value)
      return std::strtod(text, nullptr);
  }
  return value;
}

/// A tensor known at import time: an initializer, a Constant's value, or
/// an Identity of one. `name` is the initializer's (the parameter's) name.
struct Constant {
  const onnx::TensorProto *tensor;
  std::string name;
};

class Importer {
public:
  Importer(MLIRContext &context, llvm::StringRef path,
           const OnnxImportOptions &options)
      : context(context), b(&context), path(path.str()), options(options) {}

  llvm::Expected<ImportedModel> run();

private:
  // Reading the file and its tensors.
  llvm::Error parse();
  llvm::Expected<std::optional<std::string>>
  storedBytes(const onnx::TensorProto &tensor, llvm::StringRef name);
  llvm::Error checkDims(llvm::ArrayRef<int64_t> shape, llvm::StringRef name);
  llvm::Expected<ImportedTensor> loadFloat(const Constant &constant);
  llvm::Expected<std::vector<int64_t>> loadInt64(const Constant &constant);
  llvm::Expected<RankedTensorType> inputType(const onnx::ValueInfoProto &info);

  // The node being imported.
  llvm::Error importNode(const onnx::NodeProto &node, int index);
  llvm::Error nodeError(const llvm::Twine &message) const;
  llvm::Error checkAttributes(std::initializer_list<llvm::StringRef> known);
  const onnx::AttributeProto *attribute(llvm::StringRef name) const;
  llvm::Expected<int64_t> intAttr(llvm::StringRef name, int64_t fallback);
  llvm::Expected<float> floatAttr(llvm::StringRef name, float fallback);
  llvm::Expected<std::string> stringAttr(llvm::StringRef name,
                                         llvm::StringRef fallback);
  llvm::Expected<llvm::SmallVector<int64_t>>
  intsAttr(llvm::StringRef name, llvm::ArrayRef<int64_t> fallback, size_t size);
  llvm::Error checkNoAutoPad();
  llvm::Error checkUnusedOutputs();
  bool hasInput(int index) const;
  llvm::Expected<Value> tensorInput(int index);
  llvm::Expected<Value> paramInput(int index, bool transposed = false);
  llvm::Expected<Constant> constantInput(int index);
  llvm::Error define(Value value);

  template <typename OpTy>
  llvm::Expected<Value> create(ValueRange operands,
                               llvm::ArrayRef<NamedAttribute> attributes = {});

  // The importers of each op type.
  llvm::Error importConv();
  llvm::Error importBatchNorm();
  llvm::Error importAdd();
  llvm::Error importPool(bool max);
  llvm::Error importFlatten();
  llvm::Error importReshape();
  llvm::Error importGemm();
  llvm::Error importMatMul();
  /// An op of one tensor operand and no attributes (Relu, GlobalAveragePool).
  template <typename OpTy> llvm::Error importUnary() {
    if (auto error = checkAttributes({}))
      return error;
    auto input = tensorInput(0);
    if (!input)
      return input.takeError();
    auto result = create<OpTy>(ValueRange{*input});
    if (!result)
      return result.takeError();
    return define(*result);
  }

  MLIRContext &context;
  OpBuilder b;
  std::string path;
  OnnxImportOptions options;
  onnx::ModelProto model;
  int64_t opset = 0;

  llvm::StringMap<Value> values;
  llvm::StringMap<Constant> constants;
  llvm::StringMap<unsigned> useCounts;
  /// Parameters already created, and whether they were transposed.
  llvm::StringMap<std::pair<Value, bool>> params;
  std::vector<ImportedTensor> weights;
  /// MatMuls without bias whose only user may be an Add of their bias.
  llvm::StringMap<LinearOp> pendingMatMuls;

  const onnx::NodeProto *node = nullptr;
  std::string nodeName;
  Location loc = UnknownLoc::get(&context);
};

llvm::Error Importer::parse() {
  auto buffer = llvm::MemoryBuffer::getFile(path, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError("cannot open '" + path +
                                   "': " + buffer.getError().message());
  llvm::StringRef bytes = (*buffer)->getBuffer();
  // protobuf returns false on malformed input; it never throws.
  if (bytes.size() > static_cast<size_t>(INT_MAX) ||
      !model.ParseFromArray(bytes.data(), static_cast<int>(bytes.size())) ||
      !model.has_graph())
    return llvm::createStringError("cannot parse '" + path +
                                   "' as an ONNX model");
  for (const onnx::OperatorSetIdProto &entry : model.opset_import())
    if (entry.domain().empty() || entry.domain() == "ai.onnx")
      opset = entry.version();
  if (opset == 0)
    return llvm::createStringError("'" + path +
                                   "' imports no opset of the ai.onnx domain");
  return llvm::Error::success();
}

llvm::Expected<std::optional<std::string>>
Importer::storedBytes(const onnx::TensorProto &tensor, llvm::StringRef name) {
  if (tensor.data_location() != onnx::TensorProto::EXTERNAL) {
    if (tensor.has_raw_data())
      return std::optional<std::string>(tensor.raw_data());
    return std::optional<std::string>();
  }
  std::string location;
  std::optional<uint64_t> offset, length;
  for (const onnx::StringStringEntryProto &entry : tensor.external_data()) {
    uint64_t number;
    if (entry.key() == "location") {
      location = entry.value();
    } else if (entry.key() == "offset" || entry.key() == "length") {
      if (llvm::StringRef(entry.value()).getAsInteger(10, number))
        return llvm::createStringError("tensor '" + name + "': external data " +
                                       entry.key() + " '" + entry.value() +
                                       "' is not a number");
      (entry.key() == "offset" ? offset : length) = number;
    }
  }
  // As ONNX's checker: a relative path inside the model's directory.
  if (location.empty() || llvm::sys::path::is_absolute(location) ||
      llvm::is_contained(llvm::make_range(llvm::sys::path::begin(location),
                                          llvm::sys::path::end(location)),
                         ".."))
    return llvm::createStringError(
        "tensor '" + name + "': external data location '" + location +
        "' must be a relative path inside the model's directory");
  llvm::SmallString<256> file = llvm::sys::path::parent_path(path);
  llvm::sys::path::append(file, location);
  auto buffer = llvm::MemoryBuffer::getFile(file, /*IsText=*/false,
                                            /*RequiresNullTerminator=*/false);
  if (!buffer)
    return llvm::createStringError("tensor '" + name +
                                   "': cannot read external data '" + file +
                                   "': " + buffer.getError().message());
  uint64_t size = (*buffer)->getBufferSize();
  uint64_t begin = offset.value_or(0);
  uint64_t count = length.value_or(begin <= size ? size - begin : 0);
  if (begin > size || count > size - begin)
    return llvm::createStringError(
        "tensor '" + name + "': external data at offset " +
        std::to_string(begin) + ", length " + std::to_string(count) +
        " extends past the end of '" + file + "' (" + std::to_string(size) +
        " bytes)");
  return std::optional<std::string>(
      std::string((*buffer)->getBufferStart() + begin, count));
}

/// Dimensions a tensor of this process can hold (no negative sizes, no
/// overflow of the element count).
llvm::Error Importer::checkDims(llvm::ArrayRef<int64_t> shape,
                                llvm::StringRef name) {
  int64_t count = 1;
  for (int64_t size : shape) {
    if (size < 0 || (size > 0 && count > (int64_t(1) << 40) / size))
      return nodeError("tensor '" + name + "' has an invalid shape " +
                       shapeString(shape));
    count *= size;
  }
  return llvm::Error::success();
}

llvm::Expected<ImportedTensor> Importer::loadFloat(const Constant &constant) {
  const onnx::TensorProto &tensor = *constant.tensor;
  if (tensor.data_type() != onnx::TensorProto::FLOAT)
    return nodeError(
        "parameter '" + constant.name + "' has data type " +
        onnx::TensorProto_DataType_Name(
            static_cast<onnx::TensorProto_DataType>(tensor.data_type())) +
        "; only FLOAT parameters are supported");
  ImportedTensor result;
  result.name = constant.name;
  result.shape.assign(tensor.dims().begin(), tensor.dims().end());
  if (auto error = checkDims(result.shape, constant.name))
    return std::move(error);
  int64_t count = numElements(result.shape);
  auto bytes = storedBytes(tensor, constant.name);
  if (!bytes)
    return bytes.takeError();
  // Sizes are checked before anything is allocated.
  if (*bytes) {
    if ((*bytes)->size() != count * sizeof(float))
      return nodeError("parameter '" + constant.name + "' of shape " +
                       shapeString(result.shape) + " holds " +
                       std::to_string((*bytes)->size()) + " bytes, expected " +
                       std::to_string(count * sizeof(float)));
    // ONNX's raw data is little-endian, as is every host resnetc targets.
    result.data.resize(count);
    std::memcpy(result.data.data(), (*bytes)->data(), (*bytes)->size());
  } else {
    if (tensor.float_data_size() != count)
      return nodeError("parameter '" + constant.name + "' of shape " +
                       shapeString(result.shape) + " holds " +
                       std::to_string(tensor.float_data_size()) +
                       " values, expected " + std::to_string(count));
    result.data.assign(tensor.float_data().begin(), tensor.float_data().end());
  }
  return result;
}

llvm::Expected<std::vector<int64_t>>
Importer::loadInt64(const Constant &constant) {
  const onnx::TensorProto &tensor = *constant.tensor;
  if (tensor.data_type() != onnx::TensorProto::INT64)
    return nodeError("'" + constant.name + "' must be an INT64 tensor");
  llvm::SmallVector<int64_t> shape(tensor.dims().begin(), tensor.dims().end());
  if (auto error = checkDims(shape, constant.name))
    return std::move(error);
  int64_t count = numElements(shape);
  std::vector<int64_t> result;
  auto bytes = storedBytes(tensor, constant.name);
  if (!bytes)
    return bytes.takeError();
  if (*bytes) {
    if ((*bytes)->size() != count * sizeof(int64_t))
      return nodeError("'" + constant.name + "' holds " +
                       std::to_string((*bytes)->size()) + " bytes, expected " +
                       std::to_string(count * sizeof(int64_t)));
    result.resize(count);
    std::memcpy(result.data(), (*bytes)->data(), (*bytes)->size());
  } else {
    if (tensor.int64_data_size() != count)
      return nodeError("'" + constant.name + "' holds " +
                       std::to_string(tensor.int64_data_size()) +
                       " values, expected " + std::to_string(count));
    result.assign(tensor.int64_data().begin(), tensor.int64_data().end());
  }
  return result;
}

llvm::Expected<RankedTensorType>
Importer::inputType(const onnx::ValueInfoProto &info) {
  const std::string &name = info.name();
  if (!info.type().has_tensor_type() ||
      info.type().tensor_type().elem_type() != onnx::TensorProto::FLOAT ||
      !info.type().tensor_type().has_shape() ||
      info.type().tensor_type().shape().dim_size() != 4)
    return llvm::createStringError(
        "input '" + name + "' must be a 4-D FLOAT tensor (NCHW images)");
  std::optional<int64_t> width = options.width ? options.width : options.height;
  const std::optional<int64_t> pins[4] = {options.batch, std::nullopt,
                                          options.height, width};
  const char *flags[4] = {"--batch", nullptr, "--image", "--image"};
  const char *what[4] = {"batch", "channel count", "height", "width"};
  llvm::SmallVector<int64_t, 4> shape;
  for (auto [i, dim] :
       llvm::enumerate(info.type().tensor_type().shape().dim())) {
    bool known = dim.has_dim_value() && dim.dim_value() > 0;
    if (known && pins[i] && *pins[i] != dim.dim_value())
      return llvm::createStringError("input '" + name + "' has " + what[i] +
                                     " " + std::to_string(dim.dim_value()) +
                                     ", but " + flags[i] + " asks for " +
                                     std::to_string(*pins[i]));
    if (!known && !pins[i])
      return llvm::createStringError(
          "input '" + name + "' has a dynamic dimension " + std::to_string(i) +
          " ('" + (dim.has_dim_param() ? dim.dim_param() : "?") + "'); " +
          (flags[i] ? std::string("pin it with ") + flags[i]
                    : std::string("resnetc cannot pin it")));
    shape.push_back(known ? dim.dim_value() : *pins[i]);
  }
  return RankedTensorType::get(shape, b.getF32Type());
}

llvm::Error Importer::nodeError(const llvm::Twine &message) const {
  return llvm::createStringError("node '" + nodeName + "' (" + node->op_type() +
                                 ", opset " + std::to_string(opset) +
                                 "): " + message);
}

llvm::Error
Importer::checkAttributes(std::initializer_list<llvm::StringRef> known) {
  for (const onnx::AttributeProto &attr : node->attribute())
    if (!llvm::is_contained(known, attr.name()))
      return nodeError("unsupported attribute " + attr.name());
  return llvm::Error::success();
}

const onnx::AttributeProto *Importer::attribute(llvm::StringRef name) const {
  for (const onnx::AttributeProto &attr : node->attribute())
    if (attr.name() == name)
      return &attr;
  return nullptr;
}

llvm::Expected<int64_t> Importer::intAttr(llvm::StringRef name,
                                          int64_t fallback) {
  const onnx::AttributeProto *attr = attribute(name);
  if (!attr)
    return fallback;
  if (attr->type() != onnx::AttributeProto::INT)
    return nodeError("attribute " + name + " must be an INT");
  return attr->i();
}

llvm::Expected<float> Importer::floatAttr(llvm::StringRef name,
                                          float fallback) {
  const onnx::AttributeProto *attr = attribute(name);
  if (!attr)
    return fallback;
  if (attr->type() != onnx::AttributeProto::FLOAT)
    return nodeError("attribute " + name + " must be a FLOAT");
  return attr->f();
}

llvm::Expected<std::string> Importer::stringAttr(llvm::StringRef name,
                                                 llvm::StringRef fallback) {
  const onnx::AttributeProto *attr = attribute(name);
  if (!attr)
    return fallback.str();
  if (attr->type() != onnx::AttributeProto::STRING)
    return nodeError("attribute " + name + " must be a STRING");
  return attr->s();
}

llvm::Expected<llvm::SmallVector<int64_t>>
Importer::intsAttr(llvm::StringRef name, llvm::ArrayRef<int64_t> fallback,
                   size_t size) {
  const onnx::AttributeProto *attr = attribute(name);
  if (!attr) {
    if (fallback.empty())
      return nodeError("missing attribute " + name);
    return llvm::SmallVector<int64_t>(fallback);
  }
  if (attr->type() != onnx::AttributeProto::INTS)
    return nodeError("attribute " + name + " must be INTS");
  llvm::SmallVector<int64_t> result(attr->ints().begin(), attr->ints().end());
  if (result.size() != size)
    return nodeError("attribute " + name + " must have " +
                     std::to_string(size) + " values (2-D), got " +
                     shapeString(result));
  return result;
}

llvm::Error Importer::checkNoAutoPad() {
  auto autoPad = stringAttr("auto_pad", "NOTSET");
  if (!autoPad)
    return autoPad.takeError();
  if (*autoPad != "NOTSET")
    return nodeError("unsupported attribute auto_pad=" + *autoPad);
  return llvm::Error::success();
}

/// Optional outputs (BatchNormalization's statistics, MaxPool's indices)
/// are supported only while nothing reads them.
llvm::Error Importer::checkUnusedOutputs() {
  for (int i = 1; i < node->output_size(); ++i)
    if (!node->output(i).empty() && useCounts.lookup(node->output(i)))
      return nodeError("output " + std::to_string(i) + " ('" + node->output(i) +
                       "') is used; it is not supported");
  return llvm::Error::success();
}

bool Importer::hasInput(int index) const {
  return index < node->input_size() && !node->input(index).empty();
}

llvm::Expected<Value> Importer::tensorInput(int index) {
  if (!hasInput(index))
    return nodeError("missing input " + std::to_string(index));
  const std::string &name = node->input(index);
  if (Value value = values.lookup(name))
    return value;
  if (constants.count(name))
    return nodeError("input '" + name +
                     "' is a constant; resnetc expects a tensor computed "
                     "from the images there");
  return nodeError("undefined input '" + name +
                   "' (no initializer, graph input or node output has that "
                   "name)");
}

llvm::Expected<Constant> Importer::constantInput(int index) {
  if (!hasInput(index))
    return nodeError("missing input " + std::to_string(index));
  const std::string &name = node->input(index);
  auto it = constants.find(name);
  if (it != constants.end())
    return it->second;
  if (values.count(name))
    return nodeError("input '" + name +
                     "' must be an initializer or a constant; it is computed "
                     "from the images");
  return nodeError("undefined input '" + name +
                   "' (no initializer, graph input or node output has that "
                   "name)");
}

llvm::Expected<Value> Importer::paramInput(int index, bool transposed) {
  auto constant = constantInput(index);
  if (!constant)
    return constant.takeError();
  auto found = params.find(constant->name);
  if (found != params.end()) {
    if (found->second.second != transposed)
      return nodeError("parameter '" + constant->name +
                       "' is used both as a MatMul/Gemm weight, which "
                       "resnetc stores transposed, and otherwise");
    return found->second.first;
  }
  auto tensor = loadFloat(*constant);
  if (!tensor)
    return tensor.takeError();
  if (transposed) {
    if (tensor->shape.size() != 2)
      return nodeError("weight '" + constant->name + "' must be 2-D, got " +
                       shapeString(tensor->shape));
    int64_t rows = tensor->shape[0], cols = tensor->shape[1];
    std::vector<float> data(tensor->data.size());
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = 0; c < cols; ++c)
        data[c * rows + r] = tensor->data[r * cols + c];
    tensor->data = std::move(data);
    tensor->shape = {cols, rows};
  }
  auto type = RankedTensorType::get(tensor->shape, b.getF32Type());
  Value value = b.create<ParamOp>(NameLoc::get(b.getStringAttr(constant->name)),
                                  type, constant->name);
  params[constant->name] = {value, transposed};
  weights.push_back(std::move(*tensor));
  return value;
}

llvm::Error Importer::define(Value value) {
  if (node->output_size() < 1 || node->output(0).empty())
    return nodeError("has no output");
  values[node->output(0)] = value;
  return llvm::Error::success();
}

template <typename OpTy>
llvm::Expected<Value>
Importer::create(ValueRange operands,
                 llvm::ArrayRef<NamedAttribute> attributes) {
  llvm::SmallVector<Type, 1> types;
  std::string message;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      message = diag.str();
      return success();
    });
    if (failed(OpTy::inferReturnTypes(&context, loc, operands,
                                      DictionaryAttr::get(&context, attributes),
                                      /*properties=*/nullptr,
                                      /*regions=*/{}, types)))
      return nodeError(message.empty() ? "shapes the resnet dialect rejects"
                                       : message);
  }
  Operation *op = b.create<OpTy>(loc, types, operands, attributes);
  return op->getResult(0);
}

llvm::Error Importer::importConv() {
  if (auto error = checkAttributes({"auto_pad", "dilations", "group",
                                    "kernel_shape", "pads", "strides"}))
    return error;
  if (auto error = checkNoAutoPad())
    return error;
  auto strides = intsAttr("strides", {1, 1}, 2);
  auto dilations = intsAttr("dilations", {1, 1}, 2);
  // ONNX's [x1_begin, x2_begin, x1_end, x2_end] is [top, left, bottom, right].
  auto pads = intsAttr("pads", {0, 0, 0, 0}, 4);
  auto group = intAttr("group", 1);
  if (!strides || !dilations || !pads || !group)
    return llvm::joinErrors(
        llvm::joinErrors(strides.takeError(), dilations.takeError()),
        llvm::joinErrors(pads.takeError(), group.takeError()));
  auto input = tensorInput(0);
  if (!input)
    return input.takeError();
  auto weight = paramInput(1);
  if (!weight)
    return weight.takeError();
  llvm::SmallVector<Value, 3> operands = {*input, *weight};
  if (hasInput(2)) {
    auto bias = paramInput(2);
    if (!bias)
      return bias.takeError();
    operands.push_back(*bias);
  }
  auto weightShape = cast<RankedTensorType>(weight->getType()).getShape();
  if (const onnx::AttributeProto *kernel = attribute("kernel_shape")) {
    llvm::SmallVector<int64_t> sizes(kernel->ints().begin(),
                                     kernel->ints().end());
    if (weightShape.size() != 4 ||
        llvm::ArrayRef<int64_t>(sizes) != weightShape.drop_front(2))
      return nodeError("kernel_shape " + shapeString(sizes) +
                       " does not match the weight's shape " +
                       shapeString(weightShape));
  }
  auto result = create<Conv2dOp>(
      operands, {b.getNamedAttr("stride", b.getDenseI64ArrayAttr(*strides)),
                 b.getNamedAttr("padding", b.getDenseI64ArrayAttr(*pads)),
                 b.getNamedAttr("dilation", b.getDenseI64ArrayAttr(*dilations)),
                 b.getNamedAttr("groups", b.getI64IntegerAttr(*group))});
  if (!result)
    return result.takeError();
  return define(*result);
}

llvm::Error Importer::importBatchNorm() {
  if (auto error =
          checkAttributes({"epsilon", "momentum", "training_mode", "spatial"}))
    return error;
  auto epsilon = floatAttr("epsilon", 1e-5f);
  if (!epsilon)
    return epsilon.takeError();
  auto training = intAttr("training_mode", 0);
  if (!training)
    return training.takeError();
  if (*training != 0)
    return nodeError("unsupported attribute training_mode=" +
                     std::to_string(*training) + " (inference only)");
  auto spatial = intAttr("spatial", 1);
  if (!spatial)
    return spatial.takeError();
  if (*spatial != 1)
    return nodeError("unsupported attribute spatial=" +
                     std::to_string(*spatial));
  if (auto error = checkUnusedOutputs())
    return error;
  auto input = tensorInput(0);
  if (!input)
    return input.takeError();
  llvm::SmallVector<Value, 5> operands = {*input};
  for (int i = 1; i <= 4; ++i) {
    auto param = paramInput(i);
    if (!param)
      return param.takeError();
    operands.push_back(*param);
  }
  auto result = create<BatchNormOp>(
      operands,
      {b.getNamedAttr("epsilon", b.getF64FloatAttr(shortestDouble(*epsilon)))});
  if (!result)
    return result.takeError();
  return define(*result);
}

llvm::Error Importer::importAdd() {
  if (auto error = checkAttributes({}))
    return error;
  // MatMul + Add of a constant bias: one resnet.linear with that bias.
  for (int i = 0; i < 2; ++i) {
    if (!hasInput(i) || !hasInput(1 - i))
      break;
    auto pending = pendingMatMuls.find(node->input(i));
    if (pending == pendingMatMuls.end() || !constants.count(node->input(1 - i)))
      continue;
    LinearOp matmul = pending->second;
    pendingMatMuls.erase(pending);
    auto bias = paramInput(1 - i);
    if (!bias)
      return bias.takeError();
    auto result = create<LinearOp>(
        ValueRange{matmul.getInput(), matmul.getWeight(), *bias});
    if (!result)
      return result.takeError();
    matmul->erase();
    return define(*result);
  }
  auto lhs = tensorInput(0);
  if (!lhs)
    return lhs.takeError();
  auto rhs = tensorInput(1);
  if (!rhs)
    return rhs.takeError();
  if (lhs->getType() != rhs->getType())
    return nodeError(
        "operands of shapes " +
        shapeString(cast<RankedTensorType>(lhs->getType()).getShape()) +
        " and " +
        shapeString(cast<RankedTensorType>(rhs->getType()).getShape()) +
        "; only Adds of one shape are supported (no broadcasting)");
  auto result = create<AddOp>(ValueRange{*lhs, *rhs});
  if (!result)
    return result.takeError();
  return define(*result);
}

llvm::Error Importer::importPool(bool max) {
  if (auto error =
          max ? checkAttributes({"auto_pad", "ceil_mode", "dilations",
                                 "kernel_shape", "pads", "storage_order",
                                 "strides"})
              : checkAttributes({"auto_pad", "ceil_mode", "count_include_pad",
                                 "kernel_shape", "pads", "strides"}))
    return error;
  if (auto error = checkNoAutoPad())
    return error;
  auto kernel = intsAttr("kernel_shape", {}, 2);
  auto strides = intsAttr("strides", {1, 1}, 2);
  auto pads = intsAttr("pads", {0, 0, 0, 0}, 4);
  auto ceilMode = intAttr("ceil_mode", 0);
  if (!kernel || !strides || !pads || !ceilMode)
    return llvm::joinErrors(
        llvm::joinErrors(kernel.takeError(), strides.takeError()),
        llvm::joinErrors(pads.takeError(), ceilMode.takeError()));
  auto input = tensorInput(0);
  if (!input)
    return input.takeError();
  llvm::SmallVector<NamedAttribute> attrs = {
      b.getNamedAttr("kernel", b.getDenseI64ArrayAttr(*kernel)),
      b.getNamedAttr("stride", b.getDenseI64ArrayAttr(*strides)),
      b.getNamedAttr("padding", b.getDenseI64ArrayAttr(*pads)),
      b.getNamedAttr("ceil_mode", b.getBoolAttr(*ceilMode != 0))};
  Operation *pool;
  if (max) {
    auto storageOrder = intAttr("storage_order", 0);
    if (!storageOrder)
      return storageOrder.takeError();
    if (*storageOrder != 0)
      return nodeError("unsupported attribute storage_order=" +
                       std::to_string(*storageOrder));
    if (auto error = checkUnusedOutputs())
      return error;
    auto dilations = intsAttr("dilations", {1, 1}, 2);
    if (!dilations)
      return dilations.takeError();
    attrs.push_back(
        b.getNamedAttr("dilation", b.getDenseI64ArrayAttr(*dilations)));
    auto result = create<MaxPool2dOp>(ValueRange{*input}, attrs);
    if (!result)
      return result.takeError();
    pool = result->getDefiningOp();
  } else {
    // ONNX's default is count_include_pad=0, PyTorch's (and ours) 1.
    auto countIncludePad = intAttr("count_include_pad", 0);
    if (!countIncludePad)
      return countIncludePad.takeError();
    attrs.push_back(b.getNamedAttr("count_include_pad",
                                   b.getBoolAttr(*countIncludePad != 0)));
    auto result = create<AvgPool2dOp>(ValueRange{*input}, attrs);
    if (!result)
      return result.takeError();
    pool = result->getDefiningOp();
  }
  return define(pool->getResult(0));
}

llvm::Error Importer::importFlatten() {
  if (auto error = checkAttributes({"axis"}))
    return error;
  auto axis = intAttr("axis", 1);
  if (!axis)
    return axis.takeError();
  auto input = tensorInput(0);
  if (!input)
    return input.takeError();
  int64_t rank = cast<RankedTensorType>(input->getType()).getRank();
  if (*axis < 0)
    *axis += rank;
  auto result = create<FlattenOp>(
      ValueRange{*input}, {b.getNamedAttr("axis", b.getI64IntegerAttr(*axis))});
  if (!result)
    return result.takeError();
  return define(*result);
}

/// Only the Reshape that torch.flatten(x, 1) exports in older opsets:
/// [B, ...] to [B, K] with a constant shape.
llvm::Error Importer::importReshape() {
  if (auto error = checkAttributes({"allowzero"}))
    return error;
  auto allowZero = intAttr("allowzero", 0);
  if (!allowZero)
    return allowZero.takeError();
  auto input = tensorInput(0);
  if (!input)
    return input.takeError();
  auto shapeConstant = constantInput(1);
  if (!shapeConstant)
    return shapeConstant.takeError();
  auto target = loadInt64(*shapeConstant);
  if (!target)
    return target.takeError();
  auto inShape = cast<RankedTensorType>(input->getType()).getShape();
  int64_t total = numElements(inShape);
  llvm::SmallVector<int64_t> shape(target->begin(), target->end());
  int64_t known = 1, inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == 0 && !*allowZero && i < inShape.size())
      shape[i] = inShape[i];
    if (shape[i] == -1 && inferred < 0)
      inferred = i;
    else
      known *= shape[i];
  }
  if (inferred >= 0 && known > 0 && total % known == 0)
    shape[inferred] = total / known;
  if (shape.size() != 2 || inShape.empty() || shape[0] != inShape[0] ||
      shape[0] * shape[1] != total)
    return nodeError("Reshape of " + shapeString(inShape) + " to " +
                     shapeString(*target) +
                     " is not a flatten to [batch, features]; only that is "
                     "supported");
  auto result = create<FlattenOp>(
      ValueRange{*input}, {b.getNamedAttr("axis", b.getI64IntegerAttr(1))});
  if (!result)
    return result.takeError();
  return define(*result);
}

llvm::Error Importer::importGemm() {
  if (auto error = checkAttributes({"alpha", "beta", "transA", "transB"}))
    return error;
  auto alpha = floatAttr("alpha", 1.0f);
  auto beta = floatAttr("beta", 1.0f);
  auto transA = intAttr("transA", 0);
  auto transB = intAttr("transB", 0);
  if (!alpha || !beta || !transA || !transB)
    return llvm::joinErrors(
        llvm::joinErrors(alpha.takeError(), beta.takeError()),
        llvm::joinErrors(transA.takeError(), transB.takeError()));
  if (*alpha != 1.0f || *beta != 1.0f)
    return nodeError("unsupported attribute alpha/beta (" +
                     std::to_string(*alpha) + ", " + std::to_string(*beta) +
                     "); only 1 is supported");
  if (*transA != 0)
    return nodeError("unsupported attribute transA=" + std::to_string(*transA));
  auto input = tensorInput(0);
  if (!input)
    return input.takeError();
  // resnet.linear's weight is [M, K] (as nn.Linear's): with transB=0 the
  // [K, M] initializer is stored transposed under its own name.
  auto weight = paramInput(1, /*transposed=*/*transB == 0);
  if (!weight)
    return weight.takeError();
  llvm::SmallVector<Value, 3> operands = {*input, *weight};
  if (hasInput(2)) {
    auto bias = paramInput(2);
    if (!bias)
      return bias.takeError();
    operands.push_back(*bias);
  }
  auto result = create<LinearOp>(operands);
  if (!result)
    return result.takeError();
  return define(*result);
}

llvm::Error Importer::importMatMul() {
  if (auto error = checkAttributes({}))
    return error;
  auto input = tensorInput(0);
  if (!input)
    return input.takeError();
  // MatMul's weight is [K, M]; it is written transposed, as [M, K], under
  // the initializer's own name, since resnet.linear follows nn.Linear.
  auto weight = paramInput(1, /*transposed=*/true);
  if (!weight)
    return weight.takeError();
  auto result = create<LinearOp>(ValueRange{*input, *weight});
  if (!result)
    return result.takeError();
  if (useCounts.lookup(node->output(0)) == 1)
    pendingMatMuls[node->output(0)] = cast<LinearOp>(result->getDefiningOp());
  return define(*result);
}

llvm::Error Importer::importNode(const onnx::NodeProto &current, int index) {
  node = &current;
  nodeName = current.name().empty()
                 ? current.op_type() + "_" + std::to_string(index)
                 : current.name();
  loc = NameLoc::get(b.getStringAttr(nodeName));
  const std::string &type = current.op_type();
  if (!current.domain().empty() && current.domain() != "ai.onnx")
    return nodeError("unsupported op type (domain '" + current.domain() + "')");
  if (type == "Conv")
    return importConv();
  if (type == "BatchNormalization")
    return importBatchNorm();
  if (type == "Relu")
    return importUnary<ReluOp>();
  if (type == "Add")
    return importAdd();
  if (type == "MaxPool" || type == "AveragePool")
    return importPool(type == "MaxPool");
  if (type == "GlobalAveragePool")
    return importUnary<GlobalAvgPoolOp>();
  if (type == "Flatten")
    return importFlatten();
  if (type == "Reshape")
    return importReshape();
  if (type == "Gemm")
    return importGemm();
  if (type == "MatMul")
    return importMatMul();
  if (type == "Identity") {
    if (!hasInput(0) || current.output_size() < 1)
      return nodeError("needs one input and one output");
    auto constant = constants.find(current.input(0));
    if (constant != constants.end()) {
      Constant alias = constant->second;
      constants[current.output(0)] = alias;
      return llvm::Error::success();
    }
    auto input = tensorInput(0);
    if (!input)
      return input.takeError();
    return define(*input);
  }
  if (type == "Constant") {
    if (auto error = checkAttributes({"value"}))
      return error;
    const onnx::AttributeProto *value = attribute("value");
    if (!value || value->type() != onnx::AttributeProto::TENSOR ||
        current.output_size() < 1)
      return nodeError("needs a TENSOR attribute 'value' and one output");
    constants[current.output(0)] = {&value->t(), current.output(0)};
    return llvm::Error::success();
  }
  return nodeError("unsupported op type");
}

llvm::Expected<ImportedModel> Importer::run() {
  if (auto error = parse())
    return std::move(error);
  const onnx::GraphProto &graph = model.graph();
  if (graph.sparse_initializer_size())
    return llvm::createStringError("sparse initializers are not supported");
  for (const onnx::TensorProto &tensor : graph.initializer())
    constants[tensor.name()] = {&tensor, tensor.name()};

  // Older exporters list initializers among the inputs too.
  llvm::SmallVector<const onnx::ValueInfoProto *, 1> inputs;
  for (const onnx::ValueInfoProto &input : graph.input())
    if (!constants.count(input.name()))
      inputs.push_back(&input);
  if (inputs.size() != 1 || graph.output_size() != 1) {
    std::string names;
    for (const onnx::ValueInfoProto *input : inputs)
      names += (names.empty() ? "" : ", ") + input->name();
    return llvm::createStringError(
        "the graph has " + std::to_string(inputs.size()) + " input(s) (" +
        names + ") and " + std::to_string(graph.output_size()) +
        " output(s); resnetc imports graphs of one input and one output");
  }
  auto imagesType = inputType(*inputs.front());
  if (!imagesType)
    return imagesType.takeError();

  for (const onnx::NodeProto &n : graph.node())
    for (const std::string &name : n.input())
      if (!name.empty())
        ++useCounts[name];
  ++useCounts[graph.output(0).name()];

  context.loadDialect<ResnetDialect, func::FuncDialect>();
  Location fileLoc = NameLoc::get(b.getStringAttr(graph.name()));
  OwningOpRef<ModuleOp> module = ModuleOp::create(fileLoc);
  b.setInsertionPointToEnd(module->getBody());
  auto func = b.create<func::FuncOp>(fileLoc, "forward",
                                     b.getFunctionType({*imagesType}, {}));
  func.setArgAttr(0, "resnet.name", b.getStringAttr(inputs.front()->name()));
  b.setInsertionPointToStart(func.addEntryBlock());
  values[inputs.front()->name()] = func.getArgument(0);

  for (auto [index, n] : llvm::enumerate(graph.node()))
    if (auto error = importNode(n, index))
      return std::move(error);

  const onnx::ValueInfoProto &output = graph.output(0);
  Value logits = values.lookup(output.name());
  if (!logits)
    return llvm::createStringError("graph output '" + output.name() +
                                   "' is not computed from the input");
  auto logitsType = cast<RankedTensorType>(logits.getType());
  if (logitsType.getRank() != 2)
    return llvm::createStringError(
        "graph output '" + output.name() + "' has shape " +
        shapeString(logitsType.getShape()) + "; expected [batch, classes]");
  if (options.classes && *options.classes != logitsType.getDimSize(1))
    return llvm::createStringError(
        "the model has " + std::to_string(logitsType.getDimSize(1)) +
        " classes, but --classes says " + std::to_string(*options.classes));
  if (output.type().tensor_type().has_shape()) {
    const auto &dims = output.type().tensor_type().shape().dim();
    bool mismatch = dims.size() != 2;
    for (int i = 0; i < dims.size() && !mismatch; ++i)
      mismatch = dims[i].has_dim_value() && dims[i].dim_value() > 0 &&
                 dims[i].dim_value() != logitsType.getDimSize(i);
    if (mismatch)
      return llvm::createStringError("graph output '" + output.name() +
                                     "' is declared with another "
                                     "shape than the " +
                                     shapeString(logitsType.getShape()) +
                                     " it computes");
  }
  b.setInsertionPointToEnd(&func.getBody().front());
  b.create<func::ReturnOp>(NameLoc::get(b.getStringAttr(output.name())),
                           logits);
  func.setType(b.getFunctionType({*imagesType}, {logitsType}));

  std::string diagnostics;
  {
    ScopedDiagnosticHandler handler(&context, [&](Diagnostic &diag) {
      llvm::raw_string_ostream os(diagnostics);
      os << "\n  " << diag.getLocation() << ": " << diag.str();
      return success();
    });
    if (failed(mlir::verify(*module)))
      return llvm::createStringError("the imported module does not verify:" +
                                     diagnostics);
  }
  ImportedModel result;
  result.module = std::move(module);
  result.weights = std::move(weights);
  return result;
}

} // namespace

llvm::Expected<ImportedModel> importOnnx(MLIRContext &context,
                                         llvm::StringRef path,
                                         const OnnxImportOptions &options) {
  Importer importer(context, path, options);
  return importer.run();
}

llvm::Error writeImportedWeights(const ImportedModel &model,
                                 const std::string &path) {
  std::vector<TensorToWrite> tensors;
  for (const ImportedTensor &tensor : model.weights)
    tensors.push_back(
        {tensor.name, DType::F32, tensor.shape, tensor.data.data()});
  std::string error;
  if (!writeSafetensors(path, tensors, {{"resnetc.source", "onnx"}}, error))
    return llvm::createStringError(error);
  return llvm::Error::success();
}

} // namespace resnetc
