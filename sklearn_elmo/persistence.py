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

import hashlib
import io
import json
import os
import platform
import re
import shutil
import tempfile
import uuid
import zipfile
from pathlib import Path, PurePosixPath

import joblib
import sklearn
from sklearn.base import BaseEstimator

from ._skops import SUFFIX as SKOPS_SUFFIX
from ._skops import is_skops_file, load_skops, save_skops, trusted_types
from ._sources import is_hub_handle, is_hub_module_dir, resolve_weight_files
from ._version import __version__
from .bilm import INITIAL_STATES, load_bilm
from .exceptions import BilmMismatchError

__all__ = ["check_fitted_bilm", "default_model_dir", "load", "save", "trusted_types"]

ARCHIVE_FORMAT = "sklearn-elmo-archive"
ARCHIVE_FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PICKLE = "estimator.joblib"
MODEL_PREFIX = "model/"
MODEL_DIR_VARIABLE = "SKLEARN_ELMO_MODEL_DIR"
_CHUNK = 1 << 20


# -- the fingerprint check ------------------------------------------------------


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
    for mode in INITIAL_STATES:
        if mode == current:
            continue
        try:
            if load_bilm(source, initial_state=mode).fingerprint == expected:
                return mode
        except ValueError:  # e.g. a TF Hub module takes "zeros" only
            continue
    return None


# -- finding the estimators inside pipelines, searches, ... ---------------------


def _elmo_estimators(obj):
    """``(path, estimator)`` for every sklearn-elmo estimator reachable from obj.

    Walks parameters and fitted attributes alike (a Pipeline's steps, a
    search's ``estimator`` and ``best_estimator_``, a ColumnTransformer's
    ``transformers_``, ...), through lists, tuples and dicts. Each estimator
    is listed once, in a deterministic order.
    """
    from ._base import ElmoBase

    found, seen = [], set()

    def walk(value, path):
        if isinstance(value, (str, bytes, int, float, bool, type(None))):
            return
        if id(value) in seen:
            return
        if isinstance(value, ElmoBase):
            seen.add(id(value))
            found.append((path, value))
            return
        if isinstance(value, dict):
            seen.add(id(value))
            for key, item in value.items():
                walk(item, f"{path}[{key!r}]")
        elif isinstance(value, (list, tuple)):
            seen.add(id(value))
            for i, item in enumerate(value):
                walk(item, f"{path}[{i}]")
        elif isinstance(value, BaseEstimator) or (
            type(value).__module__.startswith("sklearn.") and hasattr(value, "__dict__")
        ):
            seen.add(id(value))
            for key, item in vars(value).items():
                walk(item, f"{path}.{key}")

    walk(obj, "estimator")
    return found


# -- model files ----------------------------------------------------------------


def _model_files(source):
    """What to bundle for ``source``: its kind, local folder and files.

    Returns ``(kind, folder, [(relative posix name, path), ...])``. Weight
    files: the options and weights files only (not a vocabulary or other
    files beside them). A TF Hub module directory, or the cached folder of a
    TF Hub handle: every file under it.
    """
    if is_hub_handle(source) or is_hub_module_dir(source):
        from ._hub import resolve_hub_source

        folder = resolve_hub_source(source)
        files = sorted(
            (p.relative_to(folder).as_posix(), p)
            for p in folder.rglob("*")
            if p.is_file()
        )
        if not files:
            raise ValueError(f"{source}: the TF Hub module folder {folder} is empty")
        return "tf-hub-module", folder, files
    weight_files = resolve_weight_files(source)
    files = [(p.name, p) for p in (weight_files.options, weight_files.weights)]
    return "weight-files", weight_files.options.parent, files


def _bundle_name(folder, taken):
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(folder).name).strip("._") or "bilm"
    name, n = stem, 2
    while name in taken:
        name, n = f"{stem}-{n}", n + 1
    return name


def _copy_hashed(src, dst):
    digest, size = hashlib.sha256(), 0
    for chunk in iter(lambda: src.read(_CHUNK), b""):
        digest.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return size, digest.hexdigest()


