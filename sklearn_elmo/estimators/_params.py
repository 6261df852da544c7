"""Parameter constraints shared by the estimators (sklearn's validation)."""

import os
from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import Interval, StrOptions


class _Int(Interval):
    """An int interval that refuses bool: ``epochs=True`` is a mistake, not 1."""

    def __init__(self, left, right, *, closed):
        super().__init__(Integral, left, right, closed=closed)

    def is_satisfied_by(self, val):
        return not isinstance(val, (bool, np.bool_)) and super().is_satisfied_by(val)


_EMBEDDING_CONSTRAINTS = {
    "model": [str, os.PathLike],
    "initial_state": [StrOptions({"auto", "warm", "zeros", "carry"})],
    "layers": [
        StrOptions({"all", "top"}),
        "array-like",
        _Int(None, None, closed="neither"),
    ],
    "pooling": [StrOptions({"mean", "max", "mean_max"})],
    "layer_norm": ["boolean"],
    "tokenizer": [callable, None],
    "max_tokens": [_Int(1, None, closed="left"), None],
    "embed_batch_size": [_Int(1, None, closed="left")],
    "cache_dir": [str, os.PathLike, None],
    "verbose": ["verbose"],
}


_TRAINING_CONSTRAINTS = {
    "hidden_layer_sizes": ["array-like", _Int(1, None, closed="left")],
    "dropout": [Interval(Real, 0, 1, closed="left")],
    "mix_l2": [Interval(Real, 0, None, closed="left")],
    "learning_rate": [Interval(Real, 0, None, closed="neither")],
    "epochs": [_Int(1, None, closed="left")],
    "batch_size": [_Int(1, None, closed="left")],
    "early_stopping": ["boolean"],
    "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
    "n_iter_no_change": [_Int(1, None, closed="left")],
    "random_state": ["random_state"],
}


_CLASS_WEIGHT_CONSTRAINT = {"class_weight": [dict, StrOptions({"balanced"}), None]}
