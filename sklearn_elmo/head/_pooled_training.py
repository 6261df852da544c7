"""Training epochs on per-text features, traced once per network shape.

With mean pooling the network reads one ``(n_layers, dim)`` array per text, so
a training step is a few small matmuls: far cheaper than the Python around
it, and than tracing a new ``tf.function`` for every fit. A grid search fits
dozens of networks of the same shape, so each shape (a
:class:`~sklearn_elmo.head._spec.NetworkSpec` and a batch size) gets one shared
trainer: a template network and optimizer, and an epoch function, traced
once, that runs all of an epoch's steps in one graph loop. A fit loads its
own initial values (:func:`~sklearn_elmo.head._keras.initial_weights`, the
dropout generator's state, a fresh Adam state and its learning rate) into the
template, runs its epochs and reads the trained weights back out: no Keras
model is built per fit. Fits of the same shape take turns on a trainer (a
lock, held by :func:`pooled_fit` for the whole fit); fits of different shapes
run in parallel.

The last, partial batch of an epoch is padded to the full batch size with
rows of zero loss weight, and the loss divides by the real rows only, so the
gradients are those of the unpadded batch and the step sees a single shape.
"""

import collections
import contextlib
import threading

import numpy as np
import tensorflow as tf

from ._keras import (
    assign_weights,
    build_network,
    entry_losses,
    mix_penalty,
    target_signature,
    variables_dict,
)

_MAX_TRAINERS = 16
_trainers = collections.OrderedDict()
_trainers_lock = threading.Lock()


def pooled_trainer(spec, batch_size):
    """The shared :class:`PooledTrainer` for ``spec`` and ``batch_size``."""
    key = (spec, int(batch_size))
    with _trainers_lock:
        trainer = _trainers.get(key)
        if trainer is None:
            trainer = _trainers[key] = PooledTrainer(spec, batch_size)
            while len(_trainers) > _MAX_TRAINERS:
                _trainers.popitem(last=False)
        _trainers.move_to_end(key)
        return trainer


