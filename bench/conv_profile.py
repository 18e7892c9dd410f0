#!/usr/bin/env python3
"""Per-convolution throughput of a compiled model, from its kernel profile.

Reads what `RESNETC_PROFILE=1 resnetc run DIR ... --bench N` prints (one
line per kernel: total ms, calls, share, then the kernel's kind and shapes)
and prints a Markdown table of the convolutions: calls per forward pass,
milliseconds per call, GFLOP/s, and the fraction of the FMA peak given with
--peak (GFLOP/s, measured by bench/fma_peak.c). The FLOPs of a call are
2 x output elements x multiply-adds per output, from the kernel's own
shapes: NCHW weights [O, C/groups, KH, KW], or the channel-blocked
[O/16, C/CI, KH, KW, CI, 16] that resnetc relays them to.

usage: RESNETC_PROFILE=1 resnetc run ... 2>&1 | conv_profile.py --peak 400
"""
import argparse
import re
import sys

LINE = re.compile(r"^\s*([\d.]+) ms\s+(\d+) calls\s+[\d.]+%\s+k\d+ (\S+) (\S+)->(\S+)(.*)$")


def dims(text):
    return [int(d) for d in text.split("x")]


def product(values):
    out = 1
    for v in values:
        out *= v
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peak", type=float, default=0.0,
                        help="the machine's FMA peak in GFLOP/s (0: no column)")
    args = parser.parse_args()
    kernels = []
    for line in sys.stdin:
        m = LINE.match(line)
        if m:
            ms, calls, kind, ins, outs, flags = m.groups()
            kernels.append((float(ms), int(calls), kind, ins, outs, flags.strip()))
    if not kernels:
        print("conv_profile: no kernel profile in the input (run with RESNETC_PROFILE=1)",
              file=sys.stderr)
        return 1
    # One linear layer per forward pass: its calls count the passes.
    linear = [k[1] for k in kernels if k[2] == "linear"]
    forwards = linear[0] if linear else min(k[1] for k in kernels)
    rows, conv_ms, conv_flop, all_ms = [], 0.0, 0.0, 0.0
    for ms, calls, kind, ins, outs, flags in kernels:
        all_ms += ms
        if kind != "fused_conv2d":
            continue
        shapes = ins.split(",")
        w, out = dims(shapes[1]), dims(outs.split(",")[0])
        per_output = product(w[1:5]) if len(w) == 6 else product(w[1:])
        flop = 2.0 * product(out) * per_output * calls
        conv_ms += ms
        conv_flop += flop
        gflops = flop / (ms * 1e6)
        rows.append((ms, f"{ins}->{outs} {flags}".strip(), calls / forwards,
                     ms / calls, gflops))
    rows.sort(reverse=True)
    peak = args.peak
    print("| convolution (input, weights, bias, residual -> output) | calls per pass | ms per call | GFLOP/s |"
          + (" of peak |" if peak else ""))
    print("| --- | ---: | ---: | ---: |" + (" ---: |" if peak else ""))
    for ms, shape, per_pass, per_call, gflops in rows:
        print(f"| `{shape}` | {per_pass:g} | {per_call:.3f} | {gflops:.0f} |"
              + (f" {100 * gflops / peak:.0f}% |" if peak else ""))
    total = conv_flop / (conv_ms * 1e6) if conv_ms else 0
    print(f"\nconvolutions: {100 * conv_ms / all_ms:.0f}% of kernel time, {total:.0f} GFLOP/s"
          + (f" ({100 * total / peak:.0f}% of the measured peak {peak:.0f} GFLOP/s)" if peak else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
