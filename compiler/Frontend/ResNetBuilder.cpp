//===- ResNetBuilder.cpp - ResNet definitions to the resnet dialect -------===//
//
// The structures follow torchvision.models.resnet (v0.14) exactly: stride on
// the 3x3 convolution of a Bottleneck (ResNet v1.5), `downsample.0/1` for
// the projection shortcut, grouped and widened Bottlenecks for ResNeXt and
// Wide-ResNet. The CIFAR ResNets follow He et al. 2016, section 4.2.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/ResNetBuilder.h"

#include "Resnet/IR/ResnetOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/BuiltinTypes.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/Twine.h"

using namespace mlir;
using namespace mlir::resnet;

namespace resnetc {
namespace {

enum class Block { Basic, Bottleneck };

struct ArchSpec {
  llvm::StringLiteral name;
  bool cifar;
  Block block;
  /// Blocks per stage (ImageNet: layer1..layer4, CIFAR: layer1..layer3).
  llvm::SmallVector<int64_t, 4> layers;
  int64_t groups = 1;
  int64_t widthPerGroup = 64;
};

const ArchSpec kArchs[] = {
    {"resnet18", false, Block::Basic, {2, 2, 2, 2}},
    {"resnet34", false, Block::Basic, {3, 4, 6, 3}},
    {"resnet50", false, Block::Bottleneck, {3, 4, 6, 3}},
    {"resnet101", false, Block::Bottleneck, {3, 4, 23, 3}},
    {"resnet152", false, Block::Bottleneck, {3, 8, 36, 3}},
    {"resnext50_32x4d", false, Block::Bottleneck, {3, 4, 6, 3}, 32, 4},
    {"resnext101_32x8d", false, Block::Bottleneck, {3, 4, 23, 3}, 32, 8},
    {"wide_resnet50_2", false, Block::Bottleneck, {3, 4, 6, 3}, 1, 128},
    {"wide_resnet101_2", false, Block::Bottleneck, {3, 4, 23, 3}, 1, 128},
    // CIFAR: depth 6n+2, n basic blocks per stage of 16, 32 and 64 filters.
    {"resnet20", true, Block::Basic, {3, 3, 3}},
    {"resnet32", true, Block::Basic, {5, 5, 5}},
    {"resnet44", true, Block::Basic, {7, 7, 7}},
    {"resnet56", true, Block::Basic, {9, 9, 9}},
    {"resnet110", true, Block::Basic, {18, 18, 18}},
};

/// Emits the ops of one network into the body of @forward.
class NetBuilder {
public:
  NetBuilder(OpBuilder &builder) : b(builder) {}

  Value conv(Value x, const llvm::Twine &name, int64_t outChannels,
             int64_t kernel, int64_t stride, int64_t padding,
             int64_t groups = 1) {
    int64_t inChannels = shape(x)[1];
    Value weight = param(name + ".weight",
                         {outChannels, inChannels / groups, kernel, kernel});
    return b.create<Conv2dOp>(loc(name), x, weight, /*bias=*/Value(),
                              llvm::ArrayRef<int64_t>{stride, stride},
                              llvm::ArrayRef<int64_t>{padding, padding,
                                                      padding, padding},
                              llvm::ArrayRef<int64_t>{1, 1}, groups);
  }

  Value batchNorm(Value x, const llvm::Twine &name) {
    int64_t channels = shape(x)[1];
    Value weight = param(name + ".weight", {channels});
    Value bias = param(name + ".bias", {channels});
    Value mean = param(name + ".running_mean", {channels});
    Value var = param(name + ".running_var", {channels});
    return b.create<BatchNormOp>(loc(name), x, weight, bias, mean, var,
                                 b.getF64FloatAttr(1e-5));
  }

  Value relu(Value x, const llvm::Twine &name) {
    return b.create<ReluOp>(loc(name), x);
  }

  Value add(Value x, Value y, const llvm::Twine &name) {
    return b.create<AddOp>(loc(name), x, y);
  }

