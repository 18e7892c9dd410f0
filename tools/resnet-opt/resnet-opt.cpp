//===- resnet-opt.cpp - The resnet dialect's opt tool -----------*- C++ -*-===//
//
// MlirOptMain with the resnet dialect and every resnetc pass registered: the
// vehicle of the lit tests.
//
//===----------------------------------------------------------------------===//
#include "compiler/InitAll.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  resnetc::registerAllDialects(registry);
  resnetc::registerAllPasses();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "resnet-opt: the resnetc optimizer driver\n",
                        registry));
}
