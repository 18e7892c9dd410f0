#!/usr/bin/python3
"""PyTorch inference latency at its best on this machine (see ../shared/TOOLCHAIN.md).

Builds a torchvision ResNet (random initialization: speed does not depend on
the values), sets torch.set_num_threads(THREADS), puts it in eval mode and
runs torch.jit.optimize_for_inference(torch.jit.script(model)) (falling back
to torch.jit.trace if scripting fails), under torch.no_grad(). Both memory
formats, NCHW (contiguous) and channels_last, are timed; the faster median is
kept. Each timing is warm-up runs followed by the median of N runs.

glibc's default malloc makes PyTorch page-fault heavily here, so the process
must run with
  GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=68719476736
Tunables are read at process start; if the variable is not set as above the
script re-executes itself with it (bench/inference.sh sets it anyway).

The last line of stdout is machine-readable, in the form resnetc run --bench
uses, plus the chosen settings:
  torch: median X ms, min Y ms, max Z ms over N runs [layout=..., mode=...]

Use /usr/bin/python3 (Debian's python3-torch 1.13.1, python3-torchvision 0.14.1).
"""

import argparse
import os
import sys
import time

TUNABLES = ("glibc.malloc.mmap_threshold=33554432:"
            "glibc.malloc.trim_threshold=68719476736")

if os.environ.get("GLIBC_TUNABLES") != TUNABLES and not os.environ.get("TORCH_BENCH_NO_REEXEC"):
    env = dict(os.environ, GLIBC_TUNABLES=TUNABLES, TORCH_BENCH_NO_REEXEC="1")
    os.execve(sys.executable, [sys.executable] + sys.argv, env)

import torch  # noqa: E402  (after the re-exec on purpose)
import torchvision  # noqa: E402

ARCHS = ["resnet18", "resnet34", "resnet50", "resnet101", "resnet152",
         "resnext50_32x4d", "resnext101_32x8d", "wide_resnet50_2", "wide_resnet101_2"]


def parse_image(s):
    if "x" in s:
        h, w = s.split("x", 1)
        return int(h), int(w)
    return int(s), int(s)


def build(arch, layout, example):
    model = getattr(torchvision.models, arch)(weights=None)
    model.eval()
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    with torch.no_grad():
        try:
            jit = torch.jit.script(model)
            mode = "script"
        except Exception as e:  # pragma: no cover - torchvision ResNets script fine
            print(f"  torch.jit.script failed ({type(e).__name__}: {e}); tracing", file=sys.stderr)
            jit = torch.jit.trace(model, example)
            mode = "trace"
        jit = torch.jit.optimize_for_inference(jit)
    return jit, mode


def time_runs(fn, x, warmup, runs):
    with torch.no_grad():
        for _ in range(warmup):
            fn(x)
        times = []
        for _ in range(runs):
            t0 = time.perf_counter()
            fn(x)
            times.append((time.perf_counter() - t0) * 1e3)
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("arch", choices=ARCHS)
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--image", default="224", help="H or HxW (default 224)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=20, help="timed runs per layout (median)")
    p.add_argument("--warmup", type=int, default=5, help="untimed runs per layout first")
    p.add_argument("--layouts", default="nchw,channels_last",
                   help="comma-separated subset of nchw,channels_last (default both)")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    h, w = parse_image(args.image)
    x0 = torch.randn(args.batch, 3, h, w)

    print(f"  torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"threads {torch.get_num_threads()}, GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')}",
          file=sys.stderr)

    best = None
    for layout in args.layouts.split(","):
        layout = layout.strip()
        if layout not in ("nchw", "channels_last"):
            sys.exit(f"unknown layout {layout!r}")
        x = x0.contiguous(memory_format=torch.channels_last) if layout == "channels_last" else x0.contiguous()
        fn, mode = build(args.arch, layout, x)
        times = time_runs(fn, x, args.warmup, args.runs)
        # Same definition as resnetc run --bench: the upper middle for even N.
        med = sorted(times)[len(times) // 2]
        print(f"  {layout:13s} ({mode}): median {med:.3f} ms, min {min(times):.3f} ms, "
              f"max {max(times):.3f} ms over {len(times)} runs", file=sys.stderr)
        if best is None or med < best[0]:
            best = (med, min(times), max(times), len(times), layout, mode)
        del fn

    med, mn, mx, n, layout, mode = best
    print(f"torch: median {med:.3f} ms, min {mn:.3f} ms, max {mx:.3f} ms over {n} runs "
          f"[layout={layout}, mode={mode}]")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
