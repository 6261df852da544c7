"""The NumPy trainer of per-text features equals a plain Keras training loop."""

import threading

import keras
import numpy as np
import pytest
import tensorflow as tf

from sklearn_elmo.features import LayerFeatures
from sklearn_elmo.head import NetworkSpec
from sklearn_elmo.head._inference import Network
from sklearn_elmo.head._keras import (
    build_network,
    entry_losses,
    initial_weights,
    variables_dict,
)
from sklearn_elmo.head._pooled_training import PooledFit, pooled_fit, pooled_logits

N, BATCH = 50, 16  # the last batch of each epoch has 2 rows

SPECS = {
    "softmax": NetworkSpec(
        n_layers=3,
        dim=6,
        hidden_layer_sizes=(4,),
        n_outputs=3,
        output="softmax",
        mix_l2=1e-2,
    ),
    "sigmoid": NetworkSpec(
        n_layers=3, dim=6, n_outputs=2, output="sigmoid", mix_l2=1e-2
    ),
    "linear": NetworkSpec(n_layers=2, dim=5, n_outputs=1, output="linear"),
    "dropout": NetworkSpec(
        n_layers=3,
        dim=6,
        hidden_layer_sizes=(5, 4),
        n_outputs=1,
        output="sigmoid",
        dropout=0.5,
    ),
}


def _data(spec, seed=0):
    rng = np.random.default_rng(seed)
    layers = rng.normal(size=(N, spec.n_layers, spec.dim)).astype(np.float32)
    if spec.output == "softmax":
        y = rng.integers(0, spec.n_outputs, N).astype(np.int32)
        w = rng.uniform(0.5, 2.0, (N, 1)).astype(np.float32)
    else:
        y = rng.integers(0, 2, (N, spec.n_outputs)).astype(np.float32)
        w = rng.uniform(0.5, 2.0, (N, spec.n_outputs)).astype(np.float32)
    orders = [rng.permutation(N) for _ in range(3)]
    return layers, y, w, orders


def _fresh(spec, seed, learning_rate):
    model, _ = build_network(spec, seed=seed)
    optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
    optimizer.build(model.trainable_variables)
    return model, optimizer


def _reference(spec, seed, learning_rate, layers, y, w, orders):
    """Eager Keras: one step per batch, mean loss over the batch."""
    model, optimizer = _fresh(spec, seed, learning_rate)
    totals, all_logits = [], []
    for order in orders:
        total, logits_epoch = 0.0, []
        for start in range(0, N, BATCH):
            index = order[start : start + BATCH]
            with tf.GradientTape() as tape:
                logits = model({"layers": layers[index]}, training=True)
                loss = tf.reduce_mean(
                    w[index] * entry_losses(spec.output, y[index], logits)
                )
                if model.losses:
                    loss += tf.add_n(model.losses)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables))
            total += float(loss) * len(index)
            logits_epoch.append(logits.numpy())
        totals.append(total)
        all_logits.append(np.concatenate(logits_epoch))
    return variables_dict(model), totals, all_logits


def _new_fit(spec, layers, y, w, initial):
    return PooledFit(
        spec,
        BATCH,
        layers=layers,
        targets=y,
        loss_weights=w,
        initial=initial,
        learning_rate=1e-3,
    )


def _fit(spec, seed, learning_rate, layers, y, w):
    return pooled_fit(
        spec,
        BATCH,
        layers=layers,
        targets=y,
        loss_weights=w,
        initial=initial_weights(spec, seed),
        learning_rate=learning_rate,
    )


def _trained(spec, seed, learning_rate, layers, y, w, orders):
    totals, all_logits = [], []
    with _fit(spec, seed, learning_rate, layers, y, w) as fit:
        for order in orders:
            total, logits = fit.run_epoch(order)
            totals.append(total)
            all_logits.append(logits)
        weights = fit.weights()
    return weights, totals, all_logits


def _assert_same(got, expected):
    weights, totals, logits = got
    ref_weights, ref_totals, ref_logits = expected
    assert weights.keys() == ref_weights.keys()
    for name in weights:
        np.testing.assert_allclose(
            weights[name], ref_weights[name], rtol=1e-4, atol=1e-5
        )
    np.testing.assert_allclose(totals, ref_totals, rtol=1e-4)
    for a, b in zip(logits, ref_logits, strict=True):
        assert a.shape == (N, b.shape[1])
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("output", sorted(SPECS))
def test_equals_plain_keras_training_with_a_partial_last_batch(output):
    spec = SPECS[output]
    data = _data(spec)
    # Two fits in a row, with different learning rates and seeds.
    for seed, learning_rate in [(0, 1e-2), (1, 3e-3)]:
        _assert_same(
            _trained(spec, seed, learning_rate, *data),
            _reference(spec, seed, learning_rate, *data),
        )


def test_concurrent_fits_of_one_shape_give_their_own_results():
    spec = SPECS["softmax"]
    data = _data(spec, seed=3)
    expected = {lr: _trained(spec, 0, lr, *data) for lr in (1e-2, 1e-3)}
    results, errors = {}, []

    def fit(lr):
        try:
            results[lr] = _trained(spec, 0, lr, *data)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=fit, args=(lr,)) for lr in expected]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    for lr, result in results.items():
        _assert_same(result, expected[lr])


