"""Training epochs on per-text features, traced once per network shape.

With mean pooling the network reads one ``(n_layers, dim)`` array per text, so
a training step is a few small matmuls: far cheaper than the Python around
it, and than tracing a new ``tf.function`` for every fit. A grid search fits
dozens of networks of the same shape, so each shape (a
:class:`~sklearn_elmo._network.NetworkSpec` and a batch size) gets one shared
trainer: a template network and optimizer, and an epoch function, traced
once, that runs all of an epoch's steps in one graph loop. A fit loads its
own initial values (weights, dropout seed state, Adam's state and learning
rate) into the template, runs its epochs, and copies the values back into its
own network. Fits of the same shape take turns on a trainer (a lock); fits of
different shapes run in parallel.

The last, partial batch of an epoch is padded to the full batch size with
rows of zero loss weight, and the loss divides by the real rows only, so the
gradients are those of the unpadded batch and the step sees a single shape.
"""

import collections
import threading

import numpy as np
import tensorflow as tf

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
        from ._network import _entry_losses, _target_signature, build_network

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
        self._moments = [tf.Variable(tf.zeros_like(v), trainable=False) for v in weights]
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
            for weight, m, v, grad in zip(weights, moments, velocities, grads, strict=True):
                tf.raw_ops.ResourceApplyAdam(
                    var=weight.handle,
                    m=m.handle,
                    v=v.handle,
                    beta1_power=tf.pow(beta_1, t),
                    beta2_power=tf.pow(beta_2, t),
                    lr=learning_rate,
                    beta1=tf.constant(beta_1),
                    beta2=tf.constant(beta_2),
                    epsilon=tf.constant(epsilon),
                    grad=grad,
                )

        def step(layers, y, w, n_real):
            with tf.GradientTape() as tape:
                logits = model({"layers": layers}, training=True)
                entries = w * _entry_losses(output, y, logits)
                count = n_real * tf.cast(tf.shape(entries)[1], tf.float32)
                loss = tf.reduce_sum(entries) / count
                if model.losses:
                    loss = loss + tf.add_n(model.losses)
            apply_adam(tape.gradient(loss, model.trainable_variables))
            return loss, logits

        y_spec, w_spec = _target_signature(spec)
        signature = [
            tf.TensorSpec([None], tf.int32),
            tf.TensorSpec([], tf.int32),
            tf.TensorSpec([None, spec.n_layers, spec.dim], tf.float32),
            y_spec,
            w_spec,
        ]

        # One trace for every fit. Not XLA: on CPU its while loop of small
        # steps ran 3x slower than the graph executor's.
        @tf.function(input_signature=signature, autograph=False)
        def epoch(padded, n, layers, y, w):
            n_batches = tf.shape(padded)[0] // bs

            def body(b, losses, logits):
                positions = b * bs + tf.range(bs)
                index = tf.gather(padded, positions)
                real = tf.cast(positions < n, tf.float32)
                n_real = tf.reduce_sum(real)
                loss, batch_logits = step(
                    tf.gather(layers, index),
                    tf.gather(y, index),
                    tf.gather(w, index) * real[:, None],
                    n_real,
                )
                return b + 1, losses.write(b, loss * n_real), logits.write(b, batch_logits)

            _, losses, logits = tf.while_loop(
                lambda b, *_: b < n_batches,
                body,
                [
                    tf.constant(0),
                    tf.TensorArray(tf.float32, size=n_batches),
                    tf.TensorArray(
                        tf.float32,
                        size=n_batches,
                        element_shape=tf.TensorShape([bs, spec.n_outputs]),
                    ),
                ],
                maximum_iterations=n_batches,
            )
            return tf.reduce_sum(losses.stack()), logits.concat()

        self._epoch = epoch

    def load(self, model, optimizer):
        """Start a fit from ``model``'s values and a fresh Adam ``optimizer``'s settings."""
        settings = (optimizer.beta_1, optimizer.beta_2, optimizer.epsilon)
        if settings != self._betas or optimizer.amsgrad:
            raise ValueError(f"PooledTrainer runs Adam with {self._betas}, got {settings}.")
        _copy(model, self._model)
        for variable in self._moments + self._velocities:
            variable.assign(tf.zeros_like(variable))
        self._iterations.assign(0.0)
        self._learning_rate.assign(float(optimizer.learning_rate.numpy()))

    def store(self, model):
        """Copy the trained values out into ``model`` (Adam's state stays here)."""
        _copy(self._model, model)

    def run_epoch(self, order, data):
        """One epoch over the rows ``order`` of ``data``; call between load and store.

        ``data`` holds tensors ``layers`` (standardised), ``y`` and ``w`` for
        every row. Returns the sum over batches of the batch loss times its
        real rows, and the logits of ``order``'s rows, in that order.
        """
        n = len(order)
        padded = np.zeros(-(-n // self.batch_size) * self.batch_size, np.int32)
        padded[:n] = order
        total, logits = self._epoch(
            tf.convert_to_tensor(padded), tf.constant(n), data["layers"], data["y"], data["w"]
        )
        return total, logits[:n]


def _copy(model, to_model):
    pairs = (
        (model.trainable_variables, to_model.trainable_variables),
        (model.non_trainable_variables, to_model.non_trainable_variables),
    )
    for sources, targets in pairs:
        for source, target in zip(sources, targets, strict=True):
            target.assign(source.value)
