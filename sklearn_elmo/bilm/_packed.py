"""The biLM's pure-mode forward pass on real positions only ("packed").

In the pure initial-state modes ("warm", "zeros") every sentence starts from
the same state and its final state is not kept, so a batch need not run every
row for the longest sentence's number of steps. Rows are sorted by
decreasing length; at step ``t`` only the first ``n_t`` rows, the sentences
still running, are computed. The backward direction reads each sentence
reversed within its own length, so its step ``t`` is running for exactly the
same rows: both directions share ``n_t``.

Activations are kept "packed": the rows of step 0, then those of step 1 and
so on, one ``(N, dim)`` matrix per direction (``N`` the computed positions).
Each layer's input projection is one matmul over it, each step reads a
contiguous slice, and the next layer reads the previous layer's packed output
directly. Gathers turn the packed outputs back into ``(batch, length)``
order at the end.

Shapes stay bounded: the rows of a step are rounded up to
:meth:`~sklearn_elmo.bilm._engine.BilmGraph.pad_rows` (1, 2, 4, .. 32, then
multiples of 32), the row counts XLA compiles the fused cell for, so a
process compiles it a handful of times whatever its calls. The rows added by
rounding are sentences that have ended (or empty rows): they compute values
that no output reads.
"""

import tensorflow as tf

from ._engine import BilmGraph
from ._ops import lstm_cell


class PackedBilmGraph(BilmGraph):
    """:class:`~sklearn_elmo.bilm._engine.BilmGraph` with a packed pure-mode run.

    ``run_packed(table, plan, start)``, for a
    :class:`~sklearn_elmo.bilm._packing.PackedPlan`, gives what ``run_inner`` gives for the
    same sentences started from ``start`` (without boundaries), computing
    real positions only (to float rounding: tested to 1e-6).
    """

    def __init__(self, opts, weights):
        super().__init__(opts, weights)
        L, C, P = opts.n_lstm_layers, opts.lstm_dim, opts.projection_dim
        self._packed_cell = tf.function(self._packed_cell_step, jit_compile=True)
        self._run_packed = tf.function(
            self._packed,
            input_signature=[
                tf.TensorSpec([None, P], tf.float32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([L, 2, 1, C], tf.float32),
                tf.TensorSpec([L, 2, 1, P], tf.float32),
            ],
        )

    def run_packed(self, table, plan, start):
        """Layers ``(B, n_layers, T, 2P)`` of a ``PackedPlan``'s batch.

        ``start`` is one ``(c, h)`` state with a single row, the state every
        sentence starts from; padding is zero.
        """
        return self._run_packed(
            table,
            plan.fw_rows,
            plan.bw_rows,
            plan.counts,
            plan.fw_out,
            plan.bw_out,
            *start,
        )

    def _packed_cell_step(self, fw_x, bw_x, fw_h, bw_h, bias, fw_c, bw_c):
        """The LSTM cell's elementwise part for both directions, one XLA pass.

        The same arithmetic as ``_cell_step`` without the mask: a row that
        has ended is simply no longer computed.
        """
        clip = self.opts.cell_clip
        out = []
        for d, (x, h, c) in enumerate(((fw_x, fw_h, fw_c), (bw_x, bw_h, bw_c))):
            out += list(lstm_cell(tf, x + h + bias[d], c, clip))
        return out

    def _packed_layer(self, layer, fw_in, bw_in, counts, offsets, c0, h0):
        """One layer, both directions, on packed ``(N, P)`` inputs."""
        opts = self.opts
        w_x, w_h, bias, w_p = self._lstm[layer]
        # The bias is added in the fused cell, not in a pass over (N, 4C).
        fw_proj, bw_proj = tf.matmul(fw_in, w_x[0]), tf.matmul(bw_in, w_x[1])
        T = tf.shape(counts)[0]
        rows = counts[0]
        fw_c = tf.broadcast_to(c0[0], [rows, opts.lstm_dim])
        bw_c = tf.broadcast_to(c0[1], [rows, opts.lstm_dim])
        fw_h = tf.broadcast_to(h0[0], [rows, opts.projection_dim])
        bw_h = tf.broadcast_to(h0[1], [rows, opts.projection_dim])
        fw_out = tf.TensorArray(tf.float32, size=T, infer_shape=False)
        bw_out = tf.TensorArray(tf.float32, size=T, infer_shape=False)
        for t in tf.range(T):
            n, start = counts[t], offsets[t]
            # Rows are sorted by length: the running ones are a prefix, and
            # slicing the leading axis is a view.
            fw_c, bw_c, fw_h, bw_h = fw_c[:n], bw_c[:n], fw_h[:n], bw_h[:n]
            fw_c, fw_m, bw_c, bw_m = self._packed_cell(
                fw_proj[start : start + n],
                bw_proj[start : start + n],
                tf.matmul(fw_h, w_h[0]),
                tf.matmul(bw_h, w_h[1]),
                bias,
                fw_c,
                bw_c,
            )
            for value in (fw_c, fw_m, bw_c, bw_m):
                value.set_shape([None, opts.lstm_dim])  # lost through the XLA call
            fw_h, bw_h = tf.matmul(fw_m, w_p[0]), tf.matmul(bw_m, w_p[1])
            if opts.proj_clip is not None:
                fw_h = tf.clip_by_value(fw_h, -opts.proj_clip, opts.proj_clip)
                bw_h = tf.clip_by_value(bw_h, -opts.proj_clip, opts.proj_clip)
            fw_out = fw_out.write(t, fw_h)
            bw_out = bw_out.write(t, bw_h)
        return fw_out.concat(), bw_out.concat()

    def _packed(self, table, fw_rows, bw_rows, counts, fw_out, bw_out, c0, h0):
        P = self.opts.projection_dim
        offsets = tf.concat([[0], tf.cumsum(counts)[:-1]], axis=0)
        fw, bw = tf.gather(table, fw_rows), tf.gather(table, bw_rows)
        fw_layers, bw_layers = [fw], [bw]  # layer 0: the token embeddings
        for layer in range(self.opts.n_lstm_layers):
            fw_y, bw_y = self._packed_layer(
                layer, fw, bw, counts, offsets, c0[layer], h0[layer]
            )
            if self.opts.use_skip_connections and layer > 0:
                fw_y, bw_y = fw_y + fw, bw_y + bw
            fw_layers.append(fw_y)
            bw_layers.append(bw_y)
            fw, bw = fw_y, bw_y
        n_layers = len(fw_layers)
        halves = []
        for packed, out in ((fw_layers, fw_out), (bw_layers, bw_out)):
            packed = tf.concat(packed, axis=1)  # (N, n_layers * P)
            packed = tf.concat([tf.zeros([1, n_layers * P]), packed], axis=0)
            gathered = tf.gather(packed, out)  # (B, T, n_layers * P)
            shape = tf.concat([tf.shape(out), [n_layers, P]], axis=0)
            halves.append(tf.reshape(gathered, shape))
        return tf.transpose(tf.concat(halves, axis=-1), [0, 2, 1, 3])
