"""Cache entries: one text's biLM outputs as the embedding cache keeps them."""

import sys

import numpy as np

_FLOAT16_MAX = float(np.finfo(np.float16).max)
# Bytes of Python objects around an entry's arrays (array headers, the entry,
# the key tuple, the LRU's slot); checked against tracemalloc in the tests.
_ENTRY_OVERHEAD = 3 * sys.getsizeof(np.empty(0)) + 240


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
