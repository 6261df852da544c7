"""The embedding cache: each distinct text goes through the biLM once.

:func:`cached_embed_texts` wraps :func:`~sklearn_elmo._features.embed_texts`
with the same arguments and result. Per text it keeps what pooling needs:
the per-layer mean and mean square over the text's tokens (mean pooling,
with or without layer normalisation) and, only when a call asks for token
level outputs (max pooling), every token's vectors, float16 by default. All
biLM layers are kept, so a search over ``layers`` shares entries.

Entries are keyed by (biLM fingerprint, tokenizer identity, ``max_tokens``,
text) and live in

- an in-process LRU store shared by every estimator, clone and thread,
  bounded by ``get_config()["cache_memory"]`` bytes (array bytes plus a
  per-entry allowance for the Python objects around them); and
- optionally a directory (``cache_dir``, or ``SKLEARN_ELMO_CACHE_DIR``) shared
  by processes: one file per entry, written to a temporary file beside it and
  renamed into place, carrying a header with the format version, the full key
  hash and a SHA-256 of the payload, so a partial, corrupt or foreign file is
  detected, reported with a warning and recomputed, never returned.

``initial_state="carry"`` outputs depend on what was embedded before, so such
a biLM bypasses the cache. See docs/caching.md.
"""

import hashlib
import inspect
import json
import os
import pickle
import random
import shutil
import struct
import sys
import tempfile
import threading
import time
import types
import warnings
import weakref
from collections import OrderedDict
from pathlib import Path

import numpy as np

from .._config import cache_dir_from_environment, get_config
from .._progress import Progress
from ._features import LayerFeatures, embed_texts
from ..exceptions import EmbeddingCacheWarning
from ..tokenize import default_tokenizer

FORMAT_VERSION = 1
DIRECTORY_NAME = f"sklearn-elmo-cache-v{FORMAT_VERSION}"
_MAGIC = b"SKELMOC\n"
_PREFIX = struct.Struct("<8sII")  # magic, format version, header length
_MAX_HEADER = 1 << 16
_FLOAT16_MAX = float(np.finfo(np.float16).max)
# Bytes of Python objects around an entry's arrays (array headers, the entry,
# the key tuple, the LRU's slot); checked against tracemalloc in the tests.
_ENTRY_OVERHEAD = 3 * sys.getsizeof(np.empty(0)) + 240
# Texts processed at once are bounded so their arrays take about this much.
_CHUNK_BYTES = 64 * 2**20
_TOKENS_PER_TEXT_GUESS = 48
# Private, so shuffling the chunk order never moves the user's global
# ``random`` state (seeded programs stay reproducible).
_CHUNK_ORDER = random.Random()


class CacheEntry:
    """One text's biLM outputs, every layer.

    ``means`` ``(n_layers, dim)`` float32 and ``sq_means`` ``(n_layers,)``
    float64 as in :class:`~sklearn_elmo._features.LayerFeatures`; ``tokens``
    ``(n_tokens, n_layers, dim)`` float16 or float32, or None.
    """

    __slots__ = ("n_tokens", "means", "sq_means", "tokens", "nbytes")

    def __init__(self, n_tokens, means, sq_means, tokens, text_bytes=0):
        self.n_tokens = int(n_tokens)
        self.means = means
        self.sq_means = sq_means
        self.tokens = tokens
        self.nbytes = (
            means.nbytes
            + sq_means.nbytes
            + (0 if tokens is None else tokens.nbytes)
            + _ENTRY_OVERHEAD
            + text_bytes
        )

    def serves(self, token_dtype):
        """Whether it answers a request (``token_dtype`` None: statistics only)."""
        if token_dtype is None:
            return True
        if self.tokens is None:
            return False
        return token_dtype == "float16" or self.tokens.dtype == np.float32


def to_storage(tokens, token_dtype):
    """Token vectors as stored: float16 if asked and in range, else float32 (copies)."""
    if token_dtype == "float16" and (
        tokens.size == 0 or float(np.abs(tokens).max()) <= _FLOAT16_MAX
    ):
        return tokens.astype(np.float16)
    return np.array(tokens, dtype=np.float32, copy=True)


