#!/usr/bin/env bash
# Inference latency of resnetc-compiled ResNets against PyTorch at its best,
# measured back to back in the same run on the same machine. See bench/README.md.
#
#   bench/inference.sh [--threads N] [--runs N] [--quick] [--rounds R]
#                      [--configs "resnet50:1:224 resnet18:8:224"] [CONFIG...]
#
# A CONFIG is ARCH:BATCH:IMAGE, IMAGE being H or HxW (ARCH:BATCH means 224).
# resnetc is $RESNETC, default build/bin/resnetc under the repository root.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BENCH_DIR="$REPO_ROOT/bench"
RESNETC="${RESNETC:-$REPO_ROOT/build/bin/resnetc}"
PYTHON="${PYTHON:-/usr/bin/python3}"
TORCH_TUNABLES="glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=68719476736"

THREADS=2
RUNS=20
TORCH_WARMUP=5
ROUNDS=1
CONFIGS=""
WORKDIR=""
KEEP=0
DEFAULT_CONFIGS="resnet50:1:224 resnet50:8:224 resnet18:1:224 resnet18:8:224"

usage() {
  cat <<EOF
usage: bench/inference.sh [options] [CONFIG...]

Times resnetc-compiled models (resnetc run --bench) and PyTorch at its best
(bench/torch_inference.py) back to back for each CONFIG and prints a table
with the ratio resnetc/torch (lower is better; the goal is <= 1.0).

CONFIG is ARCH:BATCH:IMAGE (IMAGE = H or HxW; ARCH:BATCH means 224), e.g.
resnet50:1:224. Default: $DEFAULT_CONFIGS

options:
  --threads N     threads for both (default 2)
  --runs N        timed runs per measurement, median reported (default 20)
  --quick         5 timed runs and 3 torch warm-ups (a smoke run, noisy)
  --rounds R      repeat resnetc-then-torch R times per config, interleaved,
                  and report the median of the per-round medians (default 1)
  --configs "C1 C2 ..."   configurations (positional CONFIGs are added)
  --workdir DIR   where models are built (default: a fresh temp dir)
  --keep          keep the work directory
  -h, --help      this text

environment: RESNETC (default build/bin/resnetc in the repo), PYTHON
(default /usr/bin/python3, which has Debian's python3-torch).
EOF
}

die() { echo "inference.sh: error: $*" >&2; exit 1; }

ARGV_QUOTED="$(printf '%q ' "$0" "$@")"
ARGV_QUOTED="${ARGV_QUOTED% }"

while [[ $# -gt 0 ]]; do
  case "$1" in
    --threads) [[ $# -ge 2 ]] || die "--threads needs a value"; THREADS="$2"; shift 2 ;;
    --threads=*) THREADS="${1#*=}"; shift ;;
    --runs) [[ $# -ge 2 ]] || die "--runs needs a value"; RUNS="$2"; shift 2 ;;
    --runs=*) RUNS="${1#*=}"; shift ;;
    --quick) RUNS=5; TORCH_WARMUP=3; shift ;;
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
CONFIGS="$(echo $CONFIGS)"
[[ -n "$CONFIGS" ]] || CONFIGS="$DEFAULT_CONFIGS"

# --- prerequisites: fail clearly -------------------------------------------------
if [[ ! -x "$RESNETC" ]]; then
  die "resnetc not found or not executable at '$RESNETC'.
  Build it first (./scripts/build.sh, or ninja -C build resnetc) or point RESNETC at the binary."
fi
"$RESNETC" --version >/dev/null 2>&1 || die "'$RESNETC --version' failed; the build looks broken"
[[ -x "$PYTHON" ]] || die "python '$PYTHON' not found (set PYTHON; Debian's python3-torch is for /usr/bin/python3)"
TORCH_VERSIONS="$("$PYTHON" -c 'import torch, torchvision; print("torch", torch.__version__, "torchvision", torchvision.__version__)' 2>/dev/null)" \
  || die "'$PYTHON' cannot import torch and torchvision (apt-get install python3-torch python3-torchvision)"

# --- configurations --------------------------------------------------------------
declare -a C_ARCH C_BATCH C_H C_W C_NAME
for c in $CONFIGS; do
  IFS=: read -r arch batch image extra <<<"$c"
  [[ -z "${extra:-}" && -n "$arch" && -n "${batch:-}" ]] || die "bad config '$c' (want ARCH:BATCH:IMAGE)"
  image="${image:-224}"
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
  C_ARCH+=("$arch"); C_BATCH+=("$batch"); C_H+=("$h"); C_W+=("$w")
  C_NAME+=("$arch bs$batch ${h}x$w")
done

# GFLOP per image at 224x224 (2 x multiply-adds). resnet18/50 from
# ../shared/TOOLCHAIN.md; the others are 2 x torchvision's documented GMACs.
gflop224() {
  case "$1" in
    resnet18) echo 3.63 ;; resnet34) echo 7.32 ;; resnet50) echo 8.18 ;;
    resnet101) echo 15.6 ;; resnet152) echo 23.02 ;;
    resnext50_32x4d) echo 8.46 ;; resnext101_32x8d) echo 32.82 ;;
    wide_resnet50_2) echo 22.8 ;; wide_resnet101_2) echo 45.5 ;;
    *) echo 0 ;;
  esac
}

