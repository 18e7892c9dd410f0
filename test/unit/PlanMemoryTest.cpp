//===- PlanMemoryTest.cpp - resnet-plan-memory on whole models ------------===//
//
// Runs the inference pipeline on real ResNets and checks the arena plan
// against liveness recomputed here, independently of the pass: tensors
// alive at the same time never share bytes, and the arena is close to the
// peak of live bytes, the least any plan could use. The checks hold
// whatever the earlier passes of the pipeline (fold, fuse, hoist) did.
//
//===----------------------------------------------------------------------===//
#include "compiler/Frontend/ResNetBuilder.h"

#include "Resnet/IR/ResnetOps.h"
#include "compiler/InitAll.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/IR/MLIRContext.h"
#include "mlir/IR/Verifier.h"
#include "mlir/Pass/PassManager.h"
#include "mlir/Pass/PassRegistry.h"

#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/raw_ostream.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <iomanip>
#include <iostream>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

using namespace resnetc;

namespace {

constexpr int64_t kAlignment = 64;

struct Model {
  const char *arch;
  int64_t batch;
  int64_t image;
  /// The whole inference pipeline, or the planner alone on the unfused
  /// graph (many more, smaller buffers), so the checks do not depend on
  /// what fold/fuse/hoist do.
  const char *pipeline;
  /// Bound on arena / sum of all buffers; 0 where none holds: once fused,
  /// resnet18 at 64x64 has so few buffers that its peak alone (the stem's
  /// output and the pooled map) is over a third of their sum.
  double maxArenaToSum;
};

/// So that gtest names the model, not its bytes, when a case fails.
void PrintTo(const Model &model, std::ostream *os) {
  *os << model.pipeline << " on " << model.arch << " batch " << model.batch
      << " " << model.image << "x" << model.image;
}

/// One planned tensor as seen from the IR alone.
struct Buffer {
  std::string name;
  int64_t def;
  int64_t lastUse;
  int64_t bytes;
  int64_t offset;
};

/// What a function's plan looks like, recomputed from its IR.
struct Figures {
  int64_t arenaSize = 0;
  int64_t peakBytes = 0;
  int64_t sumBytes = 0;
  size_t buffers = 0;
};

double mebibytes(int64_t bytes) {
  return static_cast<double>(bytes) / (1024.0 * 1024.0);
}

std::string describe(mlir::Operation *op, unsigned resultNumber) {
  std::string text;
  llvm::raw_string_ostream os(text);
  os << op->getName() << " #" << resultNumber << " at " << op->getLoc();
  return text;
}

class PlanMemoryTest : public ::testing::TestWithParam<Model> {
protected:
  static void SetUpTestSuite() {
    // Pipelines may be registered once per process.
    static std::once_flag once;
    std::call_once(once, [] { registerAllPasses(); });
  }

  PlanMemoryTest() {
    registerAllDialects(registry);
    context = std::make_unique<mlir::MLIRContext>(registry);
  }

  /// Buffers, their liveness and sizes, recomputed from the IR: an op's
  /// index in the block is its time, a result lives from its op to its
  /// last user (the return included), and takes numel * bytes per element.
  static llvm::SmallVector<Buffer> collectBuffers(mlir::func::FuncOp func) {
    mlir::Block &block = func.getBody().front();
    llvm::DenseMap<mlir::Operation *, int64_t> time;
    int64_t index = 0;
    for (mlir::Operation &op : block)
      time[&op] = index++;

    llvm::SmallVector<Buffer> buffers;
    for (mlir::Operation &op : block) {
      bool isParam = mlir::isa<mlir::resnet::ParamOp>(op);
      auto offsets =
          op.getAttrOfType<mlir::DenseI64ArrayAttr>("resnet.arena_offsets");
      if (isParam || mlir::isa<mlir::func::ReturnOp>(op)) {
        EXPECT_FALSE(offsets) << "unexpected offsets on " << describe(&op, 0);
        continue;
      }
      if (!offsets ||
          offsets.size() != static_cast<int64_t>(op.getNumResults())) {
        ADD_FAILURE() << "missing or wrong offsets on " << describe(&op, 0);
        continue;
      }
      for (mlir::OpResult result : op.getResults()) {
        auto type = mlir::cast<mlir::RankedTensorType>(result.getType());
        int64_t elementBytes =
            (type.getElementType().getIntOrFloatBitWidth() + 7) / 8;
        int64_t lastUse = time[&op];
        for (mlir::Operation *user : result.getUsers())
          lastUse = std::max(lastUse, time[block.findAncestorOpInBlock(*user)]);
        buffers.push_back({describe(&op, result.getResultNumber()), time[&op],
                           lastUse, type.getNumElements() * elementBytes,
                           offsets[result.getResultNumber()]});
      }
    }
    return buffers;
  }

