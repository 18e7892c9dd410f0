//===- ResnetOps.h - Operations of the resnet dialect -----------*- C++ -*-===//
#ifndef RESNET_IR_RESNETOPS_H
#define RESNET_IR_RESNETOPS_H

#include "Resnet/IR/ResnetDialect.h"

#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "Resnet/IR/ResnetOps.h.inc"

#endif // RESNET_IR_RESNETOPS_H