if [[ -z "$WORKDIR" ]]; then
  WORKDIR="$(mktemp -d "${TMPDIR:-/tmp}/resnetc-bench.XXXXXX")"
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
echo "# resnetc vs PyTorch inference"
echo "date:     $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
echo "command:  $ARGV_QUOTED"
echo "commit:   $COMMIT"
echo "machine:  nproc $(nproc), CPU '$CPU_MODEL' [$CPU_FLAGS], $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
echo "resnetc:  $RESNETC ($("$RESNETC" --version 2>&1 | grep -m1 -o 'resnetc [^ ]*' || echo '?')), run --threads $THREADS --bench $RUNS"
echo "pytorch:  $TORCH_VERSIONS via $PYTHON, set_num_threads($THREADS), eval, no_grad, optimize_for_inference(script),"
echo "          faster of NCHW/channels_last, $TORCH_WARMUP warm-ups + $RUNS runs, GLIBC_TUNABLES=$TORCH_TUNABLES"
echo "rounds:   $ROUNDS per config (resnetc then torch, back to back)"
# The FMA peak, measured here: bench/fma_peak.c on $THREADS threads.
PEAK=0
if cc -O2 -march=native -pthread "$BENCH_DIR/fma_peak.c" -o "$WORKDIR/fma_peak" 2>"$WORKDIR/fma_peak.log" &&
   PEAK="$("$WORKDIR/fma_peak" "$THREADS")"; then
  echo "peak:     $PEAK GFLOP/s FP32 FMA on $THREADS threads (bench/fma_peak.c, best of 5)"
else
  PEAK=0
  echo "peak:     not measured (cannot build bench/fma_peak.c with cc: $(head -c 200 "$WORKDIR/fma_peak.log"))"
fi
echo

median_of() { tr ' ' '\n' | grep -v '^$' | sort -g | awk '{a[NR]=$1} END {if (NR==0) print ""; else if (NR%2) print a[(NR+1)/2]; else print (a[NR/2]+a[NR/2+1])/2}'; }
parse_median() { sed -n 's/.*: median \([0-9.]*\) ms.*/\1/p' | tail -n1; }

