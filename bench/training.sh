#!/usr/bin/env bash
# Training-step latency of resnetc-compiled ResNets (compile --train) against
# PyTorch at its best, measured back to back in the same run on the same
# machine. See bench/README.md.
#
#   bench/training.sh [--threads N] [--runs N] [--warmup N] [--quick] [--rounds R]
#                     [--configs "resnet18:8:224:train ..."] [CONFIG...]
#
# A CONFIG is ARCH:BATCH:IMAGE[:BN[:TRAINABLE]]: IMAGE is H or HxW, BN is
# train (default) or frozen, TRAINABLE is resnetc compile's --trainable (comma-
# separated globs of torchvision parameter names; default: all).
# resnetc is $RESNETC, default build/bin/resnetc under the repository root.
set -euo pipefail
set -f  # configs hold globs (fc.*): never expand them against files

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$REPO_ROOT/bench"
RESNETC="${RESNETC:-$REPO_ROOT/build/bin/resnetc}"
PYTHON="${PYTHON:-/usr/bin/python3}"
TORCH_TUNABLES="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=68719476736"

THREADS=2
RUNS=10
WARMUP=3
ROUNDS=1
CONFIGS=""
WORKDIR=""
KEEP=0
MOMENTUM=0.9
WEIGHT_DECAY=1e-4
DEFAULT_CONFIGS="resnet18:8:224:train resnet18:8:224:frozen:fc.* resnet18:32:32:train"

usage() {
  cat <<USAGE
usage: bench/training.sh [options] [CONFIG...]

Times one training step (forward, cross-entropy loss, backward, SGD with
momentum $MOMENTUM and weight decay $WEIGHT_DECAY) of resnetc-compiled models
(N_train_step through bench/resnetc_training.py) and of PyTorch at its best
(bench/torch_training.py) back to back for each CONFIG, and prints a table
with the ratio resnetc/torch (lower is better; the goal is <= 1.0).

CONFIG is ARCH:BATCH:IMAGE[:BN[:TRAINABLE]] (IMAGE = H or HxW; BN = train or
frozen, default train; TRAINABLE = comma-separated globs of parameter names,
default all), e.g. 'resnet18:8:224:frozen:fc.*'
Default: $DEFAULT_CONFIGS

options:
  --threads N     threads for both (default 2)
  --runs N        timed steps per measurement, median reported (default 10)
  --warmup N      untimed steps first, on each side (default 3)
  --quick         5 timed steps and 2 warm-ups (a smoke run, noisy)
  --rounds R      repeat resnetc-then-torch R times per config, interleaved,
                  and report the median of the per-round medians (default 1)
  --configs "C1 C2 ..."   configurations (positional CONFIGs are added)
  --workdir DIR   where models are built (default: a fresh temp dir)
  --keep          keep the work directory
  -h, --help      this text

environment: RESNETC (default build/bin/resnetc in the repo), PYTHON
(default /usr/bin/python3, which has Debian's python3-torch and numpy).
USAGE
}

die() { echo "training.sh: error: $*" >&2; exit 1; }

ARGV_QUOTED="$(printf '%q ' "$0" "$@")"
ARGV_QUOTED="${ARGV_QUOTED% }"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) [[ $# -ge 2 ]] || die "--threads needs a value"; THREADS="$2"; shift 2 ;;
    --threads=*) THREADS="${1#*=}"; shift ;;
    --runs) [[ $# -ge 2 ]] || die "--runs needs a value"; RUNS="$2"; shift 2 ;;
    --runs=*) RUNS="${1#*=}"; shift ;;
    --warmup) [[ $# -ge 2 ]] || die "--warmup needs a value"; WARMUP="$2"; shift 2 ;;
    --warmup=*) WARMUP="${1#*=}"; shift ;;
    --quick) RUNS=5; WARMUP=2; shift ;;
    --rounds) [[ $# -ge 2 ]] || die "--rounds needs a value"; ROUNDS="$2"; shift 2 ;;
    --rounds=*) ROUNDS="${1#*=}"; shift ;;
    --configs) [[ $# -ge 2 ]] || die "--configs needs a value"; CONFIGS="$CONFIGS $2"; shift 2 ;;
    --configs=*) CONFIGS="$CONFIGS ${1#*=}"; shift ;;
    --workdir) [[ $# -ge 2 ]] || die "--workdir needs a value"; WORKDIR="$2"; shift 2 ;;
    --workdir=*) WORKDIR="${1#*=}"; shift ;;
    --keep) KEEP=1; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) usage >&2; die "unknown option $1" ;;
    *) CONFIGS="$CONFIGS $1"; shift ;;
  esac
done

for v in THREADS RUNS ROUNDS; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "--${v,,} must be a positive integer (got '${!v}')"
done
[[ "$WARMUP" =~ ^[0-9]+$ ]] || die "--warmup must be a non-negative integer (got '$WARMUP')"
CONFIGS="$(echo $CONFIGS)"
[[ -n "$CONFIGS" ]] || CONFIGS="$DEFAULT_CONFIGS"

