"""Saving fitted estimators: plain pickles, and self-contained archives.

``pickle``, ``joblib.dump`` and ``copy.deepcopy`` work on every sklearn-elmo
estimator and on anything containing them (Pipelines, searches). A pickle
holds the parameters, the fitted network's weights as numpy arrays and the
biLM's fingerprint; the biLM itself is loaded lazily from ``model`` on first
use and checked against the fingerprint (:func:`check_fitted_bilm`).

:func:`save` and :func:`load` wrap such a pickle in one archive file that can
also carry the biLM's files (``include_model=True``), for deployment where
the model source will not exist. See docs/persistence.md.

Loading a pickle or an archive runs code from it: only load files from
sources you trust. A path ending in ``.skops`` is written and read in the
skops format instead, which runs no code on load (``_skops.py``).
"""

import io
import json
import os
import platform
import uuid
import zipfile
from pathlib import Path

import joblib
import sklearn

from ._archive import (
    ARCHIVE_FORMAT,
    ARCHIVE_FORMAT_VERSION,
    MANIFEST,
    MODEL_PREFIX,
    PICKLE,
    _bundle_name,
    _copy_hashed,
    _elmo_estimators,
    _files_digest,
    _model_files,
    _read_manifest,
    _unpack,
)
from ._paths import cache_root
from ._skops import SUFFIX as SKOPS_SUFFIX
from ._skops import is_skops_file, load_skops, save_skops, trusted_types
from ._version import __version__
from .estimators._fingerprint import check_fitted_bilm

__all__ = [
    "check_fitted_bilm",
    "default_model_dir",
    "load",
    "save",
    "trusted_types",
]

MODEL_DIR_VARIABLE = "SKLEARN_ELMO_MODEL_DIR"


# -- save -----------------------------------------------------------------------


