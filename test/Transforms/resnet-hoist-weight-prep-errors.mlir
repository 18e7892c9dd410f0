// RUN: resnet-opt %s -resnet-hoist-weight-prep -verify-diagnostics

// @init is where prepared values come from: it cannot take arguments.
// expected-error @+1 {{@init must take no arguments and have a body}}
func.func @init(%x: tensor<2xf32>) {
  return
}
