import itertools

import keras
import numpy as np
import pytest
from scipy.special import softmax

from sklearn_elmo.features import LayerFeatures
from sklearn_elmo.head import NetworkSpec, default_weights, input_statistics
from sklearn_elmo.head._inference import Network
from sklearn_elmo.head._keras import MaskedPooling, ScalarMix, build_network
from sklearn_elmo.head._spec import StandardizedFeatures
from sklearn_elmo.head._train import train_network


def _mean_features(means):
    n, n_layers, _ = means.shape
    return LayerFeatures(
        np.ones(n, np.int64), means.astype(np.float32), np.ones((n, n_layers))
    )


def _token_features(rng, lengths, n_layers=3, dim=4):
    lengths = np.asarray(lengths, np.int64)
    tokens = rng.normal(size=(lengths.sum(), n_layers, dim)).astype(np.float32)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    means = np.stack(
        [
            tokens[a:b].mean(axis=0) if b > a else np.zeros((n_layers, dim))
            for a, b in itertools.pairwise(offsets)
        ]
    ).astype(np.float32)
    return LayerFeatures(lengths, means, np.ones((len(lengths), n_layers)), tokens)


def _separable(seed=0, n=200, informative_layer=1):
    """Means where only one layer carries the label (dimension 0's sign)."""
    rng = np.random.RandomState(seed)
    y = rng.randint(0, 2, n)
    means = rng.normal(size=(n, 3, 8))
    means[:, informative_layer, 0] = (2 * y - 1) * (1.0 + rng.rand(n))
    return _mean_features(means), y.astype(np.float32).reshape(-1, 1)


def test_scalar_mix_formula_and_penalty():
    mix = ScalarMix(mix_l2=0.01)
    x = np.random.RandomState(0).normal(size=(5, 3, 7, 4)).astype(np.float32)
    mix(x)  # build
    mix.w.assign([0.5, -1.0, 2.0])
    mix.gamma.assign(1.5)
    expected = 1.5 * np.tensordot(x, softmax([0.5, -1.0, 2.0]), axes=([1], [0]))
    np.testing.assert_allclose(np.asarray(mix(x)), expected, rtol=1e-5)
    assert float(mix.losses[0]) == pytest.approx(0.01 * (0.25 + 1.0 + 4.0))


def test_scalar_mix_starts_as_plain_average():
    mix = ScalarMix()
    x = np.random.RandomState(1).normal(size=(2, 3, 4)).astype(np.float32)
    np.testing.assert_allclose(np.asarray(mix(x)), x.mean(axis=1), rtol=1e-5)
    assert mix.losses == []


def test_masked_pooling_ignores_padding():
    x = np.array(
        [[[1.0, -2.0], [3.0, 4.0], [1e6, 1e6]], [[-1e6, 5.0], [0.0, 0.0], [0.0, 0.0]]]
    )
    mask = np.array([[True, True, False], [False, False, False]])
    mean = np.asarray(MaskedPooling("mean")([x.astype("float32"), mask]))
    largest = np.asarray(MaskedPooling("max")([x.astype("float32"), mask]))
    both = np.asarray(MaskedPooling("mean_max")([x.astype("float32"), mask]))
    np.testing.assert_allclose(mean, [[2.0, 1.0], [0.0, 0.0]])
    np.testing.assert_allclose(largest, [[3.0, 4.0], [0.0, 0.0]])
    np.testing.assert_allclose(both, np.concatenate([mean, largest], axis=1))


def test_mean_inputs_only_for_mean_pooling():
    with pytest.raises(ValueError, match="Only mean pooling"):
        build_network(NetworkSpec(n_layers=3, dim=4, pooling="max", token_level=False))


def test_training_learns_the_informative_layer():
    features, y = _separable()
    spec = NetworkSpec(
        n_layers=3, dim=8, n_outputs=1, output="sigmoid", dropout=0.1, mix_l2=1e-3
    )
    weights, history, n_iter = train_network(
        spec,
        features,
        y,
        np.ones_like(y),
        train_index=np.arange(200),
        epochs=30,
        batch_size=16,
        learning_rate=0.05,
        seed=0,
        score=lambda t, z: np.mean((z > 0) == (t > 0.5)),
    )
    assert n_iter == 30 and len(history["loss"]) == 30
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["score"][-1] > 0.95
    s = softmax(weights["scalar_mix/w"])
    assert s.argmax() == 1 and s[1] > 0.5
    network = Network(spec, weights)
    assert np.mean((network.logits(features)[:, 0] > 0) == (y[:, 0] > 0.5)) > 0.95


