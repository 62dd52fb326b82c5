"""Case builders shared by tests/test_torch_facade.py (against the oracle) and tests/conformance/test_torch_facade.py
(against torch): each returns ``build(rng, dtype) -> (function name, args, kwargs)`` for a fastloss.torch call."""

import numpy as np


def kl_div_case(shape, log_target):
    """Log-probabilities against probabilities (or their logs), with some target entries 0 (they contribute 0)."""
    def build(rng, dtype):
        x = np.log(rng.dirichlet(np.ones(shape[-1]), shape[:-1])).astype(dtype)
        t = rng.dirichlet(np.ones(shape[-1]), shape[:-1])
        t.reshape(-1)[rng.random(t.size) < 0.1] = 0.0
        if log_target:
            t = np.log(t + 1e-3)
        return "kl_div", (x, t.astype(dtype)), dict(log_target=log_target)
    return build


def poisson_case(shape, log_input, full):
    def build(rng, dtype):
        x = rng.normal(0.0, 1.0, shape) if log_input else rng.uniform(0.0, 4.0, shape)
        t = rng.poisson(2.0, shape).astype(np.float64)
        return "poisson_nll_loss", (x.astype(dtype), t.astype(dtype)), dict(log_input=log_input, full=full)
    return build


def signed_case(name, shape, **extra):
    """Targets ±1 and some 0.5 (not a valid sign: torch's formulas still define the loss)."""
    def build(rng, dtype):
        x = rng.normal(0.0, 3.0, shape)
        y = rng.choice([-1.0, 1.0, 0.5], shape, p=[0.45, 0.45, 0.1])
        return name, (x.astype(dtype), y.astype(dtype)), dict(extra)
    return build
