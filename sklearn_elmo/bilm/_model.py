""":class:`Bilm`: a frozen biLM behind any backend, embedding tokenized sentences.

Sentences are checked, sorted by length and cut into batches here; the
backend (:class:`~sklearn_elmo.bilm._protocol.BilmBackend`) runs them.
:func:`~sklearn_elmo.bilm.load_bilm` creates and shares them.
"""

import hashlib
import json
import threading

import numpy as np

from .._validation import check_int
from ._warmup import warmup_sentences

FINGERPRINT_PROTOCOL = "sklearn-elmo-bilm/1"

_HUGEPAGE_LOCK = threading.Lock()


def _set_madvise_hugepage():
    """numpy's switch for huge-page advice on big arrays, or None if absent."""
    try:
        from numpy._core import multiarray  # numpy 2
    except ImportError:  # pragma: no cover - numpy 1
        from numpy.core import multiarray
    return getattr(multiarray, "_set_madvise_hugepage", None)


def zeros_without_hugepages(shape, dtype):
    """``np.zeros(shape, dtype)`` without numpy's MADV_HUGEPAGE advice.

    numpy advises the kernel to back arrays of 4 MB and more with huge pages.
    Where transparent huge pages and their defragmentation are on "madvise"
    (the 2-core benchmark machine, like many Linux defaults), first writes to
    such memory can stall on compaction: filling a fresh (600, 3, 60, 1,024)
    float32 result took 0.37-0.91 s with the advice and 0.12-0.19 s without
    (docs/benchmarks.md). The setting is numpy's process-wide one, switched
    off for this allocation only and restored.
    """
    switch = _set_madvise_hugepage()
    if switch is None:  # pragma: no cover - a numpy without the switch
        return np.zeros(shape, dtype)
    with _HUGEPAGE_LOCK:
        previous = switch(False)
        try:
            return np.zeros(shape, dtype)
        finally:
            switch(previous)


def _check_sentences(sentences):
    if isinstance(sentences, (str, bytes)):
        raise TypeError(
            "sentences must be a list of tokenized sentences (lists of str), "
            "got a single str"
        )
    try:
        sentences = list(sentences)
    except TypeError:
        raise TypeError(
            f"sentences must be a list of lists of str, got {type(sentences).__name__}"
        ) from None
    checked = []
    for i, sentence in enumerate(sentences):
        if isinstance(sentence, (str, bytes)) or not hasattr(sentence, "__iter__"):
            raise TypeError(
                f"sentences[{i}] must be a list of str tokens, got "
                f"{type(sentence).__name__}"
            )
        sentence = list(sentence)
        for j, token in enumerate(sentence):
            if not isinstance(token, str):
                raise TypeError(
                    f"sentences[{i}][{j}] must be a str token, got {type(token).__name__}"
                )
            if token == "":
                raise ValueError(f"sentences[{i}][{j}] is an empty token")
        checked.append(sentence)
    return checked


def _check_batch_size(batch_size):
    return check_int(batch_size, "batch_size")


