#!/usr/bin/python3
"""PyTorch training-step latency at its best on this machine (see ../shared/TOOLCHAIN.md).

One training step is what resnetc's N_train_step does: forward, softmax
cross-entropy loss (nn.CrossEntropyLoss, mean over the batch), backward, and
torch.optim.SGD(lr, momentum 0.9, weight_decay 1e-4) on the trainable
parameters. Parameters not matched by --trainable (globs of torchvision
names, default all) have requires_grad False, so autograd computes nothing
for a frozen prefix. --bn train is model.train(); --bn frozen puts every
batch norm in eval mode (running statistics) while training.

Settings tried, the fastest median kept (the table shows which won):
  - NCHW and channels_last (model and input);
  - when only fc is trainable with frozen batch norms ("head" mode): also the
    frozen backbone as torch.jit.optimize_for_inference(torch.jit.script(...))
    (batch norms folded, oneDNN) under no_grad, followed by an eager fc step:
    what an expert would write for fine-tuning a head; numerically the same.
Each timing is warm-up steps followed by the median of N steps, with
torch.set_num_threads(THREADS). The weights are torchvision's random
initialization and the batch is torch.randn with random labels (the speed of
dense float32 kernels does not depend on the values).

glibc's default malloc makes PyTorch page-fault heavily here, so the process
must run with
  GLIBC_TUNABLES=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=68719476736
Tunables are read at process start; if the variable is not set as above the
script re-executes itself with it (bench/training.sh sets it anyway).

The last line of stdout is machine-readable, in the form resnetc run --bench
uses, plus the chosen settings:
  torch: median X ms, min Y ms, max Z ms over N runs [layout=..., mode=...]

Use /usr/bin/python3 (Debian's python3-torch 1.13.1, python3-torchvision 0.14.1).
"""

import argparse
import fnmatch
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


def trainable(name, patterns):
    return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)


def set_bn(model, bn):
    model.train()
    if bn == "frozen":
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()


def build(arch, classes, layout, patterns, bn, lr):
    """(step function, mode): the eager model trained as a whole."""
    model = getattr(torchvision.models, arch)(weights=None, num_classes=classes)
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(trainable(name, patterns))
        if p.requires_grad:
            params.append(p)
    set_bn(model, bn)
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()

    def step(x, y):
        opt.zero_grad(set_to_none=True)
        loss = criterion(model(x), y)
        loss.backward()
        opt.step()
        return loss

    return step, "eager"


def build_head(arch, classes, layout, lr, example):
    """(step function, mode): only fc trains and every batch norm is frozen,
    so the backbone is an inference network: scripted, optimized for
    inference (batch norms folded), run under no_grad; then fc in eager."""
    model = getattr(torchvision.models, arch)(weights=None, num_classes=classes)
    fc = model.fc
    model.fc = torch.nn.Identity()
    model.eval()
    if layout == "channels_last":
        model = model.to(memory_format=torch.channels_last)
    with torch.no_grad():
        try:
            backbone = torch.jit.optimize_for_inference(torch.jit.script(model))
            mode = "head:script"
        except Exception as e:  # pragma: no cover
            print(f"  torch.jit.script failed ({type(e).__name__}: {e}); tracing",
                  file=sys.stderr)
            backbone = torch.jit.optimize_for_inference(torch.jit.trace(model, example))
            mode = "head:trace"
    opt = torch.optim.SGD(fc.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    criterion = torch.nn.CrossEntropyLoss()

    def step(x, y):
        with torch.no_grad():
            features = backbone(x)
        opt.zero_grad(set_to_none=True)
        loss = criterion(fc(features), y)
        loss.backward()
        opt.step()
        return loss

    return step, mode


def time_steps(step, x, y, warmup, runs):
    for _ in range(warmup):
        step(x, y)
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        step(x, y)
        times.append((time.perf_counter() - t0) * 1e3)
    return times


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("arch", choices=ARCHS)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--image", default="224", help="H or HxW (default 224)")
    p.add_argument("--classes", type=int, default=1000)
    p.add_argument("--trainable", default=None,
                   help="comma-separated globs of trainable parameter names (default: all)")
    p.add_argument("--bn", choices=["train", "frozen"], default="train")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runs", type=int, default=10, help="timed steps per setting (median)")
    p.add_argument("--warmup", type=int, default=3, help="untimed steps per setting first")
    p.add_argument("--layouts", default="nchw,channels_last",
                   help="comma-separated subset of nchw,channels_last (default both)")
    p.add_argument("--modes", default="auto",
                   help="eager, head (fc only with frozen batch norms), or auto: "
                        "eager, plus head where it applies")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    h, w = parse_image(args.image)
    x0 = torch.randn(args.batch, 3, h, w)
    y = torch.randint(0, args.classes, (args.batch,))
    patterns = args.trainable.split(",") if args.trainable else None

    names = [n for n, _ in getattr(torchvision.models, args.arch)(
        weights=None, num_classes=args.classes).named_parameters()]
    head_only = args.bn == "frozen" and all(
        trainable(n, patterns) == n.startswith("fc.") for n in names)
    modes = ["eager", "head"] if args.modes == "auto" else args.modes.split(",")
    if "head" in modes and not head_only:
        if args.modes != "auto":
            sys.exit("--modes head needs exactly fc trainable and --bn frozen")
        modes.remove("head")

    print(f"  torch {torch.__version__}, torchvision {torchvision.__version__}, "
          f"threads {torch.get_num_threads()}, GLIBC_TUNABLES={os.environ.get('GLIBC_TUNABLES', '')}",
          file=sys.stderr)

    best = None
    for mode in modes:
        for layout in args.layouts.split(","):
            layout = layout.strip()
            if layout not in ("nchw", "channels_last"):
                sys.exit(f"unknown layout {layout!r}")
            x = x0.contiguous(memory_format=torch.channels_last) \
                if layout == "channels_last" else x0.contiguous()
            if mode == "eager":
                step, label = build(args.arch, args.classes, layout, patterns, args.bn, args.lr)
            elif mode == "head":
                step, label = build_head(args.arch, args.classes, layout, args.lr, x)
            else:
                sys.exit(f"unknown mode {mode!r}")
            times = time_steps(step, x, y, args.warmup, args.runs)
            # Same definition as resnetc run --bench: the upper middle for even N.
            med = sorted(times)[len(times) // 2]
            print(f"  {layout:13s} ({label}): median {med:.3f} ms, min {min(times):.3f} ms, "
                  f"max {max(times):.3f} ms over {len(times)} runs", file=sys.stderr)
            if best is None or med < best[0]:
                best = (med, min(times), max(times), len(times), layout, label)
            del step

    med, mn, mx, n, layout, mode = best
    print(f"torch: median {med:.3f} ms, min {mn:.3f} ms, max {mx:.3f} ms over {n} runs "
          f"[layout={layout}, mode={mode}]")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
