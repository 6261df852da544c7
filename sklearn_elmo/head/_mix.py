"""The scalar mix and pooling in numpy, for encoders without a head.

``ElmoVectorizer`` only mixes and pools (an average, the top layer, or a mix
learned earlier): this is a weighted sum and a segment max, cheaper in
numpy than through a Keras model and without loading Keras at all.
"""

import numpy as np


def mix_coefficients(weights):
    """``softmax(w) * gamma`` of a fitted scalar mix, float32 ``(n_layers,)``."""
    w = np.asarray(weights["scalar_mix/w"], np.float32)
    e = np.exp(w - w.max())
    gamma = np.float32(weights["scalar_mix/gamma"])
    return (e / e.sum()).astype(np.float32) * gamma


def encode(spec, weights, features):
    """Mixed, pooled features ``(n_texts, spec.n_pooled)`` of raw LayerFeatures.

    Mean pooling commutes with the mix, so it uses the per-layer means; max
    pooling mixes each token then takes the largest value per text over its
    real tokens. A text without tokens pools to zeros.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elmo.features import LayerFeatures
    >>> from sklearn_elmo.head import NetworkSpec, default_weights, encode
    >>> spec = NetworkSpec(n_layers=2, dim=1, pooling="mean")
    >>> features = LayerFeatures(np.array([2]), np.array([[[1.0], [3.0]]], np.float32),
    ...                          np.zeros((1, 2)))
    >>> encode(spec, default_weights(spec), features).tolist()
    [[2.0]]
    """
    s = mix_coefficients(weights)
    n = len(features)
    parts = []
    if spec.pooling in ("mean", "mean_max"):
        parts.append(np.einsum("nld,l->nd", features.means, s, dtype=np.float32))
    if spec.pooling in ("max", "mean_max"):
        if not features.token_level:
            raise ValueError("max pooling needs token vectors, not per-layer means")
        mixed = np.einsum("tld,l->td", features.tokens, s, dtype=np.float32)
        largest = np.zeros((n, spec.dim), np.float32)
        filled = features.n_tokens > 0
        if filled.any():
            starts = features.offsets[:-1][filled]
            largest[filled] = np.maximum.reduceat(mixed, starts, axis=0)
        parts.append(largest)
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)
