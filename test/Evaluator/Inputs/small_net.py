"""Weights, inputs and a numpy twin of small-net.mlir: the independent
oracle that `resnetc eval` is checked against.

  small_net.py gen DIR [--drop NAME]   writes DIR/w.safetensors (without
                                       NAME), x.npy, labels.npy and inputs
                                       that must be rejected
  small_net.py check DIR               compares DIR/y.npy (@forward) and
                                       DIR/probs.npy, DIR/loss.npy (@loss)
                                       with numpy; prints "OK" if all agree
"""
import os
import sys

import numpy as np

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from safetensors_writer import write_safetensors  # noqa: E402


def weights():
    rng = np.random.default_rng(0)

    def normal(*shape):
        return rng.standard_normal(shape).astype(np.float32)

    def positive(*shape):
        return rng.uniform(0.5, 2.0, shape).astype(np.float32)

    return {
        "conv1.weight": normal(8, 2, 3, 3) * 0.5,
        "bn1.weight": positive(8),
        "bn1.bias": normal(8),
        "bn1.running_mean": normal(8),
        "bn1.running_var": positive(8),
        "conv2.weight": normal(8, 8, 3, 2) * 0.3,
        "conv2.bias": normal(8),
        "bn2.weight": positive(8),
        "bn2.bias": normal(8),
        "bn2.running_mean": normal(8),
        "bn2.running_var": positive(8),
        "fc.weight": normal(5, 8),
        "fc.bias": normal(5),
        "head.weight": normal(5, 12),
    }


def inputs():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 4, 9, 9)).astype(np.float32)
    labels = np.array([3, 0], dtype=np.int32)
    return x, labels


# --- The network in numpy, in float64 -------------------------------------

def conv2d(x, w, bias=None, stride=(1, 1), padding=(0, 0, 0, 0), groups=1):
    """Sums shifted, strided slices of the zero-padded input, one kernel
    tap at a time (a structure unlike the evaluator's loops)."""
    top, left, bottom, right = padding
    x = np.pad(x, ((0, 0), (0, 0), (top, bottom), (left, right)))
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    oh = (h - kh) // stride[0] + 1
    ow = (wd - kw) // stride[1] + 1
    og = o // groups
    out = np.zeros((n, o, oh, ow))
    for g in range(groups):
        xs = x[:, g * cg:(g + 1) * cg]
        ws = w[g * og:(g + 1) * og]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i:i + stride[0] * (oh - 1) + 1:stride[0],
                           j:j + stride[1] * (ow - 1) + 1:stride[1]]
                out[:, g * og:(g + 1) * og] += np.einsum(
                    "nchw,oc->nohw", patch, ws[:, :, i, j])
    if bias is not None:
        out += bias[None, :, None, None]
    return out


def channel(v):
    return v[None, :, None, None]


def batch_norm(x, gamma, beta, mean, var, eps=1e-5):
    return (x - channel(mean)) / np.sqrt(channel(var) + eps) * channel(
        gamma) + channel(beta)


def max_pool(x, k, s, p):
    x = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)), constant_values=-np.inf)
    oh = (x.shape[2] - k) // s + 1
    ow = (x.shape[3] - k) // s + 1
    out = np.full(x.shape[:2] + (oh, ow), -np.inf)
    for i in range(k):
        for j in range(k):
            out = np.maximum(out, x[:, :, i:i + s * (oh - 1) + 1:s,
                                    j:j + s * (ow - 1) + 1:s])
    return out


def avg_pool_ceil_exclude_pad(x, k, s, oh, ow):
    """Average pooling without padding, ceil mode: windows clipped to the
    input, divided by the elements they hold."""
    out = np.zeros(x.shape[:2] + (oh, ow))
    for a in range(oh):
        for b in range(ow):
            window = x[:, :, a * s:a * s + k, b * s:b * s + k]
            out[:, :, a, b] = window.mean(axis=(2, 3))
    return out


def forward(p, x):
    x = x.astype(np.float64)
    p = {k: v.astype(np.float64) for k, v in p.items()}
    r1 = np.maximum(batch_norm(
        conv2d(x, p["conv1.weight"], stride=(2, 2), padding=(1, 1, 1, 1),
               groups=2),
        p["bn1.weight"], p["bn1.bias"], p["bn1.running_mean"],
        p["bn1.running_var"]), 0)
    n2 = batch_norm(
        conv2d(r1, p["conv2.weight"], p["conv2.bias"], padding=(1, 1, 1, 0)),
        p["bn2.weight"], p["bn2.bias"], p["bn2.running_mean"],
        p["bn2.running_var"], eps=1e-3)
    r2 = np.maximum(n2 + r1, 0)
    pooled = max_pool(r2, 3, 2, 1).mean(axis=(2, 3))
    return pooled @ p["fc.weight"].T + p["fc.bias"]


def loss(p, x, labels):
    x = x.astype(np.float64)
    p = {k: v.astype(np.float64) for k, v in p.items()}
    c1 = conv2d(x, p["conv1.weight"], stride=(2, 2), padding=(1, 1, 1, 1),
                groups=2)
    mean = c1.mean(axis=(0, 2, 3))
    var = c1.var(axis=(0, 2, 3))  # biased, as in training
    r = np.maximum(batch_norm(c1, p["bn1.weight"], p["bn1.bias"], mean, var),
                   0)
    ap = avg_pool_ceil_exclude_pad(r, 2, 2, 3, 3)
    padded = np.pad(ap, ((0, 0), (2, 2), (0, 0), (0, 0)))
    logits = padded.mean(axis=(2, 3)) @ p["head.weight"].T
    shifted = logits - logits.max(axis=1, keepdims=True)
    probs = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return probs, -log_probs[np.arange(len(labels)), labels].mean()


def rel_err(actual, expected):
    expected = np.asarray(expected, dtype=np.float64)
    return np.linalg.norm(actual - expected) / np.linalg.norm(expected)


def main():
    command, out = sys.argv[1], sys.argv[2]
    p = weights()
    x, labels = inputs()
    if command == "gen":
        if len(sys.argv) > 4 and sys.argv[3] == "--drop":
            del p[sys.argv[4]]
        write_safetensors(os.path.join(out, "w.safetensors"), p)
        np.save(os.path.join(out, "x.npy"), x)
        np.save(os.path.join(out, "labels.npy"), labels)
        np.save(os.path.join(out, "x_small.npy"), x[:, :, :8, :8])
        np.save(os.path.join(out, "labels_i64.npy"), labels.astype(np.int64))
        np.save(os.path.join(out, "labels_bad.npy"),
                np.array([3, 5], dtype=np.int32))
        return
    y = np.load(os.path.join(out, "y.npy"))
    probs = np.load(os.path.join(out, "probs.npy"))
    loss_value = np.load(os.path.join(out, "loss.npy"))
    assert y.dtype == np.float32 and y.shape == (2, 5), (y.dtype, y.shape)
    assert probs.shape == (2, 5) and loss_value.shape == (), loss_value.shape
    expected_probs, expected_loss = loss(p, x, labels)
    errors = [rel_err(y, forward(p, x)), rel_err(probs, expected_probs),
              rel_err(loss_value, expected_loss)]
    print("max rel err %.3g" % max(errors))
    print("OK" if max(errors) < 1e-5 else "MISMATCH %s" % errors)


if __name__ == "__main__":
    main()
