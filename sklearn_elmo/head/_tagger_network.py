"""The per-token network of ElmoTagger (Keras 3, TensorFlow backend).

Scalar mix of the biLM layers at every token -> dropout -> optional BiLSTM
over the sentence -> dense logits per token (softmax cross-entropy). The
biLM never runs here: the network reads
:class:`~sklearn_elmo._features.LayerFeatures` token vectors, standardised
with training-set statistics as the text head does (see
:mod:`sklearn_elmo._network`), padded per batch to its longest sentence, with
a mask; padding changes no real token's output.

One built model, Adam optimizer and traced epoch, evaluation and inference
functions are shared per network shape (:class:`TaggerSpec`): a fit loads
its seeded initial values and a fresh Adam state into them, a prediction
its trained weights, under a lock. Building and tracing cost more than a
grid-search fold's training, so they happen once per process and shape.
A training epoch is one graph loop over its batches, gathered from the
fit's token vectors held as one tensor (batches group sentences of similar
length: :func:`epoch_batches`). Fitted networks leave this module as
``{variable path: ndarray}`` dicts.
"""

import collections
import dataclasses
import sys
import threading

import keras
import numpy as np
import tensorflow as tf

from ._keras import (
    ScalarMix,
    check_backend,
    check_weights,
    mix_penalty,
    variables_dict,
)
from ._keras import assign_weights as _assign
from ._spec import StandardizedFeatures, inference_batches, input_statistics

HIDDEN = ("none", "bilstm")


@dataclasses.dataclass(frozen=True)
class TaggerSpec:
    """Everything that fixes the tagger network's architecture."""

    n_layers: int
    dim: int
    n_classes: int
    hidden: str = "none"
    hidden_size: int = 0
    dropout: float = 0.0
    mix_l2: float = 0.0

    # Read by _network._inference_batches: batches hold token vectors.
    token_level = True

    def as_dict(self):
        return dataclasses.asdict(self)


def build_tagger_network(spec):
    """The Keras model: ``{"layers": (b, n_layers, T, dim), "mask": (b, T)}`` -> logits.

    Logits have shape ``(b, T, n_classes)``; rows at padding are meaningless.
    """
    check_backend()
    if spec.hidden not in HIDDEN:
        raise ValueError(f"hidden must be one of {HIDDEN}, got {spec.hidden!r}.")
    inputs = {
        "layers": keras.Input((spec.n_layers, None, spec.dim), name="layers"),
        "mask": keras.Input((None,), dtype="bool", name="mask"),
    }
    x = ScalarMix(spec.mix_l2, name="scalar_mix")(inputs["layers"])
    x = keras.layers.Dropout(spec.dropout, name="dropout")(x)
    if spec.hidden == "bilstm":
        # Named: Keras numbers unnamed layers per process, and the variable
        # paths are the keys of the saved weights.
        lstm = keras.layers.LSTM(spec.hidden_size, return_sequences=True, name="lstm")
        x = keras.layers.Bidirectional(lstm, name="bilstm")(x, mask=inputs["mask"])
    logits = keras.layers.Dense(spec.n_classes, name="output")(x)
    return keras.Model(inputs, logits, name="elmo_tagger")


def initial_weights(model, seed):
    """Seeded starting values of ``model``'s variables, Keras' default schemes.

    The scalar mix starts as a plain average with gamma 1; kernels Glorot
    uniform, LSTM recurrent kernels orthogonal, biases zero except the LSTM
    forget gates' (one). Returns the trainable values by path and the random
    generators' states (dropout's), in ``non_trainable_variables`` order.
    """
    variables = model.trainable_variables
    states = model.non_trainable_variables
    seeds = np.random.RandomState(seed).randint(
        0, 2**31 - 1, size=len(variables) + len(states)
    )
    weights = {}
    for variable, s in zip(variables, seeds, strict=False):
        path, shape = variable.path, tuple(variable.shape)
        if path == "scalar_mix/w":
            value = np.zeros(shape, np.float32)
        elif path == "scalar_mix/gamma":
            value = np.ones(shape, np.float32)
        elif path.endswith("recurrent_kernel"):
            value = keras.initializers.Orthogonal(seed=int(s))(shape, dtype="float32")
        elif path.endswith("kernel"):
            value = keras.initializers.GlorotUniform(seed=int(s))(
                shape, dtype="float32"
            )
        elif path.endswith("bias"):
            value = np.zeros(shape, np.float32)
            if "lstm_cell" in path:  # gates i, f, c, o: the forget gate starts open
                units = shape[0] // 4
                value[units : 2 * units] = 1.0
        else:  # pragma: no cover - a layer this function does not know
            raise ValueError(f"No initial value defined for the variable {path}.")
        weights[path] = np.asarray(value, np.float32)
    generator_states = [
        keras.random.SeedGenerator(int(s)).state.numpy()
        for s in seeds[len(variables) :]
    ]
    return weights, generator_states


