"""Texts to per-layer biLM features: tokenize, window, embed, pool, merge.

:func:`embed_texts` is the single path from raw texts to what the scalar-mix
network consumes; the embedding cache (:func:`cached_embed_texts
<sklearn_elmo.features.cached_embed_texts>`) wraps it. It returns
:class:`LayerFeatures`: per text and per selected biLM layer, the mean over
real tokens and the mean square (enough for mean pooling, with or without
layer normalisation), plus, on request, every token's vectors for max pooling.

A text longer than ``max_tokens`` is split into near-equal windows that are
embedded as separate sentences; their statistics are merged weighted by token
count and their token vectors are concatenated, so the text is pooled as a
whole.
"""

import itertools
import math
import sys
import time

import numpy as np

from .._validation import check_tokens
from ..tokenize import default_tokenizer

LAYER_NORM_EPS = 1e-6


class LayerFeatures:
    """Per-text, per-layer biLM outputs.

    Attributes
    ----------
    n_tokens : ndarray of shape (n_texts,), int64
        Tokens per text (0 for a blank text, whose features are all zero).
    means : ndarray of shape (n_texts, n_layers, dim), float32
        Mean over the text's tokens of each layer.
    sq_means : ndarray of shape (n_texts, n_layers), float64
        Mean over the text's tokens and dimensions of each layer's square.
    tokens : ndarray of shape (n_tokens.sum(), n_layers, dim), float32 or None
        Token vectors of all texts, concatenated in text order; None when only
        the statistics were computed.
    """

    def __init__(self, n_tokens, means, sq_means, tokens=None):
        self.n_tokens = n_tokens
        self.means = means
        self.sq_means = sq_means
        self.tokens = tokens
        self.offsets = np.concatenate([[0], np.cumsum(n_tokens)]).astype(np.int64)

    def __len__(self):
        return len(self.n_tokens)

    @property
    def n_layers(self):
        return self.means.shape[1]

    @property
    def dim(self):
        return self.means.shape[2]

    @property
    def token_level(self):
        return self.tokens is not None

    def batch(self, index):
        """Network inputs for the texts at ``index``.

        Returns ``{"layers": (b, n_layers, dim)}`` from the means, or, when
        token vectors are held, ``{"layers": (b, n_layers, T, dim), "mask":
        (b, T)}`` padded to the batch's longest text (T >= 1).
        """
        index = np.asarray(index)
        if not self.token_level:
            return {"layers": self.means[index]}
        lengths = self.n_tokens[index]
        width = max(int(lengths.max(initial=0)), 1)
        layers = np.zeros((len(index), self.n_layers, width, self.dim), np.float32)
        for row, (i, length) in enumerate(zip(index, lengths, strict=True)):
            start = self.offsets[i]
            layers[row, :, :length] = self.tokens[start : start + length].transpose(
                1, 0, 2
            )
        mask = np.arange(width)[None, :] < lengths[:, None]
        return {"layers": layers, "mask": mask}

    def layer_normalized(self, eps=LAYER_NORM_EPS):
        """Normalise each layer of each text by its own token statistics.

        Per text and layer, subtract the mean and divide by the standard
        deviation taken over all real tokens and dimensions (no learned scale
        or shift). Being a fixed affine map per text and layer, it commutes
        with mean and max pooling, so the statistics suffice to apply it.
        """
        mu = self.means.astype(np.float64).mean(axis=2)  # (n, L)
        var = np.maximum(self.sq_means - mu**2, 0.0)
        scale = 1.0 / np.sqrt(var + eps)
        means = ((self.means - mu[..., None]) * scale[..., None]).astype(np.float32)
        sq_means = var * scale**2
        tokens = None
        if self.token_level:
            mu_t = np.repeat(mu, self.n_tokens, axis=0)[..., None]
            scale_t = np.repeat(scale, self.n_tokens, axis=0)[..., None]
            tokens = ((self.tokens - mu_t) * scale_t).astype(np.float32)
        return LayerFeatures(self.n_tokens, means, sq_means, tokens)


