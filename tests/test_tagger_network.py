"""The per-token network: seeded starting values, the graph-loop epoch, padding."""

import itertools

import keras
import numpy as np
import tensorflow as tf

from sklearn_elmo.features import LayerFeatures
from sklearn_elmo.head import input_statistics
from sklearn_elmo.head._spec import StandardizedFeatures
from sklearn_elmo.head._tagger_model import (
    TaggerSpec,
    build_tagger_network,
    initial_weights,
)
from sklearn_elmo.head._tagger_network import TaggerNetwork, epoch_batches, train_tagger
from sklearn_elmo.head._tagger_template import _batch_targets, tagger_template

SPEC = TaggerSpec(n_layers=3, dim=8, n_classes=3, dropout=0.0, mix_l2=1e-3)


def make_features(lengths, seed=0, dtype=np.float16):
    rng = np.random.RandomState(seed)
    lengths = np.asarray(lengths, np.int64)
    tokens = rng.normal(1.0, 2.0, (lengths.sum(), 3, 8)).astype(dtype)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    parts = [tokens[a:b].astype(np.float64) for a, b in itertools.pairwise(offsets)]
    means = np.stack([p.mean(0) if len(p) else np.zeros((3, 8)) for p in parts])
    squares = np.stack([(p**2).mean((0, 2)) if len(p) else np.zeros(3) for p in parts])
    features = LayerFeatures(lengths, means.astype(np.float32), squares, tokens)
    tags = rng.randint(0, 3, lengths.sum()).astype(np.int32)
    return features, tags


def test_initial_weights_are_seeded_and_follow_keras_defaults():
    spec = TaggerSpec(n_layers=3, dim=8, n_classes=2, hidden="bilstm", hidden_size=4)
    model = build_tagger_network(spec)
    # Saved weights are keyed by path: building more models changes no path.
    again = build_tagger_network(spec)
    paths = [v.path for v in model.trainable_variables]
    assert [v.path for v in again.trainable_variables] == paths
    a, states_a = initial_weights(model, 1)
    b, _ = initial_weights(model, 1)
    c, _ = initial_weights(model, 2)
    assert set(a) == {v.path for v in model.trainable_variables}
    for path in a:
        np.testing.assert_array_equal(a[path], b[path])
    assert not np.array_equal(a["output/kernel"], c["output/kernel"])
    np.testing.assert_array_equal(a["scalar_mix/w"], 0.0)
    assert a["scalar_mix/gamma"] == 1.0
    bias = a["bilstm/forward_lstm/lstm_cell/bias"]
    np.testing.assert_array_equal(bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    recurrent = a["bilstm/backward_lstm/lstm_cell/recurrent_kernel"]  # (4, 16)
    np.testing.assert_allclose(recurrent @ recurrent.T, np.eye(4), atol=1e-5)
    assert len(states_a) == len(model.non_trainable_variables)


def test_epoch_batches_cover_each_sentence_once_with_similar_lengths():
    lengths = np.random.RandomState(0).randint(1, 60, 500)
    order = np.random.RandomState(1).permutation(500)
    batches = epoch_batches(order, lengths, 16, np.random.RandomState(2))
    assert sorted(np.concatenate(batches).tolist()) == list(range(500))
    padded = sum(len(b) * lengths[b].max() for b in batches)
    random_padded = sum(
        lengths[order[i : i + 16]].max() * len(order[i : i + 16])
        for i in range(0, 500, 16)
    )
    assert padded < 0.75 * random_padded


def test_graph_epoch_equals_plain_keras_steps():
    features, tags = make_features([5, 0, 3, 9, 1, 7, 2, 4, 6, 8])
    weights = np.random.RandomState(3).uniform(0.5, 2.0, len(tags)).astype(np.float32)
    center, scale = input_statistics(features, np.arange(len(features)))
    batches = [np.array([3, 0, 1]), np.array([5, 2]), np.array([9, 4, 6, 7, 8])]
    template = tagger_template(SPEC)
    resident = {
        "tokens": tf.convert_to_tensor(features.tokens),
        "tags": tf.convert_to_tensor(tags),
        "weights": tf.convert_to_tensor(weights),
        "center": tf.convert_to_tensor(center),
        "scale": tf.convert_to_tensor(scale),
        "offsets": features.offsets,
    }
    with template.lock:
        template.start_fit(7, 0.05)
        loss_sum, correct, counted = template.run_epoch(resident, batches)
        trained = template.weights()
    assert counted == len(tags) and 0 <= correct <= counted

    model = build_tagger_network(SPEC)
    start, _ = initial_weights(model, 7)
    for variable in model.trainable_variables:
        variable.assign(start[variable.path])
    optimizer = keras.optimizers.Adam(0.05)
    inputs = StandardizedFeatures(features, center, scale)
    expected_loss = 0.0
    for index in batches:
        batch = inputs.batch(index)
        y, w = _batch_targets(features, index, batch["mask"].shape[1], tags, weights)
        with tf.GradientTape() as tape:
            logits = model(batch, training=True)
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            batch_loss = tf.reduce_sum(w * losses)
            loss = batch_loss / max(batch["mask"].sum(), 1) + tf.add_n(model.losses)
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        expected_loss += float(batch_loss)
    for variable in model.trainable_variables:
        np.testing.assert_allclose(
            trained[variable.path], variable.numpy(), rtol=1e-4, atol=1e-5
        )
    np.testing.assert_allclose(loss_sum, expected_loss, rtol=1e-4)


def test_padding_and_batch_mates_do_not_change_a_sentence():
    features, tags = make_features([4, 30, 0, 2] * 6, seed=4)
    weights, _, _ = train_tagger(
        SPEC,
        features,
        tags,
        np.ones(len(tags), np.float32),
        train_index=np.arange(len(features)),
        epochs=2,
        batch_size=5,
        learning_rate=0.01,
        seed=0,
    )
    network = TaggerNetwork(SPEC, weights)
    together = network.logits(features)
    alone, _ = make_features([4], seed=4)  # the same first sentence by itself
    np.testing.assert_allclose(network.logits(alone), together[:4], atol=1e-5)
    assert together.shape == (len(tags), 3)
