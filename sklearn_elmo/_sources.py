"""Turn a user's ``source`` (a path or a handle) into the files to load."""

import os
import re
from dataclasses import dataclass
from pathlib import Path

_HANDLE = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
WEIGHT_SUFFIXES = (".hdf5", ".h5")


@dataclass(frozen=True)
class WeightFiles:
    """A biLM stored as bilm-tf ``options.json`` + weights ``.hdf5``."""

    options: Path
    weights: Path

    def identity(self):
        """What changes when either file changes (path, size, mtime)."""
        return tuple(
            (str(p), p.stat().st_size, p.stat().st_mtime_ns)
            for p in (self.options, self.weights)
        )


def is_hub_handle(source):
    """True for URL-like handles (``https://tfhub.dev/...``, Kaggle URLs)."""
    return isinstance(source, str) and bool(_HANDLE.match(source))


def is_hub_module_dir(path):
    """True for a directory holding a (TF1 Hub format or TF2) SavedModel."""
    path = Path(path)
    return path.is_dir() and (
        (path / "saved_model.pb").is_file() or (path / "saved_model.pbtxt").is_file()
    )


def _single(candidates, what, where):
    if not candidates:
        raise ValueError(f"{where}: no {what} found")
    if len(candidates) > 1:
        names = ", ".join(sorted(p.name for p in candidates))
        raise ValueError(
            f"{where}: found several {what} ({names}); keep one, or pass the "
            "options file's path to choose"
        )
    return candidates[0]


def _weights_beside(options, pair_by_name):
    folder = options.parent
    # AllenNLP names its files <prefix>_options.json / <prefix>_weights.hdf5;
    # an explicitly chosen options file picks its partner among several.
    stem = options.name[: -len("options.json")]
    if pair_by_name and options.name.endswith("options.json") and stem:
        for suffix in WEIGHT_SUFFIXES:
            paired = folder / f"{stem}weights{suffix}"
            if paired.is_file():
                return paired
    candidates = [
        p for p in folder.iterdir() if p.is_file() and p.suffix in WEIGHT_SUFFIXES
    ]
    return _single(candidates, "weights files (*.hdf5)", folder)


def resolve_weight_files(source):
    """Find the options and weights files that ``source`` designates.

    ``source`` is a directory holding one options ``.json`` (``options.json``
    preferred) and one weights ``.hdf5``, or the options file itself, or the
    weights file with its options beside it.
    """
    path = Path(os.path.expanduser(os.fspath(source)))
    if not path.exists():
        raise ValueError(f"{path}: no such file or directory")
    if path.is_dir():
        options = path / "options.json"
        if not options.is_file():
            candidates = [
                p for p in path.iterdir() if p.is_file() and p.name.endswith(".json")
            ]
            options = _single(candidates, "options files (*.json)", path)
        return WeightFiles(
            options.resolve(), _weights_beside(options, pair_by_name=False).resolve()
        )
    if path.suffix == ".json":
        return WeightFiles(
            path.resolve(), _weights_beside(path, pair_by_name=True).resolve()
        )
    if path.suffix in WEIGHT_SUFFIXES:
        folder = path.parent
        options = folder / "options.json"
        if not options.is_file():
            candidates = [p for p in folder.iterdir() if p.name.endswith(".json")]
            options = _single(candidates, "options files (*.json)", folder)
        return WeightFiles(options.resolve(), path.resolve())
    raise ValueError(
        f"{path}: not a biLM source; expected a directory with options.json and "
        "a weights .hdf5, an options .json file, or a TF Hub handle"
    )
