//===- PlanMemory.cpp - Static arena assignment -----------------*- C++ -*-===//
//
// Gives every intermediate tensor of a function a byte offset in one arena,
// so that a compiled model allocates its activations once. Liveness is the
// interval of op indices from a tensor's definition to its last use, and
// placement is TFLite's "greedy by size": the largest tensors are placed
// first, each in the tightest gap left by the tensors it is alive with.
//
//===----------------------------------------------------------------------===//
#include "Resnet/Transforms/Passes.h"

#include "Resnet/IR/ResnetOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/MathExtras.h"

#include <algorithm>
#include <limits>
#include <optional>

namespace mlir {
namespace resnet {
#define GEN_PASS_DEF_PLANMEMORY
#include "Resnet/Transforms/Passes.h.inc"
} // namespace resnet
} // namespace mlir

using namespace mlir;

namespace {

/// One op result that needs arena space, alive over the closed interval
/// [definedAt, lastUse] of op indices in its block.
struct Buffer {
  OpResult value;
  int64_t definedAt;
  int64_t lastUse;
  /// Bytes rounded up to the alignment, so that every offset built from
  /// sums of sizes stays aligned.
  int64_t size;
  int64_t offset = -1;

  bool isAliveWith(const Buffer &other) const {
    return definedAt <= other.lastUse && other.definedAt <= lastUse;
  }
};

/// Bytes of a statically shaped tensor; std::nullopt for anything else
/// (the arena can only hold what has a size known at compile time).
std::optional<int64_t> getByteSize(Type type) {
  auto shaped = dyn_cast<ShapedType>(type);
  if (!shaped || !shaped.hasStaticShape() ||
      !shaped.getElementType().isIntOrFloat())
    return std::nullopt;
  auto elementBytes = static_cast<int64_t>(
      llvm::divideCeil(shaped.getElementType().getIntOrFloatBitWidth(), 8));
  return shaped.getNumElements() * elementBytes;
}

/// Places `buffers` greedily by size: largest first (ties in definition
/// order, which keeps the plan deterministic), each at the start of the
/// smallest gap that fits between the already placed buffers alive at the
/// same time, or above all of them when no gap fits. Best-fit keeps large
/// gaps for the large tensors still to come.
void placeGreedyBySize(MutableArrayRef<Buffer> buffers) {
  SmallVector<Buffer *> order =
      llvm::map_to_vector(buffers, [](Buffer &buffer) { return &buffer; });
  llvm::stable_sort(order, [](const Buffer *a, const Buffer *b) {
    return a->size > b->size;
  });

  SmallVector<Buffer *> placed;
  SmallVector<Buffer *> alive;
  for (Buffer *buffer : order) {
    alive.clear();
    for (Buffer *other : placed)
      if (buffer->isAliveWith(*other))
        alive.push_back(other);
    llvm::sort(alive, [](const Buffer *a, const Buffer *b) {
      return a->offset < b->offset;
    });

    int64_t bestOffset = -1;
    int64_t bestGap = std::numeric_limits<int64_t>::max();
    // Placed buffers alive with this one may overlap each other in space
    // (they are not alive with each other), so the end of the occupied
    // prefix is a running maximum, not the end of the previous buffer.
    int64_t occupiedEnd = 0;
    for (Buffer *other : alive) {
      int64_t gap = other->offset - occupiedEnd;
      if (gap >= buffer->size && gap < bestGap) {
        bestGap = gap;
        bestOffset = occupiedEnd;
      }
      occupiedEnd = std::max(occupiedEnd, other->offset + other->size);
    }
    buffer->offset = bestOffset >= 0 ? bestOffset : occupiedEnd;
    placed.push_back(buffer);
  }
}

/// The largest sum of sizes of buffers alive at one op index: the least
/// arena any plan could use, reported next to the size of this one.
int64_t computePeak(ArrayRef<Buffer> buffers, int64_t numOps) {
  SmallVector<int64_t> delta(numOps + 1, 0);
  for (const Buffer &buffer : buffers) {
    delta[buffer.definedAt] += buffer.size;
    delta[buffer.lastUse + 1] -= buffer.size;
  }
  int64_t live = 0, peak = 0;
  for (int64_t change : delta) {
    live += change;
    peak = std::max(peak, live);
  }
  return peak;
}

struct PlanMemoryPass : resnet::impl::PlanMemoryBase<PlanMemoryPass> {
  using PlanMemoryBase::PlanMemoryBase;

