"""The check that a fitted estimator's biLM is the one it was fitted with."""

import os

from ..bilm import INITIAL_STATES, load_bilm, resolve_initial_state
from ..exceptions import BilmMismatchError


def check_fitted_bilm(estimator):
    """The biLM at a fitted estimator's ``model``, checked against its fit.

    Loads the biLM from ``estimator.model`` with ``estimator.initial_state``
    (shared per process, see :func:`~sklearn_elmo.load_bilm`) and compares
    its fingerprint with ``estimator.bilm_fingerprint_``. The fingerprint
    depends on the biLM's content and the initial-state protocol only, so any
    copy of the same files passes, wherever it lives.

    Parameters
    ----------
    estimator : ElmoClassifier, ElmoRegressor or ElmoVectorizer
        A fitted estimator.

    Returns
    -------
    Bilm

    Raises
    ------
    BilmMismatchError
        If the fingerprints differ. The message names both fingerprints, the
        source and ``initial_state``, and says when the files are the right
        biLM but ``initial_state`` changed since ``fit``.
    ValueError
        If ``model`` cannot be loaded at all (moved or deleted).

    Examples
    --------
    >>> import shutil, tempfile
    >>> from sklearn_elmo import ElmoVectorizer
    >>> from sklearn_elmo.persistence import check_fitted_bilm
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> model = make_random_bilm(tempfile.mkdtemp())
    >>> vec = ElmoVectorizer(model).fit(["Hello world ."])
    >>> copy = shutil.copytree(model, tempfile.mkdtemp() + "/copy")
    >>> bilm = check_fitted_bilm(vec.set_params(model=copy))  # same content: passes
    >>> bilm.fingerprint == vec.bilm_fingerprint_
    True
    """
    expected = estimator.bilm_fingerprint_
    name = type(estimator).__name__
    source, initial_state = estimator.model, estimator.initial_state
    try:
        bilm = estimator._load_bilm()
    except ValueError as exc:
        raise ValueError(
            f"This {name} was fitted with the biLM of fingerprint {expected}, but "
            f"its model {os.fspath(source)!r} cannot be loaded: {exc}\n"
            "Point it at a copy of that biLM with "
            "estimator.set_params(model=path_to_copy) (any copy of the same files "
            "works), or save it with sklearn_elmo.save(estimator, path, "
            "include_model=True) to carry the biLM along."
        ) from exc
    if bilm.fingerprint == expected:
        return bilm
    fitted_state = _matching_initial_state(source, initial_state, expected)
    if fitted_state is not None:
        hint = (
            f"The files at this source are the right biLM, but the estimator was "
            f"fitted with initial_state={fitted_state!r} and now has "
            f"initial_state={initial_state!r}; the fingerprint covers the "
            "initial-state protocol, because the vectors depend on it. Call "
            f"estimator.set_params(initial_state={fitted_state!r}), or refit."
        )
    else:
        hint = (
            "Point `model` at the biLM the estimator was fitted with (any copy of "
            "the same files works: estimator.set_params(model=path_to_copy)), or "
            "refit the estimator on this biLM."
        )
    raise BilmMismatchError(
        f"The biLM at {os.fspath(source)!r} (initial_state={initial_state!r}) is not "
        f"the one this estimator was fitted with ({name}):\n"
        f"  fitted with fingerprint: {expected}\n"
        f"  found at the source:     {bilm.fingerprint}\n"
        f"{hint}",
        source=os.fspath(source),
        initial_state=initial_state,
        expected=expected,
        found=bilm.fingerprint,
    )


def _matching_initial_state(source, current, expected):
    """The other initial_state under which ``source`` has fingerprint ``expected``."""
    current = resolve_initial_state(source, current)
    for mode in INITIAL_STATES:
        if mode == current:
            continue
        try:
            if load_bilm(source, initial_state=mode).fingerprint == expected:
                return mode
        except ValueError:  # e.g. a TF Hub module takes "zeros" only
            continue
    return None