class PooledTrainer:
    """Stateless, compiled training epochs for one network shape.

    Parameters
    ----------
    spec : NetworkSpec
        With ``token_level=False`` and an ``output``.
    batch_size : int
        Rows per training step.
    """

    def __init__(self, spec, batch_size):
        if spec.token_level or spec.output is None:
            raise ValueError("PooledTrainer trains heads on per-text features only.")
        self.spec = spec
        self.batch_size = bs = int(batch_size)
        self.lock = threading.Lock()
        model, _ = build_network(spec, seed=0)
        self._model = model
        output = spec.output
        # Adam's state, updated by one fused op per variable: Keras' Adam
        # spends a dozen graph ops per variable and step, which dominated
        # these small steps. Same formula and defaults as keras.optimizers.Adam
        # (tested against it).
        weights = [v.value for v in model.trainable_variables]
        self._moments = [
            tf.Variable(tf.zeros_like(v), trainable=False) for v in weights
        ]
        self._velocities = [
            tf.Variable(tf.zeros_like(v), trainable=False) for v in weights
        ]
        self._iterations = tf.Variable(0.0, trainable=False)
        self._learning_rate = tf.Variable(0.001, trainable=False)
        self._betas = (0.9, 0.999, 1e-7)
        moments, velocities = self._moments, self._velocities
        iterations, learning_rate = self._iterations, self._learning_rate
        beta_1, beta_2, epsilon = self._betas

        def apply_adam(grads):
            t = iterations.assign_add(1.0)
            beta1_power, beta2_power = tf.pow(beta_1, t), tf.pow(beta_2, t)
            for weight, m, v, grad in zip(
                weights, moments, velocities, grads, strict=True
            ):
                tf.raw_ops.ResourceApplyAdam(
                    var=weight.handle,
                    m=m.handle,
                    v=v.handle,
                    beta1_power=beta1_power,
                    beta2_power=beta2_power,
                    lr=learning_rate,
                    beta1=tf.constant(beta_1),
                    beta2=tf.constant(beta_2),
                    epsilon=tf.constant(epsilon),
                    grad=grad,
                )

        def step(layers, y, w, n_real):
            with tf.GradientTape() as tape:
                logits = model({"layers": layers}, training=True)
                entries = w * entry_losses(output, y, logits)
                count = n_real * tf.cast(tf.shape(entries)[1], tf.float32)
                loss = tf.reduce_sum(entries) / count
                if model.losses:
                    loss = loss + tf.add_n(model.losses)
            apply_adam(tape.gradient(loss, model.trainable_variables))
            return loss, logits

        y_spec, w_spec = target_signature(spec)
        signature = [
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([None, spec.n_layers, spec.dim], tf.float32),
            y_spec,
            w_spec,
        ]

        # One trace for every fit. Not XLA: on CPU its while loop of small
        # steps ran 3x slower than the graph executor's, and a step is ~100
        # us of XLA launch alone. ``padded`` holds one row per epoch: a fit
        # runs all its epochs in one call and one flat loop of steps, so the
        # per-call and per-epoch costs are paid once.
        epochs_signature = [tf.TensorSpec([None, None], tf.int32), *signature[1:]]

        @tf.function(input_signature=epochs_signature, autograph=False)
        def epochs(padded, n, layers, y, w):
            n_batches = tf.shape(padded)[1] // bs
            n_steps = tf.shape(padded)[0] * n_batches
            flat = tf.reshape(padded, [-1])

            def body(s, losses, logits):
                positions = (s % n_batches) * bs + tf.range(bs)
                index = tf.gather(flat, (s // n_batches) * n_batches * bs + positions)
                real = tf.cast(positions < n, tf.float32)
                n_real = tf.reduce_sum(real)
                loss, batch_logits = step(
                    tf.gather(layers, index),
                    tf.gather(y, index),
                    tf.gather(w, index) * real[:, None],
                    n_real,
                )
                return (
                    s + 1,
                    losses.write(s, loss * n_real),
                    logits.write(s, batch_logits),
                )

            _, losses, logits = tf.while_loop(
                lambda s, *_: s < n_steps,
                body,
                [
                    tf.constant(0),
                    tf.TensorArray(tf.float32, size=n_steps),
                    tf.TensorArray(
                        tf.float32,
                        size=n_steps,
                        element_shape=tf.TensorShape([bs, spec.n_outputs]),
                    ),
                ],
                maximum_iterations=n_steps,
            )
            totals = tf.reduce_sum(tf.reshape(losses.stack(), [-1, n_batches]), axis=1)
            shape = [-1, n_batches * bs, spec.n_outputs]
            return totals, tf.reshape(logits.concat(), shape)

        self._epochs = epochs
        self._penalty = tf.function(lambda: mix_penalty(model), autograph=False)

        @tf.function(input_signature=signature[:1] + signature[2:], autograph=False)
        def evaluate(index, layers, y, w):
            logits = model({"layers": tf.gather(layers, index)}, training=False)
            entries = tf.gather(w, index) * entry_losses(
                output, tf.gather(y, index), logits
            )
            return tf.reduce_sum(entries), logits

        self._evaluate = evaluate
        self._state_variables = model.non_trainable_variables  # dropout's generator

    def load(self, weights, dropout_state, learning_rate):
        """Start a fit: initial ``weights`` by path, the dropout state, a fresh Adam.

        ``weights`` and ``dropout_state`` are those of
        :func:`~sklearn_elmo.head._keras.initial_weights`.
        """
        assign_weights(self._model, weights)
        if (dropout_state is None) != (not self._state_variables):
            raise ValueError("The dropout state does not match the network's dropout.")
        for variable in self._state_variables:
            variable.assign(dropout_state)
        for variable in self._moments + self._velocities:
            variable.assign(tf.zeros_like(variable))
        self._iterations.assign(0.0)
        self._learning_rate.assign(float(learning_rate))

    def weights(self):
        """The current trainable values, by variable path (copies)."""
        return variables_dict(self._model)

    def penalty(self):
        """The scalar mix's L2 penalty at the current weights."""
        return float(self._penalty())

    def evaluate(self, index, data):
        """Loss sum (weighted entries, no penalty) and logits of rows ``index``, no dropout."""
        return self._evaluate(
            tf.convert_to_tensor(np.asarray(index, np.int32)),
            data["layers"],
            data["y"],
            data["w"],
        )

    def run_epoch(self, order, data):
        """One epoch over the rows ``order`` of ``data``; call after :meth:`load`.

        ``data`` holds tensors ``layers`` (standardised), ``y`` and ``w`` for
        every row. Returns the sum over batches of the batch loss times its
        real rows, and the logits of ``order``'s rows, in that order.
        """
        totals, logits = self.run_epochs([order], data)
        return totals[0], logits[0]

    def run_epochs(self, orders, data):
        """Epochs over the rows of each of ``orders`` (equal lengths), in one call.

        Returns each epoch's loss sum (as :meth:`run_epoch`), shape
        ``(len(orders),)``, and logits, shape ``(len(orders), n, n_outputs)``.
        """
        n = len(orders[0])
        padded = np.zeros(
            (len(orders), -(-n // self.batch_size) * self.batch_size), np.int32
        )
        padded[:, :n] = orders
        totals, logits = self._epochs(
            tf.convert_to_tensor(padded),
            tf.constant(n),
            data["layers"],
            data["y"],
            data["w"],
        )
        return totals, logits[:, :n]


class PooledFit:
    """One fit on a shared trainer: its epochs, validation and weights.

    Made by :func:`pooled_fit`, which holds the trainer for it.
    """

    def __init__(self, trainer, data):
        self._trainer = trainer
        self._data = data

    def run_epoch(self, order):
        """Train on the rows ``order``; the loss sum and the logits, as numpy."""
        total, logits = self._trainer.run_epoch(order, self._data)
        return float(total), logits.numpy()

    def run_epochs(self, orders):
        """:meth:`run_epoch` for each of ``orders`` in one call: sums and logits."""
        totals, logits = self._trainer.run_epochs(orders, self._data)
        return totals.numpy().tolist(), logits.numpy()

    def evaluate(self, index):
        """Loss sum and logits of rows ``index`` without dropout, as numpy."""
        total, logits = self._trainer.evaluate(index, self._data)
        return float(total), logits.numpy()

    def penalty(self):
        return self._trainer.penalty()

    def weights(self):
        return self._trainer.weights()


@contextlib.contextmanager
def pooled_fit(
    spec, batch_size, *, layers, targets, loss_weights, initial, learning_rate
):
    """Hold the shared trainer of ``spec`` for one fit, started from ``initial``.

    Parameters
    ----------
    layers : ndarray of shape (n, n_layers, dim)
        Standardised per-layer means of every row.
    targets, loss_weights : ndarray
        As for :func:`~sklearn_elmo.head._train.train_network`.
    initial : tuple
        ``(weights, dropout_state)`` from
        :func:`~sklearn_elmo.head._keras.initial_weights`.
    learning_rate : float
        Adam's learning rate.

    Yields
    ------
    PooledFit
    """
    trainer = pooled_trainer(spec, batch_size)
    # Inputs converted once, passed to the compiled functions as arguments.
    data = {
        "layers": tf.convert_to_tensor(layers, tf.float32),
        "y": tf.convert_to_tensor(targets),
        "w": tf.convert_to_tensor(loss_weights, tf.float32),
    }
    with trainer.lock:
        trainer.load(*initial, learning_rate)
        yield PooledFit(trainer, data)