declare -a R_MED T_MED T_INFO P_TABLE
for i in "${!C_ARCH[@]}"; do
  arch="${C_ARCH[$i]}"; b="${C_BATCH[$i]}"; h="${C_H[$i]}"; w="${C_W[$i]}"; name="${C_NAME[$i]}"
  W="$WORKDIR/${arch}_b${b}_${h}x${w}"
  mkdir -p "$W"
  echo "== $name   (load $(cut -d' ' -f1 /proc/loadavg))"
  R_MED[$i]=""; T_MED[$i]=""; T_INFO[$i]=""
  img="$h"; [[ "$h" == "$w" ]] || img="${h}x$w"
  if ! "$RESNETC" new "$arch" --batch "$b" --image "$img" -o "$W/m.mlir" --weights-out "$W/w.safetensors" >"$W/new.log" 2>&1; then
    echo "   resnetc new FAILED:"; sed 's/^/     /' "$W/new.log"; continue
  fi
  t0=$(date +%s.%N)
  if ! "$RESNETC" compile "$W/m.mlir" -o "$W/out" --name m >"$W/compile.log" 2>&1; then
    echo "   resnetc compile FAILED:"; sed 's/^/     /' "$W/compile.log" | tail -n 40; continue
  fi
  echo "   compiled in $(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN {printf "%.1f", b-a}') s"
  rs=""; ts=""
  for ((r = 1; r <= ROUNDS; r++)); do
    if out="$("$RESNETC" run "$W/out" --weights "$W/w.safetensors" --threads "$THREADS" --bench "$RUNS" 2>&1)"; then
      echo "   resnetc: $(echo "$out" | grep -m1 'median' || echo "$out")"
      rs="$rs $(echo "$out" | parse_median)"
    else
      echo "   resnetc run FAILED:"; echo "$out" | sed 's/^/     /' | tail -n 20
    fi
    if out="$(env GLIBC_TUNABLES="$TORCH_TUNABLES" "$PYTHON" "$BENCH_DIR/torch_inference.py" "$arch" \
                --batch "$b" --image "$img" --threads "$THREADS" --runs "$RUNS" --warmup "$TORCH_WARMUP" 2>&1)"; then
      echo "$out" | grep -E '^  (nchw|channels_last)' | sed 's/^  /   torch /'
      line="$(echo "$out" | grep '^torch: median' | tail -n1)"
      echo "   $line"
      ts="$ts $(echo "$line" | parse_median)"
      T_INFO[$i]="$(echo "$line" | sed -n 's/.*\[layout=\([^,]*\),.*/\1/p')"
    else
      echo "   torch FAILED:"; echo "$out" | sed 's/^/     /' | tail -n 20
    fi
  done
  R_MED[$i]="$(echo "$rs" | median_of)"
  T_MED[$i]="$(echo "$ts" | median_of)"
  # Per convolution: a separate profiled run (RESNETC_PROFILE=1), so that
  # the timed runs above carry no profiling.
  if [[ -n "$rs" ]] && out="$(RESNETC_PROFILE=1 "$RESNETC" run "$W/out" --weights "$W/w.safetensors" \
                                --threads "$THREADS" --bench 5 2>&1)"; then
    P_TABLE[$i]="$(echo "$out" | "$PYTHON" "$BENCH_DIR/conv_profile.py" --peak "$PEAK" 2>&1)"
  fi
done
echo
echo "load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at end)"
echo

# --- table -------------------------------------------------------------------------
echo "| config | resnetc median ms | torch median ms | ratio resnetc/torch | resnetc GFLOP/s | torch GFLOP/s | torch layout |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | --- |"
ratios=""
for i in "${!C_ARCH[@]}"; do
  arch="${C_ARCH[$i]}"; b="${C_BATCH[$i]}"; h="${C_H[$i]}"; w="${C_W[$i]}"
  rm_="${R_MED[$i]}"; tm="${T_MED[$i]}"
  gf="$(awk -v g="$(gflop224 "$arch")" -v b="$b" -v h="$h" -v w="$w" 'BEGIN {printf "%.6f", g*b*h*w/(224*224)}')"
  row="$(awk -v r="$rm_" -v t="$tm" -v gf="$gf" 'function f(x) {return x == "" ? "FAILED" : sprintf("%.2f", x)}
    function gfs(x) {return (x == "" || gf == 0) ? "n/a" : sprintf("%.0f", gf / (x / 1000))}
    BEGIN {ratio = (r != "" && t != "") ? sprintf("%.2f", r / t) : "n/a";
           printf "%s | %s | %s | %s | %s", f(r), f(t), ratio, gfs(r), gfs(t)}')"
  echo "| ${C_NAME[$i]} | $row | ${T_INFO[$i]:-?} |"
  if [[ -n "$rm_" && -n "$tm" ]]; then ratios="$ratios $(awk -v r="$rm_" -v t="$tm" 'BEGIN {print r/t}')"; fi
done
echo
if [[ -n "$(echo $ratios)" ]]; then
  echo "$ratios" | awk '{s = 0; for (i = 1; i <= NF; i++) s += log($i); printf "geometric mean of ratio resnetc/torch: %.2f over %d configs (goal <= 1.0; lower is better)\n", exp(s/NF), NF}'
fi
for i in "${!C_ARCH[@]}"; do
  [[ -n "${P_TABLE[$i]:-}" ]] || continue
  echo
  echo "resnetc per convolution, ${C_NAME[$i]} (RESNETC_PROFILE=1, $THREADS threads):"
  echo
  echo "${P_TABLE[$i]}"
done
failed=0
for i in "${!C_ARCH[@]}"; do [[ -n "${R_MED[$i]}" && -n "${T_MED[$i]}" ]] || failed=1; done
if [[ $failed -ne 0 ]]; then
  echo "inference.sh: some measurements FAILED (see above)" >&2
  exit 1
fi
