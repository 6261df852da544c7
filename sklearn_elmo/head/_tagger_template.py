"""One built tagger network per shape: its Keras model, Adam state and traced epoch
and inference functions, shared by the fits and fitted taggers of that shape."""

import collections
import threading

import keras
import numpy as np
import tensorflow as tf

from ._keras import assign_weights as _assign
from ._keras import (
    mix_penalty,
    variables_dict,
)
from ._tagger_model import build_tagger_network, initial_weights


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