def save(estimator, path, *, include_model=False):
    """Save an estimator (or a Pipeline, search, ...) to one archive file.

    The archive is a zip file holding ``manifest.json`` (versions, and each
    sklearn-elmo estimator's model source, ``initial_state`` and biLM
    fingerprint), ``estimator.joblib`` (the ``joblib.dump`` of the
    estimator: parameters and fitted arrays, small) and, with
    ``include_model=True``, the biLM's files under ``model/<name>/``.

    Parameters
    ----------
    estimator : object
        Any picklable object; every sklearn-elmo estimator inside it (in a
        Pipeline, ColumnTransformer, a search's ``estimator`` and
        ``best_estimator_``, ...) is found and recorded.
    path : str or path-like
        The archive to write (replaced atomically if it exists). A name ending
        in ``.skops`` writes a skops file instead, which :func:`load` reads
        without running code: sklearn-elmo estimators, scikit-learn ones and
        plain values only, ``tokenizer`` None or the default tokenizer, no
        bundled biLM (needs ``pip install "sklearn-elmo[skops]"``; see
        docs/persistence.md).
    include_model : bool, default=False
        Bundle the files of every biLM the estimators use, so that
        :func:`load` works where the model source does not exist. Weight
        files: the options and weights files (a few hundred MB for the
        published models; stored uncompressed). A TF Hub module directory:
        all its files; a TF Hub handle: its folder in the TF Hub cache (it
        must be cached or downloadable). Fitted estimators' biLMs are checked
        against their fingerprints before they are bundled. False stores the
        pickle only, as small as ``joblib.dump``.

    Returns
    -------
    path : pathlib.Path
        The archive written.

    Raises
    ------
    TypeError
        If ``include_model`` is not a bool, or (``.skops``) a tokenizer is
        another callable.
    ValueError
        With ``include_model=True``, if a biLM cannot be found or differs from
        the one an estimator was fitted with; for ``.skops``, if the object
        holds types :func:`load` would not trust, or ``include_model=True``.

    See Also
    --------
    load : Read the archive back.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import sklearn_elmo
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> model = make_random_bilm(tempfile.mkdtemp())
    >>> vec = sklearn_elmo.ElmoVectorizer(model).fit(["Hello world ."])
    >>> archive = Path(tempfile.mkdtemp()) / "vectorizer.zip"
    >>> sklearn_elmo.save(vec, archive, include_model=True)  # doctest: +ELLIPSIS
    PosixPath('.../vectorizer.zip')
    >>> restored = sklearn_elmo.load(archive, model_dir=tempfile.mkdtemp())
    >>> restored.transform(["Hello world ."]).shape
    (1, 32)
    """
    if not isinstance(include_model, bool):
        raise TypeError(f"include_model must be True or False, got {include_model!r}")
    path = Path(os.path.expanduser(os.fspath(path)))
    if path.is_dir():
        raise ValueError(f"{path}: is a directory; pass the archive file's path")
    if not path.parent.is_dir():
        raise ValueError(f"{path.parent}: no such directory to write the archive in")
    if path.suffix == SKOPS_SUFFIX:
        return save_skops(estimator, path, include_model=include_model)
    found = _elmo_estimators(estimator)
    records, bundles = [], {}  # bundles: local folder -> manifest entry
    plans = []  # (bundle name, [(relative name, path)])
    for where, est in found:
        fitted = hasattr(est, "bilm_fingerprint_")
        record = {
            "path": where,
            "class": type(est).__name__,
            "model": os.fspath(est.model),
            "initial_state": est.initial_state,
            "fitted": fitted,
            "bilm_fingerprint": est.bilm_fingerprint_ if fitted else None,
            "bundle": None,
        }
        if include_model:
            if fitted:
                check_fitted_bilm(est)
            try:
                kind, folder, files = _model_files(est.model)
            except ValueError as exc:
                raise ValueError(
                    f"include_model=True: cannot bundle the biLM of {where} "
                    f"({type(est).__name__}, model={os.fspath(est.model)!r}): {exc}"
                ) from exc
            key = (kind, str(folder), tuple(rel for rel, _ in files))
            if key not in bundles:
                taken = {entry["name"] for entry in bundles.values()}
                name = _bundle_name(folder, taken)
                bundles[key] = {
                    "name": name,
                    "kind": kind,
                    "source": os.fspath(est.model),
                    "files": [],
                }
                plans.append((bundles[key], files))
            record["bundle"] = bundles[key]["name"]
        records.append(record)

    buffer = io.BytesIO()
    joblib.dump(estimator, buffer)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", allowZip64=True) as zf:
            zf.writestr(PICKLE, buffer.getvalue(), compress_type=zipfile.ZIP_DEFLATED)
            for bundle, files in plans:
                for rel, file in files:
                    member = f"{MODEL_PREFIX}{bundle['name']}/{rel}"
                    info = zipfile.ZipInfo.from_file(file, member)
                    info.compress_type = zipfile.ZIP_STORED
                    with (
                        open(file, "rb") as src,
                        zf.open(info, "w", force_zip64=True) as dst,
                    ):
                        size, sha = _copy_hashed(src, dst)
                    bundle["files"].append({"name": rel, "size": size, "sha256": sha})
                bundle["digest"] = _files_digest(bundle["files"])
            manifest = {
                "format": ARCHIVE_FORMAT,
                "format_version": ARCHIVE_FORMAT_VERSION,
                "sklearn_elmo_version": __version__,
                "sklearn_version": sklearn.__version__,
                "python_version": platform.python_version(),
                "object": (
                    f"{type(estimator).__module__}.{type(estimator).__qualname__}"
                ),
                "include_model": include_model,
                "estimators": records,
                "models": [bundle for bundle, _ in plans],
            }
            zf.writestr(
                MANIFEST,
                json.dumps(manifest, indent=2),
                compress_type=zipfile.ZIP_DEFLATED,
            )
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


# -- load -----------------------------------------------------------------------


def default_model_dir():
    """Where :func:`load` unpacks bundled biLMs unless told otherwise.

    ``$SKLEARN_ELMO_MODEL_DIR`` if set, else ``models`` in the package's
    cache root (``$SKLEARN_ELMO_HOME``, else ``$XDG_CACHE_HOME/sklearn-elmo``
    or ``~/.cache/sklearn-elmo``).

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> from sklearn_elmo.persistence import default_model_dir
    >>> default_model_dir().name
    'models'
    """
    override = os.environ.get(MODEL_DIR_VARIABLE)
    if override:
        return Path(os.path.expanduser(override))
    return cache_root() / "models"


