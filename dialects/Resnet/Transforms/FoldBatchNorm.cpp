//===- FoldBatchNorm.cpp - Fold batch norms into convolutions ---*- C++ -*-===//
//
// batch_norm(conv2d(x, W[, b])) -> conv2d(x, fold_batch_norm(W, ...[, b])).
// The arithmetic on the weights stays in the IR as fold_batch_norm, since
// parameter values are not known at compile time.
//
//===----------------------------------------------------------------------===//
#include "Resnet/Transforms/Passes.h"

#include "Resnet/IR/ResnetOps.h"

#include "mlir/IR/Builders.h"

namespace mlir {
namespace resnet {
#define GEN_PASS_DEF_FOLDBATCHNORM
#include "Resnet/Transforms/Passes.h.inc"
} // namespace resnet
} // namespace mlir

using namespace mlir;
using namespace mlir::resnet;

namespace {

struct FoldBatchNormPass
    : resnet::impl::FoldBatchNormBase<FoldBatchNormPass> {
  void runOnOperation() override {
    SmallVector<BatchNormOp> candidates;
    getOperation().walk([&](BatchNormOp bn) {
      auto conv = bn.getInput().getDefiningOp<Conv2dOp>();
      // Another user of the convolution needs its unnormalized result.
      if (conv && conv->hasOneUse())
        candidates.push_back(bn);
    });
    for (BatchNormOp bn : candidates)
      fold(bn, bn.getInput().getDefiningOp<Conv2dOp>());
  }

  static void fold(BatchNormOp bn, Conv2dOp conv) {
    OpBuilder b(bn);
    Location loc = b.getFusedLoc({conv.getLoc(), bn.getLoc()});
    auto folded = b.create<FoldBatchNormOp>(
        loc, conv.getWeight(), bn.getWeight(), bn.getBias(),
        bn.getRunningMean(), bn.getRunningVar(), conv.getBias(),
        bn.getEpsilonAttr());
    auto newConv = b.create<Conv2dOp>(
        loc, conv.getInput(), folded.getFoldedWeight(),
        folded.getFoldedBias(), conv.getStrideAttr(), conv.getPaddingAttr(),
        conv.getDilationAttr(), conv.getGroupsAttr());
    bn.getResult().replaceAllUsesWith(newConv.getResult());
    bn.erase();
    conv.erase();
  }
};

} // namespace
