"""The trainable biLM: variables and the differentiable forward pass.

The character CNN, highway and projection are shared by both directions and
run once per distinct token of a batch. The two LSTM stacks (forward and
backward, bilm-tf's ``RNN_0`` and ``RNN_1``) are stacked on a leading axis of
size 2 so every time step is one batched matmul, and each layer's input
projection is one matmul over all time steps. Cells follow TF1's
``LSTMCell`` with projection: gates in the order i, j, f, o, the forget bias
1.0 added at run time (see lstm.py) (not stored in ``B``), ``cell_clip`` and ``proj_clip``;
layers >= 1 add their (dropped-out) input when skip connections are on.
"""

import numpy as np
import tensorflow as tf

from ..bilm._chars import MAX_CHARS
from ..bilm._weights import lstm_prefix
from .data import EOW, PAD
from .lstm import lstm_layer

N_TRAIN_CHARACTERS = 261


def initial_values(opts, n_vocab, rng):
    """Starting weights as bilm-tf initialises them, keyed by variable name.

    LSTM weights are stacked over the two directions: ``RNN/Cell{l}/W_0`` is
    ``(2, 2P, 4C)``; TF1's default initialiser (Glorot uniform) for kernels,
    zeros for biases.
    """
    f32 = np.float32
    values = {"char_embed": rng.uniform(-1.0, 1.0, (N_TRAIN_CHARACTERS, opts.char_dim))}
    for i, (width, num) in enumerate(opts.filters):
        shape = (1, width, opts.char_dim, num)
        if opts.activation == "relu":
            values[f"CNN/W_cnn_{i}"] = rng.uniform(-0.05, 0.05, shape)
        else:
            values[f"CNN/W_cnn_{i}"] = rng.normal(
                0.0, np.sqrt(1.0 / (width * opts.char_dim)), shape
            )
        values[f"CNN/b_cnn_{i}"] = np.zeros(num)
    n = opts.n_filters
    for k in range(opts.n_highway):
        values[f"CNN_high_{k}/W_carry"] = rng.normal(0.0, np.sqrt(1.0 / n), (n, n))
        values[f"CNN_high_{k}/b_carry"] = np.full(n, -2.0)
        values[f"CNN_high_{k}/W_transform"] = rng.normal(0.0, np.sqrt(1.0 / n), (n, n))
        values[f"CNN_high_{k}/b_transform"] = np.zeros(n)
    P, C = opts.projection_dim, opts.lstm_dim
    if opts.use_projection:
        values["CNN_proj/W_proj"] = rng.normal(0.0, np.sqrt(1.0 / n), (n, P))
        values["CNN_proj/b_proj"] = np.zeros(P)
    for layer in range(opts.n_lstm_layers):
        limit = np.sqrt(6.0 / (2 * P + 4 * C))
        values[f"RNN/Cell{layer}/W_0"] = rng.uniform(-limit, limit, (2, 2 * P, 4 * C))
        values[f"RNN/Cell{layer}/B"] = np.zeros((2, 4 * C))
        limit = np.sqrt(6.0 / (C + P))
        values[f"RNN/Cell{layer}/W_P_0"] = rng.uniform(-limit, limit, (2, C, P))
    values["softmax/W"] = rng.normal(0.0, 1.0 / np.sqrt(P), (n_vocab, P))
    values["softmax/b"] = np.zeros(n_vocab)
    return {name: np.asarray(v, f32) for name, v in values.items()}


def to_file_weights(values, opts):
    """The bilm-tf HDF5 datasets (everything but the softmax), per direction."""
    out = {}
    for name, value in values.items():
        if name.startswith("softmax/"):
            continue
        if name.startswith("RNN/"):
            _, cell, kind = name.split("/")
            layer = int(cell[len("Cell") :])
            for d in range(2):
                out[f"{lstm_prefix(d, layer)}/{kind}"] = value[d]
        else:
            out[name] = value
    return out


def from_file_weights(weights, opts):
    """Inverse of :func:`to_file_weights` (the softmax is not in the file)."""
    values = {}
    for name, value in weights.items():
        if name.startswith("RNN_"):
            continue
        values[name] = value
    for layer in range(opts.n_lstm_layers):
        for kind in ("W_0", "B", "W_P_0"):
            values[f"RNN/Cell{layer}/{kind}"] = np.stack(
                [weights[f"{lstm_prefix(d, layer)}/{kind}"] for d in range(2)]
            )
    return values


