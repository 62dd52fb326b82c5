"""fastloss.oracle: the executable specification, in plain float64 NumPy.

Every function here has the signature and the meaning of the function of the same name in ``fastloss``, and
computes it the slow, obvious way. It is written to be read: when the compiled kernel and this module disagree,
this module says what the answer should have been (and the frameworks, via SEMANTICS.md, say what this module
should say). Nothing here is fast or clever; ``n_threads`` is accepted and ignored.

The recipe, the same for every loss
-----------------------------------
1. **Rows.** ``y_pred`` has shape ``(d0, ..., dk, K)``. Each of the ``R = d0·…·dk`` positions is a *row* of
   ``K`` values. binary_crossentropy and the elementwise losses (mean_squared_error, mean_absolute_error,
   mean_absolute_percentage_error, mean_squared_logarithmic_error, huber, log_cosh, poisson, hinge,
   squared_hinge) read a 1-D ``y_pred`` of shape ``(N,)`` as ``(N, 1)``; the two categorical losses and the
   row losses (kl_divergence, categorical_hinge, cosine_similarity) read it as one row of ``K`` values.
2. **Included rows.** ``mask`` (a leading prefix of the row shape, nonzero = include) and, for
   sparse_categorical_crossentropy, ``ignore_class`` decide which rows count. Excluded rows are *selected away*
   with boolean indexing before any arithmetic touches them, so NaN or inf in an excluded row changes nothing.
3. **Per-row loss** ``l_r`` from the row's ``K`` values (the formulas are in each function's docstring), in
   float64. Only the probability clip bounds and ``ε`` depend on the input dtype:
   ``lo = ε = dtype(1e-7)``, ``hi = dtype(1 - 1e-7)``, taken in the compute dtype and then used as float64.
4. **Effective weight** ``w_r = sample_weight[sample of r] · class_weight[label_r]`` (each factor 1 when absent).
5. **Reduction**, computed directly from the arrays of included rows (``Σ`` runs over included rows):

   ========================  =============================================================================
   ``"none"`` / ``None``     row-shaped array: ``w_r·l_r`` for included rows, 0 for excluded rows, in the
                             compute dtype
   ``"sum"``                 ``Σ w·l``
   ``"sum_over_batch_size"`` ``Σ w·l / (number of included rows)``; alias ``"mean"``
   ``"sum_over_all_rows"``   ``Σ w·l / R``
   ``"mean_with_sample_``    ``Σ w·l / Σ w``; alias ``"weighted_mean"``
   ``weight"``
   ``"sum_by_nonzero_``      ``Σ w·l / #{included rows with w ≠ 0}``
   ``weights"``
   ``"keras_legacy"``        Keras 2.2 ``weighted_masked_objective``, step by step (see ``_keras_legacy``)
   ``"totals"``              ``fastloss.Totals`` of the same sums and counts
   ========================  =============================================================================

   A zero denominator gives what ``zero_division`` says (``fastloss._reductions.divide`` owns that policy):
   ``"nan"``, ``"raise"`` (ValueError) or a number (default 0.0, Keras 3's ``divide_no_nan``).

Compute dtype: float32 ``y_pred`` stays float32, float64 stays float64, float16 becomes float32, bool and
integers become float64. Dense ``y_true`` is converted to the compute dtype first (so a float64 target meets a
float32 prediction exactly as the kernel sees it), then everything is done in float64.
"""

from __future__ import annotations

from . import core, catalog, metrics
from .core import *  # noqa: F401,F403
from .catalog import *  # noqa: F401,F403
from .metrics import *  # noqa: F401,F403

# The façades' oracles keep their framework's names in their own namespace: fastloss.oracle.torch.cross_entropy.
from . import sklearn, torch  # noqa: E402,F401

LOSSES = {**core.LOSSES, **catalog.LOSSES, **metrics.LOSSES}
METRICS = dict(metrics.METRICS)

# dict.fromkeys: catalog re-exports binary_crossentropy (it adds the multi-label options to core's).
__all__ = list(dict.fromkeys([*core.__all__, *catalog.__all__, *metrics.__all__, "sklearn", "torch"]))
