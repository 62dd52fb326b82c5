"""fastloss: exact, fused, multi-threaded loss evaluation for every Keras, PyTorch and scikit-learn convention.

One pass over memory computes the totals S = Σw·l, W = Σw, V, Z, R, E, E0 of a weighted, masked loss; every
convention (Keras 3's sum_over_batch_size, scikit-learn's weighted mean, Keras 2.2's legacy objective, ...)
is an O(1) formula over them. See README.md and ``fastloss explain``.
"""

from . import _kernels  # noqa: F401  (fails here, clearly, if the compiled module is missing)
from . import losses, metrics, oracle, overlap
from ._config import config, show_config
from ._reductions import CONVENTIONS, REDUCTIONS, Totals
from ._version import __version__
from .class_weight import compute_class_weight
from .losses import *  # noqa: F401,F403  (every public loss, and LOSSES)
from .metrics import *  # noqa: F401,F403  (every public metric, and METRICS)
from .overlap import *  # noqa: F401,F403  (Dice, Tversky)
from .gradients import value_and_grad
from .multi_output import total_loss
from .streaming import Accumulator

__all__ = [
    "Accumulator",
    "CONVENTIONS",
    "REDUCTIONS",
    "Totals",
    "__version__",
    "compute_class_weight",
    "config",
    "oracle",
    "show_config",
    "total_loss",
    "value_and_grad",
    *losses.__all__,
    *metrics.__all__,
    *overlap.__all__,
]
