"""PyTorch parity of resnetc's compiled training steps (`compile --train`).

Builds a model in PyTorch (torchvision, or cifar_resnet.py for the CIFAR
ResNets), randomizes its parameters and batch-norm statistics as parity.py
does, writes them as safetensors, and compiles the same model with
`resnetc new` -> `resnetc compile --train`. The generated library is called
directly through ctypes (N_create, N_train_step, N_save, N_last_error); the
same steps run in PyTorch: nn.CrossEntropyLoss (mean over the batch) and
torch.optim.SGD(lr, momentum, weight_decay, nesterov) on the trainable
parameters only (the others have requires_grad False), with model.train()
for --bn train, and with every batch norm in eval mode for --bn frozen. Each
step gets its own random batch (images and labels).

Two checks, both against PyTorch:

1. The trajectory: --steps steps at --lr. After step 1 and after the last
   step, every entry of the state_dict that `N_save` writes (the same keys as
   the input file, in order) is compared with PyTorch float32's, and so is
   the loss of every step. Relative L2 error ||ours - torch|| / ||torch|| per
   tensor must be below 1e-4 for the trainable parameters, the frozen ones
   (which must not move), running_mean and running_var; num_batches_tracked
   must be equal. The relative error of each update (after - before) is
   printed for information.

2. The update of one step (the gradient check): a fresh model, one step at
   --probe-lr (default 1) on the first batch, against PyTorch in float64.
   SGD's first step moves each parameter by -lr * (grad + weight_decay *
   param), so the update is the gradient, up to float32 rounding; the large
   lr keeps the rounding of the parameters themselves out of the way. The
   relative L2 error of each trainable tensor's update must be below 1e-2.
   The parameter comparison of check 1 cannot be relied on for this: at an
   lr small enough for 5 float32 steps to be reproducible at 1e-4 (see
   below), many tensors (batch-norm weights especially) move by less than
   1e-4 of their norm, so even a zero gradient, or one 1.5 times too large,
   would pass it. PyTorch float32's own error on the same update is printed
   next to ours. It is the reason for 1e-2 rather than less: on resnet20
   with randomized weights it is ~4e-3 (early batch-norm and convolution
   gradients), while a wrong gradient term, a missing momentum or (with
   batch norms in training mode) a missing weight decay is off by 2e-2 or
   more. Too small to see at either threshold: a missing weight decay when
   only fc trains (~1e-4 of its update).

Why the lr of the trajectory is small: with batch norms in training mode and
randomized weights, steps at lr 0.1 amplify float32 rounding so fast that
PyTorch float32 and PyTorch float64 differ by 1e-2 to 4e-2 in parameters
after 5 steps (resnet18 and resnet20 alike; for resnet20, 3e-4 at lr 0.01);
at 1e-4 parity only lrs whose float32 trajectory is reproducible can be
compared. --float64-floor prints how far PyTorch float32 itself is from
float64 after each checked step, to choose one.

Prints one summary line

    train-parity ARCH bB HxW trainable=P bn=M lr LR steps N: PASS|FAIL
        params E running E loss E update E

(one line; the worst relative errors) after per-check detail lines, and
exits 1 on a failure. Needs only the system python3 with torch, torchvision
and numpy.
"""
import argparse
import copy
import ctypes
import fnmatch
import json
import os
import struct
import subprocess
import sys
import time

# glibc's default malloc makes PyTorch page-fault heavily on the small
# machines this runs on (bench/README.md); the tunables are read at process
# start, so re-execute with them once.
TUNABLES = ("glibc.malloc.mmap_threshold=33554432:"
            "glibc.malloc.trim_threshold=68719476736")
if os.environ.get("GLIBC_TUNABLES") != TUNABLES and \
        not os.environ.get("TRAIN_PARITY_NO_REEXEC"):
    os.execve(sys.executable, [sys.executable] + sys.argv,
              dict(os.environ, GLIBC_TUNABLES=TUNABLES,
                   TRAIN_PARITY_NO_REEXEC="1"))

import numpy as np  # noqa: E402  (after the re-exec on purpose)
import torch  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "..", "tools"))
sys.dont_write_bytecode = True
import parity  # noqa: E402
from export_torchvision import randomize, write_safetensors  # noqa: E402

THRESHOLD = 1e-4          # parameters, running statistics, losses
UPDATE_THRESHOLD = 1e-2   # one step's update against float64 PyTorch

