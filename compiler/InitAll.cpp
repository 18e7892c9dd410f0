//===- InitAll.cpp - Everything resnetc registers ---------------*- C++ -*-===//
#include "compiler/InitAll.h"

#include "Resnet/IR/ResnetDialect.h"
#include "Resnet/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Transforms/Passes.h"

void resnetc::registerAllDialects(mlir::DialectRegistry &registry) {
  registry.insert<mlir::resnet::ResnetDialect, mlir::func::FuncDialect>();
}

void resnetc::registerAllPasses() {
  mlir::resnet::registerPassesAndPipelines();
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
}
