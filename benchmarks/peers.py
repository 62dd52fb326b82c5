"""The peers fastloss is measured against: PyTorch, JAX, numba and scikit-learn, one implementation per workload.

Not a test module (its name does not start with ``bench_``); ``bench_losses.py`` loads it. Every peer computes
*the same number* as the fastloss call of the workload (same per-row loss, same weights and mask, same divisor),
written the way a user of that library would write it when they want it fast:

- **torch**: ``torch.nn.functional`` losses with ``reduction='none'`` (or the built-in weighted mean where it is
  the right convention), then the weighting and the divisor; tensors made with ``torch.from_numpy`` outside the
  timed region; ``torch.set_num_threads`` set to fastloss's default thread count.
- **jax**: one ``jax.jit`` function per case, compiled by a warm-up call outside the timed region; the timed
  call ends with ``.block_until_ready()``. float64 needs ``jax_enable_x64``, which is switched on here.
- **numba**: one ``@njit(parallel=True, fastmath=False)`` fused loop per workload, ``prange`` over rows with
  scalar reductions (accumulated in double), ``numba.set_num_threads`` set to the default thread count; compiled
  by a warm-up call (and cached on disk).
- **sklearn**: ``sklearn.metrics`` (``log_loss``, ``mean_squared_error``, ``mean_absolute_error``) with
  ``sample_weight`` where the workload's convention is theirs, and the Cython ``sklearn._loss`` losses (per-sample
  values, then ``np.average`` / ``mean``) for losses on logits. Workloads whose convention scikit-learn cannot
  express (label smoothing, Keras 2.2's legacy reduction) have no sklearn contestant.

The data of every workload lies inside the probability clip range ``[1e-7, 1 - 1e-7]``, so a peer's own guard
(torch clamps the log at -100, scikit-learn clips at the dtype's eps) gives the same value as Keras's clip.

``factory(case, threads)`` returns a zero-argument callable: the timed call. It returns the library's own scalar
(a 0-d tensor, a JAX array, a float); ``bench_losses.py`` converts it to a float outside the timed region and
checks it against the NumPy oracle.
"""

from __future__ import annotations

import numpy as np

# Module each peer needs: the benchmark calls pytest.importorskip on it, per contestant.
PEER_MODULES = {"torch": "torch", "jax": "jax", "numba": "numba", "sklearn": "sklearn"}


# Keras's Dice adds backend.epsilon() to the denominator (a Python float, 1e-7).
DICE_EPSILON = 1e-7


def clip_bounds(dtype):
    """Keras's clip bounds rounded to the compute dtype (as fastloss and its oracle use them), as Python floats."""
    t = np.dtype(dtype).type
    return float(t(1e-7)), float(t(1 - 1e-7))


# =============================================================================================================
# PyTorch
# =============================================================================================================


def _torch():
    import torch
    import torch.nn.functional as F

    return torch, F


def _t(torch, a):
    return torch.from_numpy(np.ascontiguousarray(a))


