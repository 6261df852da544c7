"""Targets and loss weights: sample weights, class weights, y encodings."""

from numbers import Real

import numpy as np
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.validation import _check_sample_weight


def sample_weights(sample_weight, texts):
    """Validated non-negative float64 sample weights, ones by default."""
    return _check_sample_weight(
        sample_weight, texts, dtype=np.float64, ensure_non_negative=True
    )


def class_loss_weights(class_weight, task, classes, encoded):
    """Per-entry loss weights from ``class_weight`` for an encoded target.

    Binary and multiclass: ``(n, 1)``, the weight of each sample's class.
    Multilabel: ``(n, n_labels)``; a dict maps a label (column index) to a
    factor on that label's loss, "balanced" weighs each label's positives and
    negatives by ``n / (2 * count)``.
    """
    n = len(encoded)
    if isinstance(class_weight, dict):
        _check_class_weight_dict(class_weight, task, classes)
    if task != "multilabel":
        labels = encoded.ravel().astype(int)
        if class_weight is None:
            return np.ones((n, 1))
        per_class = compute_class_weight(
            class_weight, classes=classes, y=classes[labels]
        )
        return per_class[labels].reshape(-1, 1)
    weights = np.ones_like(encoded, dtype=np.float64)
    if class_weight is None:
        return weights
    if class_weight == "balanced":
        positives = encoded.sum(axis=0)
        for j in range(encoded.shape[1]):
            for value, count in ((1.0, positives[j]), (0.0, n - positives[j])):
                if count > 0:
                    weights[encoded[:, j] == value, j] = n / (2.0 * count)
        return weights
    for label, factor in class_weight.items():
        weights[:, label] *= factor
    return weights


def _check_class_weight_dict(class_weight, task, classes):
    """Every key a class of y (a label column if multilabel), every weight finite >= 0."""
    known = set(classes.tolist())
    for label, factor in class_weight.items():
        if label not in known:
            if task == "multilabel":
                raise ValueError(
                    f"class_weight has key {label!r}, which is not a label column of "
                    f"the multilabel target (0..{len(classes) - 1})."
                )
            raise ValueError(
                f"class_weight has key {label!r}, which is not in classes "
                f"{classes.tolist()!r} (the classes of y)."
            )
        if (
            isinstance(factor, (bool, np.bool_))
            or not isinstance(factor, Real)
            or not np.isfinite(factor)
            or factor < 0
        ):
            raise ValueError(
                f"class_weight[{label!r}] must be a finite number >= 0; got {factor!r}."
            )