class TrainableBilm(tf.Module):
    """Variables of the biLM and its softmax, and the forward pass."""

    def __init__(self, opts, values):
        super().__init__(name="trainable_bilm")
        self.opts = opts
        self.vars = {
            name: tf.Variable(value, name=name.replace("/", "_"), trainable=True)
            for name, value in values.items()
        }
        self.names = list(values)

    def values(self):
        return {name: var.numpy() for name, var in self.vars.items()}

    def token_embedding(self, chars):
        """Embeddings ``(U, P)`` of tokens given as training char ids ``(U, M)``.

        ``M`` may be less than 50 (see ``data.batch_chars``) when every
        token ends before ``M - max_width + 1``: the windows cut off are all
        padding, and that window's value is added to the max-pool of every
        token that has one in its 50 positions, so the result is the full
        convolution's.
        """
        opts, v = self.opts, self.vars
        act = tf.nn.relu if opts.activation == "relu" else tf.nn.tanh
        embed = v["char_embed"]
        x = tf.gather(embed, chars)  # (U, M, char_dim)
        is_end = tf.cast(tf.equal(chars, EOW), tf.int32)
        lengths = tf.argmax(is_end, axis=1, output_type=tf.int32) + 1
        pooled = []
        for i, (width, _) in enumerate(opts.filters):
            kernel = v[f"CNN/W_cnn_{i}"][0]  # (width, char_dim, num)
            conv = tf.nn.conv1d(x, kernel, stride=1, padding="VALID")
            best = tf.reduce_max(conv, axis=1)
            padding_window = tf.linalg.matvec(
                tf.reduce_sum(kernel, axis=0), embed[PAD], transpose_a=True
            )
            has_padding_window = (lengths <= MAX_CHARS - width)[:, None]
            best = tf.where(has_padding_window, tf.maximum(best, padding_window), best)
            pooled.append(act(best + v[f"CNN/b_cnn_{i}"]))
        x = tf.concat(pooled, axis=-1)
        for k in range(opts.n_highway):
            p = f"CNN_high_{k}/"
            gate = tf.sigmoid(tf.matmul(x, v[p + "W_carry"]) + v[p + "b_carry"])
            transform = tf.nn.relu(
                tf.matmul(x, v[p + "W_transform"]) + v[p + "b_transform"]
            )
            x = gate * transform + (1.0 - gate) * x
        if opts.use_projection:
            x = tf.matmul(x, v["CNN_proj/W_proj"]) + v["CNN_proj/b_proj"]
        return x

    def lstm(self, x, c0, h0, dropout=0.0, seed=None):
        """Run both stacks over time-major inputs ``x`` ``(2, T, B, P)``.

        ``c0`` ``(L, 2, B, C)`` and ``h0`` ``(L, 2, B, P)`` are the carried
        state. Returns every layer's outputs (a list of ``(2, T, B, P)``,
        skip connections included), the final ``c`` and ``h``. With
        ``dropout`` > 0 each layer's input is dropped out (fresh mask per
        position, as bilm-tf's ``DropoutWrapper``); ``seed`` is a stateless
        seed ``[2]``.
        """
        opts, v = self.opts, self.vars
        outputs, final_c, final_h = [], [], []
        for layer in range(opts.n_lstm_layers):
            if dropout > 0.0:
                x = tf.nn.experimental.stateless_dropout(
                    x, dropout, seed=seed + tf.constant([0, 1 + layer], seed.dtype)
                )
            y, c, h = lstm_layer(
                x,
                c0[layer],
                h0[layer],
                v[f"RNN/Cell{layer}/W_0"],
                v[f"RNN/Cell{layer}/B"],
                v[f"RNN/Cell{layer}/W_P_0"],
                opts.cell_clip,
                opts.proj_clip,
            )
            if opts.use_skip_connections and layer > 0:
                y = y + x
            outputs.append(y)
            final_c.append(c)
            final_h.append(h)
            x = y
        return outputs, tf.stack(final_c), tf.stack(final_h)

    def inputs(self, chars, index):
        """Time-major LSTM inputs ``(2, T, B, P)`` and the token embeddings."""
        table = self.token_embedding(chars)
        x = tf.gather(table, index)  # (2, B, T, P)
        return tf.transpose(x, [0, 2, 1, 3]), table
