"""Read a training or held-out corpus into one flat array of token-type ids.

Every distinct token string gets a type id (``<S>`` is 0, ``</S>`` 1), and
the corpus becomes ``<S> w1 .. wn </S>`` per sentence, concatenated, so the
data pipeline works on integer arrays and never loops over tokens in Python.
"""

import gzip
import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..bilm._chars import BOS_TOKEN, EOS_TOKEN
from ..tokenize import default_tokenizer

_PATH_SUFFIXES = (".txt", ".gz", ".tok", ".text", ".raw")


@dataclass
class Corpus:
    """A tokenized corpus.

    Attributes
    ----------
    types : list of str
        Distinct tokens; ``types[0]`` is ``<S>``, ``types[1]`` is ``</S>``.
    flat : ndarray of int32
        Type ids of all sentences with their boundary tokens, concatenated.
    starts : ndarray of int64
        Index in ``flat`` of each sentence's ``<S>``.
    counts : ndarray of int64
        Occurrences of each type (boundaries included).
    """

    types: list
    flat: np.ndarray
    starts: np.ndarray
    counts: np.ndarray
    where: str

    @property
    def n_sentences(self):
        return len(self.starts)

    @property
    def n_words(self):
        return len(self.flat) - 2 * len(self.starts)

    @property
    def n_pairs(self):
        """Predicted positions per direction: each sentence's words plus one."""
        return self.n_words + self.n_sentences

    def digest(self):
        """SHA-256 of the token stream (identical text and tokenization)."""
        h = hashlib.sha256()
        h.update("\n".join(self.types).encode("utf-8", "surrogatepass"))
        h.update(np.ascontiguousarray(self.flat, "<i4").tobytes())
        return h.hexdigest()


def _looks_like_path(text):
    return not any(c.isspace() for c in text) and (
        os.sep in text or "/" in text or text.endswith(_PATH_SUFFIXES)
    )


def _is_file(text):
    try:
        return Path(os.path.expanduser(text)).is_file()
    except (OSError, ValueError):
        return False


def _classify(corpus, name):
    """Return ``("paths", [Path])`` or ``("texts", iterable)``."""
    if isinstance(corpus, (str, os.PathLike)):
        return "paths", [Path(os.path.expanduser(os.fspath(corpus)))]
    if isinstance(corpus, bytes):
        raise TypeError(f"{name} must be a path, a list of paths or texts, got bytes")
    if isinstance(corpus, (list, tuple)):
        if not corpus:
            raise ValueError(f"{name} is empty: no paths or texts given")
        items = list(corpus)
        for i, item in enumerate(items):
            if not isinstance(item, (str, os.PathLike)):
                raise TypeError(
                    f"{name}[{i}] must be a str (a path or a text), got "
                    f"{type(item).__name__}"
                )
        # The first item decides (statting every text of a long list is slow).
        first = items[0]
        if isinstance(first, os.PathLike) or _is_file(first) or _looks_like_path(first):
            for i, item in enumerate(items):
                if isinstance(item, str) and not (
                    _is_file(item) or _looks_like_path(item)
                ):
                    raise TypeError(
                        f"{name}[{i}] is not a path, but {name}[0] is: give a "
                        "list of paths or a list of texts"
                    )
            return "paths", [Path(os.path.expanduser(os.fspath(p))) for p in items]
        if any(isinstance(item, os.PathLike) for item in items):
            raise TypeError(f"{name} mixes paths and texts")
        return "texts", items
    try:
        iter(corpus)
    except TypeError:
        raise TypeError(
            f"{name} must be a path, a list of paths or an iterable of texts, got "
            f"{type(corpus).__name__}"
        ) from None
    return "texts", corpus


def check_paths(corpus, name):
    """Fail fast on missing or unreadable files, before any long work."""
    kind, items = _classify(corpus, name)
    if kind == "paths":
        for path in items:
            if not path.exists():
                raise ValueError(f"{name}: {path}: no such file")
            if path.is_dir():
                raise ValueError(f"{name}: {path}: is a directory, not a text file")
    return kind, items


def _file_lines(path, name):
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            head = fh.read(8192)
            if b"\0" in head:
                raise ValueError(
                    f"{name}: {path}: binary file (NUL bytes); expected UTF-8 "
                    "text, one sentence per line"
                )
            fh.seek(0)
            for number, raw in enumerate(fh, start=1):
                try:
                    yield raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    raise ValueError(
                        f"{name}: {path}, line {number}: not UTF-8 text "
                        f"({exc.reason}); binary file?"
                    ) from None
    except OSError as exc:
        raise ValueError(f"{name}: {path}: cannot read ({exc})") from None


def _texts(kind, items, name):
    if kind == "paths":
        for path in items:
            yield from _file_lines(path, name)
        return
    for i, text in enumerate(items):
        if not isinstance(text, str):
            raise TypeError(
                f"{name}[{i}] must be a str text, got {type(text).__name__}"
            )
        yield text


def read_corpus(corpus, tokenizer=None, name="corpus", checked=None):
    """Tokenize ``corpus`` (paths, or an iterable of texts) into a :class:`Corpus`.

    Each line of a file, or each text of an iterable, is one sentence; blank
    ones are skipped.
    """
    kind, items = checked if checked is not None else check_paths(corpus, name)
    tokenize = default_tokenizer if tokenizer is None else tokenizer
    if not callable(tokenize):
        raise TypeError(
            f"tokenizer must be callable or None, got {type(tokenize).__name__}"
        )
    index = {BOS_TOKEN: 0, EOS_TOKEN: 1}
    chunks, lengths = [], []
    buffer = []
    for n, text in enumerate(_texts(kind, items, name)):
        tokens = tokenize(text)
        if n < 100:
            _check_tokens(tokens, n, name)
        if not tokens:
            continue
        buffer.append(0)
        buffer.extend([index.setdefault(t, len(index)) for t in tokens])
        buffer.append(1)
        lengths.append(len(tokens) + 2)
        if len(buffer) > 1 << 20:
            chunks.append(np.array(buffer, np.int32))
            buffer = []
    chunks.append(np.array(buffer, np.int32))
    flat = np.concatenate(chunks)
    where = ", ".join(str(p) for p in items) if kind == "paths" else f"the {name} texts"
    if not lengths:
        raise ValueError(f"{name}: no tokens in {where} (empty corpus)")
    lengths = np.asarray(lengths, np.int64)
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    types = list(index)
    counts = np.bincount(flat, minlength=len(types)).astype(np.int64)
    return Corpus(types=types, flat=flat, starts=starts, counts=counts, where=where)


def _check_tokens(tokens, n, name):
    if not isinstance(tokens, list):
        raise TypeError(
            f"tokenizer must return a list of str, got {type(tokens).__name__} "
            f"for {name} sentence {n}"
        )
    for token in tokens:
        if not isinstance(token, str) or not token:
            raise TypeError(
                f"tokenizer must return non-empty str tokens, got {token!r} in "
                f"{name} sentence {n}"
            )