def torch_factory(case, threads):
    torch, F = _torch()
    torch.set_num_threads(threads)
    d = case.data
    w = case.workload
    lo, hi = clip_bounds(case.dtype)

    if w == "bce_probs_sw":  # mean_with_sample_weight
        y, p, sw = _t(torch, d["y_true"]), _t(torch, d["y_pred"]), _t(torch, d["sample_weight"])

        def f():
            l = F.binary_cross_entropy(p, y, reduction="none").mean(-1)
            return (l * sw).sum() / sw.sum()

    elif w == "bce_logits":  # sum_over_batch_size, no weights: the plain mean
        y, z = _t(torch, d["y_true"]), _t(torch, d["y_pred"])

        def f():
            return F.binary_cross_entropy_with_logits(z, y)

    elif w == "scce_logits_cw":  # PyTorch's own convention: Σ w·l / Σ w
        labels, z = _t(torch, d["labels"]), _t(torch, d["y_pred"])
        cw = _t(torch, d["class_weight"].astype(case.dtype))

        def f():
            return F.cross_entropy(z, labels, weight=cw)

    elif w == "cce_probs_ls":  # Keras: renormalise, clip, log, smoothed targets; sum_over_batch_size
        y, p = _t(torch, d["y_true"]), _t(torch, d["y_pred"])
        alpha, k = d["label_smoothing"], d["y_pred"].shape[-1]

        def f():
            ys = y * (1 - alpha) + alpha / k
            q = (p / p.sum(-1, keepdim=True)).clamp(lo, hi)
            return -(ys * torch.log(q)).sum(-1).mean()

    elif w == "mse_mask_sw":  # mean_with_sample_weight over the unmasked rows
        y, p = _t(torch, d["y_true"]), _t(torch, d["y_pred"])
        m, sw = _t(torch, d["mask"]), _t(torch, d["sample_weight"])

        def f():
            l = F.mse_loss(p, y, reduction="none").mean(-1)
            wm = sw[:, None] * m
            return (l * wm).sum() / wm.sum()

    elif w == "mae":
        y, p = _t(torch, d["y_true"]), _t(torch, d["y_pred"])

        def f():
            return F.l1_loss(p, y)

    elif w == "seg_bce_pw":  # per-pixel weights, sum_over_batch_size (K == 1: the mean over pixels)
        y, p = _t(torch, d["y_true"]), _t(torch, d["y_pred"])
        pw = _t(torch, d["sample_weight"][..., None])

        def f():
            return F.binary_cross_entropy(p, y, weight=pw)

    elif w == "seg_bce_cw":  # per-pixel class weights from the 0/1 target
        y, p = _t(torch, d["y_true"]), _t(torch, d["y_pred"])
        w0, w1 = d["class_weight"][0], d["class_weight"][1]

        def f():
            return F.binary_cross_entropy(p, y, weight=torch.where(y > 0.5, w1, w0))

    elif w == "seg_focal":  # Keras BinaryFocalCrossentropy(gamma=2): (1 - p_t)^γ · clipped BCE, p_t unclipped
        y, p = _t(torch, d["y_true"]), _t(torch, d["y_pred"])
        gamma = d["gamma"]

        def f():
            bce = F.binary_cross_entropy(p, y, reduction="none")  # data lie inside the clip bounds
            p_t = y * p + (1 - y) * (1 - p)
            return ((1 - p_t) ** gamma * bce).mean()

    elif w == "seg_dice":  # Keras Dice(axis=(1, 2, 3)): per-sample 1 - 2Σyp / (Σy + Σp + ε), mean over samples
        y, p = _t(torch, d["y_true"]), _t(torch, d["y_pred"])
        axes = tuple(range(1, y.dim()))

        def f():
            inter = (y * p).sum(axes)
            return (1 - 2 * inter / (y.sum(axes) + p.sum(axes) + DICE_EPSILON)).mean()

    elif w == "keras_legacy":  # Keras 2.2 weighted_masked_objective, transcribed
        labels, p = _t(torch, d["labels"]), _t(torch, d["y_pred"])
        m, sw = _t(torch, d["mask"]), _t(torch, d["sample_weight"])

        def f():
            p_y = p.gather(-1, labels.unsqueeze(-1)).squeeze(-1)
            s = -torch.log((p_y / p.sum(-1)).clamp(lo, hi))
            mf = m.to(p.dtype)
            s = s * mf / mf.mean()
            s = s * sw / (sw != 0).to(p.dtype).mean()
            return s.mean()

    else:
        return None
    f()  # warm-up (allocator, dispatch caches)
    return f


# =============================================================================================================
# JAX
# =============================================================================================================


def _jax():
    import jax

    jax.config.update("jax_enable_x64", True)  # float64 workloads; float32 arrays stay float32
    import jax.numpy as jnp

    return jax, jnp


