"""The trainable network on top of the frozen biLM (Keras 3, TensorFlow backend).

Scalar mix of the biLM layers -> masked pooling -> dropout -> optional relu
hidden layers -> output logits. The biLM never runs here: the network reads
:class:`~sklearn_elmo.features.LayerFeatures`, either per-layer means (mean
pooling; mixing commutes with mean pooling) or token vectors with a mask.

The head reads the biLM layers standardised with training-set statistics:
each layer centred by its training mean, all layers divided by one common
scale (``input/center``, ``input/scale``). Pooled ELMo vectors share a large
common component, so raw inputs are badly conditioned for the head. Centring
only shifts the pooled mix by a constant (mean and max pooling commute with
it) and a common scale leaves the relative layer weights alone, so the scalar
mix keeps its meaning and the encoder (:meth:`~sklearn_elmo.head._inference.Network.encode`) applies it to
the raw layers.

This module holds the Keras building blocks (layers, the model, its
initial values, the losses and variable helpers both training paths use).
"""

import functools

import keras
import numpy as np
import tensorflow as tf
from keras import ops

from .._threads import apply_thread_setting
from ._spec import dense_layers, layer_seeds

# A fitted estimator builds its network before it loads the biLM: size
# TensorFlow's pools (SKLEARN_ELMO_NUM_THREADS) before either runs an op.
apply_thread_setting()


def check_backend():
    if keras.backend.backend() != "tensorflow":
        raise RuntimeError(
            "sklearn_elmo trains its networks with the TensorFlow backend of Keras; "
            f"KERAS_BACKEND is {keras.backend.backend()!r}. Set KERAS_BACKEND="
            "tensorflow before importing keras."
        )


