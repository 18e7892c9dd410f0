#!/usr/bin/env bash
# Installs every build and test dependency of resnetc from Debian 12's packages.
# Idempotent: apt-get skips what is already installed.
set -euo pipefail

PACKAGES=(
  g++ cmake ninja-build pkg-config
  llvm-19-dev libmlir-19-dev mlir-19-tools llvm-19-tools
  libhalide14-0-dev
  libgtest-dev libbenchmark-dev nlohmann-json3-dev
  python3 python3-numpy python3-torch python3-torchvision python3-sklearn
  libonnx-dev libprotobuf-dev protobuf-compiler python3-onnx
  binutils gcc
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