# -- tokenizer identity ---------------------------------------------------------

_default_identity = None
_unstable_lock = threading.Lock()
_unstable = {}  # id(tokenizer) -> (weakref, token, warned)


def _code_digest(code, digest):
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, digest)
        elif isinstance(const, frozenset):  # set order varies between processes
            digest.update(repr(sorted(map(repr, const))).encode())
        else:
            digest.update(repr(const).encode())


def _code_of(tokenizer):
    for candidate in (
        tokenizer,
        getattr(tokenizer, "__func__", None),
        getattr(type(tokenizer), "__call__", None),
    ):
        code = getattr(candidate, "__code__", None)
        if isinstance(code, types.CodeType):
            return code
    return None


def tokenizer_identity(tokenizer):
    """A key for a tokenizer and whether it holds across processes.

    Returns ``(identity, stable)``. The default tokenizer is identified by the
    source of :mod:`sklearn_elmo.tokenize`. A picklable callable is identified
    by its qualified name, a SHA-256 of its pickle (which holds the state of
    callable objects and ``functools.partial`` arguments) and of its code
    (so an edited function gets a new key): stable. Other callables (lambdas,
    local functions) get a token valid for the life of the object in this
    process: ``stable`` is False. A callable that can be neither pickled nor
    weakly referenced gets ``(None, False)``: not cached at all.
    """
    global _default_identity
    if tokenizer is None or tokenizer is default_tokenizer:
        if _default_identity is None:
            from .. import tokenize

            try:
                source = inspect.getsource(tokenize)
            except (OSError, TypeError):  # no source shipped: fall back to the version
                from .._version import __version__

                source = __version__
            _default_identity = (
                "default:" + hashlib.sha256(source.encode()).hexdigest()[:32]
            )
        return _default_identity, True
    name = getattr(tokenizer, "__qualname__", None) or type(tokenizer).__qualname__
    module = getattr(tokenizer, "__module__", None) or type(tokenizer).__module__
    try:
        blob = pickle.dumps(tokenizer, protocol=4)
    except Exception:  # noqa: BLE001 - any pickling failure means "not stable"
        blob = None
    if blob is not None:
        digest = hashlib.sha256(blob)
        code = _code_of(tokenizer)
        if code is not None:
            _code_digest(code, digest)
        return f"{module}.{name}:{digest.hexdigest()}", True
    with _unstable_lock:
        known = _unstable.get(id(tokenizer))
        if known is not None and known[0]() is tokenizer:
            return known[1], False
        key = id(tokenizer)
        try:
            ref = weakref.ref(tokenizer, lambda _, key=key: _unstable.pop(key, None))
        except TypeError:
            return None, False
        token = f"process:{os.getpid()}:{module}.{name}:{os.urandom(8).hex()}"
        _unstable[key] = (ref, token, [False])
        return token, False


def _warn_unstable_once(tokenizer):
    with _unstable_lock:
        known = _unstable.get(id(tokenizer))
        if known is None or known[2][0]:
            return
        known[2][0] = True
    warnings.warn(
        EmbeddingCacheWarning(
            f"The tokenizer {tokenizer!r} cannot be pickled, so it cannot be "
            "identified across processes: its embeddings are cached in memory only, "
            "not in the persistent cache. Use a module-level function or a "
            "picklable callable object to share them."
        ),
        stacklevel=4,
    )


# -- in-process store -------------------------------------------------------------


