#!/usr/bin/env bash
# The main job: build a bundled ResNet as resnet-dialect MLIR with
# torchvision-initialized weights, and check it with resnet-opt.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build}
OUT=${OUT:-$BUILD_DIR/main-job}
mkdir -p "$OUT"
"$BUILD_DIR/bin/resnetc" new resnet50 -o "$OUT/resnet50.mlir" \
  --weights-out "$OUT/resnet50.safetensors" --seed 0
"$BUILD_DIR/bin/resnet-opt" "$OUT/resnet50.mlir" -o /dev/null
echo "resnet50: $(grep -c '= resnet.conv2d ' "$OUT/resnet50.mlir") convolutions," \
     "$(grep -c '= resnet.param ' "$OUT/resnet50.mlir") parameter tensors," \
     "weights in $OUT/resnet50.safetensors ($(du -h "$OUT/resnet50.safetensors" | cut -f1))"
