"""The per-token network of ElmoTagger (Keras 3, TensorFlow backend).

Scalar mix of the biLM layers at every token -> dropout -> optional BiLSTM
over the sentence -> dense logits per token (softmax cross-entropy). The
biLM never runs here: the network reads
:class:`~sklearn_elmo.features.LayerFeatures` token vectors, standardised
with training-set statistics as the text head does (see
:mod:`sklearn_elmo.head._keras`), padded per batch to its longest sentence, with
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

import sys

import numpy as np
import tensorflow as tf

from ._keras import assign_weights as _assign
from ._keras import (
    check_weights,
)
from ._spec import StandardizedFeatures, inference_batches, input_statistics
from ._tagger_template import _batch_targets, tagger_template

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