  /// Checks the plan of `func` and returns its figures.
  static Figures checkFunction(mlir::func::FuncOp func) {
    Figures figures;
    EXPECT_TRUE(func.getBody().hasOneBlock());
    auto arenaAttr =
        func->getAttrOfType<mlir::IntegerAttr>("resnet.arena_size");
    auto peakAttr = func->getAttrOfType<mlir::IntegerAttr>("resnet.arena_peak");
    EXPECT_TRUE(arenaAttr && peakAttr)
        << "no arena on @" << func.getSymName().str();
    if (!arenaAttr || !peakAttr)
      return figures;
    figures.arenaSize = arenaAttr.getInt();

    llvm::SmallVector<Buffer> buffers = collectBuffers(func);
    figures.buffers = buffers.size();

    int64_t numOps = static_cast<int64_t>(std::distance(
        func.getBody().front().begin(), func.getBody().front().end()));
    std::vector<int64_t> live(numOps, 0), liveAligned(numOps, 0);
    for (const Buffer &b : buffers) {
      int64_t aligned = (b.bytes + kAlignment - 1) / kAlignment * kAlignment;
      figures.sumBytes += b.bytes;
      for (int64_t t = b.def; t <= b.lastUse; ++t) {
        live[t] += b.bytes;
        liveAligned[t] += aligned;
      }
      EXPECT_EQ(b.offset % kAlignment, 0) << b.name;
      EXPECT_GE(b.offset, 0) << b.name;
      EXPECT_LE(b.offset + b.bytes, figures.arenaSize)
          << b.name << " lies outside the arena";
    }
    figures.peakBytes = *std::max_element(live.begin(), live.end());
    // The pass reports the peak of aligned bytes.
    EXPECT_EQ(peakAttr.getInt(),
              *std::max_element(liveAligned.begin(), liveAligned.end()));

    // The correctness property, over every pair.
    int64_t conflicts = 0;
    for (size_t i = 0; i < buffers.size(); ++i) {
      const Buffer &a = buffers[i];
      for (size_t j = i + 1; j < buffers.size(); ++j) {
        const Buffer &b = buffers[j];
        bool aliveTogether = a.def <= b.lastUse && b.def <= a.lastUse;
        bool shareBytes = a.offset < b.offset + b.bytes &&
                          b.offset < a.offset + a.bytes && a.bytes > 0 &&
                          b.bytes > 0;
        if (aliveTogether && shareBytes && ++conflicts <= 10)
          ADD_FAILURE() << a.name << " [" << a.offset << ", "
                        << a.offset + a.bytes << ") overlaps " << b.name << " ["
                        << b.offset << ", " << b.offset + b.bytes
                        << ") while both are alive";
      }
    }
    EXPECT_EQ(conflicts, 0);
    return figures;
  }

  mlir::DialectRegistry registry;
  std::unique_ptr<mlir::MLIRContext> context;
};

TEST_P(PlanMemoryTest, ArenaIsSafeAndNearThePeak) {
  const Model &model = GetParam();
  ModelConfig config;
  config.arch = model.arch;
  config.batch = model.batch;
  config.height = model.image;
  auto built = buildResNet(*context, config);
  ASSERT_TRUE(static_cast<bool>(built)) << llvm::toString(built.takeError());
  mlir::OwningOpRef<mlir::ModuleOp> module = std::move(*built);

  mlir::PassManager pm(context.get());
  std::string errors;
  llvm::raw_string_ostream errorStream(errors);
  ASSERT_TRUE(
      mlir::succeeded(mlir::parsePassPipeline(model.pipeline, pm, errorStream)))
      << errors;
  ASSERT_TRUE(mlir::succeeded(pm.run(*module)));
  ASSERT_TRUE(mlir::succeeded(mlir::verify(*module)));

  int64_t planned = 0;
  for (auto func : module->getOps<mlir::func::FuncOp>()) {
    if (func.getSymName() == "init") {
      EXPECT_FALSE(func->hasAttr("resnet.arena_size"));
      continue;
    }
    ++planned;
    Figures figures = checkFunction(func);
    ASSERT_GT(figures.buffers, 0u);

    std::ostringstream line;
    line << std::fixed << std::setprecision(2) << model.pipeline << " "
         << model.arch << " batch " << model.batch << " " << model.image << "x"
         << model.image << " @" << func.getSymName().str() << ": "
         << figures.buffers << " buffers, arena "
         << mebibytes(figures.arenaSize) << " MiB, peak live "
         << mebibytes(figures.peakBytes) << " MiB, sum "
         << mebibytes(figures.sumBytes) << " MiB (arena/peak "
         << std::setprecision(3)
         << static_cast<double>(figures.arenaSize) / figures.peakBytes << ")";
    std::cout << line.str() << std::endl;
    RecordProperty("arena_bytes", std::to_string(figures.arenaSize));
    RecordProperty("peak_bytes", std::to_string(figures.peakBytes));
    RecordProperty("sum_bytes", std::to_string(figures.sumBytes));

    EXPECT_LE(static_cast<double>(figures.arenaSize), 1.2 * figures.peakBytes);
    if (model.maxArenaToSum > 0)
      EXPECT_LT(static_cast<double>(figures.arenaSize),
                model.maxArenaToSum * figures.sumBytes);
  }
  EXPECT_EQ(planned, 1) << "expected @forward alone to be planned";
}

std::string modelName(const ::testing::TestParamInfo<Model> &info) {
  std::string pipeline = info.param.pipeline;
  std::replace(pipeline.begin(), pipeline.end(), '-', '_');
  return pipeline + "_" + info.param.arch + "_b" +
         std::to_string(info.param.batch) + "_" +
         std::to_string(info.param.image);
}

constexpr const char *kInference = "resnet-inference-pipeline";
constexpr const char *kPlanOnly = "resnet-plan-memory";

INSTANTIATE_TEST_SUITE_P(
    Models, PlanMemoryTest,
    ::testing::Values(Model{"resnet50", 1, 224, kInference, 0.25},
                      Model{"resnet18", 2, 64, kInference, 0.0},
                      Model{"resnext50_32x4d", 2, 64, kInference, 0.25},
                      Model{"resnet50", 1, 224, kPlanOnly, 0.25},
                      Model{"resnet18", 2, 64, kPlanOnly, 0.25},
                      Model{"resnext50_32x4d", 2, 64, kPlanOnly, 0.25},
                      Model{"resnet152", 1, 224, kPlanOnly, 0.25}),
    modelName);

} // namespace
