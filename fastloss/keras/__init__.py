"""fastloss.keras: Keras 3's loss and metric API (names, signatures, defaults, numbers), computed by fastloss.

``fastloss.keras.losses`` mirrors ``keras.losses`` of Keras 3.15.1: the loss classes (``reduction=
"sum_over_batch_size"``, Keras's default names, ``dtype=None``, ``get_config``/``from_config``), the functions
returning per-sample values, the aliases (``mse``, ``mae``, ``mape``, ``msle``, ``bce``, ``kld``) and ``get``.
``fastloss.keras.metrics`` mirrors the metric functions of ``keras.metrics``. Nothing here imports Keras.

Calling a loss: ``loss(y_true, y_pred, sample_weight=None, mask=None, *, class_weight=None, n_threads=None)``.
``mask`` is what Keras reads from ``y_pred._keras_mask`` (True = the position counts); with the default
reduction the loss is then divided by the number of valid positions, as in Keras. Reductions are Keras's:
``"sum_over_batch_size"`` (= ``"mean"``), ``"sum"``, ``"mean_with_sample_weight"``, ``None``/``"none"``.
``dtype``: inputs are cast to the compute dtype first (None = Keras's floatx, float32; ``"float64"`` where the
precision matters), so clipping happens at that dtype's ``1 - 1e-7`` exactly as in Keras; sums run in double.

Class weights: Keras 3 applies ``class_weight`` only inside ``Model.fit``, turning it into per-sample weights
(``class_weight_to_sample_weight`` here does exactly that: argmax of one-hot rows, rounded values otherwise,
**classes missing from the dict weigh 1**, unlike the core ``fastloss`` functions, which raise). A loss call
also takes ``class_weight=`` (a fastloss extension), which weighs each *row* by its own class with the same
missing-is-1 rule, and, as Keras, refuses it together with ``sample_weight``.

Deliberate differences from Keras 3.15.1 (each pinned by a test in tests/test_keras_facade.py or
tests/conformance/test_keras_facade.py):

===============================================  ================================================================
fastloss.keras                                   Keras 3.15.1
===============================================  ================================================================
A masked position is skipped: NaN or inf there   The loss is multiplied by the mask, so NaN·0 = NaN spreads to
does not reach the result.                       the reduced loss.
sample_weight / mask of shape (N,) on per-       (N,) broadcasts against the *last* axis of the (N, T) losses: an
timestep losses (N, T) weigh every timestep of   error when T != N, silently weights the time axis when T == N.
sample i (any leading prefix of the row shape).
"mean_with_sample_weight" divides by the         "mean_with_sample_weight" divides by the weight array as given:
weights broadcast to the rows: (N, 1) weights    (N, 1) on (N, T) losses gives T x the weighted mean, a scalar
on (N, T) losses give the weighted mean, a       weight c gives Σ l (not the mean).
scalar weight the plain mean.
from_logits binary crossentropy uses an exact    The numpy backend takes sigmoid(z) in float32 and clips it: the
log-sigmoid.                                     loss saturates at 16.118 for |z| >~ 16 (jax/torch are exact).
Hinge / SquaredHinge: the {0, 1} -> {-1, 1}      The rule looks at every target, masked ones included.
rule reads the included (unmasked) rows only.
Probabilities outside [0, 1] raise ValueError    They are clipped silently (or give NaN); Dice/Tversky compute
(crossentropies, focal losses, generalized CE),  with any values.
and so do negative predictions and targets
outside [0, 1] in Dice/Tversky.
Non-integral or out-of-range labels raise        Labels are truncated, index nothing, or count as a miss.
(sparse crossentropy, generalized CE, sparse
accuracies).
Dice/Tversky with axis=None: masked positions    The mask cannot change the already-summed batch value; it only
are left out of the batch sums; the value is     scales it (as it does for every reduction).
then reduced with the mask as Keras reduces it.
cosine_similarity of 1-D inputs is a scalar      The numpy backend returns shape (1,) (np.atleast_1d in its
(as on Keras's other backends).                  normalize) and reads axis=0 as axis=-1.
get_config() also reports Huber's ``delta``,     These are dropped from the config, so from_config() loses them
CosineSimilarity's and SparseCategorical-        (and the dtype).
Crossentropy's ``axis``, and ``dtype`` when
given: from_config(get_config()) round-trips.
label_smoothing with a class axis other than     3.15.1 divides by the size of the *last* axis (fixed later).
the last: smoothing is label_smoothing / (size
of the class axis).
An empty batch of shape (0,) reduces to 0.0.     Reductions return the empty array unreduced.
A reduced loss is a NumPy scalar of the compute  A backend tensor; on the numpy/jax/torch backends dividing
dtype (float64 with dtype="float64").            reductions return float32 even with dtype="float64".
dtype: None, "float32" or "float64" (or a        float16, bfloat16 and mixed policies compute in half precision;
policy with one of these compute dtypes).        dtype=None reads floatx from ~/.keras/keras.json.
Functions apply Keras's rank fix ((N,) against   The crossentropy functions raise for (N,) against (N, 1); hinge,
(N, 1)) for every loss, as the classes do.       poisson, kl_divergence... broadcast them to (N, N).
class_weight= on a loss call weighs each row by  Model.fit weighs each sample: sparse (N, T) labels are argmax'ed
its class (per timestep / pixel).                over T, one-hot (N, T, K) targets fail.
===============================================  ================================================================

Not provided: ``CTC``, ``Circle``, the stateful metric classes and ``pearson_correlation`` /
``concordance_correlation`` (fastloss has no kernel for them).
"""

from . import losses, metrics

__all__ = ["losses", "metrics"]