def _files_digest(entries):
    digest = hashlib.sha256(b"sklearn-elmo-bundle\0")
    for entry in entries:
        digest.update(f"{entry['name']}\0{entry['size']}\0{entry['sha256']}\0".encode())
    return digest.hexdigest()


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

    ``$SKLEARN_ELMO_MODEL_DIR`` if set, else ``sklearn_elmo/models`` in the
    user's cache folder (``$XDG_CACHE_HOME`` or ``~/.cache``).

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
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(os.path.expanduser(cache)) / "sklearn_elmo" / "models"


def _read_manifest(zf, path):
    try:
        manifest = json.loads(zf.read(MANIFEST).decode("utf-8"))
    except KeyError:
        raise ValueError(
            f"{path}: a zip file without {MANIFEST}, not an sklearn-elmo archive"
        ) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path}: unreadable {MANIFEST} ({exc})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != ARCHIVE_FORMAT:
        raise ValueError(f"{path}: {MANIFEST} is not an sklearn-elmo archive manifest")
    version = manifest.get("format_version")
    if not isinstance(version, int) or version > ARCHIVE_FORMAT_VERSION:
        raise ValueError(
            f"{path}: archive format version {version!r} is newer than this "
            f"sklearn-elmo ({__version__}) reads ({ARCHIVE_FORMAT_VERSION}); upgrade "
            f"sklearn-elmo (the archive was written by "
            f"{manifest.get('sklearn_elmo_version')})"
        )
    return manifest


def _safe_relative(name, path):
    parts = PurePosixPath(name).parts
    if not parts or name.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ValueError(f"{path}: unsafe file name {name!r} in the archive")
    return PurePosixPath(*parts)


def _complete(folder, files):
    for entry in files:
        file = folder / entry["name"]
        if not file.is_file() or file.stat().st_size != entry["size"]:
            return False
    return True


def _unpack(zf, bundle, model_dir, path):
    """Extract a bundled biLM into ``model_dir``; return its folder.

    The folder is named after the bundle and the digest of its files, so a
    bundle is extracted once and shared by every archive holding the same
    files. Extraction goes to a temporary folder, is checked against the
    manifest's SHA-256 sums and then renamed into place.
    """
    name = _safe_relative(bundle["name"], path)
    if len(name.parts) != 1:
        raise ValueError(f"{path}: unsafe bundle name {bundle['name']!r}")
    files = bundle["files"]
    rels = [_safe_relative(f["name"], path) for f in files]
    target = model_dir / f"{name}-{bundle['digest'][:16]}"
    if target.is_dir() and _complete(target, files):
        return target
    model_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", suffix=".tmp", dir=model_dir))
    try:
        for entry, rel in zip(files, rels):
            member = f"{MODEL_PREFIX}{name}/{entry['name']}"
            dest = tmp.joinpath(*rel.parts)
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                src = zf.open(member)
            except KeyError:
                raise ValueError(f"{path}: the archive lacks {member}") from None
            with src, open(dest, "wb") as dst:
                size, sha = _copy_hashed(src, dst)
            if size != entry["size"] or sha != entry["sha256"]:
                raise ValueError(
                    f"{path}: {member} is corrupt (size or SHA-256 differs from the "
                    "manifest)"
                )
        if target.exists():  # incomplete leftover, or another process just made it
            if _complete(target, files):
                return target
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:
            if target.is_dir() and _complete(target, files):
                return target  # another process won the race
            raise
        return target
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


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
        ``~/.cache/sklearn_elmo/models``. Ignored for archives without a
        bundled biLM.
    verify : bool, default=True
        Load every bundled biLM now and check it against the fingerprint of
        each fitted estimator using it. Estimators whose biLM is not bundled
        are checked lazily, on first use, as after ``joblib.load``.

    Returns
    -------
    estimator : object
        The saved object. Every sklearn-elmo estimator whose biLM was bundled
        has ``model`` set to the unpacked folder.

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
                unpacked[name] = _unpack(zf, bundles[name], model_dir, path)
            est.set_params(model=str(unpacked[name]))
    if verify:
        for where, est in found:
            bundled = records[where]["bundle"] is not None
            if bundled and hasattr(est, "bilm_fingerprint_"):
                check_fitted_bilm(est)
    return estimator
