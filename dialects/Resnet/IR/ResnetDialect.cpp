//===- ResnetDialect.cpp - The resnet dialect -------------------*- C++ -*-===//
#include "Resnet/IR/ResnetDialect.h"
#include "Resnet/IR/ResnetOps.h"

using namespace mlir;
using namespace mlir::resnet;

#include "Resnet/IR/ResnetOpsDialect.cpp.inc"

void ResnetDialect::initialize() {
  addOperations<
#define GET_OP_LIST
#include "Resnet/IR/ResnetOps.cpp.inc"
      >();
}
