"""The tagger network per token: scalar mix -> dropout -> optional BiLSTM -> softmax."""

import dataclasses

import keras
import numpy as np

from ._keras import (
    ScalarMix,
    check_backend,
)

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
