"""Write a biLM as a TF Hub module in the TF1 Hub format, like google/elmo/3.

tensorflow_hub 0.16 can no longer build TF1 Hub modules, so the module is
written directly: a TF1 graph (``tf.compat.v1``) holding the weights as
variables and its own forward pass, saved as a SavedModel with the empty tag
set, plus the ``tfhub_module.pb`` marker. TensorFlow is imported only when
:func:`export_hub_module` runs.
"""

import os
import shutil
import tempfile
from pathlib import Path

import numpy as np

from ._chars import (
    BOS_IDS,
    BOW_CHAR,
    EOS_IDS,
    EOW_CHAR,
    MAX_CHARS,
    MAX_TOKEN_BYTES,
    PAD_CHAR,
)
from ._ops import FORGET_BIAS, lstm_cell, token_embedding
from ._sources import resolve_weight_files
from ._weights import expected_shapes, lstm_prefix, read_weight_files

# tensorflow_hub's module_def.proto: ModuleDef{format: FORMAT_V3}. Field 1
# (enum, varint wire type) = 3 serializes to the two bytes 0x08 0x03.
MODULE_DEF_V3 = b"\x08\x03"
MODULE_DEF_FILENAME = "tfhub_module.pb"
SIGNATURES = ("default", "tokens")


def _char_ids(tf, tokens):
    """``(B, T, 50)`` int32 character ids (shifted by +1) of string tokens."""
    raw = tf.io.decode_raw(tokens, tf.uint8, fixed_length=MAX_TOKEN_BYTES)
    raw = tf.cast(raw, tf.int32)
    n_bytes = tf.minimum(tf.strings.length(tokens, unit="BYTE"), MAX_TOKEN_BYTES)
    n_bytes = n_bytes[..., None]
    column = tf.zeros_like(raw[..., :1])
    body = tf.concat([column, raw, column], axis=-1)  # body[k] = byte k - 1
    position = tf.range(MAX_CHARS)
    ids = tf.where(
        tf.equal(position, 0),
        BOW_CHAR,
        tf.where(
            position <= n_bytes,
            body,
            tf.where(tf.equal(position, n_bytes + 1), EOW_CHAR, PAD_CHAR),
        ),
    )
    ids = ids + 1
    # The literal boundary strings map to the boundary tokens, as in _chars.
    ids = tf.where(tf.equal(tokens, "<S>")[..., None], tf.constant(BOS_IDS), ids)
    ids = tf.where(tf.equal(tokens, "</S>")[..., None], tf.constant(EOS_IDS), ids)
    return ids


def _token_embedding(tf, opts, w, char_ids):
    """The character CNN, highway layers and projection on ``(n, 50)`` ids."""
    table = tf.concat([tf.zeros([1, opts.char_dim]), w["char_embed"]], axis=0)
    kernels = [
        (w[f"CNN/W_cnn_{i}"][0], w[f"CNN/b_cnn_{i}"]) for i in range(len(opts.filters))
    ]
    highways = [
        tuple(
            w[f"CNN_high_{k}/{n}"]
            for n in ("W_carry", "b_carry", "W_transform", "b_transform")
        )
        for k in range(opts.n_highway)
    ]
    projection = (
        (w["CNN_proj/W_proj"], w["CNN_proj/b_proj"]) if opts.use_projection else None
    )
    return token_embedding(tf, opts, table, kernels, highways, projection, char_ids)


def _lstm_layer(tf, opts, w, layer, x):
    """One LSTM layer, both directions stacked, from a zero state.

    ``x`` is ``(2, T, B, P)`` (direction, time, batch, feature); returns the
    projected outputs, same shape.
    """
    P, C = opts.projection_dim, opts.lstm_dim
    w0 = tf.stack([w[f"{lstm_prefix(d, layer)}/W_0"] for d in range(2)])
    bias = tf.stack([w[f"{lstm_prefix(d, layer)}/B"] for d in range(2)])
    bias = bias + tf.constant(
        np.concatenate([np.zeros(2 * C), np.full(C, FORGET_BIAS), np.zeros(C)]),
        tf.float32,
    )  # gate order i, j, f, o
    w_x, w_h = w0[:, :P], w0[:, P:]
    w_p = tf.stack([w[f"{lstm_prefix(d, layer)}/W_P_0"] for d in range(2)])
    T, B = tf.shape(x)[1], tf.shape(x)[2]
    gates_x = tf.matmul(tf.reshape(x, [2, T * B, P]), w_x) + bias[:, None, :]
    gates_x = tf.reshape(gates_x, [2, T, B, 4 * C])

    def step(t, c, h, outputs):
        c, m = lstm_cell(tf, gates_x[:, t] + tf.matmul(h, w_h), c, opts.cell_clip)
        h = tf.matmul(m, w_p)
        if opts.proj_clip is not None:
            h = tf.clip_by_value(h, -opts.proj_clip, opts.proj_clip)
        return t + 1, c, h, outputs.write(t, h)

    _, _, _, outputs = tf.while_loop(
        lambda t, *_: t < T,
        step,
        (
            tf.constant(0),
            tf.zeros([2, B, C]),
            tf.zeros([2, B, P]),
            tf.TensorArray(tf.float32, size=T),
        ),
    )
    return tf.transpose(outputs.stack(), [1, 0, 2, 3])


