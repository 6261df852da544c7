"""The biLM forward pass in TensorFlow 2.

One compiled function (a single trace, any batch size and length) runs the
character CNN, highway and projection on the real tokens only, then both LSTM
directions of every layer together: the directions are stacked on a leading
axis of size 2 so each time step is one batched matmul, and each layer's input
projection is one matmul over all time steps before the recurrence.
"""

import numpy as np
import tensorflow as tf

from ._chars import MAX_CHARS
from ._ops import FORGET_BIAS, lstm_cell, token_embedding
from ._weights import lstm_prefix


class BilmGraph(tf.Module):
    """The biLM's computation on fixed weights.

    Parameters
    ----------
    opts : BilmOptions
    weights : dict of str to ndarray, as returned by ``read_weights``.
    """

    def __init__(self, opts, weights):
        super().__init__(name="bilm")
        self.opts = opts
        f32 = tf.float32
        char_embed = np.concatenate(
            [np.zeros((1, opts.char_dim), np.float32), weights["char_embed"]]
        )
        self._char_embed = tf.constant(char_embed, f32)
        self._cnn = [
            (
                tf.constant(weights[f"CNN/W_cnn_{i}"][0], f32),
                tf.constant(weights[f"CNN/b_cnn_{i}"], f32),
            )
            for i in range(len(opts.filters))
        ]
        self._highway = [
            tuple(
                tf.constant(weights[f"CNN_high_{k}/{name}"], f32)
                for name in ("W_carry", "b_carry", "W_transform", "b_transform")
            )
            for k in range(opts.n_highway)
        ]
        if opts.use_projection:
            self._proj = (
                tf.constant(weights["CNN_proj/W_proj"], f32),
                tf.constant(weights["CNN_proj/b_proj"], f32),
            )
        P, C = opts.projection_dim, opts.lstm_dim
        self._lstm = []
        for layer in range(opts.n_lstm_layers):
            w0 = np.stack([weights[f"{lstm_prefix(d, layer)}/W_0"] for d in range(2)])
            bias = np.stack([weights[f"{lstm_prefix(d, layer)}/B"] for d in range(2)])
            bias = bias.copy()
            bias[:, 2 * C : 3 * C] += FORGET_BIAS  # gate order i, j, f, o
            wp = np.stack([weights[f"{lstm_prefix(d, layer)}/W_P_0"] for d in range(2)])
            # Per direction: one MatMul per direction and step keeps each
            # result under glibc's mmap threshold (32 MB) for large batches,
            # so buffers are reused instead of page-faulted in at every step.
            self._lstm.append(
                (
                    [tf.constant(w0[d, :P], f32) for d in range(2)],  # (P, 4C) input
                    [
                        tf.constant(w0[d, P:], f32) for d in range(2)
                    ],  # (P, 4C) recurrent
                    tf.constant(bias[:, None, :], f32),  # (2, 1, 4C)
                    [tf.constant(wp[d], f32) for d in range(2)],  # (C, P)
                )
            )
        L = opts.n_lstm_layers
        # XLA compiles once per batch row count: callers keep row counts to
        # the few values of ``round_batch`` (see ``pad_rows``).
        self._cell = tf.function(self._cell_step, jit_compile=True)
        self.embed_tokens = tf.function(
            self.token_embedding,
            input_signature=[tf.TensorSpec([None, MAX_CHARS], tf.int32)],
        )
        signature = [
            tf.TensorSpec([None, P], tf.float32),
            tf.TensorSpec([None, None], tf.int32),
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([L, 2, None, C], tf.float32),
            tf.TensorSpec([L, 2, None, P], tf.float32),
        ]
        self.run = tf.function(
            lambda *args: self._run(*args, boundaries=True), input_signature=signature
        )
        self.run_inner = tf.function(
            lambda *args: self._run(*args, boundaries=False), input_signature=signature
        )

    @staticmethod
    def round_batch(n_rows):
        """Largest efficient row count <= ``n_rows``: 1, 2, 4, .. 32, then multiples of 32."""
        if n_rows >= 32:
            return n_rows - n_rows % 32
        return 1 << (int(n_rows).bit_length() - 1)

    @staticmethod
    def pad_rows(n_rows):
        """Smallest efficient row count >= ``n_rows``."""
        if n_rows > 32:
            return -(-n_rows // 32) * 32
        return 1 << max(int(n_rows) - 1, 0).bit_length()

    def token_table(self, unique_ids, chunk=2048):
        """Embeddings of ``(n, 50)`` token ids, with a zero row 0 for padding.

        Runs in chunks of ``chunk`` tokens, the last one padded to a power of
        two up to 256 rows and to a multiple of 256 above: oneDNN builds its
        convolution kernels once per input shape, and this keeps the shapes
        to a dozen while a partial chunk computes at most 255 padding rows
        (a power of two would compute up to 1,023 for nothing).
        """
        parts = [tf.zeros([1, self.opts.projection_dim])]
        for start in range(0, len(unique_ids), chunk):
            ids = unique_ids[start : start + chunk]
            rows = len(ids)
            padded = max(64, 1 << (rows - 1).bit_length())
            if padded > 256:
                padded = -(-rows // 256) * 256
            if padded > rows:
                ids = np.concatenate(
                    [ids, np.zeros((padded - rows, MAX_CHARS), np.int32)]
                )
            parts.append(self.embed_tokens(ids)[:rows])
        return tf.concat(parts, axis=0)

    def zero_state(self, batch_size):
        """Zero LSTM state ``(c, h)`` for ``batch_size`` rows, as numpy arrays."""
        L, C, P = self.opts.n_lstm_layers, self.opts.lstm_dim, self.opts.projection_dim
        return (
            np.zeros((L, 2, batch_size, C), np.float32),
            np.zeros((L, 2, batch_size, P), np.float32),
        )

    def token_embedding(self, char_ids):
        """Context-independent embeddings of tokens given as ``(n, 50)`` ids."""
        projection = self._proj if self.opts.use_projection else None
        return token_embedding(
            tf,
            self.opts,
            self._char_embed,
            self._cnn,
            self._highway,
            projection,
            char_ids,
        )

    def _cell_step(self, forward_x, backward_x, forward_h, backward_h, bias, c, active):
        """The LSTM cell's elementwise part, compiled by XLA into one pass.

        ``*_x`` are each direction's input projection at this step, ``*_h``
        its recurrent projection. Unfused, the dozen elementwise ops here
        each stream the ``(2, B, 4C)`` gate tensor through memory and cost as
        much as the step's matmuls. Returns the next cell state (kept where
        ``active`` is false) and the unprojected output ``o * tanh(c)``.
        """
        z = tf.stack([forward_x + forward_h, backward_x + backward_h]) + bias
        c_new, m = lstm_cell(tf, z, c, self.opts.cell_clip)
        return tf.where(active, c_new, c), m

    def _lstm_layer(self, layer, x, lengths, c, h):
        """Run one layer, both directions; ``x`` is ``(2, T, B, P)``."""
        opts = self.opts
        w_x, w_h, bias, w_p = self._lstm[layer]
        T, B = tf.shape(x)[1], tf.shape(x)[2]
        P, G = opts.projection_dim, 4 * opts.lstm_dim
        # One matmul per direction over all steps; time-major results make
        # each step's slice a view rather than a copy. The bias is added in
        # the fused cell instead of in another pass over this large tensor.
        forward_x, backward_x = (
            tf.reshape(tf.matmul(tf.reshape(x[d], [T * B, P]), w_x[d]), [T, B, G])
            for d in range(2)
        )
        outputs = tf.TensorArray(tf.float32, size=T)
        for t in tf.range(T):
            # Rows whose sentence has ended keep their state (for carried state).
            active = tf.reshape(t < lengths, [1, B, 1])
            c, m = self._cell(
                forward_x[t],
                backward_x[t],
                tf.matmul(h[0], w_h[0]),
                tf.matmul(h[1], w_h[1]),
                bias,
                c,
                active,
            )
            h_new = tf.stack([tf.matmul(m[0], w_p[0]), tf.matmul(m[1], w_p[1])])
            if opts.proj_clip is not None:
                h_new = tf.clip_by_value(h_new, -opts.proj_clip, opts.proj_clip)
            h = tf.where(active, h_new, h)
            outputs = outputs.write(t, h_new)
        return tf.transpose(outputs.stack(), [1, 0, 2, 3]), c, h

    def _run(self, table, index, lengths, c0, h0, boundaries):
        """Run the biLSTM over a batch of token sequences.

        ``table`` holds token embeddings (row 0 zeros, for padding), ``index``
        ``(B, T)`` the row of each position, so the CNN has run once per
        distinct token beforehand. With ``boundaries`` the sequences include
        ``<S>``/``</S>`` and the returned ``layers``
        ``(B, 1 + n_lstm_layers, T - 2, 2P)`` drop them; without, every
        position is returned. Padding is zeroed. Also returns the final
        ``(c, h)`` state.
        """
        T = tf.shape(index)[1]
        tokens = tf.gather(table, index)
        backward = tf.reverse_sequence(tokens, lengths, seq_axis=1, batch_axis=0)
        x = tf.transpose(tf.stack([tokens, backward]), [0, 2, 1, 3])  # (2, T, B, P)

        outputs, final_c, final_h = [], [], []
        for layer in range(self.opts.n_lstm_layers):
            y, c, h = self._lstm_layer(layer, x, lengths, c0[layer], h0[layer])
            if self.opts.use_skip_connections and layer > 0:
                y = y + x
            outputs.append(y)
            final_c.append(c)
            final_h.append(h)
            x = y

        layers = [tf.concat([tokens, tokens], axis=-1)]
        for y in outputs:
            fw = tf.transpose(y[0], [1, 0, 2])
            bw = tf.reverse_sequence(
                tf.transpose(y[1], [1, 0, 2]), lengths, seq_axis=1, batch_axis=0
            )
            layers.append(tf.concat([fw, bw], axis=-1))
        if boundaries:
            inner = tf.sequence_mask(lengths - 2, T - 2, dtype=tf.float32)[:, :, None]
            layers = [layer[:, 1 : T - 1] * inner for layer in layers]
        else:
            inner = tf.sequence_mask(lengths, T, dtype=tf.float32)[:, :, None]
            layers = [layer * inner for layer in layers]
        return tf.stack(layers, axis=1), tf.stack(final_c), tf.stack(final_h)