def test_weights_round_trip_into_numpy_formula():
    features, y = _separable(seed=3, n=40)
    spec = NetworkSpec(
        n_layers=3,
        dim=8,
        hidden_layer_sizes=(5,),
        n_outputs=2,
        output="softmax",
        dropout=0.3,
    )
    weights, _, _ = train_network(
        spec,
        features,
        y[:, 0].astype(np.int32),
        np.ones((40, 1), np.float32),
        train_index=np.arange(40),
        epochs=3,
        batch_size=8,
        learning_rate=0.01,
        seed=1,
    )
    assert set(weights) == {
        "scalar_mix/w",
        "scalar_mix/gamma",
        "hidden_0/kernel",
        "hidden_0/bias",
        "output/kernel",
        "output/bias",
        "input/center",
        "input/scale",
    }
    assert all(isinstance(v, np.ndarray) for v in weights.values())
    np.testing.assert_allclose(
        weights["input/center"], features.means.mean(axis=0), rtol=1e-5
    )

    def mix(layers):
        s = softmax(weights["scalar_mix/w"])
        return weights["scalar_mix/gamma"] * np.tensordot(layers, s, axes=([1], [0]))

    mixed = mix(features.means)
    head_input = mix(
        (features.means - weights["input/center"]) / weights["input/scale"]
    )
    hidden = np.maximum(
        head_input @ weights["hidden_0/kernel"] + weights["hidden_0/bias"], 0
    )
    logits = hidden @ weights["output/kernel"] + weights["output/bias"]
    network = Network(spec, weights)
    np.testing.assert_allclose(network.logits(features), logits, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(network.encode(features), mixed, rtol=1e-5, atol=1e-6)


def test_token_level_max_pooling_encoder():
    rng = np.random.RandomState(0)
    features = _token_features(rng, [3, 1, 0, 5])
    spec = NetworkSpec(n_layers=3, dim=4, pooling="max", token_level=True)
    weights = default_weights(spec)
    weights["scalar_mix/w"] = np.array([1.0, 0.0, -1.0], np.float32)
    encoded = Network(spec, weights).encode(features)
    s = softmax([1.0, 0.0, -1.0])
    for i in range(4):
        a, b = features.offsets[i], features.offsets[i + 1]
        expected = (
            np.tensordot(features.tokens[a:b], s, axes=([1], [0])).max(axis=0)
            if b > a
            else np.zeros(4)
        )
        np.testing.assert_allclose(encoded[i], expected, rtol=1e-5, atol=1e-6)


def test_token_level_training_runs():
    rng = np.random.RandomState(0)
    features = _token_features(rng, rng.randint(0, 9, size=30))
    spec = NetworkSpec(
        n_layers=3,
        dim=4,
        pooling="mean_max",
        token_level=True,
        n_outputs=2,
        output="linear",
        dropout=0.2,
    )
    targets = rng.normal(size=(30, 2)).astype(np.float32)
    weights, history, _ = train_network(
        spec,
        features,
        targets,
        np.ones_like(targets),
        train_index=np.arange(30),
        epochs=2,
        batch_size=7,
        learning_rate=0.01,
        seed=0,
    )
    assert weights["output/kernel"].shape == (8, 2)
    assert np.isnan(history["score"]).all()  # no score function given
    assert Network(spec, weights).logits(features).shape == (30, 2)


def _fit(features, y, loss_weights, seed=0, **kwargs):
    spec = NetworkSpec(n_layers=3, dim=8, n_outputs=1, output="sigmoid", dropout=0.5)
    params = {
        "train_index": np.arange(len(y)),
        "epochs": 4,
        "batch_size": 16,
        "learning_rate": 0.01,
        "seed": seed,
    }
    params.update(kwargs)
    return train_network(spec, features, y, loss_weights, **params)


def test_reproducible_for_a_seed():
    features, y = _separable(n=64)
    first, history_a, _ = _fit(features, y, np.ones_like(y))
    second, history_b, _ = _fit(features, y, np.ones_like(y))
    other, _, _ = _fit(features, y, np.ones_like(y), seed=1)
    for key in first:
        np.testing.assert_array_equal(first[key], second[key])
    assert history_a["loss"] == history_b["loss"]
    assert not np.array_equal(first["output/kernel"], other["output/kernel"])


def test_zero_weight_samples_do_not_count():
    features, y = _separable(n=64)
    w = np.ones_like(y)
    w[::2] = 0.0
    flipped = y.copy()
    flipped[::2] = 1.0 - flipped[::2]
    base, _, _ = _fit(features, y, w)
    same, _, _ = _fit(features, flipped, w)
    changed, _, _ = _fit(features, flipped, np.ones_like(y))
    for key in base:
        np.testing.assert_array_equal(base[key], same[key])
    assert not np.allclose(base["output/kernel"], changed["output/kernel"])


def test_early_stopping_restores_the_best_epoch():
    rng = np.random.RandomState(0)
    features = _mean_features(rng.normal(size=(80, 3, 8)))
    y = rng.randint(0, 2, size=(80, 1)).astype(np.float32)  # noise: overfits fast
    train, val = np.arange(60), np.arange(60, 80)
    spec = NetworkSpec(
        n_layers=3,
        dim=8,
        hidden_layer_sizes=(32,),
        n_outputs=1,
        output="sigmoid",
        mix_l2=1e-3,
    )
    weights, history, n_iter = train_network(
        spec,
        features,
        y,
        np.ones_like(y),
        train_index=train,
        val_index=val,
        epochs=200,
        batch_size=8,
        learning_rate=0.05,
        n_iter_no_change=3,
        seed=0,
    )
    assert n_iter < 200 and len(history["val_loss"]) == n_iter
    best = int(np.argmin(history["val_loss"]))
    assert n_iter == best + 1 + 3
    logits = Network(spec, weights).logits(features)[val]
    bce = np.mean(
        np.maximum(logits, 0) - logits * y[val] + np.log1p(np.exp(-np.abs(logits)))
    )
    penalty = 1e-3 * np.sum(weights["scalar_mix/w"] ** 2)
    assert bce + penalty == pytest.approx(history["val_loss"][best], rel=1e-4)


def test_verbose_prints_epochs(capsys):
    features, y = _separable(n=32)
    _fit(
        features,
        y,
        np.ones_like(y),
        epochs=2,
        verbose=1,
        label="Net",
        val_index=np.arange(24, 32),
        train_index=np.arange(24),
    )
    out = capsys.readouterr().out
    assert "[Net] epoch 1/2: loss" in out and "val_loss" in out


def test_network_rejects_mismatched_weights():
    spec = NetworkSpec(n_layers=3, dim=4, n_outputs=1, output="sigmoid")
    with pytest.raises(ValueError, match="needs input/center"):
        Network(spec, default_weights(spec))
    weights = {
        **default_weights(spec),
        "input/center": np.zeros((3, 4), np.float32),
        "input/scale": np.float32(1.0),
    }
    with pytest.raises(ValueError, match="do not match"):
        Network(spec, weights)


def test_input_statistics_of_tokens_and_means():
    rng = np.random.RandomState(0)
    features = _token_features(rng, [3, 0, 5, 2])
    features.sq_means = np.stack(
        [
            np.square(features.tokens[a:b]).mean(axis=(0, 2)) if b > a else np.zeros(3)
            for a, b in zip(features.offsets[:-1], features.offsets[1:])
        ]
    )
    index = np.array([0, 1, 2])
    center, scale = input_statistics(features, index)
    tokens = features.tokens[: features.offsets[3]].astype(np.float64)
    np.testing.assert_allclose(center, tokens.mean(axis=0), rtol=1e-5)
    spread = np.sqrt(np.mean(np.square(tokens - tokens.mean(axis=0))))
    assert scale == pytest.approx(spread, rel=1e-5)
    batch = StandardizedFeatures(features, center, scale).batch([2])
    raw = features.batch([2])
    np.testing.assert_allclose(
        batch["layers"], (raw["layers"] - center[:, None, :]) / scale, rtol=1e-5
    )
    means_only = _mean_features(features.means)
    center, scale = input_statistics(means_only, index)
    np.testing.assert_allclose(center, features.means[index].mean(axis=0), rtol=1e-5)


def test_backend_is_tensorflow():
    assert keras.backend.backend() == "tensorflow"


@pytest.mark.parametrize("per_call", [1, 3, 100])
def test_epochs_in_few_calls_equal_epochs_one_by_one(monkeypatch, capsys, per_call):
    """Without validation or printing, epochs run several per call: same fit."""
    import sklearn_elmo.head._train as network

    features, y = _separable(n=50)  # a partial last batch every epoch
    kwargs = {"epochs": 7, "score": lambda t, logits: float(np.mean((logits > 0) == t))}
    fused, fused_history, n_fused = _fit(features, y, np.ones_like(y), **kwargs)
    # Room for `per_call` epochs of logits per call (1 and 3: several calls).
    monkeypatch.setattr(network, "_FUSED_LOGITS", 50 * per_call)
    chunked, chunked_history, _ = _fit(features, y, np.ones_like(y), **kwargs)
    # verbose=1 takes the epoch-by-epoch path (it prints after each epoch).
    single, single_history, n_single = _fit(
        features, y, np.ones_like(y), verbose=1, **kwargs
    )
    assert capsys.readouterr().out.count("epoch") == 7
    assert n_fused == n_single == 7
    for weights, history in ((fused, fused_history), (chunked, chunked_history)):
        for key in single:
            np.testing.assert_allclose(weights[key], single[key], rtol=1e-6, atol=1e-7)
        np.testing.assert_allclose(history["loss"], single_history["loss"], rtol=1e-6)
        assert history["score"] == single_history["score"]