def jax_factory(case, threads):
    jax, jnp = _jax()
    d = case.data
    w = case.workload
    lo, hi = clip_bounds(case.dtype)

    def bce(y, p):
        pc = jnp.clip(p, lo, hi)
        return -(y * jnp.log(pc) + (1 - y) * jnp.log(1 - pc))

    if w == "bce_probs_sw":
        args = (d["y_true"], d["y_pred"], d["sample_weight"])

        def g(y, p, sw):
            l = bce(y, p).mean(-1)
            return jnp.sum(l * sw) / jnp.sum(sw)

    elif w == "bce_logits":
        args = (d["y_true"], d["y_pred"])

        def g(y, z):  # optax.sigmoid_binary_cross_entropy's formula
            return jnp.mean(jnp.maximum(z, 0) - z * y + jnp.log1p(jnp.exp(-jnp.abs(z))))

    elif w == "scce_logits_cw":
        args = (d["labels"], d["y_pred"], d["class_weight"].astype(case.dtype))

        def g(labels, z, cw):
            l = jax.nn.logsumexp(z, axis=-1) - jnp.take_along_axis(z, labels[:, None], axis=-1)[:, 0]
            wt = cw[labels]
            return jnp.sum(wt * l) / jnp.sum(wt)

    elif w == "cce_probs_ls":
        args = (d["y_true"], d["y_pred"])
        alpha, k = d["label_smoothing"], d["y_pred"].shape[-1]

        def g(y, p):
            ys = y * (1 - alpha) + alpha / k
            q = jnp.clip(p / jnp.sum(p, axis=-1, keepdims=True), lo, hi)
            return jnp.mean(-jnp.sum(ys * jnp.log(q), axis=-1))

    elif w == "mse_mask_sw":
        args = (d["y_true"], d["y_pred"], d["mask"], d["sample_weight"])

        def g(y, p, m, sw):
            l = jnp.mean((y - p) ** 2, axis=-1)
            wm = sw[:, None] * m
            return jnp.sum(l * wm) / jnp.sum(wm)

    elif w == "mae":
        args = (d["y_true"], d["y_pred"])

        def g(y, p):
            return jnp.mean(jnp.abs(y - p))

    elif w == "seg_bce_pw":
        args = (d["y_true"], d["y_pred"], d["sample_weight"])

        def g(y, p, pw):
            return jnp.mean(bce(y, p) * pw[..., None])

    elif w == "seg_bce_cw":
        args = (d["y_true"], d["y_pred"])
        w0, w1 = d["class_weight"][0], d["class_weight"][1]

        def g(y, p):
            return jnp.mean(bce(y, p) * jnp.where(y > 0.5, w1, w0))

    elif w == "seg_focal":
        args = (d["y_true"], d["y_pred"])
        gamma = d["gamma"]

        def g(y, p):
            p_t = y * p + (1 - y) * (1 - p)
            return jnp.mean((1 - p_t) ** gamma * bce(y, p))

    elif w == "seg_dice":
        args = (d["y_true"], d["y_pred"])
        axes = tuple(range(1, d["y_pred"].ndim))

        def g(y, p):
            inter = jnp.sum(y * p, axis=axes)
            return jnp.mean(1 - 2 * inter / (jnp.sum(y, axis=axes) + jnp.sum(p, axis=axes) + DICE_EPSILON))

    elif w == "keras_legacy":
        args = (d["labels"], d["y_pred"], d["mask"], d["sample_weight"])

        def g(labels, p, m, sw):
            p_y = jnp.take_along_axis(p, labels[..., None], axis=-1)[..., 0]
            s = -jnp.log(jnp.clip(p_y / jnp.sum(p, axis=-1), lo, hi))
            mf = m.astype(p.dtype)
            s = s * mf / jnp.mean(mf)
            s = s * sw / jnp.mean((sw != 0).astype(p.dtype))
            return jnp.mean(s)

    else:
        return None
    jitted = jax.jit(g)
    dev = tuple(jnp.asarray(a) for a in args)  # on the device (the CPU) once, outside the timed region

    def f():
        return jitted(*dev).block_until_ready()

    f()  # compile
    return f


# =============================================================================================================
# numba: fused parallel loops, defined at import when numba is installed
# =============================================================================================================

try:
    import numba
except ImportError:  # the contestant is skipped
    numba = None