class ScalarMix(keras.layers.Layer):
    """ELMo's scalar mix: ``gamma * sum_j softmax(w)_j * layer_j``.

    Input ``(batch, n_layers, ...)``; output the same without the layer axis.
    ``w`` starts at zero (a plain average) and ``gamma`` at one; ``mix_l2``
    adds ``mix_l2 * sum(w ** 2)`` to the model's losses.
    """

    def __init__(self, mix_l2=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mix_l2 = mix_l2

    def build(self, input_shape):
        regularizer = keras.regularizers.L2(self.mix_l2) if self.mix_l2 > 0 else None
        self.w = self.add_weight(
            name="w",
            shape=(input_shape[1],),
            initializer="zeros",
            regularizer=regularizer,
        )
        self.gamma = self.add_weight(name="gamma", shape=(), initializer="ones")

    def call(self, layers):
        # softmax written out: keras.ops.softmax warns on a single layer.
        e = ops.exp(self.w - ops.max(self.w))
        # Broadcast and sum over the layer axis: a tensordot transposes its
        # input first, which made up a third of a pooled training step.
        s = ops.reshape(e / ops.sum(e), (-1,) + (1,) * (len(layers.shape) - 2))
        return self.gamma * ops.sum(layers * s, axis=1)

    def get_config(self):
        return {**super().get_config(), "mix_l2": self.mix_l2}


class MaskedPooling(keras.layers.Layer):
    """Pool ``(batch, T, dim)`` over real tokens only: mean, max or both.

    A text without tokens pools to zeros.
    """

    def __init__(self, pooling="mean", **kwargs):
        super().__init__(**kwargs)
        self.pooling = pooling

    def call(self, inputs):
        x, mask = inputs
        m = ops.expand_dims(ops.cast(mask, x.dtype), -1)
        count = ops.sum(m, axis=1)
        pooled = []
        if self.pooling in ("mean", "mean_max"):
            pooled.append(ops.sum(x * m, axis=1) / ops.maximum(count, 1.0))
        if self.pooling in ("max", "mean_max"):
            largest = ops.max(ops.where(m > 0, x, float("-inf")), axis=1)
            pooled.append(ops.where(count > 0, largest, 0.0))
        return pooled[0] if len(pooled) == 1 else ops.concatenate(pooled, axis=-1)

    def get_config(self):
        return {**super().get_config(), "pooling": self.pooling}


def build_network(spec, seed=0):
    """Build the Keras model and its encoder for ``spec``.

    Returns
    -------
    model : keras.Model or None
        Inputs -> output logits; None when ``spec.output`` is None.
    encoder : keras.Model
        Inputs -> mixed, pooled features (``spec.n_pooled`` wide).
    """
    check_backend()
    seeds = layer_seeds(spec, seed)
    if spec.token_level:
        inputs = {
            "layers": keras.Input((spec.n_layers, None, spec.dim), name="layers"),
            "mask": keras.Input((None,), dtype="bool", name="mask"),
        }
        mixed = ScalarMix(spec.mix_l2, name="scalar_mix")(inputs["layers"])
        pooled = MaskedPooling(spec.pooling, name="pooling")([mixed, inputs["mask"]])
    else:
        if spec.pooling != "mean":
            raise ValueError("Only mean pooling can run on per-layer means.")
        inputs = {"layers": keras.Input((spec.n_layers, spec.dim), name="layers")}
        pooled = ScalarMix(spec.mix_l2, name="scalar_mix")(inputs["layers"])
    encoder = keras.Model(inputs, pooled, name="encoder")
    if spec.output is None:
        return None, encoder

    h = keras.layers.Dropout(spec.dropout, seed=int(seeds[0]), name="dropout")(pooled)
    for i, width in enumerate(spec.hidden_layer_sizes):
        h = keras.layers.Dense(
            width,
            activation="relu",
            kernel_initializer=kernel_initializer(seeds[i + 1]),
            name=f"hidden_{i}",
        )(h)
    logits = keras.layers.Dense(
        spec.n_outputs,
        kernel_initializer=kernel_initializer(seeds[-1]),
        name="output",
    )(h)
    return keras.Model(inputs, logits, name="elmo_head"), encoder


def kernel_initializer(seed):
    return keras.initializers.GlorotUniform(seed=int(seed))


def initial_weights(spec, seed=0):
    """The values ``build_network(spec, seed)`` starts with, without building it.

    Building a Keras model costs more than a grid-search fit's training on
    per-text features; the NumPy trainer of
    :mod:`~sklearn_elmo.head._pooled_training` starts each fit from these instead.

    Returns
    -------
    weights : dict of str -> ndarray
        The trainable variables, by path.
    dropout_state : ndarray or None
        The dropout layer's random-generator state (its one non-trainable
        variable); None without dropout.
    """
    check_backend()
    if spec.output is None:
        raise ValueError("initial_weights needs a spec with an output layer.")
    # The fits of a grid search share a random_state, so mostly a seed: the
    # Keras initialisers cost more than a short fit's epochs. Read-only
    # arrays, a fresh dict.
    weights, dropout_state = _initial_values(spec, int(seed))
    return dict(weights), dropout_state


@functools.lru_cache(maxsize=64)
def _initial_values(spec, seed):
    seeds = layer_seeds(spec, seed)
    weights = {
        "scalar_mix/w": np.zeros(spec.n_layers, np.float32),
        "scalar_mix/gamma": np.ones((), np.float32),
    }
    dropout_state = None
    if spec.dropout > 0:
        dropout_state = keras.random.SeedGenerator(int(seeds[0])).state.numpy()
    for (name, fan_in, width), layer_seed in zip(
        dense_layers(spec), seeds[1:], strict=True
    ):
        kernel = kernel_initializer(layer_seed)((fan_in, width), dtype="float32")
        weights[f"{name}/kernel"] = np.asarray(kernel)
        weights[f"{name}/bias"] = np.zeros(width, np.float32)
    for value in [*weights.values(), dropout_state]:
        if value is not None:
            value.setflags(write=False)
    return weights, dropout_state


def input_signature(spec):
    if spec.token_level:
        return {
            "layers": tf.TensorSpec((None, spec.n_layers, None, spec.dim), tf.float32),
            "mask": tf.TensorSpec((None, None), tf.bool),
        }
    return {"layers": tf.TensorSpec((None, spec.n_layers, spec.dim), tf.float32)}


def target_signature(spec):
    if spec.output == "softmax":
        return tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None, 1), tf.float32)
    return (
        tf.TensorSpec((None, spec.n_outputs), tf.float32),
        tf.TensorSpec((None, spec.n_outputs), tf.float32),
    )


def entry_losses(output, y, logits):
    if output == "softmax":
        return tf.expand_dims(
            tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits), -1
        )
    if output == "sigmoid":
        return tf.nn.sigmoid_cross_entropy_with_logits(y, logits)
    return tf.square(logits - y)


def variables_dict(model):
    return {v.path: np.array(v.numpy()) for v in model.trainable_variables}


def check_weights(model, weights):
    variables = {v.path: v for v in model.trainable_variables}
    if set(variables) != set(weights):
        raise ValueError(
            "Network weights do not match the network: "
            f"expected {sorted(variables)}, got {sorted(weights)}."
        )
    for path, value in weights.items():
        if tuple(np.shape(value)) != tuple(variables[path].shape):
            raise ValueError(
                f"Network weights do not match the network: {path} has shape "
                f"{np.shape(value)}, expected {tuple(variables[path].shape)}."
            )


def mix_penalty(model):
    """The model's regularisation losses (the scalar mix's L2), as a tensor."""
    return tf.add_n(model.losses) if model.losses else tf.constant(0.0)


def assign_weights(model, weights):
    check_weights(model, weights)
    variables = {v.path: v for v in model.trainable_variables}
    for path, value in weights.items():
        variables[path].assign(value)