class Bilm:
    """A frozen ELMo biLM that embeds tokenized sentences.

    Create one with :func:`load_bilm`; do not instantiate directly.

    Attributes
    ----------
    n_layers : int
        Number of output layers: the token embedding plus one per LSTM layer.
    dim : int
        Width of every layer (twice the LSTM projection size).
    fingerprint : str
        SHA-256 hex digest of the options, the weights and the initial-state
        protocol; equal across processes and machines for the same files.
    initial_state : {"warm", "zeros", "carry"}
        The resolved state (never "auto").
    source : str
        Where the biLM was loaded from.
    """

    def __init__(self, backend, initial_state, source):
        self._backend = backend
        self.initial_state = initial_state
        self.source = source
        self.n_layers = backend.n_layers
        self.dim = backend.dim
        protocol = {"protocol": FINGERPRINT_PROTOCOL, "initial_state": initial_state}
        if initial_state == "warm":
            protocol["warmup"] = hashlib.sha256(
                json.dumps(warmup_sentences()).encode()
            ).hexdigest()
        self.fingerprint = hashlib.sha256(
            (backend.digest + json.dumps(protocol, sort_keys=True)).encode()
        ).hexdigest()
        self.max_batch_tokens = backend.max_batch_tokens
        self._carried = None  # (c, h) per row, "carry" mode only
        self._lock = threading.Lock()

    def __repr__(self):
        return (
            f"Bilm(source={self.source!r}, initial_state={self.initial_state!r}, "
            f"n_layers={self.n_layers}, dim={self.dim})"
        )

    def _plan_batches(self, lengths, batch_size):
        """Sort by length and cut into batches bounded by count and tokens."""
        plan = getattr(self._backend, "plan_batches", None)
        if plan is not None:  # the backend knows its own costs
            return plan(lengths, batch_size)
        order = np.argsort(lengths, kind="stable")
        batches, start = [], 0
        while start < len(order):
            stop = start + 1
            while stop < len(order) and stop - start < batch_size:
                width = lengths[order[stop]] + 2  # longest so far: sorted
                if (stop - start + 1) * width > self.max_batch_tokens:
                    break
                stop += 1
            if stop < len(order):  # the last batch may be ragged
                stop = start + self._backend.round_batch(stop - start)
            batches.append(order[start:stop])
            start = stop
        return batches

    def _run_carried(self, sentences):
        n = len(sentences)
        with self._lock:
            carried = self._carried or self._backend.zero_state(0)
            missing = n - carried[0].shape[2]
            if missing > 0:
                extra = self._backend.zero_state(missing)
                carried = tuple(np.concatenate(p, axis=2) for p in zip(carried, extra))
            layers, final = self._backend.run(
                sentences, tuple(s[:, :, :n] for s in carried)
            )
            carried = tuple(s.copy() for s in carried)
            for whole, part in zip(carried, final):
                whole[:, :, :n] = part
            self._carried = carried
        return layers

    def reset_state(self):
        """Forget the carried state ("carry" mode): the next call starts from zeros."""
        with self._lock:
            self._carried = None

    def iter_embed(self, sentences, batch_size=256):
        """Embed sentences batch by batch, in the engine's own order.

        Parameters
        ----------
        sentences : sequence of sequence of str
            Tokenized sentences, without boundary tokens.
        batch_size : int, default=256
            Most sentences per batch (batches are also bounded by a token
            budget). Ignored in "carry" mode, where each call is one batch.

        Yields
        ------
        index : ndarray of int
            Positions in ``sentences`` of this batch's rows.
        layers : ndarray of shape (len(index), n_layers, max_len, dim), float32
            ``max_len`` is the longest sentence of the batch; padding is zero.
            May be a read-only view of the engine's output: copy it to modify.
        mask : ndarray of shape (len(index), max_len), bool
        """
        sentences = _check_sentences(sentences)
        batch_size = _check_batch_size(batch_size)
        if not sentences:
            return
        if self.initial_state == "carry":
            layers = self._run_carried(sentences)
            lengths = [len(s) for s in sentences]
            yield np.arange(len(sentences)), layers, _mask(lengths, layers.shape[2])
            return
        lengths = np.array([len(s) for s in sentences])
        plan = self._plan_batches(lengths, batch_size)
        batches = ([sentences[i] for i in index] for index in plan)
        for index, layers in zip(
            plan, self._backend.embed_batches(batches, self.initial_state)
        ):
            yield index, layers, _mask(lengths[index], layers.shape[2])

    def embed(self, sentences, batch_size=256):
        """Embed tokenized sentences with every biLM layer.

        Parameters
        ----------
        sentences : sequence of sequence of str
            Tokenized sentences, without ``<S>``/``</S>``; an empty sentence
            gives an all-padding row.
        batch_size : int, default=256
            Most sentences per internal batch. Batches are also bounded by a
            token budget (about 1 GiB of LSTM gate activations), so batches of
            long sentences hold fewer. Large batches amortise reading the LSTM
            weights at every time step: on the original model 256 runs about
            10% faster than 64 (docs/benchmarks.md). Results do not depend on
            it outside "carry" mode.

        Returns
        -------
        layers : ndarray of shape (n_sentences, n_layers, max_len, dim), float32
            Layer 0 is the context-independent token embedding (duplicated to
            the LSTM width), layers 1.. the biLSTM layers; zero at padding.
        mask : ndarray of shape (n_sentences, max_len), bool
            True at real tokens.

        Examples
        --------
        >>> import tempfile
        >>> from sklearn_elmo import load_bilm
        >>> from sklearn_elmo.testing import make_random_bilm
        >>> bilm = load_bilm(make_random_bilm(tempfile.mkdtemp()))
        >>> layers, mask = bilm.embed([["The", "cat", "sat", "."], ["Hello"]])
        >>> layers.shape, mask.sum(axis=1).tolist()
        ((2, 3, 4, 32), [4, 1])
        """
        sentences = _check_sentences(sentences)
        max_len = max((len(s) for s in sentences), default=0)
        layers = zeros_without_hugepages(
            (len(sentences), self.n_layers, max_len, self.dim), np.float32
        )
        mask = np.zeros((len(sentences), max_len), bool)
        for index, batch_layers, batch_mask in self.iter_embed(sentences, batch_size):
            width = batch_layers.shape[2]
            layers[index, :, :width] = batch_layers
            mask[index, :width] = batch_mask
        return layers, mask


def _mask(lengths, width):
    return np.arange(width)[None, :] < np.asarray(lengths)[:, None]
