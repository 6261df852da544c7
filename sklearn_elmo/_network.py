"""The trainable network on top of the frozen biLM (Keras 3, TensorFlow backend).

Scalar mix of the biLM layers -> masked pooling -> dropout -> optional relu
hidden layers -> output logits. The biLM never runs here: the network reads
:class:`~sklearn_elmo._features.LayerFeatures`, either per-layer means (mean
pooling; mixing commutes with mean pooling) or token vectors with a mask.

The head reads the biLM layers standardised with training-set statistics:
each layer centred by its training mean, all layers divided by one common
scale (``input/center``, ``input/scale``). Pooled ELMo vectors share a large
common component, so raw inputs are badly conditioned for the head. Centring
only shifts the pooled mix by a constant (mean and max pooling commute with
it) and a common scale leaves the relative layer weights alone, so the scalar
mix keeps its meaning and the encoder (:meth:`Network.encode`) applies it to
the raw layers.

Fitted networks leave this module as ``{variable path: ndarray}`` dicts plus a
:class:`NetworkSpec`; :class:`Network` rebuilds the Keras model from them on
demand, so estimators never hold TensorFlow objects.
"""

import collections
import contextlib
import dataclasses
import functools
import sys
import threading

import keras
import numpy as np
import tensorflow as tf
from keras import ops

OUTPUTS = ("sigmoid", "softmax", "linear")
_PREDICT_BATCH_MEANS = 4096
_PREDICT_BATCH_TOKENS = 128
# Most bytes of one padded token-level inference batch (its "layers" input).
_PREDICT_BATCH_BYTES = 64 * 2**20
# Most training logits (floats) returned by one call running several epochs.
_FUSED_LOGITS = 4 * 2**20


def _check_backend():
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


@dataclasses.dataclass(frozen=True)
class NetworkSpec:
    """Everything that fixes the network's architecture.

    ``output`` is None for a mix-and-pool encoder without head.
    """

    n_layers: int
    dim: int
    pooling: str = "mean"
    token_level: bool = False
    hidden_layer_sizes: tuple = ()
    n_outputs: int = 0
    output: str | None = None
    dropout: float = 0.0
    mix_l2: float = 0.0

    @property
    def n_pooled(self):
        return self.dim * (2 if self.pooling == "mean_max" else 1)

    def as_dict(self):
        return dataclasses.asdict(self)


def build_network(spec, seed=0):
    """Build the Keras model and its encoder for ``spec``.

    Returns
    -------
    model : keras.Model or None
        Inputs -> output logits; None when ``spec.output`` is None.
    encoder : keras.Model
        Inputs -> mixed, pooled features (``spec.n_pooled`` wide).
    """
    _check_backend()
    seeds = _layer_seeds(spec, seed)
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
            kernel_initializer=_kernel_initializer(seeds[i + 1]),
            name=f"hidden_{i}",
        )(h)
    logits = keras.layers.Dense(
        spec.n_outputs,
        kernel_initializer=_kernel_initializer(seeds[-1]),
        name="output",
    )(h)
    return keras.Model(inputs, logits, name="elmo_head"), encoder


def _layer_seeds(spec, seed):
    """Seeds of the dropout layer, the hidden layers and the output layer."""
    return np.random.RandomState(seed).randint(
        0, 2**31 - 1, size=len(spec.hidden_layer_sizes) + 2
    )


def _kernel_initializer(seed):
    return keras.initializers.GlorotUniform(seed=int(seed))


def initial_weights(spec, seed=0):
    """The values ``build_network(spec, seed)`` starts with, without building it.

    Building a Keras model costs more than a grid-search fit's training on
    per-text features; the shared trainer of
    :mod:`~sklearn_elmo._pooled_training` starts each fit from these instead.

    Returns
    -------
    weights : dict of str -> ndarray
        The trainable variables, by path.
    dropout_state : ndarray or None
        The dropout layer's random-generator state (its one non-trainable
        variable); None without dropout.
    """
    _check_backend()
    if spec.output is None:
        raise ValueError("initial_weights needs a spec with an output layer.")
    # The fits of a grid search share a random_state, so mostly a seed: the
    # Keras initialisers cost more than a short fit's epochs. Read-only
    # arrays, a fresh dict.
    weights, dropout_state = _initial_values(spec, int(seed))
    return dict(weights), dropout_state


