"""Training a fresh network with Adam: epochs, early stopping, history.

Per-text features train in NumPy, step for step as Keras would
(:mod:`~sklearn_elmo.head._pooled_training`); token vectors on a Keras model
of their own (:class:`_KerasFit`).
"""

import contextlib
import sys

import keras
import numpy as np
import tensorflow as tf

from ._keras import (
    build_network,
    entry_losses,
    initial_weights,
    input_signature,
    mix_penalty,
    target_signature,
    variables_dict,
)
from ._pooled_training import pooled_fit
from ._spec import StandardizedFeatures, inference_batches, input_statistics

# Most training logits (floats) returned by one call running several epochs.
_FUSED_LOGITS = 4 * 2**20


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
            orders = [
                train_index[rng.permutation(len(train_index))] for _ in range(epochs)
            ]
            per_call = max(1, _FUSED_LOGITS // (len(train_index) * spec.n_outputs))
            for start in range(0, epochs, per_call):
                chunk = orders[start : start + per_call]
                totals, logits = fit.run_epochs(chunk)
                for order, total, epoch_logits in zip(
                    chunk, totals, logits, strict=True
                ):
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
                message = (
                    f"loss {history['loss'][-1]:.4f}, score {history['score'][-1]:.4f}"
                )

                if val_index is not None:
                    val_total, val_order, val_logits = 0.0, [], []
                    for index in inference_batches(spec, features, val_index):
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
                    message += f", val_loss {val_loss:.4f}, val_score {history['val_score'][-1]:.4f}"
                    if val_loss < best_loss:
                        best_loss, best_weights, stale = val_loss, fit.weights(), 0
                    else:
                        stale += 1
                if verbose > 0:
                    print(
                        f"[{label}] epoch {n_iter}/{epochs}: {message}", file=sys.stdout
                    )
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

    Per-text features train on a NumPy
    :class:`~sklearn_elmo.head._pooled_training.PooledFit`; token vectors on
    a Keras model of their own (:class:`_KerasFit`).
    Both start from ``build_network(spec, seed)``'s values.
    """
    if spec.token_level:
        return contextlib.nullcontext(
            _KerasFit(
                spec, features, targets, loss_weights, seed, learning_rate, batch_size
            )
        )
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

    The interface of :class:`~sklearn_elmo.head._pooled_training.PooledFit`.
    """

    def __init__(
        self, spec, features, targets, loss_weights, seed, learning_rate, batch_size
    ):
        self.model = model = build_network(spec, seed=seed)[0]
        self.features, self.targets, self.loss_weights = features, targets, loss_weights
        self.batch_size = batch_size
        self.n_outputs = spec.n_outputs
        optimizer = keras.optimizers.Adam(learning_rate=learning_rate)
        optimizer.build(model.trainable_variables)
        output = spec.output
        y_spec, w_spec = target_signature(spec)
        signature = [input_signature(spec), y_spec, w_spec]

        @tf.function(input_signature=signature, autograph=False)
        def train_step(inputs, y, w):
            with tf.GradientTape() as tape:
                logits = model(inputs, training=True)
                loss = tf.reduce_mean(w * entry_losses(output, y, logits))
                loss = loss + mix_penalty(model)
            grads = tape.gradient(loss, model.trainable_variables)
            optimizer.apply_gradients(
                zip(grads, model.trainable_variables, strict=True)
            )
            return loss, logits

        @tf.function(input_signature=signature, autograph=False)
        def eval_step(inputs, y, w):
            logits = model(inputs, training=False)
            return tf.reduce_sum(w * entry_losses(output, y, logits)), logits

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
        return float(mix_penalty(self.model))

    def weights(self):
        return variables_dict(self.model)


def _score(score, targets, logits):
    return float(score(targets, logits)) if score is not None else float("nan")
