"""Fused value and gradient: fastloss.gradients.value_and_grad against torch forward+backward and jax.value_and_grad.

    pytest benchmarks/bench_gradients.py --benchmark-only                        # 1e5 elements
    FASTLOSS_BENCH_LARGE=1 pytest benchmarks/bench_gradients.py --benchmark-only  # adds 1e7 elements

One pytest-benchmark group per workload, float32, the Keras default reduction (the mean over rows):

- ``fastloss-1thread`` / ``fastloss-default``: ``value_and_grad`` (value, gradient array of y_pred's shape);
- ``fastloss-out``: the same at the default thread count, writing the gradient into one array passed as ``out=``
  and reused by every call (no allocation, no first-touch page faults of a fresh array);
- ``torch``: the ``torch.nn.functional`` loss, ``.backward()``, the leaf's ``.grad`` (reset each call), with
  ``torch.set_num_threads`` set to fastloss's default thread count; tensors made outside the timed region;
- ``jax``: ``jax.jit(jax.value_and_grad(loss))``, compiled by a warm-up call outside the timed region, each call
  ending with ``.block_until_ready()``.

Outside the timed region every contestant's value and gradient are checked against fastloss's (float32: the
gradient to 1e-4 of its largest entry). Nothing here asserts a time.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

import fastloss
from fastloss.gradients import value_and_grad

SIZES = [100_000]
if os.environ.get("FASTLOSS_BENCH_LARGE", "") not in ("", "0"):
    SIZES.append(10_000_000)
ROUNDS = 3 if os.environ.get("FASTLOSS_BENCH_QUICK", "") not in ("", "0") else 10


def _threads() -> int:
    try:
        return int(fastloss.config()["threads"])
    except Exception:
        return len(os.sched_getaffinity(0))


THREADS = _threads()


def _bce_logits(n, rng):
    y = rng.integers(0, 2, size=(n // 8, 8)).astype(np.float32)
    z = rng.normal(0.0, 3.0, size=(n // 8, 8)).astype(np.float32)
    return "binary_crossentropy", y, z, {"from_logits": True}


def _cce_logits(n, rng):
    k = 10
    y = np.eye(k, dtype=np.float32)[rng.integers(0, k, size=n // k)]
    z = rng.normal(0.0, 2.0, size=(n // k, k)).astype(np.float32)
    return "categorical_crossentropy", y, z, {"from_logits": True}


def _mse(n, rng):
    y = rng.normal(size=n).astype(np.float32)
    p = rng.normal(size=n).astype(np.float32)
    return "mean_squared_error", y, p, {}


WORKLOADS = {"bce_logits (B,8)": _bce_logits, "cce_logits (B,10)": _cce_logits, "mse (N,)": _mse}
CONTESTANTS = ["fastloss-1thread", "fastloss-default", "fastloss-out", "torch", "jax"]


@pytest.fixture(scope="module", params=[(w, n) for w in WORKLOADS for n in SIZES],
                ids=lambda p: f"{p[0].split()[0]}-n{p[1]:_}")
def case(request):
    workload, n = request.param
    loss, y, p, options = WORKLOADS[workload](n, np.random.default_rng(7))
    expected = value_and_grad(loss, y, p, **options)
    return workload, n, loss, y, p, options, expected


def _torch_call(loss, y, p):
    import torch
    import torch.nn.functional as F

    torch.set_num_threads(THREADS)
    y_t = torch.from_numpy(y)
    p_t = torch.from_numpy(p.copy()).requires_grad_(True)
    if loss == "binary_crossentropy":
        def forward():
            return F.binary_cross_entropy_with_logits(p_t, y_t)
    elif loss == "categorical_crossentropy":
        def forward():
            return F.cross_entropy(p_t, y_t)
    else:
        def forward():
            return F.mse_loss(p_t, y_t)

    def run():
        p_t.grad = None
        value = forward()
        value.backward()
        return value, p_t.grad

    return run


def _jax_call(loss, y, p):
    import jax
    import jax.numpy as jnp

    y_j, p_j = jnp.asarray(y), jnp.asarray(p)
    if loss == "binary_crossentropy":
        def f(z):
            return jnp.mean(jnp.maximum(z, 0) - z * y_j + jnp.log1p(jnp.exp(-jnp.abs(z))))
    elif loss == "categorical_crossentropy":
        def f(z):
            return jnp.mean(-jnp.sum(y_j * jax.nn.log_softmax(z, axis=-1), axis=-1))
    else:
        def f(z):
            return jnp.mean((z - y_j) ** 2)
    fn = jax.jit(jax.value_and_grad(f))
    jax.block_until_ready(fn(p_j))  # compile outside the timed region

    def run():
        return jax.block_until_ready(fn(p_j))

    return run


def report_fields(workload, n, y, p):
    """The fields benchmarks/report.py groups rows by (the loss benchmarks record the same ones)."""
    return dict(label=f"value_and_grad, {workload}", dtype="float32", size=f"n={n:_}", shape=str(p.shape),
                bytes_read=int(y.nbytes + p.nbytes))


@pytest.mark.parametrize("contestant", CONTESTANTS)
def test_value_and_grad(benchmark, case, contestant, warmup_rounds):
    workload, n, loss, y, p, options, (expected_value, expected_grad) = case
    if contestant.startswith("fastloss-"):
        kwargs = dict(options, n_threads=1 if contestant == "fastloss-1thread" else None)
        if contestant == "fastloss-out":
            kwargs["out"] = np.empty_like(expected_grad)

        def run():
            return value_and_grad(loss, y, p, **kwargs)
    elif contestant == "torch":
        pytest.importorskip("torch")
        run = _torch_call(loss, y, p)
    else:
        pytest.importorskip("jax")
        run = _jax_call(loss, y, p)

    benchmark.group = f"value_and_grad {workload} float32 n={n:_}"
    benchmark.name = contestant
    benchmark.extra_info.update(contestant=contestant, workload=workload, n=n,
                                threads=1 if contestant == "fastloss-1thread" else THREADS,
                                **report_fields(workload, n, y, p))
    value, grad = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=warmup_rounds(run))

    value = float(value.detach() if hasattr(value, "detach") else value)
    grad = np.asarray(grad.detach().numpy() if hasattr(grad, "detach") else grad)
    np.testing.assert_allclose(value, expected_value, rtol=1e-4, err_msg=contestant)
    np.testing.assert_allclose(grad.reshape(expected_grad.shape), expected_grad, rtol=0,
                               atol=1e-4 * float(np.max(np.abs(expected_grad))), err_msg=contestant)