def _batch_targets(features, index, width, tags, token_weights):
    """Padded ``(b, width)`` class indices and loss weights (zero at padding)."""
    y = np.zeros((len(index), width), np.int32)
    w = np.zeros((len(index), width), np.float32)
    for row, i in enumerate(index):
        start, stop = features.offsets[i], features.offsets[i + 1]
        y[row, : stop - start] = tags[start:stop]
        w[row, : stop - start] = token_weights[start:stop]
    return y, w


class _Template:
    """One built tagger network with its optimizer and traced functions."""

    def __init__(self, spec):
        self.spec = spec
        self.model = model = build_tagger_network(spec)
        self.lock = threading.Lock()
        self.loaded = None  # the TaggerNetwork whose weights are in the model
        self.optimizer = optimizer = keras.optimizers.Adam()
        optimizer.build(model.trainable_variables)
        inputs = [
            tf.TensorSpec((None, spec.n_layers, None, spec.dim), tf.float32),
            tf.TensorSpec((None, None), tf.bool),
        ]
        targets = [
            tf.TensorSpec((None, None), tf.int32),
            tf.TensorSpec((None, None), tf.float32),
        ]

        def weighted_loss_sum(logits, y, w):
            losses = tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits)
            return tf.reduce_sum(w * losses)

        @tf.function(input_signature=inputs + targets, autograph=False)
        def eval_step(layers, mask, y, w):
            logits = model({"layers": layers, "mask": mask}, training=False)
            return weighted_loss_sum(logits, y, w), logits

        @tf.function(input_signature=inputs, autograph=False)
        def logits(layers, mask):
            return model({"layers": layers, "mask": mask}, training=False)

        self.eval_step, self.logits = eval_step, logits
        self._weighted_loss_sum = weighted_loss_sum
        self._epochs = {}  # token dtype -> traced epoch

    def _epoch_function(self, dtype):
        """The traced training epoch for token vectors of ``dtype``.

        One graph loop runs every step of an epoch: each batch is gathered
        from the resident token vectors by an index block (``-1`` at
        padding), standardised, transposed to the network's layout and
        trained on. Python runs once per epoch, not per step: with per-token
        inputs the per-step Python and input conversion cost several times
        the step itself.
        """
        epoch = self._epochs.get(dtype)
        if epoch is not None:
            return epoch
        model, optimizer, spec = self.model, self.optimizer, self.spec
        weighted_loss_sum = self._weighted_loss_sum
        signature = [
            tf.TensorSpec((None, spec.n_layers, spec.dim), dtype),  # every token
            tf.TensorSpec((None,), tf.int32),  # class of every token
            tf.TensorSpec((None,), tf.float32),  # loss weight of every token
            tf.TensorSpec((spec.n_layers, spec.dim), tf.float32),  # input/center
            tf.TensorSpec((), tf.float32),  # input/scale
            tf.TensorSpec((None,), tf.int32),  # the batches' index blocks, flat
            tf.TensorSpec((None, 3), tf.int32),  # per batch: start, rows, width
        ]

        @tf.function(input_signature=signature, autograph=False)
        def epoch(tokens, tags, token_weights, center, scale, flat_index, batches):
            def body(b, loss_sum, correct, counted):
                start, rows, width = batches[b, 0], batches[b, 1], batches[b, 2]
                index = tf.reshape(
                    flat_index[start : start + rows * width], (rows, width)
                )
                mask = index >= 0
                safe = tf.maximum(index, 0)
                real = tf.cast(mask, tf.float32)
                x = (tf.cast(tf.gather(tokens, safe), tf.float32) - center) / scale
                layers = tf.transpose(x, (0, 2, 1, 3))  # (rows, n_layers, width, dim)
                y = tf.gather(tags, safe)
                w = tf.gather(token_weights, safe) * real
                n_real = tf.maximum(tf.reduce_sum(real), 1.0)
                with tf.GradientTape() as tape:
                    logits = model({"layers": layers, "mask": mask}, training=True)
                    batch_loss = weighted_loss_sum(logits, y, w)
                    loss = batch_loss / n_real + mix_penalty(model)
                variables = model.trainable_variables
                grads = tape.gradient(loss, variables)
                optimizer.apply_gradients(zip(grads, variables, strict=True))
                hits = tf.cast(
                    tf.equal(tf.argmax(logits, -1, output_type=tf.int32), y), tf.float32
                )
                return (
                    b + 1,
                    loss_sum + batch_loss,
                    correct + tf.reduce_sum(hits * real),
                    counted + tf.reduce_sum(real),
                )

            n_batches = tf.shape(batches)[0]
            zero = tf.constant(0.0)
            _, loss_sum, correct, counted = tf.while_loop(
                lambda b, *_: b < n_batches,
                body,
                [tf.constant(0), zero, zero, zero],
                maximum_iterations=n_batches,
            )
            return loss_sum, correct, counted

        self._epochs[dtype] = epoch
        return epoch

    def run_epoch(self, data, batches):
        """Train on ``batches`` (lists of sentence indices) of the resident ``data``.

        Returns the epoch's weighted loss sum, correct tokens and real tokens.
        """
        offsets = data["offsets"]
        lengths = np.diff(offsets)
        widths = [max(int(lengths[index].max(initial=0)), 1) for index in batches]
        sizes = [len(index) * width for index, width in zip(batches, widths)]
        flat = np.full(sum(sizes), -1, np.int32)
        table = np.empty((len(batches), 3), np.int32)
        at = 0
        for k, (index, width) in enumerate(zip(batches, widths)):
            table[k] = at, len(index), width
            for row, i in enumerate(index):
                start = at + row * width
                flat[start : start + lengths[i]] = np.arange(offsets[i], offsets[i + 1])
            at += len(index) * width
        epoch = self._epoch_function(data["tokens"].dtype)
        loss_sum, correct, counted = epoch(
            data["tokens"],
            data["tags"],
            data["weights"],
            data["center"],
            data["scale"],
            tf.convert_to_tensor(flat),
            tf.convert_to_tensor(table),
        )
        return float(loss_sum), int(correct), int(counted)

    def start_fit(self, seed, learning_rate):
        """Load seeded initial values and a fresh Adam state; call under the lock."""
        weights, generator_states = initial_weights(self.model, seed)
        _assign(self.model, weights)
        for variable, state in zip(
            self.model.non_trainable_variables, generator_states, strict=True
        ):
            variable.assign(state)
        for variable in self.optimizer.variables:
            variable.assign(tf.zeros_like(variable))
        self.optimizer.learning_rate = float(learning_rate)
        self.loaded = None

    def penalty(self):
        return float(mix_penalty(self.model))

    def weights(self):
        return variables_dict(self.model)


