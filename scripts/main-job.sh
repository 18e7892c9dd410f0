#!/usr/bin/env bash
# The main job: build the example project (examples/classify), which
# compiles a bundled ResNet-50 with resnetc at build time through the
# resnetc_add_model CMake function and links it into a C program, then run
# it on an image and print the top 5.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
EXAMPLE=$BUILD_DIR/examples/classify
cmake -G Ninja -S examples/classify -B "$EXAMPLE" \
  -Dresnetc_DIR="$PWD/$BUILD_DIR/lib/cmake/resnetc" -DCMAKE_BUILD_TYPE=Release
cmake --build "$EXAMPLE"
"$EXAMPLE/classify" "$EXAMPLE/weights.safetensors"