def split_windows(n_tokens, max_tokens):
    """Boundaries of near-equal windows of at most ``max_tokens`` tokens.

    Returns a list of ``(start, stop)``; empty for ``n_tokens == 0``.
    """
    if n_tokens == 0:
        return []
    if max_tokens is None or n_tokens <= max_tokens:
        return [(0, n_tokens)]
    n_windows = math.ceil(n_tokens / max_tokens)
    bounds = [(i * n_tokens) // n_windows for i in range(n_windows + 1)]
    return list(itertools.pairwise(bounds))


def tokenize_texts(texts, tokenizer=None, input_name="X"):
    """Tokenize every text, checking what a custom tokenizer returns."""
    tokenize = default_tokenizer if tokenizer is None else tokenizer
    return [
        check_tokens(tokenize(text), i, input_name=input_name)
        for i, text in enumerate(texts)
    ]


def embed_texts(
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
    progress=None,
):
    """Embed texts with a frozen biLM and pool each layer per text.

    Parameters
    ----------
    texts : list of str
    bilm : Bilm
        From :func:`sklearn_elmo.load_bilm`.
    tokenizer : callable or None
        str -> list of str; None for :func:`~sklearn_elmo.tokenize.default_tokenizer`.
    max_tokens : int or None
        Longest window embedded at once; None for no limit.
    batch_size : int
        Sentences (windows) per biLM batch.
    layers : sequence of int or None
        biLM layers to keep, in order; None keeps all.
    token_level : bool
        Also keep every token's vectors (needed for max pooling).
    verbose : int
        Print progress to stdout when > 0 (per batch when > 1).
    label : str
        Prefix of progress lines.
    progress : callable or None
        Called after each biLM batch with ``(windows_done, n_windows,
        tokens_done)``, counts so far in this call.

    Returns
    -------
    LayerFeatures
    """
    start_time = time.perf_counter()
    layer_index = np.arange(bilm.n_layers) if layers is None else np.asarray(layers)
    tokenized = tokenize_texts(texts, tokenizer)
    n_tokens = np.array([len(t) for t in tokenized], dtype=np.int64)

    windows, window_text, window_start = [], [], []
    for i, tokens in enumerate(tokenized):
        for start, stop in split_windows(len(tokens), max_tokens):
            windows.append(tokens[start:stop])
            window_text.append(i)
            window_start.append(start)
    window_text = np.asarray(window_text, dtype=np.int64)
    window_start = np.asarray(window_start, dtype=np.int64)

    n, n_layers, dim = len(texts), len(layer_index), bilm.dim
    sums = np.zeros((n, n_layers, dim), np.float32)
    sq_sums = np.zeros((n, n_layers), np.float64)
    offsets = np.concatenate([[0], np.cumsum(n_tokens)])
    tokens = np.zeros((offsets[-1], n_layers, dim), np.float32) if token_level else None

    all_layers = np.array_equal(layer_index, np.arange(bilm.n_layers))
    done = tokens_done = 0
    for index, batch_layers, batch_mask in bilm.iter_embed(
        windows, batch_size=batch_size
    ):
        if not all_layers:
            batch_layers = batch_layers[:, layer_index]
        lengths = batch_mask.sum(axis=1)
        expected = np.array([len(windows[w]) for w in index])
        if not np.array_equal(lengths, expected):
            raise RuntimeError(
                "The biLM returned a mask that does not match the input lengths."
            )
        # Padding is zero in every layer (the Bilm contract), so sums over
        # all positions are sums over the tokens: no masked copy needed.
        owner = window_text[index]
        np.add.at(sums, owner, batch_layers.sum(axis=2))
        squares = np.square(batch_layers).sum(axis=(2, 3), dtype=np.float64)
        np.add.at(sq_sums, owner, squares)
        if token_level:
            for row, w in enumerate(index):
                at = offsets[window_text[w]] + window_start[w]
                length = lengths[row]
                tokens[at : at + length] = batch_layers[row, :, :length].transpose(
                    1, 0, 2
                )
        done += len(index)
        tokens_done += int(lengths.sum())
        if progress is not None:
            progress(done, len(windows), tokens_done)
        if verbose > 1:
            print(f"[{label}] embedded {done}/{len(windows)} windows", file=sys.stdout)

    counts = np.maximum(n_tokens, 1)
    means = sums / counts[:, None, None]
    sq_means = sq_sums / (counts[:, None] * dim)
    if verbose > 0:
        print(
            f"[{label}] embedded {n} texts ({int(n_tokens.sum())} tokens, "
            f"{len(windows)} windows) in {time.perf_counter() - start_time:.1f}s",
            file=sys.stdout,
        )
    return LayerFeatures(n_tokens, means.astype(np.float32), sq_means, tokens)