def _forward(tf, opts, w, aggregation, tokens, sequence_len):
    """The module's outputs for ``tokens`` (B, T) string and ``sequence_len`` (B,)."""
    B, T = tf.shape(tokens)[0], tf.shape(tokens)[1]
    P = opts.projection_dim
    seq = tf.clip_by_value(tf.cast(sequence_len, tf.int32), 0, T)
    lengths = seq + 2  # with <S> and </S>
    width = T + 2
    # Every sentence as strings with its boundaries; "<S>" and "</S>" encode
    # as the boundary tokens (see _char_ids).
    padded = tf.concat([tf.fill([B, 1], "<S>"), tokens, tf.fill([B, 1], "")], axis=1)
    position = tf.range(width)[None, :]
    padded = tf.where(tf.equal(position, (seq + 1)[:, None]), "</S>", padded)
    real = tf.where(tf.sequence_mask(lengths, width))
    # The token embedding is context independent: run it once per distinct
    # token of the batch.
    distinct, index = tf.unique(tf.gather_nd(padded, real))
    embedded = _token_embedding(tf, opts, w, _char_ids(tf, distinct))
    embedded = tf.gather(embedded, index)
    embedded = tf.scatter_nd(real, embedded, tf.cast(tf.stack([B, width, P]), tf.int64))
    backward = tf.reverse_sequence(embedded, lengths, seq_axis=1, batch_axis=0)
    x = tf.transpose(tf.stack([embedded, backward]), [0, 2, 1, 3])  # (2, T, B, P)

    inner = tf.sequence_mask(seq, T, dtype=tf.float32)[:, :, None]
    word_emb = embedded[:, 1 : T + 1] * inner
    lstm_outputs = []
    for layer in range(opts.n_lstm_layers):
        y = _lstm_layer(tf, opts, w, layer, x)
        if opts.use_skip_connections and layer > 0:
            y = y + x
        x = y
        fw = tf.transpose(y[0], [1, 0, 2])
        bw = tf.reverse_sequence(
            tf.transpose(y[1], [1, 0, 2]), lengths, seq_axis=1, batch_axis=0
        )
        lstm_outputs.append(tf.concat([fw, bw], axis=-1)[:, 1 : T + 1] * inner)

    layers = [tf.concat([word_emb, word_emb], axis=-1)] + lstm_outputs
    mix = tf.nn.softmax(aggregation["weights"])
    mixed = tf.add_n([mix[j] * layer for j, layer in enumerate(layers)])
    elmo = aggregation["scaling"] * mixed
    n_real = tf.cast(tf.maximum(seq, 1), tf.float32)[:, None]
    default = tf.reduce_sum(elmo * inner, axis=1) / n_real

    outputs = {"word_emb": word_emb, "elmo": elmo, "default": default}
    outputs["sequence_len"] = seq
    for k, layer in enumerate(lstm_outputs, start=1):
        outputs[f"lstm_outputs{k}"] = layer
    shapes = {"word_emb": [None, None, P], "default": [None, 2 * P]}
    shapes["sequence_len"] = [None]
    named = {}
    for name, tensor in outputs.items():
        tensor.set_shape(shapes.get(name, [None, None, 2 * P]))
        named[name] = tf.identity(tensor, name=name)
    return named


def _split_text(tf, text):
    """Split each string on spaces (empty pieces dropped) and pad with ""."""
    pieces = tf.strings.split(text, sep=" ")
    pieces = tf.ragged.boolean_mask(pieces, tf.not_equal(pieces, ""))
    return pieces.to_tensor(default_value=""), tf.cast(pieces.row_lengths(), tf.int32)


def _signature(tf, inputs, outputs):
    from tensorflow.core.protobuf import meta_graph_pb2

    signature = meta_graph_pb2.SignatureDef(method_name="tensorflow/serving/predict")
    for field, tensors in ((signature.inputs, inputs), (signature.outputs, outputs)):
        for name, tensor in tensors.items():
            field[name].CopyFrom(
                meta_graph_pb2.TensorInfo(
                    name=tensor.name,
                    dtype=tensor.dtype.as_datatype_enum,
                    tensor_shape=tensor.shape.as_proto(),
                )
            )
    return signature