def load(path, *, model_dir=None, verify=True):
    """Load an estimator saved with :func:`save`.

    Loading an archive runs code from its pickle: only load archives from
    sources you trust. A ``.skops`` file (any file in the skops format) is
    loaded by skops instead, running no code: it may hold only skops'
    default types and those of
    :func:`~sklearn_elmo.persistence.trusted_types`, else skops refuses it
    with ``UntrustedTypesFoundException``; ``model_dir`` and ``verify`` do
    not apply to it.

    Parameters
    ----------
    path : str or path-like
        An archive or a ``.skops`` file written by :func:`save`.
    model_dir : str or path-like or None, default=None
        Where bundled biLMs are unpacked, each into its own folder named after
        the digest of its files (unpacked once, reused by later loads).
        None uses :func:`default_model_dir`: ``$SKLEARN_ELMO_MODEL_DIR``, else
        ``~/.cache/sklearn-elmo/models``. Ignored for archives without a
        bundled biLM.
    verify : bool, default=True
        Load every bundled biLM now and check it against the fingerprint of
        each fitted estimator using it. Estimators whose biLM is not bundled
        are checked lazily, on first use, as after ``joblib.load``.

    Returns
    -------
    estimator : object
        The saved object. Every sklearn-elmo estimator whose biLM was bundled
        has ``model`` set to the unpacked folder (or archive).

    Raises
    ------
    ValueError
        If the file is not an sklearn-elmo archive, is corrupt or from a newer
        archive format, or a bundled biLM does not match its estimator.
    BilmMismatchError
        A ValueError: a bundled biLM's fingerprint differs from its fitted
        estimator's.

    See Also
    --------
    save : Write the archive.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import sklearn_elmo
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> model = make_random_bilm(tempfile.mkdtemp())
    >>> vec = sklearn_elmo.ElmoVectorizer(model).fit(["Hello world ."])
    >>> archive = sklearn_elmo.save(vec, Path(tempfile.mkdtemp()) / "vec.zip")
    >>> sklearn_elmo.load(archive).model == vec.model  # not bundled: same source
    True
    """
    if not isinstance(verify, bool):
        raise TypeError(f"verify must be True or False, got {verify!r}")
    path = Path(os.path.expanduser(os.fspath(path)))
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    if path.suffix == SKOPS_SUFFIX or is_skops_file(path):  # never unpickled
        return load_skops(path)
    if not zipfile.is_zipfile(path):
        raise ValueError(
            f"{path}: not an sklearn-elmo archive (not a zip file). For a file "
            "written by joblib.dump, use joblib.load."
        )
    with zipfile.ZipFile(path) as zf:
        manifest = _read_manifest(zf, path)
        try:
            blob = zf.read(PICKLE)
        except KeyError:
            raise ValueError(f"{path}: the archive lacks {PICKLE}") from None
        estimator = joblib.load(io.BytesIO(blob))
        bundles = {b["name"]: b for b in manifest.get("models", [])}
        records = {r["path"]: r for r in manifest.get("estimators", [])}
        found = _elmo_estimators(estimator)
        if sorted(w for w, _ in found) != sorted(records):
            raise ValueError(
                f"{path}: the manifest lists the estimators {sorted(records)} but "
                f"the pickle holds {sorted(w for w, _ in found)}"
            )
        if not any(records[w]["bundle"] for w, _ in found):
            return estimator
        if model_dir is None:
            model_dir = default_model_dir()
        model_dir = Path(os.path.expanduser(os.fspath(model_dir)))
        unpacked = {}
        for where, est in found:
            name = records[where]["bundle"]
            if name is None:
                continue
            if name not in bundles:
                raise ValueError(f"{path}: the manifest has no model bundle {name!r}")
            if name not in unpacked:
                folder = _unpack(zf, bundles[name], model_dir, path)
                if bundles[name].get("kind") == "weight-archive":  # one .zip
                    folder = folder / bundles[name]["files"][0]["name"]
                unpacked[name] = folder
            est.set_params(model=str(unpacked[name]))
    if verify:
        for where, est in found:
            bundled = records[where]["bundle"] is not None
            if bundled and hasattr(est, "bilm_fingerprint_"):
                check_fitted_bilm(est)
    return estimator
