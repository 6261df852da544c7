"""Fitted networks for inference: one built Keras model per shape, shared.

Fitted networks leave training as ``{variable path: ndarray}`` dicts plus a
:class:`~sklearn_elmo.head._spec.NetworkSpec`; :class:`Network` loads them
into a shared template model on demand, so estimators never hold TensorFlow
objects. A head on per-layer means (mean pooling) predicts in NumPy
(:func:`~sklearn_elmo.head._pooled_training.pooled_logits`, tested against
the Keras model).
"""

import collections
import threading

import numpy as np
import tensorflow as tf

from ._keras import assign_weights, build_network, check_weights, input_signature
from ._pooled_training import pooled_logits
from ._spec import StandardizedFeatures, inference_batches


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
        signature = [input_signature(spec)]
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


def inference_template(spec):
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
        self._template = inference_template(spec)
        weights = dict(weights)
        self.center = weights.pop("input/center", None)
        self.scale = weights.pop("input/scale", None)
        if self._template.model is None:
            weights = {k: v for k, v in weights.items() if k.startswith("scalar_mix/")}
        elif self.center is None or self.scale is None:
            raise ValueError(
                "A network with a head needs input/center and input/scale."
            )
        check_weights(self._template.holder, weights)
        self._weights = weights

    def _call(self, name, features, width):
        template = self._template
        with template.lock:
            if template.loaded is not self:
                assign_weights(template.holder, self._weights)
                template.loaded = self
            return self._run(getattr(template, name), features, width)

    def _run(self, function, features, width):
        out = np.empty((len(features), width), np.float32)
        index = np.arange(len(features))
        for batch in inference_batches(self.spec, features, index):
            out[batch] = function(features.batch(batch)).numpy()
        return out

    def logits(self, features):
        """Output-layer pre-activations, ``(n_texts, n_outputs)``."""
        if self._template.logits is None:
            raise ValueError("This network has no output layer.")
        standardized = StandardizedFeatures(features, self.center, self.scale)
        if not self.spec.token_level:
            # A few small matmuls: NumPy, without loading weights into Keras.
            out = np.empty((len(features), self.spec.n_outputs), np.float32)
            index = np.arange(len(features))
            for batch in inference_batches(self.spec, standardized, index):
                layers = standardized.batch(batch)["layers"]
                out[batch] = pooled_logits(self.spec, self._weights, layers)
            return out
        return self._call("logits", standardized, self.spec.n_outputs)

    def encode(self, features):
        """The scalar mix of the raw layers, pooled: ``(n_texts, spec.n_pooled)``."""
        return self._call("encode", features, self.spec.n_pooled)
