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

Each layer runs its two directions as independent loops, which TensorFlow
may run at once; a direction's step streams only its own weights (32 MB of
recurrent and 8 MB of projection weights at the original size), half of what
a step of both directions reads. Which kernel runs a matmul depends on its
rows and, where the benchmark machines disagree, on a measurement
(:mod:`~sklearn_elmo.bilm._kernel_choice`, once per graph and process): a
step of fewer than :data:`FUSED_MIN_ROWS` rows runs oneDNN matmuls (what
``tf.matmul`` runs) around the XLA cell, a bigger one one XLA call
(recurrent matmul, cell and projection) up to the row count from which
oneDNN measured faster. A layer's input projection over the packed positions
is oneDNN under :data:`FUSED_MIN_ROWS` rows, an XLA dot over the rows
rounded up to a multiple of 32 under :data:`BLOCK_ROWS`, and above either
one oneDNN matmul (no compile per shape) or XLA dots over blocks of
:data:`BLOCK_ROWS` rows, as measured; so XLA compiles few shapes.
"""

import threading

import numpy as np
import tensorflow as tf

from ._engine import BilmGraph
from ._kernel_choice import (
    CALIBRATION_ROWS,
    NEVER,
    PROJECTION_ROWS,
    choose_fused_max,
    choose_one_matmul,
    time_projection_kernels,
    time_step_kernels,
)
from ._ops import lstm_cell

# Steps with at least this many rows run fused in XLA, up to the row count
# from which oneDNN measured faster (see above).
FUSED_MIN_ROWS = 64
# Input projections of at least this many rows run as one oneDNN matmul or as
# XLA blocks of this many rows, as measured; fewer rows, XLA over the rows
# rounded up to 32 (oneDNN under FUSED_MIN_ROWS).
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
                tf.TensorSpec([], tf.int32),
                tf.TensorSpec([], tf.bool),
            ],
        )
        self._kernels = None
        self._kernels_lock = threading.Lock()

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
        # Smaller runs never reach the kernels that are chosen by measuring.
        measured = (
            max(plan.counts, default=0) >= CALIBRATION_ROWS[0][1]
            or plan.computed >= BLOCK_ROWS
        )
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
            *(self.kernel_choice() if measured else (NEVER, False)),
        )

    def kernel_choice(self):
        """``(fused_max, one_matmul)``: the kernels measured on this machine.

        Steps of ``fused_max`` rows or more run oneDNN instead of fused XLA;
        with ``one_matmul``, input projections of :data:`BLOCK_ROWS` rows or
        more are one oneDNN matmul instead of XLA blocks. Measured once per
        graph (``_kernel_choice``), at the first packed run that can use
        them: about 2.3 s on the original model, compiles included.
        """
        with self._kernels_lock:
            if self._kernels is None:
                fused_max = choose_fused_max(self._time_step_kernels())
                one_matmul = choose_one_matmul(*self._time_projection_kernels())
                self._kernels = (fused_max, one_matmul)
            return self._kernels

    def _time_projection_kernels(self):
        rng = np.random.default_rng(1)
        x = rng.standard_normal((PROJECTION_ROWS, self.opts.projection_dim))
        x = tf.constant(0.1 * x.astype(np.float32))
        weights = self._lstm[0][0]  # both directions
        blocks = tf.function(lambda x, w: self._project(x, w, False))
        one = tf.function(lambda x, w: self._project(x, w, True))
        return time_projection_kernels(blocks, one, weights, x)

    def _time_step_kernels(self):
        rng = np.random.default_rng(0)
        C, P = self.opts.lstm_dim, self.opts.projection_dim

        def make_inputs(rows):
            return tuple(
                tf.constant(0.1 * rng.standard_normal((rows, dim), np.float32))
                for dim in (4 * C, P, C)
            )

        _, w_h, bias, w_p = self._lstm[0]  # both directions: not all in cache
        weight_sets = [(w_h[d], bias[d], w_p[d]) for d in range(2)]
        small = tf.function(self._small_step)
        return time_step_kernels(self._fused_step, small, weight_sets, make_inputs)

    def _packed_cell_step(self, x, hw, bias, c):
        """The LSTM cell's elementwise part, one direction, one XLA pass.

        The same arithmetic as ``_cell_step`` without the mask: a row that
        has ended is simply no longer computed.
        """
        return lstm_cell(tf, x + hw + bias, c, self.opts.cell_clip)

    def _fused_step_fn(self, x, h, c, w_h, bias, w_p):
        """A whole step of one direction in one XLA pass (many rows).

        Returns the new cell state and projected output ``c, h``.
        """
        c, m = lstm_cell(tf, x + tf.matmul(h, w_h) + bias, c, self.opts.cell_clip)
        return c, self._output(m, w_p)

    def _output(self, m, w_p):
        """The step's output ``h``: the cell output projected, then clipped."""
        h = tf.matmul(m, w_p)
        if self.opts.proj_clip is not None:
            h = tf.clip_by_value(h, -self.opts.proj_clip, self.opts.proj_clip)
        return h

    def _small_step(self, x, h, c, w_h, bias, w_p):
        """The same step as :meth:`_fused_step_fn` for few rows: oneDNN matmuls."""
        c, m = self._packed_cell(x, tf.matmul(h, w_h), bias, c)
        c.set_shape([None, self.opts.lstm_dim])  # lost through the XLA call
        m.set_shape([None, self.opts.lstm_dim])
        return c, self._output(m, w_p)

    def _project(self, x, w, one_matmul):
        """``x @ w`` for packed ``x`` (N, P), with few distinct XLA shapes.

        From :data:`BLOCK_ROWS` rows up, with ``one_matmul``, one oneDNN
        matmul (no compile per shape), else XLA dots over blocks of
        :data:`BLOCK_ROWS` rows; the rest (or fewer rows) as an XLA dot over
        the rows rounded up to a multiple of 32 from :data:`FUSED_MIN_ROWS`
        rows, or oneDNN under that.
        """
        n = tf.shape(x)[0]

        def blocks():
            full = n // BLOCK_ROWS
            out = tf.TensorArray(tf.float32, size=full + 1, infer_shape=False)
            for i in tf.range(full):
                block = x[i * BLOCK_ROWS : (i + 1) * BLOCK_ROWS]
                out = out.write(i, self._xla_matmul(block, w))
            rest = x[full * BLOCK_ROWS :]
            rows = n - full * BLOCK_ROWS
            padded = -(-rows // 32) * 32

            def xla_rest():
                zeros = tf.zeros([padded - rows, tf.shape(x)[1]])
                return self._xla_matmul(tf.concat([rest, zeros], axis=0), w)[:rows]

            last = tf.cond(
                padded >= FUSED_MIN_ROWS, xla_rest, lambda: tf.matmul(rest, w)
            )
            return out.write(full, last).concat()

        whole = one_matmul & (n >= BLOCK_ROWS)
        return tf.cond(whole, lambda: tf.matmul(x, w), blocks)

    def _packed_direction(
        self, layer, d, inputs, positions, counts, offsets, c, h, fused_max
    ):
        """One direction of one layer's recurrence: its packed outputs ``(N, P)``.

        ``inputs`` is the direction's input projection (bias not added):
        packed ``(N, 4C)`` rows, or, with ``positions`` (each packed
        position's row), one row per distinct token of the batch, which each
        step gathers. ``c`` and ``h`` are the single-row start state. Steps
        of ``FUSED_MIN_ROWS`` rows up to ``fused_max`` (excluded) run fused.
        """
        opts = self.opts
        _, w_h, bias, w_p = self._lstm[layer]
        w_h, bias, w_p = w_h[d], bias[d], w_p[d]
        T = tf.shape(counts)[0]
        c = tf.broadcast_to(c, [counts[0], opts.lstm_dim])
        h = tf.broadcast_to(h, [counts[0], opts.projection_dim])
        out = tf.TensorArray(tf.float32, size=T, infer_shape=False)
        for t in tf.range(T):
            n, start = counts[t], offsets[t]
            if positions is None:
                x = inputs[start : start + n]
            else:
                x = tf.gather(inputs, positions[start : start + n])
            # Rows are sorted by length: the running ones are a prefix, and
            # slicing the leading axis is a view.
            args = (x, h[:n], c[:n], w_h, bias, w_p)
            c, h = tf.cond(
                (n >= FUSED_MIN_ROWS) & (n < fused_max),
                lambda args=args: self._fused_step(*args),
                lambda args=args: self._small_step(*args),
            )
            c.set_shape([None, opts.lstm_dim])
            h.set_shape([None, opts.projection_dim])
            out = out.write(t, h)
        return out.concat()

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
        fused_max,
        one_matmul,
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
            # The directions are independent loops: TensorFlow may run them
            # at once, and each streams only its own weights at every step.
            fw_y, bw_y = (
                self._packed_direction(
                    layer,
                    d,
                    self._project(inputs[d], w_x[d], one_matmul),
                    None if positions is None else positions[d],
                    counts,
                    offsets,
                    c0[layer][d],
                    h0[layer][d],
                    fused_max,
                )
                for d in range(2)
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
