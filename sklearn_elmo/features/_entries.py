"""Cache entries: one text's biLM outputs as the embedding cache keeps them.

:func:`entry_from` cuts one text out of :class:`~sklearn_elmo.features.LayerFeatures`;
:func:`gather` puts entries back together into one.
"""

import sys

import numpy as np

from ._embedding import LayerFeatures

_FLOAT16_MAX = float(np.finfo(np.float16).max)
# Bytes of Python objects around an entry's arrays (array headers, the entry,
# the key tuple, the LRU's slot); checked against tracemalloc in the tests.
_ENTRY_OVERHEAD = 3 * sys.getsizeof(np.empty(0)) + 240


class CacheEntry:
    """One text's biLM outputs, every layer.

    ``means`` ``(n_layers, dim)`` float32 and ``sq_means`` ``(n_layers,)``
    float64 as in :class:`~sklearn_elmo.features.LayerFeatures`; ``tokens``
    ``(n_tokens, n_layers, dim)`` float16 or float32, or None.
    """

    __slots__ = ("means", "n_tokens", "nbytes", "sq_means", "tokens")

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


def entry_from(features, j, token_dtype, text):
    """The entry of text ``j`` of ``features`` (tokens kept if ``token_dtype``)."""
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


def token_vectors(entry, token_dtype):
    """An entry's token vectors as a request for ``token_dtype`` gets them."""
    if token_dtype == "float16" and entry.tokens.dtype != np.float16:
        return to_storage(entry.tokens, "float16")  # as a fresh float16 entry would be
    return entry.tokens


def gather(entries, layer_index, dim, token_level, token_dtype):
    """:class:`~sklearn_elmo.features.LayerFeatures` of the entries, in order.

    One entry per text (repeated texts repeat their entry); only the layers
    ``layer_index`` are kept, and token vectors if ``token_level``.
    """
    n, n_layers = len(entries), len(layer_index)
    n_tokens = np.array([entry.n_tokens for entry in entries], dtype=np.int64)
    layer_index = np.asarray(layer_index)
    if n:
        # One stacking copy (and one layer selection) instead of one per entry.
        means = np.stack([entry.means for entry in entries]).astype(
            np.float32, copy=False
        )
        sq_means = np.stack([entry.sq_means for entry in entries])
        sq_means = sq_means.astype(np.float64, copy=False)
        if not np.array_equal(layer_index, np.arange(means.shape[1])):
            means, sq_means = means[:, layer_index], sq_means[:, layer_index]
    else:
        means = np.empty((0, n_layers, dim), np.float32)
        sq_means = np.empty((0, n_layers), np.float64)
    tokens = None
    if token_level:
        tokens = np.empty((int(n_tokens.sum()), n_layers, dim), np.float32)
        at = 0
        for entry in entries:
            if entry.n_tokens:
                vectors = token_vectors(entry, token_dtype)
                tokens[at : at + entry.n_tokens] = vectors[:, layer_index]
                at += entry.n_tokens
    return LayerFeatures(n_tokens, means, sq_means, tokens)