class _MemoryStore:
    """Least-recently-used entries within a byte budget, thread-safe."""

    def __init__(self):
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.counters = dict.fromkeys(
            ("hits", "disk_hits", "computed", "duplicates", "evictions"), 0
        )

    def __len__(self):
        return len(self._entries)

    def get(self, key, token_dtype):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not entry.serves(token_dtype):
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key, entry, budget):
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            if entry.nbytes <= budget:
                self._entries[key] = entry
                self.nbytes += entry.nbytes
            self._trim(budget)

    def trim(self, budget):
        with self._lock:
            self._trim(budget)

    def _trim(self, budget):
        while self.nbytes > budget and self._entries:
            _, entry = self._entries.popitem(last=False)
            self.nbytes -= entry.nbytes
            self.counters["evictions"] += 1

    def count(self, **increments):
        with self._lock:
            for name, value in increments.items():
                self.counters[name] += value

    def clear(self):
        with self._lock:
            self._entries.clear()
            self.nbytes = 0
            for name in self.counters:
                self.counters[name] = 0


_MEMORY = _MemoryStore()


# -- persistent store -------------------------------------------------------------


class CorruptEntry(ValueError):
    """A persistent entry that must not be used."""


def encode_entry(entry, key_hash):
    """Bytes of a persistent entry: prefix, JSON header, payload."""
    parts = [
        np.ascontiguousarray(entry.means, "<f4").tobytes(),
        np.ascontiguousarray(entry.sq_means, "<f8").tobytes(),
    ]
    token_dtype = None
    if entry.tokens is not None:
        token_dtype = "float16" if entry.tokens.dtype == np.float16 else "float32"
        code = "<f2" if token_dtype == "float16" else "<f4"
        parts.append(np.ascontiguousarray(entry.tokens, code).tobytes())
    payload = b"".join(parts)
    header = json.dumps(
        {
            "format": FORMAT_VERSION,
            "key": key_hash,
            "n_tokens": entry.n_tokens,
            "n_layers": int(entry.means.shape[0]),
            "dim": int(entry.means.shape[1]),
            "tokens": token_dtype,
            "payload_bytes": len(payload),
            "payload_sha256": hashlib.sha256(payload).hexdigest(),
        },
        sort_keys=True,
    ).encode()
    return _PREFIX.pack(_MAGIC, FORMAT_VERSION, len(header)) + header + payload


