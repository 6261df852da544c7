"""Input and output of the commands: texts, output file names and saved models."""

import csv
import errno
import io
import os
import sys
from pathlib import Path

from ._errors import CliError, one_line


def read_texts(path, column=None):
    """Texts from a text file (one per line), a CSV column, or "-" for stdin.

    A path ending in ``.csv`` (or any path when ``column`` is given) is read as
    CSV with a header row: the texts are ``column`` (default "text", or the
    only column). Otherwise every line is one text, blank lines included, so
    output rows match input lines.

    Returns
    -------
    texts : list of str
    rows : list of dict or None
        The CSV rows, for CSV input.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from sklearn_elmo.cli._io import read_texts
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "data.csv"
    >>> _ = path.write_text("id,text\\n1,A cat.\\n2,A dog.\\n", "utf-8")
    >>> texts, rows = read_texts(path)
    >>> texts, rows[1]["id"]
    (['A cat.', 'A dog.'], '2')
    """
    if path == "-":
        content = sys.stdin.read()
        name = "<stdin>"
    else:
        name = str(path)
        if Path(path).is_dir():
            raise CliError(f"{name}: is a directory, expected a text or CSV file")
        with open(path, encoding="utf-8", newline="") as fh:
            content = fh.read()
    if column is not None or name.lower().endswith(".csv"):
        rows = list(csv.DictReader(io.StringIO(content)))
        columns = [c for c in rows[0] if c is not None] if rows else []
        if not rows:
            raise CliError(f"{name}: no rows after the CSV header")
        if column is None:
            column = "text" if "text" in columns or len(columns) != 1 else columns[0]
        if column not in columns:
            raise CliError(
                f"{name}: no column {column!r}; the columns are {columns} "
                "(choose one with --column)"
            )
        texts = []
        for i, row in enumerate(rows):
            value = row[column]
            if value is None:
                raise CliError(f"{name}: row {i + 2} has no value in column {column!r}")
            texts.append(value)
        return texts, rows
    texts = content.splitlines()
    if not texts:
        raise CliError(f"{name}: no texts (the file is empty)")
    return texts, None


def check_output(path, suffix=None):
    """``path`` as a Path, if a file can be written there (and ends in ``suffix``)."""
    path = Path(path)
    if path.is_dir():
        raise CliError(f"{path}: is a directory, expected a file name")
    if not path.parent.is_dir():
        raise CliError(f"{path.parent}: no such directory")
    if suffix and path.suffix != suffix:
        raise CliError(f"{path}: the output file name must end with {suffix}")
    return path


def load_model_file(path):
    """A model from ``sklearn_elmo.save`` (an archive or a ``.skops`` file) or joblib."""
    import zipfile

    import joblib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    if zipfile.is_zipfile(path) or path.suffix == ".skops":  # .skops: never unpickled
        from ..persistence import load

        try:
            model = load(path)
        except ImportError as exc:  # a .skops file without skops installed
            raise CliError(one_line(exc)) from None
    else:
        try:
            model = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 (unpickling raises many types)
            raise CliError(
                f"{path}: not a model saved by 'sklearn-elmo train' or joblib "
                f"({type(exc).__name__}: {one_line(exc)})"
            ) from None
    if not hasattr(model, "predict"):
        raise CliError(f"{path}: holds a {type(model).__name__}, which cannot predict")
    return model


def elmo_steps(model):
    """The ELMo estimators of ``model``: itself, or its pipeline's ELMo steps."""
    from ..estimators._base import ElmoBase

    if isinstance(model, ElmoBase):
        return [model]
    steps = getattr(model, "steps", None) or []
    return [step for _, step in steps if isinstance(step, ElmoBase)]