_TEMPLATES = collections.OrderedDict()
_TEMPLATES_LOCK = threading.Lock()
_MAX_TEMPLATES = 16


def tagger_template(spec):
    """The shared :class:`_Template` of ``spec``."""
    with _TEMPLATES_LOCK:
        template = _TEMPLATES.get(spec)
        if template is None:
            template = _TEMPLATES[spec] = _Template(spec)
            while len(_TEMPLATES) > _MAX_TEMPLATES:
                _TEMPLATES.popitem(last=False)
        _TEMPLATES.move_to_end(spec)
        return template


# Sentences per pool sorted by length before it is cut into batches.
_BUCKET_BATCHES = 32


def epoch_batches(order, lengths, batch_size, rng):
    """Cut a shuffled ``order`` into batches of sentences of similar length.

    Padding to a batch's longest sentence costs compute in every layer, and
    random batches pad to about twice the mean length. So consecutive pools
    of ``_BUCKET_BATCHES`` batches of the shuffled order are each sorted by
    length and cut, and the batches are shuffled: which sentences meet and
    the order of the steps stay random (and seeded).
    """
    pool = batch_size * _BUCKET_BATCHES
    batches = []
    for start in range(0, len(order), pool):
        chunk = order[start : start + pool]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(
            chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)
        )
    return [batches[k] for k in rng.permutation(len(batches))]


def _accuracy(logits, y, mask):
    real = mask.sum()
    if real == 0:
        return 0, 0
    return int((np.argmax(logits, axis=-1) == y)[mask].sum()), int(real)