def test_dropout_is_seeded_by_the_fit():
    spec = NetworkSpec(n_layers=3, dim=6, n_outputs=1, output="sigmoid", dropout=0.5)
    data = _data(spec, seed=4)
    first = _trained(spec, 7, 1e-2, *data)[0]
    again = _trained(spec, 7, 1e-2, *data)[0]
    other = _trained(spec, 8, 1e-2, *data)[0]
    for name in first:
        np.testing.assert_array_equal(first[name], again[name])
    assert any(not np.allclose(first[n], other[n]) for n in first)


def test_refuses_token_level_specs():
    spec = NetworkSpec(
        n_layers=3,
        dim=6,
        pooling="max",
        token_level=True,
        n_outputs=1,
        output="sigmoid",
    )
    layers, y, w, _ = _data(SPECS["sigmoid"])
    with pytest.raises(ValueError, match="per-text features"):
        _new_fit(spec, layers, y, w, initial_weights(SPECS["sigmoid"], 0))


@pytest.mark.parametrize("output", sorted(SPECS))
@pytest.mark.parametrize("seed", [0, 12345])
def test_initial_weights_are_those_of_a_built_network(output, seed):
    spec = SPECS[output]
    model, _ = build_network(spec, seed=seed)
    weights, dropout_state = initial_weights(spec, seed)
    expected = variables_dict(model)
    assert weights.keys() == expected.keys()
    for name, value in expected.items():
        assert weights[name].dtype == value.dtype
        np.testing.assert_array_equal(weights[name], value)
    states = [v.numpy() for v in model.non_trainable_variables]
    if spec.dropout > 0:
        assert len(states) == 1
        np.testing.assert_array_equal(dropout_state, states[0])
        assert dropout_state.dtype == states[0].dtype
    else:
        assert dropout_state is None and not states


def test_evaluate_and_penalty_equal_the_trained_keras_model():
    spec = SPECS["dropout"]
    layers, y, w, orders = _data(spec, seed=5)
    spec = NetworkSpec(**{**spec.as_dict(), "mix_l2": 1e-2})
    model, _ = build_network(spec, seed=3)
    with _fit(spec, 3, 1e-2, layers, y, w) as fit:
        fit.run_epoch(orders[0])
        for name, value in fit.weights().items():
            {v.path: v for v in model.trainable_variables}[name].assign(value)
        index = np.array([4, 0, 17, 49])
        loss_sum, logits = fit.evaluate(index)
        penalty = fit.penalty()
    expected = model({"layers": layers[index]}, training=False).numpy()
    np.testing.assert_allclose(logits, expected, rtol=1e-5, atol=1e-6)
    expected_sum = float(
        tf.reduce_sum(w[index] * entry_losses("sigmoid", y[index], expected))
    )
    np.testing.assert_allclose(loss_sum, expected_sum, rtol=1e-5)
    np.testing.assert_allclose(penalty, float(tf.add_n(model.losses)), rtol=1e-6)
    assert penalty > 0


def test_refuses_initial_weights_of_another_shape():
    spec, other = SPECS["sigmoid"], SPECS["linear"]
    layers, y, w, _ = _data(spec)
    with pytest.raises(ValueError, match="do not match"):
        _new_fit(spec, layers, y, w, initial_weights(other, 0))


def test_refuses_a_dropout_state_without_dropout():
    spec = SPECS["sigmoid"]
    layers, y, w, _ = _data(spec)
    weights, _ = initial_weights(spec, 0)
    with pytest.raises(ValueError, match="dropout state"):
        _new_fit(spec, layers, y, w, (weights, np.array([1, 0])))


def test_epochs_in_one_call_equal_epochs_one_by_one():
    spec = SPECS["dropout"]
    layers, y, w, orders = _data(spec)
    with _fit(spec, 0, 1e-2, layers, y, w) as fit:
        totals, logits = fit.run_epochs(orders)
        fused = fit.weights()
    one_by_one = _trained(spec, 0, 1e-2, layers, y, w, orders)
    assert logits.shape == (len(orders), N, 1)
    _assert_same((fused, totals, list(logits)), one_by_one)


@pytest.mark.parametrize("output", sorted(SPECS))
def test_numpy_inference_equals_the_keras_model(output):
    spec = SPECS[output]
    layers, y, w, orders = _data(spec, seed=6)
    with _fit(spec, 2, 1e-2, layers, y, w) as fit:
        fit.run_epoch(orders[0])
        weights = fit.weights()
    model, _ = build_network(spec, seed=2)
    for name, value in weights.items():
        {v.path: v for v in model.trainable_variables}[name].assign(value)
    expected = model({"layers": layers}, training=False).numpy()
    got = pooled_logits(spec, weights, layers)
    assert got.shape == expected.shape and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_a_fitted_network_on_means_predicts_as_its_keras_model():
    spec = SPECS["softmax"]
    layers, y, w, orders = _data(spec, seed=7)
    with _fit(spec, 0, 1e-2, layers, y, w) as fit:
        fit.run_epoch(orders[0])
        weights = fit.weights()
    center = layers.mean(axis=0)
    scale = np.float32(2.0)
    network = Network(spec, {**weights, "input/center": center, "input/scale": scale})
    model, _ = build_network(spec, seed=0)
    for name, value in weights.items():
        {v.path: v for v in model.trainable_variables}[name].assign(value)
    standardized = ((layers - center) / scale).astype(np.float32)
    expected = model({"layers": standardized}, training=False).numpy()
    np.testing.assert_allclose(
        network.logits(LayerFeatures(np.ones(N, np.int64), layers, None)),
        expected,
        rtol=1e-5,
        atol=1e-6,
    )