@functools.lru_cache(maxsize=64)
def _initial_values(spec, seed):
    seeds = _layer_seeds(spec, seed)
    weights = {
        "scalar_mix/w": np.zeros(spec.n_layers, np.float32),
        "scalar_mix/gamma": np.ones((), np.float32),
    }
    dropout_state = None
    if spec.dropout > 0:
        dropout_state = keras.random.SeedGenerator(int(seeds[0])).state.numpy()
    fan_in = spec.n_pooled
    widths = [*spec.hidden_layer_sizes, spec.n_outputs]
    names = [f"hidden_{i}" for i in range(len(spec.hidden_layer_sizes))] + ["output"]
    for name, width, layer_seed in zip(names, widths, seeds[1:], strict=True):
        kernel = _kernel_initializer(layer_seed)((fan_in, width), dtype="float32")
        weights[f"{name}/kernel"] = np.asarray(kernel)
        weights[f"{name}/bias"] = np.zeros(width, np.float32)
        fan_in = width
    for value in [*weights.values(), dropout_state]:
        if value is not None:
            value.setflags(write=False)
    return weights, dropout_state


def _input_signature(spec):
    if spec.token_level:
        return {
            "layers": tf.TensorSpec((None, spec.n_layers, None, spec.dim), tf.float32),
            "mask": tf.TensorSpec((None, None), tf.bool),
        }
    return {"layers": tf.TensorSpec((None, spec.n_layers, spec.dim), tf.float32)}


def _target_signature(spec):
    if spec.output == "softmax":
        return tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None, 1), tf.float32)
    return (
        tf.TensorSpec((None, spec.n_outputs), tf.float32),
        tf.TensorSpec((None, spec.n_outputs), tf.float32),
    )


def _entry_losses(output, y, logits):
    if output == "softmax":
        return tf.expand_dims(
            tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits), -1
        )
    if output == "sigmoid":
        return tf.nn.sigmoid_cross_entropy_with_logits(y, logits)
    return tf.square(logits - y)


def _variables_dict(model):
    return {v.path: np.array(v.numpy()) for v in model.trainable_variables}


def _check_weights(model, weights):
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


def _mix_penalty(model):
    """The model's regularisation losses (the scalar mix's L2), as a tensor."""
    return tf.add_n(model.losses) if model.losses else tf.constant(0.0)


def _assign(model, weights):
    _check_weights(model, weights)
    variables = {v.path: v for v in model.trainable_variables}
    for path, value in weights.items():
        variables[path].assign(value)


class StandardizedFeatures:
    """A view of LayerFeatures whose batches are ``(layers - center) / scale``."""

    def __init__(self, features, center, scale):
        self.features = features
        self.center = center
        self.scale = scale

    def __len__(self):
        return len(self.features)

    @property
    def n_tokens(self):
        return self.features.n_tokens

    def batch(self, index):
        batch = dict(self.features.batch(index))
        layers = batch["layers"]
        center = self.center[:, None, :] if layers.ndim == 4 else self.center
        batch["layers"] = ((layers - center) / self.scale).astype(np.float32)
        return batch


def input_statistics(features, index):
    """Per-layer center ``(n_layers, dim)`` and common scale of the head's inputs.

    Over the texts at ``index``: for per-layer means, the mean and spread of
    those means; for token vectors, of the tokens (from each text's token
    count, mean and mean square, without touching the tokens).
    """
    means = features.means[index].astype(np.float64)
    if features.token_level:
        counts = features.n_tokens[index].astype(np.float64)
        total = max(counts.sum(), 1.0)
        center = np.tensordot(counts, means, axes=1) / total
        square = counts @ features.sq_means[index] / total  # (n_layers,)
        variance = np.mean(square - np.mean(np.square(center), axis=1))
    else:
        center = means.mean(axis=0)
        variance = np.mean(np.square(means - center))
    scale = float(np.sqrt(max(variance, 0.0)))
    if not np.isfinite(scale) or scale <= 1e-12:
        scale = 1.0
    return center.astype(np.float32), np.array(scale, dtype=np.float32)