def _build_and_save(opts, weights, path):
    import tensorflow as tf

    graph = tf.Graph()
    with graph.as_default():
        v1 = tf.compat.v1
        variables = {}
        with v1.variable_scope("bilm"):
            for name, shape in expected_shapes(opts).items():
                variables[name] = v1.get_variable(
                    name,
                    shape=shape,
                    dtype=tf.float32,
                    initializer=v1.zeros_initializer(),
                    trainable=False,
                    use_resource=True,
                )
        n_layers = 1 + opts.n_lstm_layers
        with v1.variable_scope("aggregation"):
            aggregation = {
                "weights": v1.get_variable(
                    "weights",
                    shape=[n_layers],
                    initializer=v1.zeros_initializer(),
                    use_resource=True,
                ),
                "scaling": v1.get_variable(
                    "scaling",
                    shape=[],
                    initializer=v1.ones_initializer(),
                    use_resource=True,
                ),
            }
        w = {name: var.read_value() for name, var in variables.items()}
        agg = {name: var.read_value() for name, var in aggregation.items()}

        with v1.name_scope("default"):
            text = v1.placeholder(tf.string, [None], name="text")
            tokens_from_text, lengths_from_text = _split_text(tf, text)
            default_outputs = _forward(
                tf, opts, w, agg, tokens_from_text, lengths_from_text
            )
        with v1.name_scope("tokens"):
            tokens = v1.placeholder(tf.string, [None, None], name="tokens")
            sequence_len = v1.placeholder(tf.int32, [None], name="sequence_len")
            tokens_outputs = _forward(tf, opts, w, agg, tokens, sequence_len)

        signature_def_map = {
            "default": _signature(tf, {"text": text}, default_outputs),
            "tokens": _signature(
                tf, {"tokens": tokens, "sequence_len": sequence_len}, tokens_outputs
            ),
        }
        with v1.Session(graph=graph) as session:
            for name, var in variables.items():
                # Feed the values to the initializers: the graph stays small.
                session.run(var.initializer, {var.initial_value: weights[name]})
            session.run([var.initializer for var in aggregation.values()])
            builder = v1.saved_model.Builder(str(path))
            builder.add_meta_graph_and_variables(
                session,
                tags=[],
                signature_def_map=signature_def_map,
                strip_default_attrs=True,
            )
            builder.save()
    (path / MODULE_DEF_FILENAME).write_bytes(MODULE_DEF_V3)


def export_hub_module(source, out_dir):
    """Write a biLM as a TF Hub module in the TF1 Hub format (like google/elmo/3).

    The module has google/elmo/3's signatures and outputs. Signature
    ``"default"`` takes ``text`` (string ``[batch]``, split on spaces) and
    ``"tokens"`` takes ``tokens`` (string ``[batch, max_length]`` padded with
    ``""``) and ``sequence_len`` (int32 ``[batch]``, clipped to
    ``[0, max_length]``). Both return ``word_emb`` ``[batch, max_length, P]``,
    ``lstm_outputs1``, ``lstm_outputs2`` (one per LSTM layer) and ``elmo``
    ``[batch, max_length, 2P]``, ``default`` ``[batch, 2P]`` (mean of ``elmo``
    over the real tokens) and ``sequence_len``. Every output is zero at
    padding. ``elmo`` is ``scaling * sum_j softmax(weights)_j * layer_j`` over
    ``[word_emb, word_emb]`` and the LSTM layers, with the variables
    ``aggregation/weights`` (zeros) and ``aggregation/scaling`` (1.0); the
    biLM weights are the variables ``bilm/<bilm-tf dataset name>``. The LSTM
    runs from a zero state, like the published module.

    Parameters
    ----------
    source : str or path-like
        A biLM in bilm-tf weight files, as accepted by
        :func:`sklearn_elmo.load_bilm` (a directory with ``options.json`` and a
        weights ``.hdf5``, or the options file).
    out_dir : str or path-like
        Where to write the module: must not exist or be an empty directory.
        Its parent directory is created if needed.

    Returns
    -------
    out_dir : pathlib.Path
        The module directory (``saved_model.pb``, ``variables/``,
        ``tfhub_module.pb``); load it with ``tensorflow_hub.load`` or pass it
        to :func:`sklearn_elmo.load_bilm`.

    Raises
    ------
    ValueError
        If ``source`` is not a readable biLM in weight files, or ``out_dir``
        exists and is not an empty directory.

    Examples
    --------
    >>> import tempfile, os
    >>> import tensorflow as tf
    >>> import tensorflow_hub as hub
    >>> from sklearn_elmo import export_hub_module
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> work = tempfile.mkdtemp()
    >>> module = export_hub_module(make_random_bilm(os.path.join(work, "bilm")),
    ...                            os.path.join(work, "module"))
    >>> elmo = hub.load(str(module))
    >>> out = elmo.signatures["default"](tf.constant(["the cat sat", "hello"]))
    >>> out["elmo"].shape, out["sequence_len"].numpy().tolist()
    (TensorShape([2, 3, 32]), [3, 1])
    """
    opts, weights = read_weight_files(resolve_weight_files(source))
    out = Path(os.path.expanduser(os.fspath(out_dir)))
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ValueError(f"{out}: out_dir exists and is not an empty directory")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        _build_and_save(opts, weights, staging / "module")
        if out.exists():
            out.rmdir()
        os.replace(staging / "module", out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out