if numba is not None:
    from numba import njit, prange

    _jit = njit(parallel=True, fastmath=False, cache=True)

    @_jit
    def _nb_bce_probs_sw(y, p, sw, lo, hi):  # (B, K), (B, K), (B,)
        b, k = p.shape
        s = 0.0
        ws = 0.0
        for r in prange(b):
            acc = 0.0
            for j in range(k):
                pc = min(max(p[r, j], lo), hi)
                acc += -(y[r, j] * np.log(pc) + (1.0 - y[r, j]) * np.log(1.0 - pc))
            s += sw[r] * (acc / k)
            ws += sw[r]
        return s / ws

    @_jit
    def _nb_bce_logits(y, z):  # flat
        n = z.shape[0]
        s = 0.0
        for i in prange(n):
            zi = z[i]
            s += max(zi, 0.0) - zi * y[i] + np.log1p(np.exp(-abs(zi)))
        return s / n

    @_jit
    def _nb_scce_cw(labels, z, cw):  # (N,), (N, K), (K,)
        n, k = z.shape
        s = 0.0
        ws = 0.0
        for r in prange(n):
            m = z[r, 0]
            for j in range(1, k):
                if z[r, j] > m:
                    m = z[r, j]
            e = 0.0
            for j in range(k):
                e += np.exp(z[r, j] - m)
            wr = cw[labels[r]]
            s += wr * (m + np.log(e) - z[r, labels[r]])
            ws += wr
        return s / ws

    @_jit
    def _nb_cce_probs_ls(y, p, alpha, lo, hi):  # (N, K), (N, K)
        n, k = p.shape
        s = 0.0
        for r in prange(n):
            tot = 0.0
            for j in range(k):
                tot += p[r, j]
            acc = 0.0
            for j in range(k):
                q = min(max(p[r, j] / tot, lo), hi)
                acc -= (y[r, j] * (1.0 - alpha) + alpha / k) * np.log(q)
            s += acc
        return s / n

    @_jit
    def _nb_mse_mask_sw(y, p, m, sw):  # (B, T, F), (B, T, F), (B, T), (B,)
        b, t, f = p.shape
        s = 0.0
        ws = 0.0
        for i in prange(b):
            for j in range(t):
                if m[i, j]:
                    acc = 0.0
                    for c in range(f):
                        dlt = y[i, j, c] - p[i, j, c]
                        acc += dlt * dlt
                    s += sw[i] * (acc / f)
                    ws += sw[i]
        return s / ws

    @_jit
    def _nb_mae(y, p):  # flat
        n = p.shape[0]
        s = 0.0
        for i in prange(n):
            s += abs(y[i] - p[i])
        return s / n

    @_jit
    def _nb_seg_bce_pw(y, p, pw, lo, hi):  # flat
        n = p.shape[0]
        s = 0.0
        for i in prange(n):
            pc = min(max(p[i], lo), hi)
            s += pw[i] * -(y[i] * np.log(pc) + (1.0 - y[i]) * np.log(1.0 - pc))
        return s / n

    @_jit
    def _nb_seg_bce_cw(y, p, w0, w1, lo, hi):  # flat
        n = p.shape[0]
        s = 0.0
        for i in prange(n):
            pc = min(max(p[i], lo), hi)
            wi = w1 if y[i] > 0.5 else w0
            s += wi * -(y[i] * np.log(pc) + (1.0 - y[i]) * np.log(1.0 - pc))
        return s / n

    @_jit
    def _nb_seg_focal(y, p, gamma, lo, hi):  # flat
        n = p.shape[0]
        s = 0.0
        for i in prange(n):
            pc = min(max(p[i], lo), hi)
            bce = -(y[i] * np.log(pc) + (1.0 - y[i]) * np.log(1.0 - pc))
            p_t = y[i] * p[i] + (1.0 - y[i]) * (1.0 - p[i])
            s += (1.0 - p_t) ** gamma * bce
        return s / n

    @_jit
    def _nb_seg_dice(y, p, eps):  # (B, M): one sample per row
        b, m = p.shape
        s = 0.0
        for i in prange(b):
            inter = 0.0
            sy = 0.0
            sp = 0.0
            for j in range(m):
                inter += y[i, j] * p[i, j]
                sy += y[i, j]
                sp += p[i, j]
            s += 1.0 - 2.0 * inter / (sy + sp + eps)
        return s / b

    @_jit
    def _nb_keras_legacy(labels, p, m, sw, lo, hi):  # (N, T), (N, T, K), (N, T), (N, T)
        n, t, k = p.shape
        s = 0.0
        v = 0
        nz = 0
        for i in prange(n):
            for j in range(t):
                if sw[i, j] != 0:
                    nz += 1
                if m[i, j]:
                    tot = 0.0
                    for c in range(k):
                        tot += p[i, j, c]
                    q = min(max(p[i, j, labels[i, j]] / tot, lo), hi)
                    s += sw[i, j] * -np.log(q)
                    v += 1
        return s * (n * t) / (v * nz)  # S·E / (V·E0)