_NP_DTYPES = {"F32": "<f4", "F64": "<f8", "I64": "<i8", "I32": "<i4"}


def fail(message):
    sys.stderr.write("train_parity.py: " + message + "\n")
    sys.exit(1)


def run(cmd, what):
    start = time.time()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True)
    if proc.returncode != 0:
        fail("%s failed (exit %d): %s\n%s%s" % (
            what, proc.returncode, " ".join(cmd), proc.stdout, proc.stderr))
    return time.time() - start


def read_safetensors(path):
    """name -> numpy array, in the file's order."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    header.pop("__metadata__", None)
    base = 8 + length
    out = {}
    for name, info in header.items():
        if info["dtype"] not in _NP_DTYPES:
            fail("%s: %s has dtype %s" % (path, name, info["dtype"]))
        begin, end = info["data_offsets"]
        array = np.frombuffer(data[base + begin:base + end],
                              dtype=_NP_DTYPES[info["dtype"]])
        out[name] = array.reshape(info["shape"])
    return out


def rel_l2(ours, ref):
    """||ours - ref|| / ||ref|| in float64; the absolute norm where ref is 0
    (NaN propagates, and fails every comparison below)."""
    ours = np.asarray(ours, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    diff = float(np.linalg.norm(ours - ref))
    norm = float(np.linalg.norm(ref))
    return diff / norm if norm > 0 else diff


class Compiled:
    """The C API of a library made by `resnetc compile --train`, via ctypes."""

    def __init__(self, lib_path, name):
        self.lib = ctypes.CDLL(lib_path)
        self.name = name
        f = self._fn
        self.create = f("create", [ctypes.POINTER(ctypes.c_void_p),
                                   ctypes.c_char_p])
        self.train_step = f("train_step", [
            ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
            ctypes.POINTER(ctypes.c_int32), ctypes.c_float,
            ctypes.POINTER(ctypes.c_float)])
        self.save = f("save", [ctypes.c_void_p, ctypes.c_char_p])
        self.set_num_threads = f("set_num_threads",
                                 [ctypes.c_void_p, ctypes.c_int])
        self.last_error = f("last_error", [ctypes.c_void_p], ctypes.c_char_p)
        self.destroy = f("destroy", [ctypes.c_void_p], None)
        self.input_shape = list((ctypes.c_int32 * 4).in_dll(
            self.lib, name + "_input_shape"))
        self.output_shape = list((ctypes.c_int32 * 2).in_dll(
            self.lib, name + "_output_shape"))

    def _fn(self, suffix, argtypes, restype=ctypes.c_int):
        try:
            fn = getattr(self.lib, self.name + "_" + suffix)
        except AttributeError:
            fail("%s_%s is not exported by the compiled library"
                 % (self.name, suffix))
        fn.argtypes = argtypes
        fn.restype = restype
        return fn

    def error(self, model):
        msg = self.last_error(model)
        return msg.decode(errors="replace") if msg else "(no message)"

    def new_model(self, weights, threads):
        model = ctypes.c_void_p()
        if self.create(ctypes.byref(model), weights.encode()) != 0:
            msg = self.error(model)
            self.destroy(model)
            fail("%s_create(%s) failed: %s" % (self.name, weights, msg))
        if self.set_num_threads(model, threads) != 0:
            fail("%s_set_num_threads failed: %s" % (self.name,
                                                     self.error(model)))
        return model

    def step(self, model, images, labels, lr):
        images = np.ascontiguousarray(images, dtype=np.float32)
        labels = np.ascontiguousarray(labels, dtype=np.int32)
        loss = ctypes.c_float(float("nan"))
        if self.train_step(
                model, images.ctypes.data_as(ctypes.POINTER(ctypes.c_float)),
                labels.ctypes.data_as(ctypes.POINTER(ctypes.c_int32)),
                ctypes.c_float(lr), ctypes.byref(loss)) != 0:
            fail("%s_train_step failed: %s" % (self.name, self.error(model)))
        return float(loss.value)

    def saved(self, model, path):
        if self.save(model, path.encode()) != 0:
            fail("%s_save(%s) failed: %s" % (self.name, path,
                                             self.error(model)))
        return read_safetensors(path)


def is_trainable(name, patterns):
    return patterns is None or any(fnmatch.fnmatchcase(name, p)
                                   for p in patterns)


def torch_train(model, patterns, bn, batches, lr, args, dtype, checks):
    """Trains a copy of model in dtype; returns the losses of every step and
    the state_dict (as float64/int64 numpy) after each step in checks."""
    model = copy.deepcopy(model).to(dtype)
    params = []
    for name, p in model.named_parameters():
        p.requires_grad_(is_trainable(name, patterns))
        if p.requires_grad:
            params.append(p)
    opt = torch.optim.SGD(params, lr=lr, momentum=args.momentum,
                          weight_decay=args.weight_decay,
                          nesterov=args.nesterov)
    model.train()
    if bn == "frozen":
        for m in model.modules():
            if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                m.eval()
    criterion = torch.nn.CrossEntropyLoss()
    losses, states = [], {}
    for i, (x, y) in enumerate(batches):
        opt.zero_grad()
        loss = criterion(model(torch.from_numpy(x).to(dtype)),
                         torch.from_numpy(y).long())
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if i + 1 in checks:
            states[i + 1] = {k: v.detach().numpy().copy()
                             for k, v in model.state_dict().items()}
    return losses, states


def category(name, trainable):
    if name.endswith(".running_mean"):
        return "running_mean"
    if name.endswith(".running_var"):
        return "running_var"
    if name.endswith(".num_batches_tracked"):
        return "num_batches_tracked"
    return "params" if trainable else "frozen"


class Worst:
    """The worst error per category, with the tensor it came from."""

    def __init__(self):
        self.items = {}

    def add(self, cat, err, name):
        if cat not in self.items or not (err <= self.items[cat][0]):
            self.items[cat] = (err, name)

    def get(self, cat):
        return self.items.get(cat, (0.0, "-"))


def main():
    p = argparse.ArgumentParser(
        description=__doc__.splitlines()[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("arch")
    p.add_argument("--resnetc", required=True, help="the resnetc binary")
    p.add_argument("--workdir", required=True)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--image", default=None, help="H or HxW")
    p.add_argument("--classes", type=int, default=None)
    p.add_argument("--trainable", default=None,
                   help="comma-separated globs of trainable parameter names "
                        "(resnetc compile --trainable); default: all")
    p.add_argument("--bn", choices=["train", "frozen"], default="train")
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--lr", type=float, default=0.01,
                   help="learning rate of the trajectory")
    p.add_argument("--probe-lr", type=float, default=1.0,
                   help="learning rate of the one-step update check")
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--weight-decay", type=float, default=1e-4)
    p.add_argument("--nesterov", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2,
                   help="threads of both resnetc and PyTorch")
    p.add_argument("--jobs", type=int, default=2,
                   help="kernels compiled in parallel (resnetc compile -j)")
    p.add_argument("--float64-floor", action="store_true",
                   help="also train in float64 PyTorch and print how far "
                        "PyTorch float32 is from it (slower)")
    p.add_argument("--reuse", action="store_true",
                   help="reuse WORKDIR/out from an earlier run with the same "
                        "arguments instead of compiling (for debugging)")
    p.add_argument("-v", "--verbose", action="store_true",
                   help="every tensor's errors, and timings, on stderr")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    cifar = args.arch in parity.cifar_resnet.DEPTHS
    classes = args.classes or (10 if cifar else 1000)
    image = args.image or ("32" if cifar else "224")
    h, _, w = image.partition("x")
    h, w = int(h), int(w or h)
    patterns = args.trainable.split(",") if args.trainable else None
    label = "train-parity %s b%d %dx%d trainable=%s bn=%s" % (
        args.arch, args.batch, h, w, args.trainable or "all", args.bn)

    work = os.path.abspath(args.workdir)
    os.makedirs(work, exist_ok=True)
    mlir = os.path.join(work, "model.mlir")
    weights = os.path.join(work, "weights.safetensors")
    out = os.path.join(work, "out")
    times = {}

    # The PyTorch model, randomized (parameters and batch-norm statistics).
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = parity.build_model(args.arch, classes)
    randomize(model, gen)
    init = {k: v.detach().numpy().copy()
            for k, v in model.state_dict().items()}
    write_safetensors(weights, model.state_dict())
    written = read_safetensors(weights)
    names = list(written)
    trainable = {n: is_trainable(n, patterns)
                 for n, _ in model.named_parameters()}
    if not any(trainable.values()):
        fail("no parameter matches --trainable %s" % args.trainable)

    rng = np.random.default_rng(args.seed)
    batches = [(rng.standard_normal((args.batch, 3, h, w)).astype(np.float32),
                rng.integers(0, classes, args.batch).astype(np.int32))
               for _ in range(args.steps)]
    checks = sorted({1, args.steps})

    # resnetc: new, compile --train.
    reuse = args.reuse and os.path.exists(os.path.join(out, "libm.so"))
    new_cmd = [args.resnetc, "new", args.arch, "--batch", str(args.batch),
               "--image", "%dx%d" % (h, w), "--classes", str(classes),
               "-o", mlir]
    times["new"] = 0.0 if reuse else run(new_cmd, "resnetc new")
    parity.check_params(mlir, init)
    compile_cmd = [args.resnetc, "compile", mlir, "-o", out, "--name", "m",
                   "--train", "--bn", args.bn,
                   "--momentum", repr(args.momentum),
                   "--weight-decay", repr(args.weight_decay),
                   "-j", str(args.jobs)]
    if args.trainable:
        compile_cmd += ["--trainable", args.trainable]
    if args.nesterov:
        compile_cmd.append("--nesterov")
    times["compile"] = 0.0 if reuse else run(compile_cmd,
                                             "resnetc compile --train")
    lib = Compiled(os.path.join(out, "libm.so"), "m")
    if lib.input_shape != [args.batch, 3, h, w] or \
            lib.output_shape != [args.batch, classes]:
        fail("m_input_shape %s, m_output_shape %s; expected %s, %s" % (
            lib.input_shape, lib.output_shape, [args.batch, 3, h, w],
            [args.batch, classes]))

    # resnetc: the trajectory, then one step from scratch at --probe-lr.
    start = time.time()
    handle = lib.new_model(weights, args.threads)
    ours_losses, ours_states = [], {}
    for i, (x, y) in enumerate(batches):
        ours_losses.append(lib.step(handle, x, y, args.lr))
        if i + 1 in checks:
            ours_states[i + 1] = lib.saved(
                handle, os.path.join(work, "step%d.safetensors" % (i + 1)))
    lib.destroy(handle)
    handle = lib.new_model(weights, args.threads)
    lib.step(handle, batches[0][0], batches[0][1], args.probe_lr)
    ours_probe = lib.saved(handle, os.path.join(work, "probe.safetensors"))
    lib.destroy(handle)
    times["resnetc steps"] = time.time() - start

    # PyTorch: the same trajectory in float32, the probe in float32 and
    # float64.
    start = time.time()
    ref_losses, ref_states = torch_train(model, patterns, args.bn, batches,
                                         args.lr, args, torch.float32, checks)
    times["torch steps"] = time.time() - start
    start = time.time()
    _, probe32 = torch_train(model, patterns, args.bn, batches[:1],
                             args.probe_lr, args, torch.float32, [1])
    _, probe64 = torch_train(model, patterns, args.bn, batches[:1],
                             args.probe_lr, args, torch.float64, [1])
    probe32, probe64 = probe32[1], probe64[1]
    floor_states = None
    if args.float64_floor:
        floor_losses, floor_states = torch_train(
            model, patterns, args.bn, batches, args.lr, args, torch.float64,
            checks)
    times["torch probe"] = time.time() - start

    ok = True
    detail = []

    def log(line):
        detail.append(line)
        print(line)

    # 1. Losses of every step.
    loss_worst = (0.0, 0)
    for i, (a, b) in enumerate(zip(ours_losses, ref_losses)):
        e = rel_l2(a, b)
        if not (e <= loss_worst[0]):
            loss_worst = (e, i + 1)
    log("  losses: resnetc %s" % " ".join("%.6g" % v for v in ours_losses))
    log("          torch   %s" % " ".join("%.6g" % v for v in ref_losses))
    log("  loss: worst rel error %.1e (step %d)" % loss_worst)
    if not loss_worst[0] < THRESHOLD:
        ok = False
    if floor_states is not None:
        log("  (torch float32 vs float64 loss: worst %.1e)" % max(
            rel_l2(a, b) for a, b in zip(ref_losses, floor_losses)))

    # 1. The state after each checked step.
    total = Worst()
    for step in checks:
        ours, ref = ours_states[step], ref_states[step]
        if list(ours) != names:
            missing = [k for k in names if k not in ours]
            extra = [k for k in ours if k not in names]
            fail("after step %d, N_save wrote other keys than the input "
                 "file\n  missing: %s\n  extra: %s\n  same set, other "
                 "order: %s" % (step, missing, extra,
                                not missing and not extra))
        worst, update, floor = Worst(), Worst(), Worst()
        shapes, counters = [], []
        for name in names:
            cat = category(name, trainable.get(name, False))
            a, b = ours[name], ref[name]
            # N_save writes each tensor as the input file has it (the file
            # may store a 0-d tensor as [1]): the shape and dtype are the
            # input file's, the values PyTorch's.
            if a.shape != written[name].shape or \
                    a.dtype != written[name].dtype:
                shapes.append("%s %s %s (input file: %s %s)" % (
                    name, a.dtype, list(a.shape), written[name].dtype,
                    list(written[name].shape)))
            if a.size != b.size:
                shapes.append("%s has %d values, torch %d" % (
                    name, a.size, b.size))
                continue
            a = a.reshape(b.shape)
            if cat == "num_batches_tracked":
                if a.dtype != np.int64 or not np.array_equal(a, b):
                    counters.append("%s %s %s (torch %s)" % (
                        name, a.dtype, a.reshape(-1).tolist(),
                        b.reshape(-1).tolist()))
                continue
            e = rel_l2(a, b)
            worst.add(cat, e, name)
            total.add(cat, e, name)
            d = b.astype(np.float64) - init[name]
            if np.any(d != 0):
                update.add(cat, rel_l2(a.astype(np.float64) - init[name], d),
                           name)
            if floor_states is not None:
                floor.add(cat, rel_l2(b, floor_states[step][name]), name)
            if args.verbose:
                moved = np.linalg.norm(d) / max(
                    np.linalg.norm(init[name].astype(np.float64)), 1e-30)
                sys.stderr.write("step %d %-40s %-12s rel L2 %.1e "
                                 "|update|/|p| %.1e\n"
                                 % (step, name, cat, e, moved))
        for what, bad in (("have another shape or dtype than in the input "
                           "file", shapes),
                          ("differ from PyTorch's num_batches_tracked "
                           "(int64)", counters)):
            if bad:
                ok = False
                log("  after step %d: %d tensors in N_save's file %s, e.g. "
                    "%s FAIL" % (step, len(bad), what, "; ".join(bad[:2])))
        for cat in ("params", "frozen", "running_mean", "running_var"):
            if cat not in worst.items:
                continue
            e, name = worst.get(cat)
            bad = not e < THRESHOLD
            ok = ok and not bad
            line = "  after step %d: %-12s worst rel L2 %.1e (%s)" % (
                step, cat, e, name)
            if cat in update.items:
                line += "; update %.1e (%s)" % update.get(cat)
            if cat in floor.items:
                line += "; torch f32 vs f64 %.1e" % floor.get(cat)[0]
            log(line + (" FAIL" if bad else ""))

    # 2. One step's update against float64 PyTorch.
    probe, probe_floor = Worst(), Worst()
    for name, is_tr in trainable.items():
        if not is_tr:
            continue
        ref = probe64[name] - init[name].astype(np.float64)
        e = rel_l2(ours_probe[name].astype(np.float64) - init[name], ref)
        f = rel_l2(probe32[name].astype(np.float64) - init[name], ref)
        probe.add("update", e, name)
        probe_floor.add("update", f, name)
        if args.verbose:
            sys.stderr.write("probe %-40s update rel L2 %.1e (torch f32 "
                             "%.1e) |update|/|p| %.1e\n" % (
                                 name, e, f, float(np.linalg.norm(ref) / max(
                                     np.linalg.norm(init[name]), 1e-30))))
    e, name = probe.get("update")
    bad = not e < UPDATE_THRESHOLD
    ok = ok and not bad
    log("  one step at lr %g vs float64 torch: update worst rel L2 %.1e (%s); "
        "torch float32's own %.1e (%s)%s" % (
            args.probe_lr, e, name, probe_floor.get("update")[0],
            probe_floor.get("update")[1], " FAIL" if bad else ""))

    running = max(total.get("running_mean")[0], total.get("running_var")[0])
    params = max(total.get("params")[0], total.get("frozen")[0])
    line = ("%s lr %g steps %d: %s params %.1e running %.1e loss %.1e "
            "update %.1e" % (label, args.lr, args.steps,
                             "PASS" if ok else "FAIL", params, running,
                             loss_worst[0], e))
    print(line)
    sys.stdout.flush()
    with open(os.path.join(work, "train-parity.txt"), "w") as f:
        f.write("\n".join(detail + [line]) + "\n")
    if args.verbose:
        sys.stderr.write(", ".join("%s %.1f s" % kv for kv in times.items())
                         + "\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
