//===- FuseEpilogue.cpp - Fuse epilogues into convolutions ------*- C++ -*-===//
//
// conv2d (+ bias) -> add(., residual) -> relu becomes one fused_conv2d;
// in a training step, batch_norm_train -> add(., residual) -> relu one
// batch_norm_train with that epilogue.
// Each link of the chain must be the only user of the value before it:
// otherwise the intermediate value is needed and fusing would lose it.
//
//===----------------------------------------------------------------------===//
#include "Resnet/Transforms/Passes.h"

#include "Resnet/IR/ResnetOps.h"

#include "mlir/IR/Builders.h"

namespace mlir {
namespace resnet {
#define GEN_PASS_DEF_FUSEEPILOGUE
#include "Resnet/Transforms/Passes.h.inc"
} // namespace resnet
} // namespace mlir

using namespace mlir;
using namespace mlir::resnet;

namespace {

/// The only user of `value`, or null.
Operation *soleUser(Value value) {
  return value.hasOneUse() ? *value.user_begin() : nullptr;
}

struct FuseEpiloguePass : resnet::impl::FuseEpilogueBase<FuseEpiloguePass> {
  void runOnOperation() override {
    SmallVector<Conv2dOp> convs;
    getOperation().walk([&](Conv2dOp conv) { convs.push_back(conv); });
    for (Conv2dOp conv : convs)
      fuse(conv);
    SmallVector<BatchNormTrainOp> norms;
    getOperation().walk([&](BatchNormTrainOp bn) { norms.push_back(bn); });
    for (BatchNormTrainOp bn : norms)
      fuse(bn);
  }

  /// batch_norm_train -> add(., residual) -> relu, each link the only user
  /// of the one before, becomes one batch_norm_train with the epilogue. It
  /// goes where both the batch norm and the residual are defined; the
  /// running-statistics updates that read its statistics in between move
  /// after it (nothing else may read them there).
  static void fuse(BatchNormTrainOp bn) {
    if (bn.getResidual() || bn.getRelu())
      return;
    SmallVector<Operation *, 3> chain = {bn};
    Value residual;
    Operation *next = soleUser(bn.getOutput());
    if (auto add = dyn_cast_or_null<AddOp>(next)) {
      residual = add.getLhs() == bn.getOutput() ? add.getRhs() : add.getLhs();
      if (residual == bn.getOutput())
        return;
      chain.push_back(add);
      next = soleUser(add.getResult());
    }
    bool relu = isa_and_nonnull<ReluOp>(next);
    if (relu)
      chain.push_back(next);
    if (chain.size() == 1)
      return;
    Block *block = bn->getBlock();
    Operation *at = bn;
    if (Operation *def = residual ? residual.getDefiningOp() : nullptr) {
      if (def->getBlock() != block)
        return;
      if (at->isBeforeInBlock(def))
        at = def;
    } else if (residual && cast<BlockArgument>(residual).getOwner() != block) {
      return;
    }
    SmallVector<Operation *> moved;
    for (Value stat : {bn.getBatchMean(), bn.getBatchVar()})
      for (Operation *user : stat.getUsers())
        if (user->getBlock() == block && !at->isBeforeInBlock(user)) {
          if (!isa<RunningStatsUpdateOp>(user))
            return;
          if (!llvm::is_contained(moved, user))
            moved.push_back(user);
        }

    SmallVector<Location, 3> locs;
    for (Operation *op : chain)
      locs.push_back(op->getLoc());
    OpBuilder b(block, std::next(Block::iterator(at)));
    auto fused = b.create<BatchNormTrainOp>(
        b.getFusedLoc(locs), bn.getInput(), bn.getWeight(), bn.getBias(),
        residual, bn.getEpsilonAttr(), bn.getMomentumAttr(),
        relu ? b.getUnitAttr() : UnitAttr());
    chain.back()->getResult(0).replaceAllUsesWith(fused.getOutput());
    bn.getBatchMean().replaceAllUsesWith(fused.getBatchMean());
    bn.getBatchVar().replaceAllUsesWith(fused.getBatchVar());
    Operation *after = fused;
    for (Operation *op : moved) {
      op->moveAfter(after);
      after = op;
    }
    for (Operation *op : llvm::reverse(chain))
      op->erase();
  }

  static void fuse(Conv2dOp conv) {
    // Walk the chain conv -> add -> relu as far as it is private.
    SmallVector<Operation *, 3> chain = {conv};
    Value residual;
    Operation *next = soleUser(conv.getResult());
    if (auto add = dyn_cast_or_null<AddOp>(next)) {
      residual = add.getLhs() == conv.getResult() ? add.getRhs() : add.getLhs();
      chain.push_back(add);
      next = soleUser(add.getResult());
    }
    bool relu = isa_and_nonnull<ReluOp>(next);
    if (relu)
      chain.push_back(next);

    // The fused op replaces the last op of the chain, where the residual
    // (an operand of the add) is already defined.
    Operation *last = chain.back();
    SmallVector<Location, 3> locs;
    for (Operation *op : chain)
      locs.push_back(op->getLoc());
    OpBuilder b(last);
    auto fused = b.create<FusedConv2dOp>(
        b.getFusedLoc(locs), conv.getInput(), conv.getWeight(),
        conv.getBias(), residual, conv.getStrideAttr(), conv.getPaddingAttr(),
        conv.getDilationAttr(), conv.getGroupsAttr(),
        relu ? b.getUnitAttr() : UnitAttr());
    last->getResult(0).replaceAllUsesWith(fused.getResult());
    for (Operation *op : llvm::reverse(chain))
      op->erase();
  }
};

} // namespace