  void runOnOperation() override {
    if (alignment <= 0) {
      getOperation().emitError("resnet-plan-memory needs a positive "
                               "alignment, got ")
          << alignment;
      return signalPassFailure();
    }
    for (auto func : getOperation().getOps<func::FuncOp>()) {
      // @init runs once at load time and its results are stored with the
      // weights, not in the arena.
      if (func.isExternal() || func.getSymName() == "init")
        continue;
      if (failed(planFunction(func)))
        return signalPassFailure();
    }
  }

  LogicalResult planFunction(func::FuncOp func) {
    if (!func.getBody().hasOneBlock())
      return func.emitError(
          "resnet-plan-memory expects a single-block function");
    Block &block = func.getBody().front();

    DenseMap<Operation *, int64_t> indexOf;
    for (auto [index, op] : llvm::enumerate(block))
      indexOf[&op] = index;

    // A training step writes the new value of a parameter (returned under
    // its name) into the parameter's own storage, not into the arena.
    llvm::DenseSet<Value> updates;
    Operation *terminator = block.getTerminator();
    for (auto [i, value] : llvm::enumerate(terminator->getOperands()))
      if (func.getResultAttr(i, "resnet.name"))
        updates.insert(value);

    SmallVector<Buffer> buffers;
    for (Operation &op : block) {
      if (isa<resnet::ParamOp>(op) || op.hasTrait<OpTrait::IsTerminator>())
        continue;
      int64_t def = indexOf[&op];
      for (OpResult result : op.getResults()) {
        if (updates.contains(result))
          continue;
        std::optional<int64_t> bytes = getByteSize(result.getType());
        if (!bytes)
          return op.emitOpError("resnet-plan-memory needs statically shaped "
                                "int or float tensors, got ")
                 << result.getType();
        int64_t lastUse = def;
        for (Operation *user : result.getUsers())
          if (Operation *top = block.findAncestorOpInBlock(*user))
            lastUse = std::max(lastUse, indexOf[top]);
        auto size = static_cast<int64_t>(llvm::alignTo(*bytes, alignment));
        buffers.push_back({result, def, lastUse, size});
      }
    }

    placeGreedyBySize(buffers);

    int64_t arenaSize = 0;
    DenseMap<Value, int64_t> offsetOf;
    for (const Buffer &buffer : buffers) {
      arenaSize = std::max(arenaSize, buffer.offset + buffer.size);
      offsetOf[buffer.value] = buffer.offset;
    }
    // One offset per result, -1 for an update kept in its parameter.
    for (Operation &op : block) {
      if (isa<resnet::ParamOp>(op) || op.hasTrait<OpTrait::IsTerminator>() ||
          op.getNumResults() == 0)
        continue;
      SmallVector<int64_t> offsets;
      for (OpResult result : op.getResults()) {
        auto it = offsetOf.find(result);
        offsets.push_back(it == offsetOf.end() ? -1 : it->second);
      }
      op.setAttr("resnet.arena_offsets",
                 DenseI64ArrayAttr::get(op.getContext(), offsets));
    }

    Builder builder(func.getContext());
    func->setAttr("resnet.arena_size", builder.getI64IntegerAttr(arenaSize));
    func->setAttr("resnet.arena_peak",
                  builder.getI64IntegerAttr(computePeak(
                      buffers, static_cast<int64_t>(indexOf.size()))));
    return success();
  }
};

} // namespace