def train_tagger(
    spec,
    features,
    tags,
    token_weights,
    *,
    train_index,
    val_index=None,
    epochs,
    batch_size,
    learning_rate,
    n_iter_no_change=None,
    seed=0,
    verbose=0,
    label="ElmoTagger",
):
    """Train a fresh tagger network with Adam; return its weights and history.

    Parameters
    ----------
    spec : TaggerSpec
    features : LayerFeatures
        Raw token vectors of every sentence; the network reads them
        standardised with the statistics of ``train_index`` (returned as
        ``input/center`` and ``input/scale`` in the weights).
    tags : ndarray of shape (total_tokens,), int32
        Class index of every token, in the order of ``features.tokens``.
    token_weights : ndarray of shape (total_tokens,), float32
        Loss weight of every token (sentence and class weights), scaled to a
        mean of one over the training tokens.
    train_index, val_index : ndarray of int
        Sentences trained on and, if given, held out for early stopping.
    epochs, batch_size, learning_rate : training schedule (batches of sentences,
        of similar lengths: :func:`epoch_batches`).
    n_iter_no_change : int
        With ``val_index``: stop after this many epochs without a lower
        validation loss and keep the best epoch's weights.
    seed : int
        Fixes initialisation, dropout and shuffling.
    verbose : int
        One line per epoch when > 0.

    Returns
    -------
    weights : dict of str -> ndarray
    history : dict of str -> list of float
        "loss" (mean weighted token loss plus the mix penalty) and "score"
        (token accuracy) per epoch on the training sentences, "val_loss" and
        "val_score" with ``val_index``.
    n_iter : int
        Epochs run.
    """
    train_index = np.asarray(train_index)
    center, scale = input_statistics(features, train_index)
    inputs = StandardizedFeatures(features, center, scale)
    rng = np.random.RandomState(seed)
    network_seed = int(rng.randint(0, 2**31 - 1))
    n_train_tokens = max(int(features.n_tokens[train_index].sum()), 1)
    history = {"loss": [], "score": []}
    if val_index is not None:
        val_index = np.asarray(val_index)
        history.update(val_loss=[], val_score=[])
        n_val_tokens = max(int(features.n_tokens[val_index].sum()), 1)
    best_loss, best_weights, stale, n_iter = np.inf, None, 0, 0

    def run(step, index):
        batch = inputs.batch(index)
        y, w = _batch_targets(
            features, index, batch["mask"].shape[1], tags, token_weights
        )
        loss_sum, logits = step(batch["layers"], batch["mask"], y, w)
        return float(loss_sum), logits.numpy(), y, batch["mask"]

    # Converted once per fit; every epoch gathers its batches from these.
    resident = {
        "tokens": tf.convert_to_tensor(features.tokens),
        "tags": tf.convert_to_tensor(np.asarray(tags, np.int32)),
        "weights": tf.convert_to_tensor(np.asarray(token_weights, np.float32)),
        "center": tf.convert_to_tensor(center),
        "scale": tf.convert_to_tensor(scale),
        "offsets": features.offsets,
    }
    template = tagger_template(spec)
    with template.lock:
        template.start_fit(network_seed, learning_rate)
        for epoch in range(epochs):
            order = train_index[rng.permutation(len(train_index))]
            batches = epoch_batches(order, features.n_tokens, batch_size, rng)
            total, correct, counted = template.run_epoch(resident, batches)
            n_iter = epoch + 1
            penalty = template.penalty()
            history["loss"].append(total / n_train_tokens + penalty)
            history["score"].append(correct / max(counted, 1))
            message = (
                f"loss {history['loss'][-1]:.4f}, accuracy {history['score'][-1]:.4f}"
            )
            if val_index is not None:
                total, correct, counted = 0.0, 0, 0
                for index in inference_batches(spec, features, val_index):
                    loss_sum, logits, y, mask = run(template.eval_step, index)
                    total += loss_sum
                    hits, real = _accuracy(logits, y, mask)
                    correct, counted = correct + hits, counted + real
                val_loss = total / n_val_tokens + penalty
                history["val_loss"].append(val_loss)
                history["val_score"].append(correct / max(counted, 1))
                message += (
                    f", val_loss {val_loss:.4f}, val_accuracy "
                    f"{history['val_score'][-1]:.4f}"
                )
                if val_loss < best_loss:
                    best_loss, best_weights, stale = val_loss, template.weights(), 0
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
        weights = best_weights if best_weights is not None else template.weights()
    weights.update({"input/center": center, "input/scale": scale})
    return weights, history, n_iter


class TaggerNetwork:
    """A fitted tagger network rebuilt from plain weights, for inference.

    Parameters
    ----------
    spec : TaggerSpec
    weights : dict of str -> ndarray
        As returned by :func:`train_tagger`.
    """

    def __init__(self, spec, weights):
        self.spec = spec
        self._template = tagger_template(spec)
        weights = dict(weights)
        self.center = weights.pop("input/center", None)
        self.scale = weights.pop("input/scale", None)
        if self.center is None or self.scale is None:
            raise ValueError("A tagger network needs input/center and input/scale.")
        check_weights(self._template.model, weights)
        self._weights = weights

    def logits(self, features):
        """Logits of every token, ``(total_tokens, n_classes)`` float32, in token order."""
        inputs = StandardizedFeatures(features, self.center, self.scale)
        out = np.empty((int(features.n_tokens.sum()), self.spec.n_classes), np.float32)
        template = self._template
        with template.lock:
            if template.loaded is not self:
                _assign(template.model, self._weights)
                template.loaded = self
            index = np.arange(len(features))
            for batch_index in inference_batches(self.spec, features, index):
                batch = inputs.batch(batch_index)
                logits = template.logits(batch["layers"], batch["mask"]).numpy()
                for row, i in enumerate(batch_index):
                    start, stop = features.offsets[i], features.offsets[i + 1]
                    out[start:stop] = logits[row, : stop - start]
        return out
