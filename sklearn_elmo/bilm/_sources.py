"""Turn a user's ``source`` (a path or a handle) into the files to load.

Weight files are found as users have them: a folder (bilm-tf, AllenNLP or
NLPL layout, possibly beside embedding dumps and other files), an options
file, a weights file, or an NLPL repository ``.zip`` archive read in place.
"""

import io
import json
import os
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

# The default ``model`` of every estimator and of the command line.
DEFAULT_HANDLE = "https://tfhub.dev/google/elmo/3"
# biLMs shipped inside the package, by public name (see docs/model-card.md).
BUNDLED_MODELS = ("en-mini",)
_HANDLE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
WEIGHT_SUFFIXES = (".hdf5", ".h5")
ARCHIVE_SUFFIXES = (".zip",)
# Every bilm-tf weights file holds these; embedding dumps
# (``dump_bilm_embeddings``, ``lm_embeddings_*.hdf5``) hold "0", "1", ...
_WEIGHT_MARKERS = ("char_embed", "RNN_0")


@dataclass(frozen=True)
class WeightFiles:
    """A biLM stored as bilm-tf ``options.json`` + weights ``.hdf5``.

    ``options`` and ``weights`` are file paths, or, when ``archive`` is set,
    the names of those members inside that zip archive.
    """

    options: Path | str
    weights: Path | str
    archive: Path | None = None

    def identity(self):
        """What changes when the files change (path, size, mtime)."""
        paths = (self.archive,) if self.archive else (self.options, self.weights)
        stats = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths)
        if self.archive:
            return stats + (str(self.options), str(self.weights))
        return stats

    def describe(self, member):
        """How to name ``member`` ("options" or "weights") in messages."""
        name = getattr(self, member)
        return f"{self.archive}!{name}" if self.archive else str(name)

    def read_options_text(self):
        """The options file's bytes."""
        if self.archive:
            with zipfile.ZipFile(self.archive) as zf:
                return zf.read(str(self.options))
        return Path(self.options).read_bytes()

    def open_weights(self):
        """The weights file as something ``h5py.File`` opens: a path or a buffer.

        An archive member is read into memory (no write access needed, and
        HDF5's random access would be slow on a compressed zip stream).
        """
        if self.archive:
            with zipfile.ZipFile(self.archive) as zf:
                return io.BytesIO(zf.read(str(self.weights)))
        return self.weights


def is_hub_handle(source):
    """True for URL-like handles (``https://tfhub.dev/...``, Kaggle URLs)."""
    return isinstance(source, str) and bool(_HANDLE.match(source))


def is_hub_module_dir(path):
    """True for a directory holding a (TF1 Hub format or TF2) SavedModel."""
    try:
        path = Path(os.path.expanduser(os.fspath(path)))
    except TypeError:
        return False
    return path.is_dir() and (
        (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()
    )


def is_hub_source(source):
    """True when ``source`` names a TF Hub module (a handle or a module folder)."""
    return is_hub_handle(source) or is_hub_module_dir(source)


def holds_bilm_weights(file):
    """True when the HDF5 ``file`` (path or buffer) holds bilm-tf biLM weights.

    Decided by the datasets inside, not the name: unreadable files and
    embedding dumps are not weights.
    """
    import h5py

    try:
        with h5py.File(file, "r") as fh:
            return all(name in fh for name in _WEIGHT_MARKERS)
    except (OSError, ValueError):
        return False


def _looks_like_options(raw):
    try:
        options = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(options, dict) and "lstm" in options and "char_cnn" in options


def _pick_options(candidates, read, where):
    """The options file among ``candidates`` (names); ``read(name)`` gives bytes."""
    names = {PurePosixPath(str(c)).name: c for c in candidates}
    if "options.json" in names:
        return names["options.json"]
    if len(candidates) > 1:  # e.g. meta.json or an embedding dump's sentences
        candidates = [c for c in candidates if _looks_like_options(read(c))]
    return _single(candidates, "options files (*.json)", where)


def _pick_weights(candidates, open_file, where, options_name=None):
    """The weights file among ``candidates``: paired by name, else by content."""
    stem = None
    if options_name and options_name.endswith("options.json"):
        stem = options_name[: -len("options.json")] or None
    if stem:
        # AllenNLP names its files <prefix>_options.json / <prefix>_weights.hdf5.
        for candidate in candidates:
            name = PurePosixPath(str(candidate)).name
            if name in (f"{stem}weights{suffix}" for suffix in WEIGHT_SUFFIXES):
                return candidate
    if len(candidates) <= 1:  # one file: read_weights says what is wrong with it
        return _single(candidates, "weights files (*.hdf5)", where)
    holding = [c for c in candidates if holds_bilm_weights(open_file(c))]
    if not holding:
        names = ", ".join(sorted(PurePosixPath(str(c)).name for c in candidates))
        raise ValueError(
            f"{where}: none of the .hdf5 files ({names}) holds biLM weights (the "
            "char_embed and RNN_0 datasets of a bilm-tf weights file); they look "
            "like embedding dumps. Add the biLM's weights file, or pass its path."
        )
    if len(holding) > 1:
        names = ", ".join(sorted(PurePosixPath(str(c)).name for c in holding))
        raise ValueError(
            f"{where}: found several weights files holding biLM weights ({names}); "
            "pass the path of the one to use (the .hdf5 file itself, or an "
            "options file named <prefix>options.json beside <prefix>weights.hdf5), "
            "or move the others away"
        )
    return holding[0]


def _single(candidates, what, where):
    if not candidates:
        raise ValueError(f"{where}: no {what} found")
    if len(candidates) > 1:
        names = ", ".join(sorted(PurePosixPath(str(p)).name for p in candidates))
        raise ValueError(
            f"{where}: found several {what} ({names}); keep one, or pass the "
            "options file's path to choose"
        )
    return candidates[0]


def _folder_files(folder, suffixes):
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix in suffixes)