  /// torchvision's BasicBlock, or the CIFAR block with option A's
  /// parameter-free shortcut (stride-2 subsampling, zero-padded channels).
  Value basicBlock(Value x, const std::string &name, int64_t planes,
                   int64_t stride, bool cifarShortcut) {
    Value out = conv(x, name + ".conv1", planes, 3, stride, 1);
    out = relu(batchNorm(out, name + ".bn1"), name + ".relu1");
    out = batchNorm(conv(out, name + ".conv2", planes, 3, 1, 1),
                    name + ".bn2");
    Value identity = x;
    if (stride != 1 || shape(x)[1] != planes) {
      if (cifarShortcut) {
        int64_t extra = planes - shape(x)[1];
        Value sub = b.create<AvgPool2dOp>(
            loc(name + ".shortcut"), x, llvm::ArrayRef<int64_t>{1, 1},
            llvm::ArrayRef<int64_t>{stride, stride});
        identity = b.create<PadOp>(
            loc(name + ".shortcut"), sub,
            llvm::ArrayRef<int64_t>{0, extra / 2, 0, 0},
            llvm::ArrayRef<int64_t>{0, extra - extra / 2, 0, 0});
      } else {
        identity = downsample(x, name, planes, stride);
      }
    }
    return relu(add(out, identity, name + ".add"), name + ".relu2");
  }

  /// torchvision's Bottleneck: the stride sits on the 3x3 convolution.
  Value bottleneck(Value x, const std::string &name, int64_t planes,
                   int64_t stride, int64_t groups, int64_t widthPerGroup) {
    int64_t width = planes * widthPerGroup / 64 * groups;
    int64_t outChannels = planes * 4;
    Value out = conv(x, name + ".conv1", width, 1, 1, 0);
    out = relu(batchNorm(out, name + ".bn1"), name + ".relu1");
    out = conv(out, name + ".conv2", width, 3, stride, 1, groups);
    out = relu(batchNorm(out, name + ".bn2"), name + ".relu2");
    out = batchNorm(conv(out, name + ".conv3", outChannels, 1, 1, 0),
                    name + ".bn3");
    Value identity = x;
    if (stride != 1 || shape(x)[1] != outChannels)
      identity = downsample(x, name, outChannels, stride);
    return relu(add(out, identity, name + ".add"), name + ".relu3");
  }

  Value downsample(Value x, const std::string &name, int64_t outChannels,
                   int64_t stride) {
    Value out = conv(x, name + ".downsample.0", outChannels, 1, stride, 0);
    return batchNorm(out, name + ".downsample.1");
  }

  /// avgpool -> flatten -> fc, as torchvision's classifier head.
  Value head(Value x, int64_t classes) {
    Value pooled = b.create<GlobalAvgPoolOp>(loc("avgpool"), x);
    Value flat = b.create<FlattenOp>(loc("flatten"), pooled, 1);
    int64_t features = shape(flat)[1];
    Value weight = param("fc.weight", {classes, features});
    Value bias = param("fc.bias", {classes});
    return b.create<LinearOp>(loc("fc"), flat, weight, bias);
  }

  Value maxPool(Value x) {
    return b.create<MaxPool2dOp>(loc("maxpool"), x,
                                 llvm::ArrayRef<int64_t>{3, 3},
                                 llvm::ArrayRef<int64_t>{2, 2},
                                 llvm::ArrayRef<int64_t>{1, 1, 1, 1});
  }

private:
  Value param(const llvm::Twine &name, llvm::ArrayRef<int64_t> shape) {
    std::string key = name.str();
    auto type = RankedTensorType::get(shape, b.getF32Type());
    return b.create<ParamOp>(loc(key), type, key);
  }

  Location loc(const llvm::Twine &name) {
    return NameLoc::get(b.getStringAttr(name));
  }

  static llvm::ArrayRef<int64_t> shape(Value v) {
    return cast<RankedTensorType>(v.getType()).getShape();
  }

