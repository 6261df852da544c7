"""Input checks shared by the layers: texts, targets, small integer parameters."""

from collections.abc import Iterator

import numpy as np
from sklearn.utils import check_array
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import column_or_1d


def check_int(value, name, minimum=1, allow_none=False):
    """``value`` as an int >= ``minimum`` (bools refused), else a clear error.

    Examples
    --------
    >>> from sklearn_elmo._validation import check_int
    >>> check_int(3, "epochs")
    3
    >>> check_int(0, "epochs")
    Traceback (most recent call last):
    ...
    ValueError: epochs must be >= 1, got 0
    """
    if value is None and allow_none:
        return None
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an int >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value}")
    return int(value)


_TEXTS_HELP = (
    "a list, tuple, iterator, numpy array or pandas Series of str "
    "(or a 2-D single column of str)"
)


def _describe(value):
    return type(value).__name__


def check_texts(X, *, input_name="X"):
    """Validate a collection of texts and return it as a list of str.

    Parameters
    ----------
    X : list, tuple, iterator, ndarray, pandas Series or single-column DataFrame of str
        1-D, or 2-D with exactly one column (as ``ColumnTransformer`` passes).
        An iterator or generator is consumed once. Unordered containers (sets,
        dicts) are refused.
    input_name : str, default="X"
        Name used in error messages.

    Returns
    -------
    texts : list of str

    Raises
    ------
    TypeError
        If X is not a supported container, or an element is not a str (the
        message names the element's position).
    ValueError
        If X is empty, or 2-D with more than one column.
    """
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{input_name} must be a collection of texts ({_TEXTS_HELP}), got a "
            f"single {_describe(X)}; wrap it in a list."
        )
    if isinstance(X, Iterator):  # a generator: consumed once, then read as a list
        X = list(X)
    if isinstance(X, (list, tuple)):
        values = list(X)
        if any(isinstance(v, (list, tuple, np.ndarray)) for v in values):
            values = _single_column(np.asarray(X, dtype=object), input_name)
    elif hasattr(X, "iloc") and hasattr(X, "ndim"):  # pandas Series / DataFrame
        array = X.to_numpy(dtype=object)
        values = _single_column(array, input_name)
    elif isinstance(X, np.ndarray):
        values = _single_column(X, input_name)
    else:
        raise TypeError(f"{input_name} must be {_TEXTS_HELP}; got {_describe(X)}.")

    if len(values) == 0:
        raise ValueError(f"{input_name} is empty: at least one text is required.")
    texts = []
    for i, value in enumerate(values):
        if not isinstance(value, str):
            raise TypeError(
                f"{input_name}[{i}] must be a str, got {_describe(value)} "
                f"({value!r:.50})."
            )
        texts.append(str(value))  # numpy.str_ -> str
    return texts


def _single_column(array, input_name):
    if array.ndim == 1:
        return list(array)
    if array.ndim == 2 and array.shape[1] == 1:
        return list(array[:, 0])
    raise ValueError(
        f"{input_name} must be 1-D or a single column of texts; got an array of "
        f"shape {array.shape}."
    )


def check_tokens(tokens, index, *, input_name="X"):
    """Validate what a tokenizer returned for ``X[index]``; return a list."""
    if isinstance(tokens, (str, bytes)) or not isinstance(tokens, (list, tuple)):
        raise TypeError(
            f"The tokenizer must return a list of str; for {input_name}[{index}] it "
            f"returned {_describe(tokens)}."
        )
    for j, token in enumerate(tokens):
        if not isinstance(token, str):
            raise TypeError(
                f"The tokenizer returned a {_describe(token)} as token {j} of "
                f"{input_name}[{index}]; tokens must be str."
            )
        if not token:
            raise ValueError(
                f"The tokenizer returned an empty string as token {j} of "
                f"{input_name}[{index}]."
            )
    return list(tokens)


def check_classification_target(y, n_samples, estimator_name):
    """Validate a classification target and encode it for training.

    Returns
    -------
    task : {"binary", "multiclass", "multilabel"}
    classes : ndarray
        Sorted class labels; for "multilabel", the column indices.
    encoded : ndarray
        "binary": float32 (n, 1) of 0/1; "multiclass": int32 (n,) indices into
        ``classes``; "multilabel": float32 (n, n_labels) indicator matrix.
    """
    if y is None:
        raise ValueError(f"{estimator_name} requires y to be passed, but y is None.")
    target_type = type_of_target(y, input_name="y")
    if target_type == "multilabel-indicator":
        if hasattr(y, "toarray"):
            y = y.toarray()
        Y = check_array(y, dtype=None, input_name="y")
        _check_length(Y, n_samples)
        return "multilabel", np.arange(Y.shape[1]), Y.astype(np.float32)
    if target_type not in ("binary", "multiclass"):
        hint = (
            " Use ElmoRegressor for continuous targets."
            if target_type.startswith("continuous")
            else ""
        )
        raise ValueError(
            f"{estimator_name} supports binary, multiclass and multilabel-indicator "
            f"targets; y is {target_type!r}.{hint}"
        )
    y = column_or_1d(y, warn=True)
    _check_length(y, n_samples)
    classes, encoded = np.unique(y, return_inverse=True)
    if len(classes) < 2:
        raise ValueError(
            f"{estimator_name} needs samples of at least 2 classes in y; y contains "
            f"only the class {classes.tolist()[0]!r}."
        )
    if len(classes) == 2:
        return "binary", classes, encoded.astype(np.float32).reshape(-1, 1)
    return "multiclass", classes, encoded.astype(np.int32)


def check_regression_target(y, n_samples):
    """Validate a regression target: finite floats, 1-D or 2-D."""
    if y is None:
        raise ValueError("ElmoRegressor requires y to be passed, but y is None.")
    y = check_array(y, ensure_2d=False, dtype=np.float64, input_name="y")
    if y.ndim == 2 and y.shape[1] == 0:
        raise ValueError("y has no columns.")
    _check_length(y, n_samples)
    return y


def _check_length(y, n_samples):
    if len(y) != n_samples:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {n_samples} texts and "
            f"{len(y)} targets."
        )