def numba_factory(case, threads):
    if numba is None:
        return None
    numba.set_num_threads(threads)
    d = case.data
    w = case.workload
    lo, hi = clip_bounds(case.dtype)
    flat = {k: v.reshape(-1) for k, v in d.items() if isinstance(v, np.ndarray)}

    if w == "bce_probs_sw":
        args = (d["y_true"], d["y_pred"], d["sample_weight"], lo, hi)
        fn = _nb_bce_probs_sw
    elif w == "bce_logits":
        args = (flat["y_true"], flat["y_pred"])
        fn = _nb_bce_logits
    elif w == "scce_logits_cw":
        args = (d["labels"], d["y_pred"], d["class_weight"])
        fn = _nb_scce_cw
    elif w == "cce_probs_ls":
        args = (d["y_true"], d["y_pred"], d["label_smoothing"], lo, hi)
        fn = _nb_cce_probs_ls
    elif w == "mse_mask_sw":
        args = (d["y_true"], d["y_pred"], d["mask"], d["sample_weight"])
        fn = _nb_mse_mask_sw
    elif w == "mae":
        args = (flat["y_true"], flat["y_pred"])
        fn = _nb_mae
    elif w == "seg_bce_pw":
        args = (flat["y_true"], flat["y_pred"], flat["sample_weight"], lo, hi)
        fn = _nb_seg_bce_pw
    elif w == "seg_bce_cw":
        args = (flat["y_true"], flat["y_pred"], float(d["class_weight"][0]), float(d["class_weight"][1]), lo, hi)
        fn = _nb_seg_bce_cw
    elif w == "seg_focal":
        args = (flat["y_true"], flat["y_pred"], float(d["gamma"]), lo, hi)
        fn = _nb_seg_focal
    elif w == "seg_dice":
        rows = d["y_pred"].shape[0]
        args = (d["y_true"].reshape(rows, -1), d["y_pred"].reshape(rows, -1), DICE_EPSILON)
        fn = _nb_seg_dice
    elif w == "keras_legacy":
        args = (d["labels"], d["y_pred"], d["mask"], d["sample_weight"], lo, hi)
        fn = _nb_keras_legacy
    else:
        return None

    def f():
        return fn(*args)

    f()  # compile (or load from the on-disk cache)
    return f


# =============================================================================================================
# scikit-learn
# =============================================================================================================


def sklearn_factory(case, threads):
    from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error

    d = case.data
    w = case.workload

    if w == "bce_probs_sw":  # log_loss with sample_weight is Σ w·l / Σ w: the workload's convention
        y, p, sw = d["y_true"], d["y_pred"], d["sample_weight"]
        k = p.shape[-1]

        def f():
            return log_loss(y.ravel(), p.ravel(), sample_weight=np.repeat(sw, k))

    elif w == "bce_logits":
        from sklearn._loss import HalfBinomialLoss  # log(1 + exp(z)) - y·z: the BCE from logits

        loss = HalfBinomialLoss()
        y, z = d["y_true"].ravel(), d["y_pred"].ravel()

        def f():
            return loss.loss(y_true=y, raw_prediction=z, n_threads=threads).mean()

    elif w == "scce_logits_cw":
        from sklearn._loss import HalfMultinomialLoss

        labels, z, cw = d["labels"], d["y_pred"], d["class_weight"]
        loss = HalfMultinomialLoss(n_classes=z.shape[-1])
        y = labels.astype(case.dtype)  # the Cython loss wants float labels of the prediction's dtype

        def f():
            return np.average(loss.loss(y_true=y, raw_prediction=z, n_threads=threads), weights=cw[labels])

    elif w == "mse_mask_sw":  # the unmasked rows, weighted: Σ w·l / Σ w
        y, p, m, sw = d["y_true"], d["y_pred"], d["mask"], d["sample_weight"]

        def f():
            return mean_squared_error(y[m], p[m], sample_weight=np.broadcast_to(sw[:, None], m.shape)[m])

    elif w == "mae":
        y, p = d["y_true"], d["y_pred"]

        def f():
            return mean_absolute_error(y, p)

    elif w == "seg_bce_pw":  # Σ w·l / (number of pixels): the weighted sum, divided by the count
        y, p, pw = d["y_true"].ravel(), d["y_pred"].ravel(), d["sample_weight"].ravel()

        def f():
            return log_loss(y, p, sample_weight=pw, normalize=False) / p.size

    elif w == "seg_bce_cw":
        y, p = d["y_true"].ravel(), d["y_pred"].ravel()
        table = np.array([d["class_weight"][0], d["class_weight"][1]])

        def f():
            return log_loss(y, p, sample_weight=table[y.astype(np.intp)], normalize=False) / p.size

    else:  # label smoothing, Keras 2.2's reduction: not expressible with scikit-learn
        return None
    return f


FACTORIES = {
    "torch": torch_factory,
    "jax": jax_factory,
    "numba": numba_factory,
    "sklearn": sklearn_factory,
}
