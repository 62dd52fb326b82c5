"""fastloss: exact, fused, multi-threaded loss evaluation for every Keras, PyTorch and scikit-learn convention.

One pass over memory computes the totals S = Σw·l, W = Σw, V, Z, R, E, E0 of a weighted, masked loss; every
convention (Keras 3's sum_over_batch_size, scikit-learn's weighted mean, Keras 2.2's legacy objective, ...)
is an O(1) formula over them. See README.md and ``fastloss explain``.
"""

from . import _kernels  # noqa: F401  (fails here, clearly, if the compiled module is missing)
from . import oracle
from ._config import config, show_config
from ._reductions import CONVENTIONS, REDUCTIONS, Totals
from ._version import __version__
from .class_weight import compute_class_weight
from .losses import (
    LOSSES,
    binary_crossentropy,
    categorical_crossentropy,
    categorical_hinge,
    cosine_similarity,
    hinge,
    huber,
    kl_divergence,
    log_cosh,
    mean_absolute_error,
    mean_absolute_percentage_error,
    mean_squared_error,
    mean_squared_logarithmic_error,
    poisson,
    sparse_categorical_crossentropy,
    squared_hinge,
)
from .streaming import Accumulator

__all__ = [
    "Accumulator",
    "CONVENTIONS",
    "LOSSES",
    "REDUCTIONS",
    "Totals",
    "__version__",
    "binary_crossentropy",
    "categorical_crossentropy",
    "categorical_hinge",
    "compute_class_weight",
    "config",
    "cosine_similarity",
    "hinge",
    "huber",
    "kl_divergence",
    "log_cosh",
    "mean_absolute_error",
    "mean_absolute_percentage_error",
    "mean_squared_error",
    "mean_squared_logarithmic_error",
    "poisson",
    "squared_hinge",
    "oracle",
    "show_config",
    "sparse_categorical_crossentropy",
]