  OpBuilder &b;
};

Value buildImageNet(NetBuilder &net, const ArchSpec &spec, Value x,
                    int64_t classes) {
  x = net.conv(x, "conv1", 64, 7, 2, 3);
  x = net.relu(net.batchNorm(x, "bn1"), "relu");
  x = net.maxPool(x);
  for (auto [stage, blocks] : llvm::enumerate(spec.layers)) {
    int64_t planes = 64 << stage;
    for (int64_t i = 0; i < blocks; ++i) {
      std::string name =
          "layer" + std::to_string(stage + 1) + "." + std::to_string(i);
      int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
      x = spec.block == Block::Basic
              ? net.basicBlock(x, name, planes, stride, false)
              : net.bottleneck(x, name, planes, stride, spec.groups,
                               spec.widthPerGroup);
    }
  }
  return net.head(x, classes);
}

Value buildCifar(NetBuilder &net, const ArchSpec &spec, Value x,
                 int64_t classes) {
  x = net.conv(x, "conv1", 16, 3, 1, 1);
  x = net.relu(net.batchNorm(x, "bn1"), "relu");
  for (auto [stage, blocks] : llvm::enumerate(spec.layers)) {
    int64_t planes = 16 << stage;
    for (int64_t i = 0; i < blocks; ++i) {
      std::string name =
          "layer" + std::to_string(stage + 1) + "." + std::to_string(i);
      int64_t stride = (stage > 0 && i == 0) ? 2 : 1;
      x = net.basicBlock(x, name, planes, stride, /*cifarShortcut=*/true);
    }
  }
  return net.head(x, classes);
}

} // namespace

llvm::ArrayRef<llvm::StringRef> knownArchitectures() {
  static const llvm::SmallVector<llvm::StringRef> names = [] {
    llvm::SmallVector<llvm::StringRef> result;
    for (const ArchSpec &spec : kArchs)
      result.push_back(spec.name);
    return result;
  }();
  return names;
}

llvm::Expected<OwningOpRef<ModuleOp>> buildResNet(MLIRContext &context,
                                                  const ModelConfig &config) {
  const ArchSpec *spec = llvm::find_if(
      kArchs, [&](const ArchSpec &s) { return s.name == config.arch; });
  if (spec == std::end(kArchs))
    return llvm::createStringError(
        "unknown architecture '" + config.arch + "'; known: " +
        llvm::join(knownArchitectures(), ", "));
  int64_t classes = config.classes.value_or(spec->cifar ? 10 : 1000);
  int64_t height = config.height.value_or(spec->cifar ? 32 : 224);
  int64_t width = config.width.value_or(height);
  if (classes < 1 || config.batch < 1 || height < 1 || width < 1)
    return llvm::createStringError(
        "classes, batch and image size must be positive, got classes " +
        std::to_string(classes) + ", batch " + std::to_string(config.batch) +
        ", image " + std::to_string(height) + "x" + std::to_string(width));

  context.loadDialect<ResnetDialect, func::FuncDialect>();
  OpBuilder b(&context);
  Location loc = NameLoc::get(b.getStringAttr(spec->name));
  OwningOpRef<ModuleOp> module = ModuleOp::create(loc, spec->name);
  module->getOperation()->setAttr("resnet.arch", b.getStringAttr(spec->name));

  auto f32 = b.getF32Type();
  auto imagesType = RankedTensorType::get({config.batch, 3, height, width}, f32);
  auto logitsType = RankedTensorType::get({config.batch, classes}, f32);
  b.setInsertionPointToEnd(module->getBody());
  auto func = b.create<func::FuncOp>(
      loc, "forward", b.getFunctionType({imagesType}, {logitsType}));
  func.setArgAttr(0, "resnet.name", b.getStringAttr("images"));
  b.setInsertionPointToStart(func.addEntryBlock());

  NetBuilder net(b);
  Value images = func.getArgument(0);
  Value logits = spec->cifar ? buildCifar(net, *spec, images, classes)
                             : buildImageNet(net, *spec, images, classes);
  b.create<func::ReturnOp>(loc, logits);
  return module;
}

} // namespace resnetc