# --- prerequisites: fail clearly -------------------------------------------------
if [[ ! -x "$RESNETC" ]]; then
  die "resnetc not found or not executable at '$RESNETC'.
  Build it first (./scripts/build.sh, or ninja -C build resnetc) or point RESNETC at the binary."
fi
"$RESNETC" --version >/dev/null 2>&1 || die "'$RESNETC --version' failed; the build looks broken"
"$RESNETC" compile --help 2>&1 | grep -q -- '--train' \
  || die "'$RESNETC compile' has no --train option: this build cannot compile training steps"
[[ -x "$PYTHON" ]] || die "python '$PYTHON' not found (set PYTHON; Debian's python3-torch is for /usr/bin/python3)"
TORCH_VERSIONS="$("$PYTHON" -c 'import numpy, torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)' 2>/dev/null)" \
  || die "'$PYTHON' cannot import numpy, torch and torchvision (apt-get install python3-numpy python3-torch python3-torchvision)"

# --- configurations --------------------------------------------------------------
declare -a C_ARCH C_BATCH C_H C_W C_BN C_TRAIN C_NAME
for c in $CONFIGS; do
  IFS=: read -r arch batch image bn trainable extra <<<"$c"
  [[ -z "${extra:-}" && -n "$arch" && -n "${batch:-}" && -n "${image:-}" ]] \
    || die "bad config '$c' (want ARCH:BATCH:IMAGE[:BN[:TRAINABLE]])"
  bn="${bn:-train}"
  [[ "$bn" == train || "$bn" == frozen ]] || die "config '$c': BN must be train or frozen"
  [[ "$batch" =~ ^[1-9][0-9]*$ ]] || die "bad batch in config '$c'"
  if [[ "$image" =~ ^([1-9][0-9]*)x([1-9][0-9]*)$ ]]; then
    h="${BASH_REMATCH[1]}"; w="${BASH_REMATCH[2]}"
  elif [[ "$image" =~ ^[1-9][0-9]*$ ]]; then
    h="$image"; w="$image"
  else
    die "bad image size in config '$c' (want H or HxW)"
  fi
  case "$arch" in
    resnet18|resnet34|resnet50|resnet101|resnet152|resnext50_32x4d|resnext101_32x8d|wide_resnet50_2|wide_resnet101_2) ;;
    *) die "config '$c': '$arch' is not a torchvision ResNet that both sides can run" ;;
  esac
  C_ARCH+=("$arch"); C_BATCH+=("$batch"); C_H+=("$h"); C_W+=("$w"); C_BN+=("$bn")
  C_TRAIN+=("${trainable:-}")
  C_NAME+=("$arch bs$batch ${h}x$w ${trainable:-all} bn=$bn")
done

if [[ -z "$WORKDIR" ]]; then
  WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/resnetc-train-bench.XXXXXX")"
  if [[ $KEEP -eq 1 ]]; then echo "work directory (kept): $WORKDIR" >&2; else trap 'rm -rf "$WORKDIR"' EXIT; fi
else
  mkdir -p "$WORKDIR"
fi

