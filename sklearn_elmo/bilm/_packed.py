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

Shapes stay bounded: the rows of a step are rounded up by
:meth:`PackedBilmGraph.step_bucket` (1, 2, 4, 8, 12, 16, 24, 32, then
multiples of 16), the row counts XLA compiles the step for, so a process
compiles it a bounded number of times whatever its calls (about 20 shapes up
to the default 256 rows). The rows added by rounding are sentences that have
ended (or empty rows): they compute values that no output reads. The buckets
are finer than :meth:`~sklearn_elmo.bilm._engine.BilmGraph.pad_rows`'
powers of two and multiples of 32: on real text of 5-60 tokens, 160
sentences in one call compute 0.94 of their positions for real instead of
0.88, for a few more one-off compiles.

Which kernel runs a matmul depends on its rows (measured on the 2-core
benchmark machine, original size, docs/engine.md): oneDNN's ``MatMul``, what
``tf.matmul`` runs, is fastest up to about 64 rows but drops to half the
machine's rate above (P x 4C weights, 32 MB per direction), where XLA's dot
keeps it. So a step of at least :data:`FUSED_MIN_ROWS` rows runs as one XLA
call (both directions' recurrent matmul, cell and projection), a smaller one
as oneDNN matmuls around the XLA cell; and a layer's input projection over
the packed positions runs as XLA dots over blocks of :data:`BLOCK_ROWS` rows
(the last rounded up to a multiple of 32), so that shapes stay few.
"""

import tensorflow as tf

from ._engine import BilmGraph
from ._ops import lstm_cell

# Steps with at least this many rows run fused in XLA (see above).
FUSED_MIN_ROWS = 64
# Rows of each XLA input-projection block; blocks under FUSED_MIN_ROWS rows use
# oneDNN instead.
BLOCK_ROWS = 256
# Row counts a step of at most 32 rows is rounded up to (above: multiples of 16).
SMALL_STEP_BUCKETS = (1, 2, 4, 8, 12, 16, 24, 32)


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
        self._fused_step = tf.function(self._fused_step_fn, jit_compile=True)
        self._xla_matmul = tf.function(tf.matmul, jit_compile=True)
        self._run_packed = tf.function(
            self._packed,
            input_signature=[
                tf.TensorSpec([None, P], tf.float32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None], tf.int32),
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([None, None], tf.int32),
                tf.TensorSpec([L, 2, 1, C], tf.float32),
                tf.TensorSpec([L, 2, 1, P], tf.float32),
            ],
        )

    @staticmethod
    def step_bucket(n_rows):
        """The rows a packed step computes for ``n_rows`` running sentences.

        One of :data:`SMALL_STEP_BUCKETS` up to 32, then the next multiple
        of 16: few shapes to compile, few rows computed for nothing.
        """
        if n_rows > SMALL_STEP_BUCKETS[-1]:
            return -(-int(n_rows) // 16) * 16
        return next(b for b in SMALL_STEP_BUCKETS if b >= n_rows)

    def run_packed(self, table, plan, start):
        """Layers ``(B, n_layers, T, 2P)`` of a ``PackedPlan``'s batch.

        ``start`` is one ``(c, h)`` state with a single row, the state every
        sentence starts from; padding is zero.
        """
        return self._run_packed(
            table,
            plan.fw_rows,
            plan.bw_rows,
            plan.tokens,
            plan.fw_tokens,
            plan.bw_tokens,
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

    def _fused_step_fn(self, fw_x, bw_x, fw_h, bw_h, fw_c, bw_c, w_h, bias, w_p):
        """A whole step, both directions, in one XLA pass (many rows).

        ``w_h`` and ``w_p`` are pairs (forward, backward). Returns the new
        cell states and projected outputs ``fw_c, bw_c, fw_h, bw_h``.
        """
        clip = self.opts.cell_clip
        fw_c, fw_m = lstm_cell(tf, fw_x + tf.matmul(fw_h, w_h[0]) + bias[0], fw_c, clip)
        bw_c, bw_m = lstm_cell(tf, bw_x + tf.matmul(bw_h, w_h[1]) + bias[1], bw_c, clip)
        return fw_c, bw_c, self._output(fw_m, w_p[0]), self._output(bw_m, w_p[1])

    def _output(self, m, w_p):
        """The step's output ``h``: the cell output projected, then clipped."""
        h = tf.matmul(m, w_p)
        if self.opts.proj_clip is not None:
            h = tf.clip_by_value(h, -self.opts.proj_clip, self.opts.proj_clip)
        return h

    def _small_step(self, fw_x, bw_x, fw_h, bw_h, fw_c, bw_c, w_h, bias, w_p):
        """The same step as :meth:`_fused_step_fn` for few rows: oneDNN matmuls."""
        opts = self.opts
        fw_c, fw_m, bw_c, bw_m = self._packed_cell(
            fw_x,
            bw_x,
            tf.matmul(fw_h, w_h[0]),
            tf.matmul(bw_h, w_h[1]),
            bias,
            fw_c,
            bw_c,
        )
        for value in (fw_c, fw_m, bw_c, bw_m):
            value.set_shape([None, opts.lstm_dim])  # lost through the XLA call
        return fw_c, bw_c, self._output(fw_m, w_p[0]), self._output(bw_m, w_p[1])

    def _project(self, x, w):
        """``x @ w`` for packed ``x`` (N, P), in blocks of few distinct shapes."""
        n = tf.shape(x)[0]
        full = n // BLOCK_ROWS
        blocks = tf.TensorArray(tf.float32, size=full + 1, infer_shape=False)
        for i in tf.range(full):
            block = x[i * BLOCK_ROWS : (i + 1) * BLOCK_ROWS]
            blocks = blocks.write(i, self._xla_matmul(block, w))
        rest = x[full * BLOCK_ROWS :]
        rows = n - full * BLOCK_ROWS
        padded = -(-rows // 32) * 32

        def xla_rest():
            zeros = tf.zeros([padded - rows, tf.shape(x)[1]])
            return self._xla_matmul(tf.concat([rest, zeros], axis=0), w)[:rows]

        last = tf.cond(padded >= FUSED_MIN_ROWS, xla_rest, lambda: tf.matmul(rest, w))
        return blocks.write(full, last).concat()

    def _packed_layer(self, layer, projections, positions, counts, offsets, c0, h0):
        """One layer's recurrence, both directions.

        ``projections`` are each direction's input projection (bias not
        added): packed ``(N, 4C)`` rows, or, with ``positions`` (each packed
        position's row, per direction), one row per distinct token of the
        batch, which each step gathers.
        """
        opts = self.opts
        _, w_h, bias, w_p = self._lstm[layer]

        def step_inputs(d, start, n):
            if positions is None:
                return projections[d][start : start + n]
            return tf.gather(projections[d], positions[d][start : start + n])

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
            args = (
                step_inputs(0, start, n),
                step_inputs(1, start, n),
                fw_h[:n],
                bw_h[:n],
                fw_c[:n],
                bw_c[:n],
                w_h,
                bias,
                w_p,
            )
            fw_c, bw_c, fw_h, bw_h = tf.cond(
                n >= FUSED_MIN_ROWS,
                lambda args=args: self._fused_step(*args),
                lambda args=args: self._small_step(*args),
            )
            fw_c.set_shape([None, opts.lstm_dim])
            bw_c.set_shape([None, opts.lstm_dim])
            fw_h.set_shape([None, opts.projection_dim])
            bw_h.set_shape([None, opts.projection_dim])
            fw_out = fw_out.write(t, fw_h)
            bw_out = bw_out.write(t, bw_h)
        return fw_out.concat(), bw_out.concat()

    def _packed(
        self,
        table,
        fw_rows,
        bw_rows,
        tokens,
        fw_tokens,
        bw_tokens,
        counts,
        fw_out,
        bw_out,
        c0,
        h0,
    ):
        P = self.opts.projection_dim
        offsets = tf.concat([[0], tf.cumsum(counts)[:-1]], axis=0)
        fw, bw = tf.gather(table, fw_rows), tf.gather(table, bw_rows)
        fw_layers, bw_layers = [fw], [bw]  # layer 0: the token embeddings
        # The first layer's input projection is a function of the token: once
        # per distinct token of the batch. The bias is added in the step.
        inputs, positions = (tf.gather(table, tokens),) * 2, (fw_tokens, bw_tokens)
        for layer in range(self.opts.n_lstm_layers):
            w_x = self._lstm[layer][0]
            projections = [self._project(inputs[d], w_x[d]) for d in range(2)]
            fw_y, bw_y = self._packed_layer(
                layer, projections, positions, counts, offsets, c0[layer], h0[layer]
            )
            if self.opts.use_skip_connections and layer > 0:
                fw_y, bw_y = fw_y + fw, bw_y + bw
            fw_layers.append(fw_y)
            bw_layers.append(bw_y)
            fw, bw = fw_y, bw_y
            inputs, positions = (fw, bw), None
        n_layers = len(fw_layers)
        halves = []
        for packed, out in ((fw_layers, fw_out), (bw_layers, bw_out)):
            packed = tf.concat(packed, axis=1)  # (N, n_layers * P)
            packed = tf.concat([tf.zeros([1, n_layers * P]), packed], axis=0)
            gathered = tf.gather(packed, out)  # (B, T, n_layers * P)
            shape = tf.concat([tf.shape(out), [n_layers, P]], axis=0)
            halves.append(tf.reshape(gathered, shape))
        return tf.transpose(tf.concat(halves, axis=-1), [0, 2, 1, 3])
