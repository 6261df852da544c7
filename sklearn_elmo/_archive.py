"""The archive format of :func:`sklearn_elmo.save`: manifest, bundles, unpacking.

An archive is a zip holding ``estimator.joblib``, ``manifest.json`` and, with
``include_model=True``, the biLM files under ``model/<bundle>/``.
"""

import hashlib
import json
import os
import re
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from sklearn.base import BaseEstimator

from ._version import __version__
from .bilm import is_hub_source
from .bilm._sources import resolve_weight_files
from .estimators._base import ElmoBase

ARCHIVE_FORMAT = "sklearn-elmo-archive"


ARCHIVE_FORMAT_VERSION = 1


MANIFEST = "manifest.json"


PICKLE = "estimator.joblib"


MODEL_PREFIX = "model/"


_CHUNK = 1 << 20


def _elmo_estimators(obj):
    """``(path, estimator)`` for every sklearn-elmo estimator reachable from obj.

    Walks parameters and fitted attributes alike (a Pipeline's steps, a
    search's ``estimator`` and ``best_estimator_``, a ColumnTransformer's
    ``transformers_``, ...), through lists, tuples and dicts. Each estimator
    is listed once, in a deterministic order.
    """
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


def _model_files(source):
    """What to bundle for ``source``: its kind, local folder and files.

    Returns ``(kind, folder, [(relative posix name, path), ...])``. Weight
    files: the options and weights files only (not a vocabulary or other
    files beside them). A TF Hub module directory, or the cached folder of a
    TF Hub handle: every file under it.
    """
    if is_hub_source(source):
        from .bilm._hub import resolve_hub_source

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
    if weight_files.archive is not None:
        archive = weight_files.archive
        return "weight-archive", archive.parent, [(archive.name, archive)]
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
