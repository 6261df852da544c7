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

import random
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from .._config import cache_dir_from_environment, get_config
from .._progress import Progress
from ._disk import DIRECTORY_NAME, _DiskStore, _key_hash
from ._embedding import LayerFeatures, embed_texts
from ._entries import _entry_from, _token_vectors
from ._memory import _MEMORY
from ._tokenizer_identity import _warn_unstable_once, tokenizer_identity

# Texts processed at once are bounded so their arrays take about this much.
_CHUNK_BYTES = 64 * 2**20
_TOKENS_PER_TEXT_GUESS = 48
# Private, so shuffling the chunk order never moves the user's global
# ``random`` state (seeded programs stay reproducible).
_CHUNK_ORDER = random.Random()


def stream_chunk_size(n_layers, dim, token_level):
    """How many texts to embed at once so their arrays stay near 64 MiB."""
    per_text = n_layers * dim * 4 * (_TOKENS_PER_TEXT_GUESS if token_level else 2)
    return int(np.clip(_CHUNK_BYTES // max(per_text, 1), 32, 4096))


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