def _weights_in(folder, options_name=None):
    return _pick_weights(
        _folder_files(folder, WEIGHT_SUFFIXES), lambda p: p, folder, options_name
    )


def _options_in(folder):
    return _pick_options(_folder_files(folder, (".json",)), Path.read_bytes, folder)


def resolve_archive(path):
    """The options and weights members of an NLPL-style ``.zip`` archive.

    The archive holds ``options.json`` and a weights ``.hdf5`` (NLPL names it
    ``model.hdf5``), at its top level or in one folder; other members
    (``vocab.txt``, ``meta.json``, a README) are ignored.
    """
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ValueError(f"{path}: not a readable zip archive ({exc})") from None
    with zf:
        members = [i.filename for i in zf.infolist() if not i.is_dir()]
        folders = {PurePosixPath(m).parent for m in members}
        top = min(folders, key=lambda f: len(f.parts), default=PurePosixPath("."))
        inside = [m for m in members if PurePosixPath(m).parent == top]
        jsons = [m for m in inside if m.endswith(".json")]
        hdf5s = [m for m in inside if PurePosixPath(m).suffix in WEIGHT_SUFFIXES]
        where = f"{path} (zip archive)"
        options = _pick_options(jsons, zf.read, where)
        weights = _pick_weights(
            hdf5s,
            lambda m: io.BytesIO(zf.read(m)),
            where,
            PurePosixPath(options).name,
        )
    return WeightFiles(options, weights, archive=Path(path).resolve())


def bundled_model_dir(name):
    """The folder of a biLM shipped with the package (``"en-mini"``).

    Examples
    --------
    >>> from sklearn_elmo.bilm._sources import bundled_model_dir
    >>> sorted(p.name for p in bundled_model_dir("en-mini").glob("*.json"))
    ['history.json', 'options.json', 'provenance.json']
    """
    if name not in BUNDLED_MODELS:
        raise ValueError(f"{name!r} is not a bundled model; they are {BUNDLED_MODELS}")
    from importlib import resources

    return Path(str(resources.files("sklearn_elmo").joinpath("data", name)))


def resolve_weight_files(source):
    """Find the options and weights files that ``source`` designates.

    ``source`` is a directory holding an options ``.json`` (``options.json``
    preferred) and a weights ``.hdf5`` (among several, the one holding biLM
    weights; an AllenNLP ``<prefix>_options.json`` picks
    ``<prefix>_weights.hdf5``), or the options file itself, or the weights
    file with its options beside it, or an NLPL ``.zip`` archive, or the
    name of a biLM shipped with the package (``"en-mini"``) when no file or
    folder of that name exists.
    """
    path = Path(os.path.expanduser(os.fspath(source)))
    if not path.exists() and isinstance(source, str) and source in BUNDLED_MODELS:
        path = bundled_model_dir(source)  # a real file or folder of that name wins
    if not path.exists():
        raise ValueError(f"{path}: no such file or directory")
    if path.is_dir():
        options = _options_in(path)
        weights = _weights_in(path, options.name)
        return WeightFiles(options.resolve(), weights.resolve())
    if path.suffix == ".json":
        return WeightFiles(
            path.resolve(), _weights_in(path.parent, path.name).resolve()
        )
    if path.suffix in WEIGHT_SUFFIXES:
        return WeightFiles(_options_in(path.parent).resolve(), path.resolve())
    if path.suffix in ARCHIVE_SUFFIXES:
        return resolve_archive(path)
    raise ValueError(
        f"{path}: not a biLM source; expected a directory with options.json and "
        "a weights .hdf5, an options .json file, a weights .hdf5 file, an NLPL "
        ".zip archive, or a TF Hub handle"
    )
