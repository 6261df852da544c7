"""A fast differentiable LSTM layer (both directions) for CPU training.

Autodiff of an unrolled LSTM computes every weight gradient as T small
matmuls and keeps a dozen elementwise tensors per step. Here the gradient
is written out (backpropagation through time): the recurrence does only the
two small matmuls per step that it must, each cell's elementwise part is
one XLA-fused call forward and one backward, and the weight and input
gradients are four large matmuls over all steps at once.

Semantics are TF1 ``LSTMCell`` with ``num_proj``: ``z = [x, h] W_0 + B``
split i, j, f, o; ``c = sigmoid(f + 1) c_prev + sigmoid(i) tanh(j)`` clipped
to ``cell_clip``; ``h = clip((sigmoid(o) tanh(c)) W_P_0, proj_clip)``.
"""

import tensorflow as tf

from ..bilm._ops import FORGET_BIAS


def _make_cells(cell_clip):
    @tf.function(jit_compile=True)
    def forward(zx, zh, c_prev):
        i, j, f, o = tf.split(zx + zh, 4, axis=-1)
        i, j, f, o = (
            tf.sigmoid(i),
            tf.tanh(j),
            tf.sigmoid(f + FORGET_BIAS),
            tf.sigmoid(o),
        )
        c = f * c_prev + i * j
        if cell_clip is not None:
            c = tf.clip_by_value(c, -cell_clip, cell_clip)
        tc = tf.tanh(c)
        return c, o * tc, tf.concat([i, j, f, o], axis=-1), tc

    @tf.function(jit_compile=True)
    def backward(dm, dc, gates, tc, c, c_prev):
        i, j, f, o = tf.split(gates, 4, axis=-1)
        d_o = dm * tc * o * (1.0 - o)
        dc = dc + dm * o * (1.0 - tc * tc)
        if cell_clip is not None:
            # clip_by_value passes the gradient only strictly inside the range
            # or at its bounds when not exceeded; c == +-clip only when clipped.
            dc = tf.where(tf.abs(c) < cell_clip, dc, 0.0)
        di = dc * j * i * (1.0 - i)
        dj = dc * i * (1.0 - j * j)
        df = dc * c_prev * f * (1.0 - f)
        return tf.concat([di, dj, df, d_o], axis=-1), dc * f

    return forward, backward


_CELLS = {}


def _cells(cell_clip):
    if cell_clip not in _CELLS:
        _CELLS[cell_clip] = _make_cells(cell_clip)
    return _CELLS[cell_clip]


def lstm_layer(x, c0, h0, w0, bias, w_p, cell_clip, proj_clip):
    """Run one layer of both directions over ``x`` ``(2, T, B, P)``.

    ``w0`` ``(2, 2P, 4C)``, ``bias`` ``(2, 4C)``, ``w_p`` ``(2, C, P)``;
    ``c0`` ``(2, B, C)``, ``h0`` ``(2, B, P)``. Returns ``y`` ``(2, T, B, P)``
    (each step's projected output), the final ``c`` and ``h``.
    """
    cell_forward, cell_backward = _cells(cell_clip)

    @tf.custom_gradient
    def run(x, c0, h0, w0, bias, w_p):
        T = x.shape[1]
        P = x.shape[3]
        B = tf.shape(x)[2]
        G = w0.shape[2]
        w_x, w_h = w0[:, :P], w0[:, P:]
        x_flat = tf.reshape(x, [2, -1, P])
        zx = tf.reshape(tf.matmul(x_flat, w_x) + bias[:, None, :], [2, T, B, G])
        c, h = c0, h0
        cs, ms, gates_t, tcs, hs, h_raws = [], [], [], [], [h0], []
        for t in range(T):
            c_prev = c
            c, m, gates, tc = cell_forward(zx[:, t], tf.matmul(h, w_h), c_prev)
            h_raw = tf.matmul(m, w_p)
            h = (
                h_raw
                if proj_clip is None
                else tf.clip_by_value(h_raw, -proj_clip, proj_clip)
            )
            cs.append(c)
            ms.append(m)
            gates_t.append(gates)
            tcs.append(tc)
            hs.append(h)
            h_raws.append(h_raw)
        y = tf.stack(hs[1:], axis=1)

        def grad(dy, dc_final, dh_final):
            dc, dh = dc_final, dh_final
            dzs, dh_raws = [None] * T, [None] * T
            w_h_t = tf.transpose(w_h, [0, 2, 1])
            w_p_t = tf.transpose(w_p, [0, 2, 1])
            for t in reversed(range(T)):
                dh = dh + dy[:, t]
                if proj_clip is not None:
                    dh = tf.where(tf.abs(h_raws[t]) <= proj_clip, dh, 0.0)
                dh_raws[t] = dh
                dm = tf.matmul(dh, w_p_t)
                c_prev = cs[t - 1] if t > 0 else c0
                dz, dc = cell_backward(dm, dc, gates_t[t], tcs[t], cs[t], c_prev)
                dzs[t] = dz
                dh = tf.matmul(dz, w_h_t)
            dz_all = tf.reshape(tf.stack(dzs, axis=1), [2, -1, G])
            dh_raw_all = tf.reshape(tf.stack(dh_raws, axis=1), [2, -1, P])
            m_all = tf.reshape(tf.stack(ms, axis=1), [2, -1, w_p.shape[1]])
            h_prev_all = tf.reshape(tf.stack(hs[:-1], axis=1), [2, -1, P])
            d_wx = tf.matmul(x_flat, dz_all, transpose_a=True)
            d_wh = tf.matmul(h_prev_all, dz_all, transpose_a=True)
            dx = tf.reshape(tf.matmul(dz_all, w_x, transpose_b=True), tf.shape(x))
            d_bias = tf.reduce_sum(dz_all, axis=1)
            d_wp = tf.matmul(m_all, dh_raw_all, transpose_a=True)
            return dx, dc, dh, tf.concat([d_wx, d_wh], axis=1), d_bias, d_wp

        return (y, c, h), grad

    return run(x, c0, h0, w0, bias, w_p)