# --- header ------------------------------------------------------------------------
CPU_MODEL="$(grep -m1 '^model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
CPU_FLAGS="$(grep -m1 '^flags' /proc/cpuinfo | tr ' ' '\n' | grep -E '^(avx2|avx512f|avx512_bf16|avx512_vnni)$' | tr '\n' ' ' | sed 's/ $//')"
COMMIT="$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
if [[ -n "$(git -C "$REPO_ROOT" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  COMMIT="$COMMIT (tracked files modified)"
fi
echo "# resnetc vs PyTorch training step"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "command:  $ARGV_QUOTED"
echo "commit:   $COMMIT"
echo "machine:  nproc $(nproc), CPU '$CPU_MODEL' [$CPU_FLAGS], $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
echo "step:     forward, cross-entropy (mean), backward, SGD momentum $MOMENTUM weight decay $WEIGHT_DECAY; 1000 classes"
echo "resnetc:  $RESNETC ($("$RESNETC" --version 2>&1 | grep -m1 -o 'resnetc [^ ]*' || echo '?'), built $(date -u -r "$RESNETC" '+%Y-%m-%d %H:%M UTC')), compile --train,"
echo "          N_train_step via ctypes (bench/resnetc_training.py), N_set_num_threads($THREADS), $WARMUP warm-ups + $RUNS steps"
echo "pytorch:  $TORCH_VERSIONS via $PYTHON, set_num_threads($THREADS), eager, faster of NCHW/channels_last"
echo "          (fc only with frozen bn: also a scripted, inference-optimized backbone), $WARMUP warm-ups + $RUNS steps,"
echo "          GLIBC_TUNABLES=$TORCH_TUNABLES"
echo "rounds:   $ROUNDS per config (resnetc then torch, back to back)"
echo

median_of() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
parse_median() { sed -n 's/.*: median \([0-9.]*\) ms.*/\1/p' | tail -n1; }

declare -a R_MED T_MED T_INFO
for i in "${!C_ARCH[@]}"; do
  arch="${C_ARCH[$i]}"; b="${C_BATCH[$i]}"; h="${C_H[$i]}"; w="${C_W[$i]}"
  bn="${C_BN[$i]}"; tr_="${C_TRAIN[$i]}"; name="${C_NAME[$i]}"
  W="$WORKDIR/cfg$i"
  mkdir -p "$W"
  echo "== $name   (load $(cut -d' ' -f1 /proc/loadavg))"
  R_MED[$i]=""; T_MED[$i]=""; T_INFO[$i]=""
  img="$h"; [[ "$h" == "$w" ]] || img="${h}x$w"
  train_args=(--bn "$bn"); torch_args=(--bn "$bn")
  if [[ -n "$tr_" ]]; then train_args+=(--trainable "$tr_"); torch_args+=(--trainable "$tr_"); fi
  if ! "$RESNETC" new "$arch" --batch "$b" --image "$img" -o "$W/m.mlir" --weights-out "$W/w.safetensors" >"$W/new.log" 2>&1; then
    echo "   resnetc new FAILED:"; sed 's/^/     /' "$W/new.log"; continue
  fi
  t0=$(date +%s.%N)
  if ! "$RESNETC" compile "$W/m.mlir" -o "$W/out" --name m --train "${train_args[@]}" \
         --momentum "$MOMENTUM" --weight-decay "$WEIGHT_DECAY" >"$W/compile.log" 2>&1; then
    echo "   resnetc compile --train FAILED:"; sed 's/^/     /' "$W/compile.log" | tail -n 40; continue
  fi
  echo "   compiled (--train ${train_args[*]}) in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b-a}') s"
  rs=""; ts=""
  for ((r = 1; r <= ROUNDS; r++)); do
    if out="$("$PYTHON" "$BENCH_DIR/resnetc_training.py" "$W/out" --name m --weights "$W/w.safetensors" \
                --threads "$THREADS" --runs "$RUNS" --warmup "$WARMUP" 2>&1)"; then
      echo "   $(echo "$out" | grep -m1 '^resnetc: median' || echo "$out")"
      rs="$rs $(echo "$out" | grep '^resnetc: median' | parse_median)"
    else
      echo "   resnetc step FAILED:"; echo "$out" | sed 's/^/     /' | tail -n 20
    fi
    if out="$(env GLIBC_TUNABLES="$TORCH_TUNABLES" "$PYTHON" "$BENCH_DIR/torch_training.py" "$arch" \
                --batch "$b" --image "$img" "${torch_args[@]}" --threads "$THREADS" --runs "$RUNS" \
                --warmup "$WARMUP" 2>&1)"; then
      echo "$out" | grep -E '^  (nchw|channels_last)' | sed 's/^  /   torch /'
      line="$(echo "$out" | grep '^torch: median' | tail -n1)"
      echo "   $line"
      ts="$ts $(echo "$line" | parse_median)"
      T_INFO[$i]="$(echo "$line" | sed -n 's/.*\[layout=\([^,]*\), mode=\([^]]*\)\].*/\1 \2/p')"
    else
      echo "   torch FAILED:"; echo "$out" | sed 's/^/     /' | tail -n 20
    fi
  done
  R_MED[$i]="$(echo "$rs" | median_of)"
  T_MED[$i]="$(echo "$ts" | median_of)"
done
echo
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at end)"
echo

# --- table -------------------------------------------------------------------------
echo "| config | resnetc median ms | torch median ms | ratio resnetc/torch | resnetc images/s | torch images/s | torch setting |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
ratios=""
for i in "${!C_ARCH[@]}"; do
  b="${C_BATCH[$i]}"; rm_="${R_MED[$i]}"; tm="${T_MED[$i]}"
  row="$(awk -v r="$rm_" -v t="$tm" -v b="$b" 'function f(x) {return x == "" ? "FAILED" : sprintf("%.1f", x)}
    function ips(x) {return x == "" ? "n/a" : sprintf("%.1f", b / (x / 1000))}
    BEGIN {ratio = (r != "" && t != "") ? sprintf("%.2f", r / t) : "n/a";
           printf "%s | %s | %s | %s | %s", f(r), f(t), ratio, ips(r), ips(t)}')"
  echo "| ${C_NAME[$i]} | $row | ${T_INFO[$i]:-?} |"
  if [[ -n "$rm_" && -n "$tm" ]]; then ratios="$ratios $(awk -v r="$rm_" -v t="$tm" 'BEGIN {print r/t}')"; fi
done
echo
if [[ -n "$(echo $ratios)" ]]; then
  echo "$ratios" | awk '{s = 0; for (i = 1; i <= NF; i++) s += log($i); printf "geometric mean of ratio resnetc/torch: %.2f over %d configs (goal <= 1.0; lower is better)\n", exp(s/NF), NF}'
fi
failed=0
for i in "${!C_ARCH[@]}"; do [[ -n "${R_MED[$i]}" && -n "${T_MED[$i]}" ]] || failed=1; done
if [[ $failed -ne 0 ]]; then
  echo "training.sh: some measurements FAILED (see above)" >&2
  exit 1
fi
