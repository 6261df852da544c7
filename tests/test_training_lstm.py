"""The hand-written LSTM gradient and the sampled softmax, against references."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

from sklearn_elmo.training.loop import (
    full_softmax_losses,
    log_uniform_log_probs,
    sampled_softmax_losses,
)
from sklearn_elmo.training.lstm import lstm_layer


def _reference_layer(x, c0, h0, w0, bias, w_p, cell_clip, proj_clip):
    """TF1 LSTMCell with projection, unrolled, differentiated by autodiff."""
    c, h, ys = c0, h0, []
    for t in range(x.shape[1]):
        z = tf.matmul(tf.concat([x[:, t], h], -1), w0) + bias[:, None]
        i, j, f, o = tf.split(z, 4, -1)
        c = tf.sigmoid(f + 1.0) * c + tf.sigmoid(i) * tf.tanh(j)
        c = tf.clip_by_value(c, -cell_clip, cell_clip)
        h = tf.clip_by_value(
            tf.matmul(tf.sigmoid(o) * tf.tanh(c), w_p), -proj_clip, proj_clip
        )
        ys.append(h)
    return tf.stack(ys, 1), c, h


def test_lstm_layer_values_and_gradients_match_autodiff():
    rng = np.random.default_rng(0)
    T, B, P, C = 6, 3, 4, 5

    def const(*shape, scale=1.0):
        return tf.constant(rng.normal(size=shape) * scale, tf.float32)

    # Large weights so that both clips are active somewhere.
    args = [const(2, T, B, P), const(2, B, C, scale=2), const(2, B, P)]
    args += [const(2, 2 * P, 4 * C), const(2, 4 * C), const(2, C, P)]
    dy, dc, dh = const(2, T, B, P), const(2, B, C), const(2, B, P)
    results = []
    for layer in (_reference_layer, lstm_layer):
        with tf.GradientTape() as tape:
            tape.watch(args)
            y, c, h = layer(*args, 1.5, 1.0)
            loss = tf.reduce_sum(y * dy) + tf.reduce_sum(c * dc) + tf.reduce_sum(h * dh)
        results.append(([y, c, h], tape.gradient(loss, args)))
    (ref_out, ref_grads), (out, grads) = results
    assert float(tf.reduce_max(tf.abs(ref_out[0]))) == pytest.approx(
        1.0
    )  # proj clip hit
    for a, b in zip(ref_out + ref_grads, out + grads, strict=True):
        np.testing.assert_allclose(b.numpy(), a.numpy(), rtol=1e-5, atol=1e-5)


def test_sampled_softmax_draws_distinct_negatives_and_removes_hits():
    V, S, P = 40, 12, 3
    log_p = tf.constant(log_uniform_log_probs(V))
    W = tf.constant(np.random.default_rng(1).normal(size=(V, P)), tf.float32)
    b = tf.zeros([V])
    outputs = tf.zeros([2, P])
    labels = tf.constant([0, 1])
    loss = sampled_softmax_losses(W, b, outputs, labels, log_p, S, tf.constant([1, 2]))
    assert loss.shape == (2,) and np.all(np.isfinite(loss.numpy()))
    # Expected inclusion probabilities: the draws' frequencies agree with them.
    draws = 400
    u = tf.random.stateless_uniform([draws, V], [7, 0], minval=1e-20, maxval=1.0)
    top, idx = tf.math.top_k(log_p - tf.math.log(-tf.math.log(u)), S + 1)
    idx, tau = idx.numpy()[:, :S], top.numpy()[:, S]
    assert all(len(set(row)) == S for row in idx.tolist())
    frequency = np.bincount(idx.ravel(), minlength=V) / draws
    q = -np.expm1(-np.exp(log_p.numpy()[None, :] - tau[:, None])).mean(axis=0)
    np.testing.assert_allclose(frequency, q, atol=0.08)


def test_full_softmax_loss_is_cross_entropy():
    W = tf.constant([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    b = tf.constant([0.0, 0.5, -0.5])
    outputs = tf.constant([[2.0, -1.0]])
    logits = outputs.numpy() @ W.numpy().T + b.numpy()
    expected = np.log(np.exp(logits).sum()) - logits[0, 2]
    assert float(
        full_softmax_losses(W, b, outputs, tf.constant([2]))[0]
    ) == pytest.approx(expected, rel=1e-6)


def test_char_cnn_on_cut_columns_equals_the_full_convolution():
    from sklearn_elmo.training.data import batch_chars, type_char_ids
    from sklearn_elmo.training.model import TrainableBilm, initial_values
    from sklearn_elmo.training.presets import resolve_options

    _, opts = resolve_options("tiny")
    values = initial_values(opts, 10, np.random.default_rng(0))
    values["char_embed"][260] = 3.0  # the all-padding window often wins the max
    model = TrainableBilm(opts, values)
    full = type_char_ids(["a", "hello", "<S>", "naïve", "x" * 60]).astype(np.int32)
    for rows in ([0, 1, 2, 3], [0, 1, 2, 3, 4]):
        cut = batch_chars(full[rows], max_width=3)
        assert cut.shape[1] == (16 if len(rows) == 4 else 50)
        np.testing.assert_allclose(
            model.token_embedding(cut).numpy()[: len(rows)],
            model.token_embedding(full[rows]).numpy(),
            rtol=0,
            atol=1e-6,
        )
