//===- HoistWeightPrep.cpp - Move weight preparation into @init -*- C++ -*-===//
//
// Ops that depend on parameters alone compute the same values on every
// call of @forward. They move into @init, which runs once per checkpoint
// and returns the prepared values by name; @forward reads them back with
// `resnet.param NAME {prepared}`.
//
//===----------------------------------------------------------------------===//
#include "Resnet/Transforms/Passes.h"

#include "Resnet/IR/ResnetOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringSet.h"

namespace mlir {
namespace resnet {
#define GEN_PASS_DEF_HOISTWEIGHTPREP
#include "Resnet/Transforms/Passes.h.inc"
} // namespace resnet
} // namespace mlir

using namespace mlir;
using namespace mlir::resnet;

namespace {

constexpr StringLiteral kInitName = "init";
constexpr StringLiteral kNameAttr = "resnet.name";

/// A raw parameter read from the weights file (not a prepared value, and
/// not one that a training step changes).
bool isWeight(Value value) {
  auto param = value.getDefiningOp<ParamOp>();
  return param && !param.getPrepared() && !param.getUpdated();
}

struct HoistWeightPrepPass
    : resnet::impl::HoistWeightPrepBase<HoistWeightPrepPass> {
  void runOnOperation() override {
    ModuleOp module = getOperation();
    usedNames.clear();
    func::FuncOp init = getOrCreateInit(module);
    if (!init)
      return signalPassFailure();
    for (auto func : llvm::to_vector(module.getOps<func::FuncOp>()))
      if (func != init && !func.isExternal())
        hoist(func, init);
  }

  /// @init() -> (...), created empty when absent.
  func::FuncOp getOrCreateInit(ModuleOp module) {
    if (auto init = module.lookupSymbol<func::FuncOp>(kInitName)) {
      if (init.getNumArguments() != 0 || init.isExternal()) {
        init.emitError("@init must take no arguments and have a body");
        return nullptr;
      }
      for (unsigned i = 0; i < init.getNumResults(); ++i)
        usedNames.insert(nameOf(init, i));
      return init;
    }
    OpBuilder b(module.getBodyRegion());
    auto init = b.create<func::FuncOp>(module.getLoc(), kInitName,
                                       b.getFunctionType({}, {}));
    b.setInsertionPointToStart(init.addEntryBlock());
    b.create<func::ReturnOp>(module.getLoc());
    return init;
  }

  static StringRef nameOf(func::FuncOp init, unsigned result) {
    auto name = init.getResultAttrOfType<StringAttr>(result, kNameAttr);
    return name ? name.getValue() : StringRef();
  }

  void hoist(func::FuncOp func, func::FuncOp init) {
    // Ops computed from raw parameters alone, in program order.
    llvm::SetVector<Operation *> prep;
    llvm::DenseSet<Value> derived;
    func.walk([&](Operation *op) {
      if (isa<ParamOp>(op) || op->getNumOperands() == 0 ||
          op->getNumRegions() != 0 || !isPure(op))
        return;
      bool fromWeights = llvm::all_of(op->getOperands(), [&](Value v) {
        return isWeight(v) || derived.contains(v);
      });
      if (!fromWeights)
        return;
      prep.insert(op);
      derived.insert(op->result_begin(), op->result_end());
    });
    if (prep.empty())
      return;

    // Clone them, with the parameters they read, into @init.
    auto initReturn = cast<func::ReturnOp>(init.getBody().front().back());
    OpBuilder b(initReturn);
    IRMapping mapping;
    for (Operation *op : prep) {
      for (Value operand : op->getOperands())
        if (!mapping.contains(operand))
          mapping.map(operand, b.clone(*operand.getDefiningOp())->getResult(0));
      b.clone(*op, mapping);
    }

    // Values @forward still needs become named results of @init.
    SmallVector<Value> returned(initReturn.getOperands());
    SmallVector<Attribute> resultAttrs;
    for (unsigned i = 0; i < init.getNumResults(); ++i)
      resultAttrs.push_back(init.getResultAttrDict(i));
    for (Operation *op : prep) {
      for (OpResult result : op->getResults()) {
        bool usedOutside = llvm::any_of(result.getUsers(), [&](Operation *u) {
          return !prep.contains(u);
        });
        if (!usedOutside)
          continue;
        std::string name = uniqueName(op, result.getResultNumber());
        returned.push_back(mapping.lookup(result));
        resultAttrs.push_back(
            b.getDictionaryAttr(b.getNamedAttr(kNameAttr,
                                               b.getStringAttr(name))));
        OpBuilder fb(op);
        auto prepared = fb.create<ParamOp>(op->getLoc(), result.getType(),
                                           name);
        prepared.setPrepared(true);
        result.replaceUsesWithIf(prepared.getResult(), [&](OpOperand &use) {
          return !prep.contains(use.getOwner());
        });
      }
    }
    b.create<func::ReturnOp>(initReturn.getLoc(), returned);
    initReturn.erase();
    init.setFunctionType(
        b.getFunctionType({}, ValueRange(returned).getTypes()));
    init.setAllResultAttrs(resultAttrs);

    // Remove the hoisted ops and the parameters nothing reads any more.
    for (Operation *op : llvm::reverse(prep))
      op->erase();
    func.walk([](ParamOp param) {
      if (param->use_empty())
        param.erase();
    });
  }

  /// "layer1.0.conv1.weight.fold_batch_norm.0": named after the parameter
  /// the op prepares (found through first operands), the op, the result.
  std::string uniqueName(Operation *op, unsigned result) {
    std::string base = "prepared";
    for (Operation *source = op; source && source->getNumOperands() > 0;) {
      source = source->getOperand(0).getDefiningOp();
      if (auto param = dyn_cast_or_null<ParamOp>(source)) {
        base = param.getName().str();
        break;
      }
    }
    base += "." + op->getName().stripDialect().str();
    if (op->getNumResults() > 1)
      base += "." + std::to_string(result);
    std::string name = base;
    for (int i = 1; !usedNames.insert(name).second; ++i)
      name = base + "_" + std::to_string(i);
    return name;
  }

  llvm::StringSet<> usedNames;
};

} // namespace
