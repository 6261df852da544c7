"""Perplexity with the full softmax, reading held-out text as training does.

The held-out pairs, in corpus order, are cut into ``batch_size`` rows read
``unroll_steps`` at a time with the LSTM state carried (like the training
stream, without shuffling or dropout); every pair is scored once, the ragged
end masked.
"""

import numpy as np
import tensorflow as tf

from .data import batch_chars


class Evaluator(tf.Module):
    def __init__(self, model, batch_size, unroll_steps):
        super().__init__(name="bilm_evaluator")
        opts = model.opts
        self.model = model
        self.max_width = max(w for w, _ in opts.filters)
        self.batch_size, self.unroll_steps = batch_size, unroll_steps
        L, C, P = opts.n_lstm_layers, opts.lstm_dim, opts.projection_dim
        self._c = tf.Variable(tf.zeros([L, 2, batch_size, C]), trainable=False)
        self._h = tf.Variable(tf.zeros([L, 2, batch_size, P]), trainable=False)
        B, T = batch_size, unroll_steps
        self._step = tf.function(
            self._score,
            input_signature=[
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([2, B, T], tf.int32),
                tf.TensorSpec([2, B, T], tf.int32),
                tf.TensorSpec([B, T], tf.float32),
            ],
        )

    def _score(self, chars, index, targets, mask):
        model = self.model
        x, _ = model.inputs(chars, index)
        layers, c, h = model.lstm(x, self._c, self._h)
        self._c.assign(c)
        self._h.assign(h)
        W, b = model.vars["softmax/W"], model.vars["softmax/b"]
        top = layers[-1]
        weights = tf.reshape(tf.transpose(mask), [-1])
        sums = []
        for d in range(2):
            logits = (
                tf.matmul(tf.reshape(top[d], [-1, top.shape[-1]]), W, transpose_b=True)
                + b
            )
            labels = tf.reshape(tf.transpose(targets[d]), [-1])
            loss = tf.nn.sparse_softmax_cross_entropy_with_logits(
                labels=labels, logits=logits
            )
            sums.append(tf.reduce_sum(loss * weights))
        return tf.stack(sums)

    def mean_losses(self, corpus, target_of_type, char_ids):
        """Mean full-softmax loss per direction over every held-out pair."""
        B, T = self.batch_size, self.unroll_steps
        self._c.assign(tf.zeros_like(self._c))
        self._h.assign(tf.zeros_like(self._h))
        flat = corpus.flat
        pairs = np.diff(np.append(corpus.starts, len(flat))) - 1
        ends = np.cumsum(pairs)
        n = int(ends[-1])
        row_length = -(-n // B)
        totals = np.zeros(2)
        for j in range(-(-row_length // T)):
            local = j * T + np.arange(T)[None, :]
            q = np.arange(B)[:, None] * row_length + local
            valid = (local < row_length) & (q < n)
            q = np.where(valid, q, 0)
            k = np.searchsorted(ends, q, side="right")
            offset = q - (ends[k] - pairs[k])
            start = corpus.starts[k]
            forward = start + offset
            backward = start + pairs[k] - offset
            inputs = np.stack([flat[forward], flat[backward]])
            targets = target_of_type[np.stack([flat[forward + 1], flat[backward - 1]])]
            types, index = np.unique(inputs, return_inverse=True)
            chars = batch_chars(char_ids[types], self.max_width)
            totals += self._step(
                chars,
                index.reshape(inputs.shape).astype(np.int32),
                targets.astype(np.int32),
                valid.astype(np.float32),
            ).numpy()
        return totals / n


def perplexities(losses):
    forward, backward = (float(x) for x in losses)
    return {
        "forward": float(np.exp(forward)),
        "backward": float(np.exp(backward)),
        "average": float(np.exp(0.5 * (forward + backward))),
    }