def decode_entry(data, key_hash, n_layers, dim):
    """Check and read a persistent entry; raise :class:`CorruptEntry` if unusable."""
    if len(data) < _PREFIX.size:
        raise CorruptEntry(f"truncated: {len(data)} bytes")
    magic, version, header_size = _PREFIX.unpack_from(data)
    if magic != _MAGIC:
        raise CorruptEntry("not an sklearn-elmo cache entry (bad magic bytes)")
    if version != FORMAT_VERSION:
        raise CorruptEntry(f"format version {version}, expected {FORMAT_VERSION}")
    if header_size > _MAX_HEADER or _PREFIX.size + header_size > len(data):
        raise CorruptEntry("truncated or malformed header")
    try:
        header = json.loads(data[_PREFIX.size : _PREFIX.size + header_size])
        stored_key = header["key"]
        n_tokens = int(header["n_tokens"])
        token_dtype = header["tokens"]
        payload_bytes = int(header["payload_bytes"])
        checksum = header["payload_sha256"]
        shape = (int(header["n_layers"]), int(header["dim"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise CorruptEntry(f"malformed header ({exc})") from None
    if stored_key != key_hash:
        raise CorruptEntry(f"foreign entry: it holds key {str(stored_key)[:16]}...")
    if shape != (n_layers, dim):
        raise CorruptEntry(f"layers of shape {shape}, expected {(n_layers, dim)}")
    if n_tokens < 0 or token_dtype not in (None, "float16", "float32"):
        raise CorruptEntry("malformed header (token count or dtype)")
    payload = memoryview(data)[_PREFIX.size + header_size :]
    item = {None: 0, "float16": 2, "float32": 4}[token_dtype]
    expected = n_layers * dim * 4 + n_layers * 8 + n_tokens * n_layers * dim * item
    if len(payload) != payload_bytes or payload_bytes != expected:
        raise CorruptEntry(
            f"payload of {len(payload)} bytes, expected {expected} (truncated?)"
        )
    if hashlib.sha256(payload).hexdigest() != checksum:
        raise CorruptEntry("payload checksum mismatch")
    at = n_layers * dim * 4
    means = np.frombuffer(payload[:at], "<f4").astype(np.float32).reshape(shape)
    sq_means = np.frombuffer(payload[at : at + n_layers * 8], "<f8").astype(np.float64)
    tokens = None
    if token_dtype is not None:
        code = "<f2" if token_dtype == "float16" else "<f4"
        tokens = np.frombuffer(payload[at + n_layers * 8 :], code)
        tokens = tokens.astype(np.dtype(code).newbyteorder("=")).reshape(
            n_tokens, n_layers, dim
        )
    return CacheEntry(n_tokens, means, sq_means, tokens)


def _write_all(fh, data):
    fh.write(data)


class _DiskStore:
    """Entries of one biLM in ``<cache_dir>/sklearn-elmo-cache-v1/<fingerprint>/``.

    Collects problems (``bad`` entries, the first ``write_error``) so the
    caller warns once per call; after a failed write it stops writing.
    """

    def __init__(self, cache_dir, fingerprint):
        self.root = Path(cache_dir).expanduser() / DIRECTORY_NAME
        self.folder = self.root / fingerprint[:32]
        self.bad = []
        self.write_error = None
        self.writes = 0

    def path(self, key_hash):
        return self.folder / key_hash[:2] / f"{key_hash}.emb"

    def read(self, key_hash, n_layers, dim, token_dtype):
        path = self.path(key_hash)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as exc:
            self.bad.append((path, f"unreadable ({exc})"))
            return None
        try:
            entry = decode_entry(data, key_hash, n_layers, dim)
        except CorruptEntry as exc:
            self.bad.append((path, str(exc)))
            return None
        return entry if entry.serves(token_dtype) else None

    def write(self, key_hash, entry):
        if self.write_error is not None:
            return
        path = self.path(key_hash)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(
                prefix=f".{key_hash[:16]}-", suffix=".part", dir=path.parent
            )
            try:
                with os.fdopen(fd, "wb") as fh:
                    _write_all(fh, encode_entry(entry, key_hash))
                os.replace(temporary, path)  # atomic: readers see all or nothing
            except BaseException:
                try:
                    os.unlink(temporary)
                except OSError:
                    pass
                raise
            self.writes += 1
        except OSError as exc:
            self.write_error = exc

    def report(self, stacklevel):
        if self.bad:
            path, reason = self.bad[0]
            warnings.warn(
                EmbeddingCacheWarning(
                    f"{len(self.bad)} entr{'y' if len(self.bad) == 1 else 'ies'} of "
                    f"the embedding cache in {self.root} could not be used and "
                    f"{'was' if len(self.bad) == 1 else 'were'} recomputed; first: "
                    f"{path}: {reason}"
                ),
                stacklevel=stacklevel,
            )
        if self.write_error is not None:
            warnings.warn(
                EmbeddingCacheWarning(
                    f"Could not write to the embedding cache in {self.root} "
                    f"({self.write_error}); the embeddings are correct but were not "
                    "saved there."
                ),
                stacklevel=stacklevel,
            )


def _key_hash(namespace, text):
    fingerprint, identity, max_tokens = namespace
    blob = json.dumps([FORMAT_VERSION, fingerprint, identity, max_tokens, text])
    return hashlib.sha256(blob.encode()).hexdigest()


# -- the cached path ----------------------------------------------------------------


def stream_chunk_size(n_layers, dim, token_level):
    """How many texts to embed at once so their arrays stay near 64 MiB."""
    per_text = n_layers * dim * 4 * (_TOKENS_PER_TEXT_GUESS if token_level else 2)
    return int(np.clip(_CHUNK_BYTES // max(per_text, 1), 32, 4096))


def _entry_from(features, j, token_dtype, text):
    tokens = None
    if token_dtype is not None:
        start, stop = features.offsets[j], features.offsets[j + 1]
        tokens = to_storage(features.tokens[start:stop], token_dtype)
    return CacheEntry(
        features.n_tokens[j],
        features.means[j].copy(),  # copies: an entry must not pin the whole chunk
        features.sq_means[j].copy(),
        tokens,
        sys.getsizeof(text),
    )


def _token_vectors(entry, token_dtype):
    if token_dtype == "float16" and entry.tokens.dtype != np.float16:
        return to_storage(entry.tokens, "float16")  # as a fresh float16 entry would be
    return entry.tokens


def cached_embed_texts(
    texts,
    bilm,
    *,
    tokenizer=None,
    max_tokens=None,
    batch_size=256,
    layers=None,
    token_level=False,
    verbose=0,
    label="sklearn_elmo",
    cache_dir=None,
):
    """:func:`~sklearn_elmo._features.embed_texts` through the embedding cache.

    Same parameters and result, plus ``cache_dir`` (None: the environment
    variable ``SKLEARN_ELMO_CACHE_DIR``, else no persistent cache). Identical
    texts are embedded once; texts found in memory or on disk are not
    embedded; the rest are sorted by length and embedded in chunks of about
    64 MiB of outputs. Token vectors (``token_level``) come back as stored,
    float16-rounded by default, whether they were cached or just computed,
    so results never depend on the state of the cache.

    With ``verbose > 0`` a progress bar shows the texts embedded, the token
    rate and the time left, then one summary line.
    """
    start_time = time.perf_counter()
    if bilm.initial_state == "carry":  # outputs depend on the call history
        return embed_texts(
            texts,
            bilm,
            tokenizer=tokenizer,
            max_tokens=max_tokens,
            batch_size=batch_size,
            layers=layers,
            token_level=token_level,
            verbose=verbose,
            label=label,
        )
    config = get_config()
    budget = config["cache_memory"]
    token_dtype = config["cache_token_dtype"] if token_level else None
    layer_index = np.arange(bilm.n_layers) if layers is None else np.asarray(layers)

    position = {}
    inverse = np.fromiter(
        (position.setdefault(text, len(position)) for text in texts),
        dtype=np.int64,
        count=len(texts),
    )
    unique = list(position)
    del position

    identity, stable = tokenizer_identity(tokenizer)
    namespace = None if identity is None else (bilm.fingerprint, identity, max_tokens)
    directory = cache_dir if cache_dir is not None else cache_dir_from_environment()
    disk = None
    if directory is not None and namespace is not None:
        if stable:
            disk = _DiskStore(directory, bilm.fingerprint)
        else:
            _warn_unstable_once(tokenizer)

    found = [None] * len(unique)
    n_memory = n_disk = 0
    if namespace is not None:
        _MEMORY.trim(budget)
        for u, text in enumerate(unique):
            found[u] = _MEMORY.get((namespace, text), token_dtype)
        n_memory = sum(entry is not None for entry in found)

    def read_disk(indices):
        nonlocal n_disk
        still = []
        for u in indices:
            key_hash = _key_hash(namespace, unique[u])
            entry = disk.read(key_hash, bilm.n_layers, bilm.dim, token_dtype)
            if entry is None:
                still.append(u)
                continue
            entry.nbytes += sys.getsizeof(unique[u])
            found[u] = entry
            n_disk += 1
            _MEMORY.put((namespace, unique[u]), entry, budget)
        return still

    missing = [u for u, entry in enumerate(found) if entry is None]
    if disk is not None and missing:
        missing = read_disk(missing)

    n_computed = 0
    if missing:
        missing.sort(key=lambda u: len(unique[u]))
        size = stream_chunk_size(bilm.n_layers, bilm.dim, token_level)
        chunks = [missing[i : i + size] for i in range(0, len(missing), size)]
        if disk is not None and len(chunks) > 1:
            # Concurrent workers start at different chunks and re-read the
            # directory before each one, so they mostly split the work.
            shift = _CHUNK_ORDER.randrange(len(chunks))
            chunks = chunks[shift:] + chunks[:shift]
        progress = Progress(len(missing), verbose, label)
        for k, chunk in enumerate(chunks):
            if disk is not None and k > 0:
                chunk = read_disk(chunk)
            update = progress.chunk(len(chunk))
            if not chunk:
                continue
            features = embed_texts(
                [unique[u] for u in chunk],
                bilm,
                tokenizer=tokenizer,
                max_tokens=max_tokens,
                batch_size=batch_size,
                token_level=token_level,
                label=label,
                progress=update,
            )
            for j, u in enumerate(chunk):
                entry = found[u] = _entry_from(features, j, token_dtype, unique[u])
                if namespace is not None:
                    _MEMORY.put((namespace, unique[u]), entry, budget)
                if disk is not None:
                    disk.write(_key_hash(namespace, unique[u]), entry)
            n_computed += len(chunk)
            del features
    if disk is not None:
        disk.report(stacklevel=3)

    n, n_layers, dim = len(texts), len(layer_index), bilm.dim
    n_tokens = np.array([found[u].n_tokens for u in inverse.tolist()], dtype=np.int64)
    means = np.empty((n, n_layers, dim), np.float32)
    sq_means = np.empty((n, n_layers), np.float64)
    tokens = None
    if token_level:
        tokens = np.empty((int(n_tokens.sum()), n_layers, dim), np.float32)
    at = 0
    for i, u in enumerate(inverse.tolist()):
        entry = found[u]
        means[i] = entry.means[layer_index]
        sq_means[i] = entry.sq_means[layer_index]
        if token_level and entry.n_tokens:
            vectors = _token_vectors(entry, token_dtype)
            tokens[at : at + entry.n_tokens] = vectors[:, layer_index]
            at += entry.n_tokens
    _MEMORY.count(
        hits=n_memory, disk_hits=n_disk, computed=n_computed, duplicates=n - len(unique)
    )
    if verbose > 0:
        print(
            f"[{label}] embedded {n} texts ({int(n_tokens.sum())} tokens) in "
            f"{time.perf_counter() - start_time:.1f}s: {n_computed} by the biLM, "
            f"{n_memory} from memory, {n_disk} from disk, {n - len(unique)} repeated",
            file=sys.stdout,
        )
    return LayerFeatures(n_tokens, means, sq_means, tokens)


def cache_info():
    """Statistics of the in-process embedding cache.

    Returns
    -------
    info : dict
        ``entries`` and ``bytes`` held, the ``budget`` in bytes, and since the
        last :func:`clear_cache`: texts answered from memory (``hits``), from
        a persistent cache (``disk_hits``), embedded by the biLM
        (``computed``), repeated within a call (``duplicates``), and entries
        dropped for the budget (``evictions``).

    Examples
    --------
    >>> import sklearn_elmo
    >>> sorted(sklearn_elmo.cache_info())  # doctest: +NORMALIZE_WHITESPACE
    ['budget', 'bytes', 'computed', 'disk_hits', 'duplicates', 'entries',
     'evictions', 'hits']
    """
    with _MEMORY._lock:
        info = dict(_MEMORY.counters)
        info.update(entries=len(_MEMORY._entries), bytes=_MEMORY.nbytes)
    info["budget"] = get_config()["cache_memory"]
    return info


def clear_cache(cache_dir=None):
    """Empty the in-process embedding cache and reset :func:`cache_info`'s counts.

    The loaded biLMs' caches of token embeddings (the context-independent
    layer, kept per distinct token) are emptied too, so the next embedding
    runs from scratch.

    Parameters
    ----------
    cache_dir : str or path-like, default=None
        Also delete the persistent cache kept in this directory (only the
        ``sklearn-elmo-cache-v1`` folder inside it, including partial files
        left by killed writers).

    Examples
    --------
    >>> import sklearn_elmo
    >>> sklearn_elmo.clear_cache()
    >>> sklearn_elmo.cache_info()["entries"]
    0
    """
    from ..bilm._model import clear_token_caches

    _MEMORY.clear()
    clear_token_caches()
    if cache_dir is not None:
        shutil.rmtree(Path(cache_dir).expanduser() / DIRECTORY_NAME, ignore_errors=True)
