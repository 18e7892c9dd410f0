#!/usr/bin/env bash
# check-model.sh RESNETC PYTHON INPUTS WORK ARCH BATCH HxW TARGET
# Compiles ARCH for TARGET, runs it on random images with random weights
# (non-trivial batch-norm statistics) and compares its logits with the
# reference evaluator's (relative L2 < 1e-4).
set -euo pipefail
resnetc=$1 python=$2 inputs=$3 work=$4 arch=$5 batch=$6 image=$7 target=$8
h=${image%x*} w=${image#*x}
rm -rf "$work" && mkdir -p "$work"
"$resnetc" new "$arch" --batch "$batch" --image "$image" --classes 10 \
  -o "$work/model.mlir" --weights-out "$work/init.safetensors"
"$python" "$inputs/randomize_weights.py" "$work/init.safetensors" "$work/w.safetensors" 3
"$python" "$inputs/randomize_weights.py" --images "$work/x.npy" "$batch" 3 "$h" "$w"
"$resnetc" compile "$work/model.mlir" -o "$work/out" --name m --target "$target"
"$resnetc" run "$work/out" --weights "$work/w.safetensors" --input "$work/x.npy" \
  --output "$work/y.npy" --threads 2
"$resnetc" eval "$work/model.mlir" --weights "$work/w.safetensors" \
  --input "$work/x.npy" --output "$work/ref.npy"
"$python" "$inputs/compare.py" "$work/ref.npy" "$work/y.npy" 1e-4 \
  "$arch b$batch $image $target"
