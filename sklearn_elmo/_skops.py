"""Model files that run no code when loaded: the skops format (``.skops``).

:func:`sklearn_elmo.save` and :func:`sklearn_elmo.load` come here for a path
ending in ``.skops`` (and ``load`` for any file in the skops format). skops
(https://skops.readthedocs.io) stores an object as a JSON tree of types and
plain values plus numpy arrays; loading audits the tree and builds only types
on a trusted list, without unpickling anything.

Trusted on load: skops' defaults (scikit-learn's estimators, numpy arrays,
dtypes, scalars and random states, builtin containers and primitives), every
estimator class of this package (any subclass of ``ElmoBase`` defined in an
``sklearn_elmo`` module, found when the list is made, so new estimators are
trusted without being listed here), and the default tokenizer, stored by
reference. Any other type in a file makes skops refuse it with
``skops.io.exceptions.UntrustedTypesFoundException``.

skops is an optional dependency: ``pip install "sklearn-elmo[skops]"``.
"""

import io
import os
import uuid
import zipfile
from pathlib import Path

# Private parts of the package used here (keep this list short); also, lazily,
# persistence.MANIFEST and persistence._elmo_estimators (persistence imports
# this module).
from .estimators._base import ElmoBase
from .tokenize import default_tokenizer

__all__ = ["is_skops_file", "load_skops", "save_skops", "trusted_types"]

SUFFIX = ".skops"
INSTALL_HINT = 'pip install "sklearn-elmo[skops]"'
_SCHEMA = "schema.json"  # every skops file has it; sklearn_elmo archives do not


def _skops_io():
    try:
        import skops.io as sio
    except ImportError as exc:
        raise ImportError(
            f"Saving and loading {SUFFIX} files needs the skops package, which is "
            f"not installed: {INSTALL_HINT} (or pip install skops)."
        ) from exc
    return sio


def _name(obj):
    return f"{obj.__module__}.{obj.__name__}"


def _is_ours(cls):
    module = cls.__module__ or ""
    return (module == "sklearn_elmo" or module.startswith("sklearn_elmo.")) and (
        cls.__qualname__ == cls.__name__  # importable by name: no local classes
    )


def trusted_types():
    """Types a ``.skops`` file may hold beyond skops' own defaults.

    Every estimator class of sklearn-elmo (each subclass of its estimator
    base class defined in an ``sklearn_elmo`` module and imported, which the
    public ones are by ``import sklearn_elmo``) and the default tokenizer.

    Returns
    -------
    names : list of str
        Fully qualified names, as ``skops.io.load(trusted=...)`` takes them.

    Examples
    --------
    >>> from sklearn_elmo.persistence import trusted_types
    >>> "sklearn_elmo.estimators.ElmoClassifier" in trusted_types()
    True
    """
    from . import estimators  # noqa: F401 - defines the public estimator classes

    names = {_name(default_tokenizer)}
    stack = list(ElmoBase.__subclasses__())
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        if _is_ours(cls):
            names.add(_name(cls))
    return sorted(names)


def _check_tokenizers(obj):
    """Refuse tokenizers a skops file cannot hold without code."""
    from ._archive import _elmo_estimators

    for where, est in _elmo_estimators(obj):
        fitted = getattr(est, "_fit_feature_params", None) or {}
        for value in (est.tokenizer, fitted.get("tokenizer")):
            if value is None or value is default_tokenizer:
                continue
            raise TypeError(
                f"{where} ({type(est).__name__}) has tokenizer={value!r}. A "
                f"{SUFFIX} file holds no code, so it can store only tokenizer=None "
                "or sklearn_elmo.default_tokenizer (by reference). Use one of those, "
                "or save to a .joblib file or a .zip archive (pickle based: loading "
                "runs code, so only load them from sources you trust)."
            )


def is_skops_file(path):
    """Whether ``path`` is a zip file in the skops format (not an sklearn-elmo archive)."""
    from ._archive import MANIFEST

    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
    return _SCHEMA in names and MANIFEST not in names


def save_skops(estimator, path, *, include_model=False):
    """Write ``estimator`` to ``path`` in the skops format; see :func:`sklearn_elmo.save`."""
    if include_model:
        raise ValueError(
            f"include_model=True bundles the biLM into a .zip archive; a {SUFFIX} file "
            "holds the estimator only. Ship the biLM folder beside it (and point the "
            "estimator at it with set_params(model=...) after loading), or save to a "
            ".zip archive."
        )
    sio = _skops_io()
    _check_tokenizers(estimator)
    blob = sio.dumps(estimator, compression=zipfile.ZIP_DEFLATED)
    untrusted = sorted(set(sio.get_untrusted_types(data=blob)) - set(trusted_types()))
    if untrusted:
        hint = ""
        if hasattr(estimator, "best_estimator_"):
            hint = " Save the search's best_estimator_ instead of the whole search."
        raise ValueError(
            f"{type(estimator).__name__} holds types that a {SUFFIX} file loaded by "
            f"sklearn_elmo.load would refuse (they are not trusted): {untrusted}.{hint} "
            "Use a .joblib file or a .zip archive for such objects, from trusted "
            "sources only."
        )
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


def load_skops(path):
    """Load a skops file written by :func:`save_skops`, trusting only known types."""
    sio = _skops_io()
    path = Path(path)
    if not is_skops_file(path):
        raise ValueError(
            f"{path}: not a {SUFFIX} file (no {_SCHEMA} in a zip file). A .zip archive "
            "from sklearn_elmo.save or a joblib file must not be named *.skops: it "
            "would run code when loaded."
        )
    with open(path, "rb") as fh:
        data = fh.read()
    return sio.load(io.BytesIO(data), trusted=trusted_types())
