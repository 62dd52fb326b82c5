"""fastloss.multi_output.total_loss (and its oracle) against a real two-output Keras 3 model.

A tiny functional model with outputs ``a`` (linear, 3 units) and ``b`` (sigmoid, 2 units) is compiled with per-output
losses and ``loss_weights``, then evaluated in one batch (``model.evaluate``) and through
``model.compute_loss``; its reported ``loss`` must equal ``total_loss`` on the model's own predictions, and its
``a_loss`` / ``b_loss`` logs the unweighted per-output values. The model has no regularisers (Keras would add
``model.losses`` unscaled on top). Keras computes in float32: ``rtol=2e-6``.
"""

import os

import numpy as np
import pytest

assert os.environ.get("KERAS_BACKEND") == "numpy", "tests/conformance/conftest.py sets KERAS_BACKEND first"

keras = pytest.importorskip("keras")

from fastloss import oracle  # noqa: E402
from fastloss.multi_output import total_loss  # noqa: E402

RTOL = 2e-6
N = 16


@pytest.fixture(scope="module")
def model_and_data():
    rng = np.random.default_rng(0)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    a = keras.layers.Dense(3, name="a")(inputs)
    b = keras.layers.Dense(2, activation="sigmoid", name="b")(inputs)
    model = keras.Model(inputs, {"a": a, "b": b})
    x = rng.normal(size=(N, 4)).astype("float32")
    y = {"a": rng.normal(size=(N, 3)), "b": rng.integers(0, 2, (N, 2)).astype("float64")}
    predictions = {k: np.asarray(v, dtype=np.float64) for k, v in model.predict(x, verbose=0).items()}
    return model, x, y, predictions


CONFIGS = [
    ({"a": "mse", "b": "binary_crossentropy"}, {"a": 0.3, "b": 2.0}, ("mean_squared_error", "binary_crossentropy")),
    ({"a": "mae", "b": "binary_crossentropy"}, None, ("mean_absolute_error", "binary_crossentropy")),
    ({"a": "huber", "b": "mse"}, {"a": 1.0, "b": 0.0}, ("huber", "mean_squared_error")),
]


@pytest.mark.parametrize("keras_losses, loss_weights, names", CONFIGS)
@pytest.mark.parametrize("weights", ["none", "per_output", "shared"])
def test_evaluate_reports_the_weighted_total(model_and_data, keras_losses, loss_weights, names, weights):
    model, x, y, predictions = model_and_data
    rng = np.random.default_rng(1)
    sw = {"none": None,
          "per_output": {"a": rng.random(N), "b": np.where(rng.random(N) < 0.3, 0.0, rng.random(N))},
          "shared": rng.random(N)}[weights]
    model.compile(loss=keras_losses, loss_weights=loss_weights)
    logs = model.evaluate(x, y, sample_weight=sw, batch_size=N, verbose=0, return_dict=True)
    outputs = {"a": (names[0], y["a"], predictions["a"]), "b": (names[1], y["b"], predictions["b"])}
    total, per_output = total_loss(outputs, loss_weights, sample_weight=sw, per_output=True)
    assert total == pytest.approx(logs["loss"], rel=RTOL)
    assert per_output["a"] == pytest.approx(logs["a_loss"], rel=RTOL)
    assert per_output["b"] == pytest.approx(logs["b_loss"], rel=RTOL)
    assert oracle.total_loss(outputs, loss_weights, sample_weight=sw) == pytest.approx(logs["loss"], rel=RTOL)

    keras_total = model.compute_loss(x=x, y=y, y_pred=model(x), sample_weight=sw)
    assert total == pytest.approx(float(keras_total), rel=RTOL)
