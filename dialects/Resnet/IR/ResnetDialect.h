//===- ResnetDialect.h - The resnet dialect ---------------------*- C++ -*-===//
#ifndef RESNET_IR_RESNETDIALECT_H
#define RESNET_IR_RESNETDIALECT_H

#include "mlir/IR/Dialect.h"

#include "Resnet/IR/ResnetOpsDialect.h.inc"

#endif // RESNET_IR_RESNETDIALECT_H