def _batches(index, batch_size):
    for start in range(0, len(index), batch_size):
        yield index[start : start + batch_size]


def train_network(
    spec,
    features,
    targets,
    loss_weights,
    *,
    train_index,
    val_index=None,
    epochs,
    batch_size,
    learning_rate,
    n_iter_no_change=None,
    seed=0,
    score=None,
    verbose=0,
    label="sklearn_elmo",
):
    """Train a fresh network with Adam; return its weights and history.

    Parameters
    ----------
    spec : NetworkSpec
        Must have an ``output``.
    features : LayerFeatures
        Raw biLM features; the network sees them standardised with the
        statistics of ``train_index`` (returned as ``input/center`` and
        ``input/scale`` in the weights).
    targets : ndarray
        int32 ``(n,)`` class indices for "softmax"; float32 ``(n, n_outputs)``
        otherwise.
    loss_weights : ndarray of shape (n, 1) for "softmax", else (n, n_outputs)
        Per-entry loss weights (sample and class weights).
    train_index, val_index : ndarray of int
        Rows used for training and, if given, for early stopping.
    epochs, batch_size, learning_rate : training schedule.
    n_iter_no_change : int
        Stop after this many epochs without a lower validation loss and
        restore the best weights (only with ``val_index``).
    seed : int
        Fixes initialisation, dropout and shuffling.
    score : callable (targets, logits) -> float, optional
        Metric recorded in the history.
    verbose : int
        Print one line per epoch when > 0.

    Returns
    -------
    weights : dict of str -> ndarray
    history : dict of str -> list of float
        "loss" and "score" per epoch, and "val_loss", "val_score" with a
        validation set. Losses include the scalar-mix L2 penalty.
    n_iter : int
        Epochs run.
    """
    train_index = np.asarray(train_index)
    center, scale = input_statistics(features, train_index)
    features = StandardizedFeatures(features, center, scale)
    rng = np.random.RandomState(seed)
    network_seed = int(rng.randint(0, 2**31 - 1))
    batch_size = min(batch_size, len(train_index))
    history = {"loss": [], "score": []}
    if val_index is not None:
        history.update(val_loss=[], val_score=[])
    best_loss, best_weights, stale = np.inf, None, 0
    n_iter = 0
    with _start_fit(
        spec, features, targets, loss_weights, network_seed, learning_rate, batch_size
    ) as fit:
        if val_index is None and verbose <= 0:
            # Nothing to decide or print between epochs: run them in few calls.
            # The same shuffles as below (the loop draws nothing else).
            orders = [train_index[rng.permutation(len(train_index))] for _ in range(epochs)]
            per_call = max(1, _FUSED_LOGITS // (len(train_index) * spec.n_outputs))
            for start in range(0, epochs, per_call):
                chunk = orders[start : start + per_call]
                totals, logits = fit.run_epochs(chunk)
                for order, total, epoch_logits in zip(chunk, totals, logits, strict=True):
                    history["loss"].append(total / len(order))
                    history["score"].append(_score(score, targets[order], epoch_logits))
            n_iter = epochs
        else:
            for epoch in range(epochs):
                order = train_index[rng.permutation(len(train_index))]
                total, all_logits = fit.run_epoch(order)
                n_iter = epoch + 1
                history["loss"].append(total / len(order))
                history["score"].append(_score(score, targets[order], all_logits))
                message = f"loss {history['loss'][-1]:.4f}, score {history['score'][-1]:.4f}"

                if val_index is not None:
                    val_total, val_order, val_logits = 0.0, [], []
                    for index in _inference_batches(spec, features, val_index):
                        loss_sum, logits = fit.evaluate(index)
                        val_total += loss_sum
                        val_order.append(index)
                        val_logits.append(logits)
                    k = loss_weights.shape[1]
                    val_loss = val_total / (len(val_index) * k) + fit.penalty()
                    history["val_loss"].append(val_loss)
                    history["val_score"].append(
                        _score(
                            score,
                            targets[np.concatenate(val_order)],
                            np.concatenate(val_logits),
                        )
                    )
                    message += (
                        f", val_loss {val_loss:.4f}, val_score {history['val_score'][-1]:.4f}"
                    )
                    if val_loss < best_loss:
                        best_loss, best_weights, stale = val_loss, fit.weights(), 0
                    else:
                        stale += 1
                if verbose > 0:
                    print(f"[{label}] epoch {n_iter}/{epochs}: {message}", file=sys.stdout)
                if (
                    val_index is not None
                    and n_iter_no_change is not None
                    and stale >= n_iter_no_change
                ):
                    if verbose > 0:
                        print(
                            f"[{label}] validation loss did not improve for {stale} epochs; "
                            "stopping and restoring the best weights",
                            file=sys.stdout,
                        )
                    break
        weights = best_weights if best_weights is not None else fit.weights()
    weights.update({"input/center": center, "input/scale": scale})
    return weights, history, n_iter


def _start_fit(spec, features, targets, loss_weights, seed, learning_rate, batch_size):
    """A context holding one fit's training state, started from ``seed``'s weights.

    Per-text features train on the shared, traced-once trainer of their
    shape; token vectors on a Keras model of their own (:class:`_KerasFit`).
    Both start from ``build_network(spec, seed)``'s values.
    """
    if spec.token_level:
        return contextlib.nullcontext(
            _KerasFit(spec, features, targets, loss_weights, seed, learning_rate, batch_size)
        )
    from ._pooled_training import pooled_fit

    return pooled_fit(
        spec,
        batch_size,
        layers=features.batch(np.arange(len(features)))["layers"],
        targets=targets,
        loss_weights=loss_weights,
        initial=initial_weights(spec, seed),
        learning_rate=learning_rate,
    )


class _KerasFit:
    """One fit on its own Keras model and optimizer: batches of any shape.

    The interface of :class:`~sklearn_elmo._pooled_training.PooledFit`.
    """

    def __init__(self, spec, features, targets, loss_weights, seed, learning_rate, batch_size):
        self.model = model = build_network(spec, seed=seed)[0]
        self.features, self.targets, self.loss_weights = features, targets, loss_weights
        self.batch_size = batch_size
        self.n_outputs = spec.n_outputs
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        optimizer.build(model.trainable_variables)
        output = spec.output
        y_spec, w_spec = _target_signature(spec)
        signature = [_input_signature(spec), y_spec, w_spec]

        @tf.function(input_signature=signature, autograph=False)
        def train_step(inputs, y, w):
            with tf.GradientTape() as tape:
                logits = model(inputs, training=True)
                loss = tf.reduce_mean(w * _entry_losses(output, y, logits))
                loss = loss + _mix_penalty(model)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(zip(grads, model.trainable_variables, strict=True))
            return loss, logits

        @tf.function(input_signature=signature, autograph=False)
        def eval_step(inputs, y, w):
            logits = model(inputs, training=False)
            return tf.reduce_sum(w * _entry_losses(output, y, logits)), logits

        self._train_step, self._eval_step = train_step, eval_step

    def _run(self, step, index):
        return step(
            self.features.batch(index), self.targets[index], self.loss_weights[index]
        )

    def run_epoch(self, order):
        total = 0.0
        all_logits = np.empty((len(order), self.n_outputs), np.float32)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            loss, logits = self._run(self._train_step, index)
            total += float(loss) * len(index)
            all_logits[start : start + len(index)] = logits.numpy()
        return total, all_logits

    def run_epochs(self, orders):
        totals, logits = zip(*(self.run_epoch(order) for order in orders), strict=True)
        return list(totals), np.stack(logits)

    def evaluate(self, index):
        loss_sum, logits = self._run(self._eval_step, index)
        return float(loss_sum), logits.numpy()

    def penalty(self):
        return float(_mix_penalty(self.model))

    def weights(self):
        return _variables_dict(self.model)


def _score(score, targets, logits):
    return float(score(targets, logits)) if score is not None else float("nan")


def _inference_batches(spec, features, index):
    """Cut ``index`` into batches for inference (no gradients).

    Per-layer means go in fixed slices. Token vectors are padded to the
    longest text of a batch, so texts are taken in order of length and a
    batch is also bounded by ``_PREDICT_BATCH_BYTES`` of padded input: one
    very long text never pads a hundred short ones to its length.
    """
    index = np.asarray(index)
    if not spec.token_level:
        yield from _batches(index, _PREDICT_BATCH_MEANS)
        return
    lengths = np.maximum(np.asarray(features.n_tokens)[index], 1)
    order = index[np.argsort(lengths, kind="stable")]
    lengths = np.sort(lengths, kind="stable")
    budget = max(1, _PREDICT_BATCH_BYTES // (4 * spec.n_layers * spec.dim))
    start = 0
    while start < len(order):
        stop = start + 1
        while (
            stop < len(order)
            and stop - start < _PREDICT_BATCH_TOKENS
            and (stop - start + 1) * lengths[stop] <= budget
        ):
            stop += 1
        yield order[start:stop]
        start = stop


def default_weights(spec):
    """Weights of an untrained encoder: plain average (w = 0), gamma = 1."""
    return {
        "scalar_mix/w": np.zeros(spec.n_layers, np.float32),
        "scalar_mix/gamma": np.ones((), np.float32),
    }


class _InferenceTemplate:
    """One built network and its traced inference functions, shared per spec.

    Building a Keras model and tracing its functions costs tens of
    milliseconds, more than predicting for a grid-search fold; fitted
    networks of one shape take turns loading their weights into this one.
    """

    def __init__(self, spec):
        self.model, self.encoder = build_network(spec)
        self.lock = threading.Lock()
        self.loaded = None  # the Network whose weights are in the model
        signature = [_input_signature(spec)]
        self.logits = None
        if self.model is not None:
            self.logits = tf.function(
                lambda inputs: self.model(inputs, training=False),
                input_signature=signature,
                autograph=False,
            )
        self.encode = tf.function(
            lambda inputs: self.encoder(inputs, training=False),
            input_signature=signature,
            autograph=False,
        )

    @property
    def holder(self):
        """The model whose trainable weights a Network loads."""
        return self.encoder if self.model is None else self.model


_TEMPLATES = collections.OrderedDict()
_TEMPLATES_LOCK = threading.Lock()
_MAX_TEMPLATES = 16


def _inference_template(spec):
    with _TEMPLATES_LOCK:
        template = _TEMPLATES.get(spec)
        if template is None:
            template = _TEMPLATES[spec] = _InferenceTemplate(spec)
            while len(_TEMPLATES) > _MAX_TEMPLATES:
                _TEMPLATES.popitem(last=False)
        _TEMPLATES.move_to_end(spec)
        return template


class Network:
    """A fitted network rebuilt from plain weights, for inference.

    Parameters
    ----------
    spec : NetworkSpec
    weights : dict of str -> ndarray
        As returned by :func:`train_network`. Encoder-only specs need only the
        ``scalar_mix/*`` entries.
    """

    def __init__(self, spec, weights):
        self.spec = spec
        self._template = _inference_template(spec)
        weights = dict(weights)
        self.center = weights.pop("input/center", None)
        self.scale = weights.pop("input/scale", None)
        if self._template.model is None:
            weights = {k: v for k, v in weights.items() if k.startswith("scalar_mix/")}
        elif self.center is None or self.scale is None:
            raise ValueError("A network with a head needs input/center and input/scale.")
        _check_weights(self._template.holder, weights)
        self._weights = weights

    def _call(self, name, features, width):
        template = self._template
        with template.lock:
            if template.loaded is not self:
                _assign(template.holder, self._weights)
                template.loaded = self
            return self._run(getattr(template, name), features, width)

    def _run(self, function, features, width):
        out = np.empty((len(features), width), np.float32)
        index = np.arange(len(features))
        for batch in _inference_batches(self.spec, features, index):
            out[batch] = function(features.batch(batch)).numpy()
        return out

    def logits(self, features):
        """Output-layer pre-activations, ``(n_texts, n_outputs)``."""
        if self._template.logits is None:
            raise ValueError("This network has no output layer.")
        standardized = StandardizedFeatures(features, self.center, self.scale)
        return self._call("logits", standardized, self.spec.n_outputs)

    def encode(self, features):
        """The scalar mix of the raw layers, pooled: ``(n_texts, spec.n_pooled)``."""
        return self._call("encode", features, self.spec.n_pooled)
