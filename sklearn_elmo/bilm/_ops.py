"""The biLM's ops, written once: the char CNN token embedding and the LSTM cell.

Used by the TF2 engine (:mod:`~sklearn_elmo.bilm._engine`,
:mod:`~sklearn_elmo.bilm._packed`) and by the TF Hub exporter's TF1 graph
(:mod:`~sklearn_elmo.bilm._hub_export`): plain ``tf`` ops, valid eagerly, in
``tf.function`` and in ``tf.compat.v1`` graphs. TensorFlow is passed in (the
exporter imports it lazily), so importing this module costs nothing.
"""

# Added to the forget gate at run time (TF1 LSTMCell); not stored in ``B``.
FORGET_BIAS = 1.0


def token_embedding(tf, opts, table, kernels, highways, projection, char_ids):
    """Context-independent embeddings of tokens given as ``(n, 50)`` char ids.

    ``table`` is the character embedding with the zero padding row first;
    ``kernels`` ``[(W (width, d, num), b)]``; ``highways``
    ``[(W_carry, b_carry, W_transform, b_transform)]``; ``projection``
    ``(W, b)`` or None.
    """
    act = tf.nn.relu if opts.activation == "relu" else tf.nn.tanh
    chars = tf.gather(table, char_ids)  # (n, 50, char_dim)
    pooled = []
    for kernel, bias in kernels:
        conv = tf.nn.conv1d(chars, kernel, stride=1, padding="VALID")
        pooled.append(act(tf.reduce_max(conv, axis=1) + bias))
    x = tf.concat(pooled, axis=-1)
    for w_carry, b_carry, w_transform, b_transform in highways:
        gate = tf.sigmoid(tf.matmul(x, w_carry) + b_carry)
        transform = tf.nn.relu(tf.matmul(x, w_transform) + b_transform)
        x = gate * transform + (1.0 - gate) * x
    if projection is not None:
        x = tf.matmul(x, projection[0]) + projection[1]
    return x


def lstm_cell(tf, z, c, cell_clip):
    """The cell's elementwise part from gate pre-activations ``z`` (i, j, f, o).

    ``z`` already holds the bias with :data:`FORGET_BIAS` folded in. Returns
    the new cell state and the unprojected output ``sigmoid(o) * tanh(c)``.
    """
    i, j, f, o = tf.split(z, 4, axis=-1)
    c_new = tf.sigmoid(f) * c + tf.sigmoid(i) * tf.tanh(j)
    if cell_clip is not None:
        c_new = tf.clip_by_value(c_new, -cell_clip, cell_clip)
    return c_new, tf.sigmoid(o) * tf.tanh(c_new)
