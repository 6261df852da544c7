"""The embedding cache: each distinct text goes through the biLM once.

:func:`cached_embed_texts` wraps :func:`~sklearn_elmo.features.embed_texts`
with the same arguments and result. Per text it keeps what pooling needs:
the per-layer mean and mean square over the text's tokens (mean pooling,
with or without layer normalisation) and, only when a call asks for token
level outputs (max pooling), every token's vectors, float16 by default. All
biLM layers are kept, so a search over ``layers`` shares entries.

Entries are keyed by (biLM fingerprint, tokenizer identity, ``max_tokens``,
text) and live in

- an in-process LRU store (``_memory``) shared by every estimator, clone and
  thread, bounded by ``get_config()["cache_memory"]`` bytes (array bytes plus
  a per-entry allowance for the Python objects around them); and
- optionally a directory (``_disk``; ``cache_dir``, or
  ``SKLEARN_ELMO_CACHE_DIR``) shared by processes, where a partial, corrupt or
  foreign file is detected, reported with a warning and recomputed, never
  returned.

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
from ..bilm import clear_token_caches
from ._disk import DIRECTORY_NAME, DiskStore, key_hash
from ._embedding import embed_texts
from ._entries import entry_from, gather
from ._memory import MEMORY
from ._tokenizer_identity import tokenizer_identity, warn_unstable_once

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
    """:func:`~sklearn_elmo.features.embed_texts` through the embedding cache.

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
    embed_options = {
        "tokenizer": tokenizer,
        "max_tokens": max_tokens,
        "batch_size": batch_size,
        "token_level": token_level,
        "label": label,
    }
    if bilm.initial_state == "carry":  # outputs depend on the call history
        return embed_texts(texts, bilm, layers=layers, verbose=verbose, **embed_options)
    config = get_config()
    token_dtype = config["cache_token_dtype"] if token_level else None
    layer_index = np.arange(bilm.n_layers) if layers is None else np.asarray(layers)
    unique, inverse = _deduplicate(texts)

    identity, stable = tokenizer_identity(tokenizer)
    namespace = None if identity is None else (bilm.fingerprint, identity, max_tokens)
    directory = cache_dir if cache_dir is not None else cache_dir_from_environment()
    disk = None
    if directory is not None and namespace is not None:
        if stable:
            disk = DiskStore(directory, bilm.fingerprint)
        else:
            warn_unstable_once(tokenizer)

    lookup = _Lookup(unique, namespace, disk, bilm, token_dtype, config["cache_memory"])
    missing = lookup.read_disk(lookup.read_memory())
    _embed_missing(lookup, missing, bilm, verbose, embed_options)
    if disk is not None:
        disk.report(stacklevel=3)

    entries = [lookup.found[u] for u in inverse.tolist()]
    features = gather(entries, layer_index, bilm.dim, token_level, token_dtype)
    n_repeated = len(texts) - len(unique)
    MEMORY.count(
        hits=lookup.n_memory,
        disk_hits=lookup.n_disk,
        computed=lookup.n_computed,
        duplicates=n_repeated,
    )
    if verbose > 0:
        print(
            f"[{label}] embedded {len(texts)} texts ({int(features.n_tokens.sum())} "
            f"tokens) in {time.perf_counter() - start_time:.1f}s: "
            f"{lookup.n_computed} by the biLM, {lookup.n_memory} from memory, "
            f"{lookup.n_disk} from disk, {n_repeated} repeated",
            file=sys.stdout,
        )
    return features


def _deduplicate(texts):
    """The distinct texts in first-seen order, and each text's index among them."""
    position = {}
    inverse = np.fromiter(
        (position.setdefault(text, len(position)) for text in texts),
        dtype=np.int64,
        count=len(texts),
    )
    return list(position), inverse


class _Lookup:
    """One call's distinct texts and the entries found for them so far.

    ``namespace`` (biLM fingerprint, tokenizer identity, ``max_tokens``) is
    None when the tokenizer cannot be identified: nothing is read or kept.
    ``disk`` is None without a persistent cache.
    """

    def __init__(self, unique, namespace, disk, bilm, token_dtype, budget):
        self.unique = unique
        self.namespace = namespace
        self.disk = disk
        self.n_layers, self.dim = bilm.n_layers, bilm.dim
        self.token_dtype = token_dtype
        self.budget = budget
        self.found = [None] * len(unique)
        self.n_memory = self.n_disk = self.n_computed = 0

    def read_memory(self):
        """Fill in what memory holds; return the indices still missing."""
        if self.namespace is not None:
            MEMORY.trim(self.budget)
            for u, text in enumerate(self.unique):
                self.found[u] = MEMORY.get((self.namespace, text), self.token_dtype)
            self.n_memory = sum(entry is not None for entry in self.found)
        return [u for u, entry in enumerate(self.found) if entry is None]

    def read_disk(self, indices):
        """Fill in what the directory holds of ``indices``; return the rest."""
        if self.disk is None:
            return indices
        still = []
        for u in indices:
            text = self.unique[u]
            entry = self.disk.read(
                key_hash(self.namespace, text),
                self.n_layers,
                self.dim,
                self.token_dtype,
            )
            if entry is None:
                still.append(u)
                continue
            entry.nbytes += sys.getsizeof(text)
            self.found[u] = entry
            self.n_disk += 1
            MEMORY.put((self.namespace, text), entry, self.budget)
        return still

    def keep(self, u, entry):
        """Record a computed entry, in memory and in the directory."""
        self.found[u] = entry
        text = self.unique[u]
        if self.namespace is not None:
            MEMORY.put((self.namespace, text), entry, self.budget)
        if self.disk is not None:
            self.disk.write(key_hash(self.namespace, text), entry)


def _embed_missing(lookup, missing, bilm, verbose, embed_options):
    """Embed the texts at ``missing``, shortest first, in chunks; keep each entry."""
    if not missing:
        return
    missing = sorted(missing, key=lambda u: len(lookup.unique[u]))
    token_level = embed_options["token_level"]
    size = stream_chunk_size(bilm.n_layers, bilm.dim, token_level)
    chunks = [missing[i : i + size] for i in range(0, len(missing), size)]
    if lookup.disk is not None and len(chunks) > 1:
        # Concurrent workers start at different chunks and re-read the
        # directory before each one, so they mostly split the work.
        shift = _CHUNK_ORDER.randrange(len(chunks))
        chunks = chunks[shift:] + chunks[:shift]
    progress = Progress(len(missing), verbose, embed_options["label"])
    for k, chunk in enumerate(chunks):
        if k > 0:
            chunk = lookup.read_disk(chunk)
        update = progress.chunk(len(chunk))
        if not chunk:
            continue
        texts = [lookup.unique[u] for u in chunk]
        features = embed_texts(texts, bilm, progress=update, **embed_options)
        for j, (u, text) in enumerate(zip(chunk, texts, strict=True)):
            lookup.keep(u, entry_from(features, j, lookup.token_dtype, text))
        lookup.n_computed += len(chunk)
        del features, texts


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
    MEMORY.clear()
    clear_token_caches()
    if cache_dir is not None:
        shutil.rmtree(Path(cache_dir).expanduser() / DIRECTORY_NAME, ignore_errors=True)
