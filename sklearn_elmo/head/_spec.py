"""What fixes a network's architecture, and its numpy-side helpers.

Nothing here imports Keras or TensorFlow: the spec, the default (average)
mix weights, the head's input statistics and the batching of inference
inputs are plain numpy, so an estimator that never trains a head never loads
Keras.
"""

import dataclasses

import numpy as np

OUTPUTS = ("sigmoid", "softmax", "linear")


_PREDICT_BATCH_MEANS = 4096


_PREDICT_BATCH_TOKENS = 128


# Most bytes of one padded token-level inference batch (its "layers" input).
_PREDICT_BATCH_BYTES = 64 * 2**20


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


def dense_layers(spec):
    """``(name, fan_in, width)`` of each dense layer: the hidden ones, then the output."""
    names = [f"hidden_{i}" for i in range(len(spec.hidden_layer_sizes))] + ["output"]
    widths = [*spec.hidden_layer_sizes, spec.n_outputs]
    fan_ins = [spec.n_pooled, *spec.hidden_layer_sizes]
    return list(zip(names, fan_ins, widths, strict=True))


def layer_seeds(spec, seed):
    """Seeds of the dropout layer, the hidden layers and the output layer."""
    return np.random.RandomState(seed).randint(
        0, 2**31 - 1, size=len(spec.hidden_layer_sizes) + 2
    )


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
    if features.token_level:
        means = features.means[index].astype(np.float64)
        counts = features.n_tokens[index].astype(np.float64)
        total = max(counts.sum(), 1.0)
        center = np.tensordot(counts, means, axes=1) / total
        square = counts @ features.sq_means[index] / total  # (n_layers,)
        variance = np.mean(square - np.mean(np.square(center), axis=1))
    else:
        # float64 sums over float32 values: no float64 copy of the means.
        means = features.means[index]
        center = means.mean(axis=0, dtype=np.float64)
        spread = means - center.astype(np.float32)
        variance = np.mean(np.square(spread), dtype=np.float64)
    scale = float(np.sqrt(max(variance, 0.0)))
    if not np.isfinite(scale) or scale <= 1e-12:
        scale = 1.0
    return center.astype(np.float32), np.array(scale, dtype=np.float32)


def fixed_batches(index, batch_size):
    for start in range(0, len(index), batch_size):
        yield index[start : start + batch_size]


def inference_batches(spec, features, index):
    """Cut ``index`` into batches for inference (no gradients).

    Per-layer means go in fixed slices. Token vectors are padded to the
    longest text of a batch, so texts are taken in order of length and a
    batch is also bounded by ``_PREDICT_BATCH_BYTES`` of padded input: one
    very long text never pads a hundred short ones to its length.
    """
    index = np.asarray(index)
    if not spec.token_level:
        yield from fixed_batches(index, _PREDICT_BATCH_MEANS)
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
