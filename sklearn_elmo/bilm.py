"""Load a pretrained ELMo biLM and embed tokenized sentences.

:func:`load_bilm` is the entry point; it returns a :class:`Bilm`, shared per
process per source and initial-state mode.
"""

import collections
import hashlib
import json
import threading
from importlib import resources

import numpy as np

from ._chars import BOS_IDS, EOS_IDS, batch_to_unique_ids, token_to_ids
from ._options import read_options
from ._packing import PackedPlan, plan_batches
from ._sources import is_hub_handle, is_hub_module_dir, resolve_weight_files
from ._weights import read_weights

INITIAL_STATES = ("warm", "zeros", "carry")
FINGERPRINT_PROTOCOL = "sklearn-elmo-bilm/1"
# Largest input-projection activation a batch may allocate; sets the token budget.
_BATCH_ACTIVATION_BYTES = 1024 * 2**20


def warmup_sentences():
    """The bundled warm-up text: tokenized English sentences, one per line."""
    text = resources.files("sklearn_elmo").joinpath("data/warmup.txt").read_text("utf-8")
    return [line.split(" ") for line in text.splitlines() if line.strip()]


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
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be a positive int, got {batch_size!r}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size}")
    return int(batch_size)


class _WeightFilesBackend:
    """A biLM from bilm-tf weight files, loaded once per process.

    The backend protocol :class:`Bilm` relies on: ``n_layers``, ``dim``,
    ``max_batch_tokens``, ``digest`` (hex, over everything that determines the
    outputs), ``round_batch(n)`` (the largest row count <= n the backend runs
    efficiently), ``embed_batches(batches, initial_state)`` (layers of each
    batch of sentences, every sentence starting from the "zeros" or "warm"
    state), and for carried state ``zero_state(n_rows)`` and
    ``run(sentences, state) -> (layers, final_state)``, where ``state`` is a
    tuple of arrays with rows on axis 2. ``layers`` are
    ``(n, n_layers, max_len, dim)`` float32 with padding zeroed.
    """

    # Distinct tokens whose embeddings are kept at once while embedding.
    max_table_tokens = 65536
    # Bytes of context-independent token embeddings kept across calls.
    token_cache_bytes = 128 * 2**20

    def __init__(self, files):
        from ._packed import PackedBilmGraph  # keeps TensorFlow out of import time

        self.files = files
        self.options = read_options(files.options)
        weights = read_weights(files.weights, self.options)
        self.digest = _weights_digest(self.options, weights)
        self.graph = PackedBilmGraph(self.options, weights)
        self.n_layers = 1 + self.options.n_lstm_layers
        self.dim = self.options.output_dim
        per_token = 2 * 4 * self.options.lstm_dim * 4  # gate activations, bytes
        self.max_batch_tokens = max(256, _BATCH_ACTIVATION_BYTES // per_token)
        self._start_states = {}
        self._lock = threading.Lock()
        # token -> its embedding (char CNN, highway, projection): a pure
        # function of the token, so calls that share vocabulary (streamed
        # chunks, the folds of a grid search) run the CNN once per token.
        self._token_cache = collections.OrderedDict()
        self._token_cache_rows = max(
            1, self.token_cache_bytes // (4 * self.options.projection_dim)
        )
        self._token_cache_lock = threading.Lock()
        # LSTM positions of pure-mode batches: real tokens, and computed ones
        # (real + rows rounded up to a compiled row count). Benchmarks read it.
        self.positions = {"real": 0, "computed": 0}

    def round_batch(self, n_rows):
        return self.graph.round_batch(n_rows)

    def plan_batches(self, lengths, batch_size):
        return plan_batches(
            lengths, batch_size, self.max_batch_tokens, self.round_batch, self.graph.pad_rows
        )

    def zero_state(self, n_rows):
        return self.graph.zero_state(n_rows)

    def _padded(self, sentences, state):
        """Pad a batch with empty rows to a row count XLA has compiled."""
        missing = self.graph.pad_rows(len(sentences)) - len(sentences)
        if missing == 0:
            return sentences, state
        state = tuple(
            np.concatenate([s, z], axis=2) for s, z in zip(state, self.zero_state(missing))
        )
        return list(sentences) + [[]] * missing, state

    def run(self, sentences, state):
        """Run sentences with their boundary tokens from ``state`` (carried state)."""
        n = len(sentences)
        sentences, state = self._padded(sentences, state)
        unique_ids, index, lengths = batch_to_unique_ids(sentences)
        table = self.graph.token_table(unique_ids)
        layers, c, h = self.graph.run(table, index, lengths, *state)
        return layers.numpy()[:n], (c.numpy()[:, :, :n], h.numpy()[:, :, :n])

    def _initial_state(self, initial_state):
        if initial_state == "zeros":
            return self.zero_state(1)
        # The state left by reading the warm-up text with carried state.
        state = self.zero_state(1)
        for sentence in warmup_sentences():
            _, state = self.run([sentence], state)
        return state

    def start_state(self, initial_state):
        """State after each direction has read its first boundary token.

        Every sentence starts with ``<S>`` (forward) and ``</S>`` (backward)
        from the same initial state, so that first step is the same for all
        sentences and is computed once; the last boundary step only feeds
        outputs that are dropped and a final state that is not kept. Pure
        modes therefore run the LSTM over the real tokens alone.
        """
        with self._lock:
            if initial_state not in self._start_states:
                state = self._initial_state(initial_state)
                table = self.graph.token_table(np.stack([BOS_IDS, EOS_IDS]))
                one = np.ones(1, np.int32)
                _, c_fw, h_fw = self.graph.run_inner(table, [[1]], one, *state)
                _, c_bw, h_bw = self.graph.run_inner(table, [[2]], one, *state)
                c, h = c_fw.numpy(), h_fw.numpy()
                c[:, 1], h[:, 1] = c_bw.numpy()[:, 1], h_bw.numpy()[:, 1]
                self._start_states[initial_state] = (c, h)
            return self._start_states[initial_state]

    def embed_batches(self, batches, initial_state):
        start = self.start_state(initial_state)
        group, rows = [], {}
        for batch in batches:
            group.append(batch)
            for sentence in batch:
                for token in sentence:
                    rows.setdefault(token, len(rows))
            if len(rows) >= self.max_table_tokens:
                yield from self._embed_group(group, rows, start)
                group, rows = [], {}
        if group:
            yield from self._embed_group(group, rows, start)

    def clear_token_cache(self):
        with self._token_cache_lock:
            self._token_cache.clear()

    def _token_table(self, tokens):
        """Embeddings of distinct ``tokens`` as rows 1.. of a table (row 0 zeros)."""
        vectors = [None] * len(tokens)
        with self._token_cache_lock:
            cache = self._token_cache
            for i, token in enumerate(tokens):
                vector = cache.get(token)
                if vector is not None:
                    cache.move_to_end(token)
                    vectors[i] = vector
        missing = [i for i, vector in enumerate(vectors) if vector is None]
        if missing:
            ids = np.array([token_to_ids(tokens[i]) for i in missing], np.int32)
            computed = self.graph.token_table(ids.reshape(-1, 50)).numpy()[1:]
            with self._token_cache_lock:
                for i, vector in zip(missing, computed, strict=True):
                    vectors[i] = vector
                    self._token_cache[tokens[i]] = vector.copy()  # not a view
                while len(self._token_cache) > self._token_cache_rows:
                    self._token_cache.popitem(last=False)
        import tensorflow as tf

        table = np.empty((len(tokens) + 1, self.options.projection_dim), np.float32)
        table[0] = 0.0
        if tokens:
            table[1:] = vectors
        return tf.constant(table)  # once, not at every batch

    def _embed_group(self, group, rows, start):
        """Embed batches sharing one table of their distinct tokens' embeddings."""
        table = self._token_table(list(rows))
        for batch in group:
            n = len(batch)
            width = max((len(s) for s in batch), default=0)
            if width == 0:
                yield np.zeros((n, self.n_layers, 0, self.dim), np.float32)
                continue
            index = np.zeros((n, width), np.int32)
            for i, sentence in enumerate(batch):
                index[i, : len(sentence)] = [rows[t] + 1 for t in sentence]
            plan = PackedPlan(index, [len(s) for s in batch], self.graph.pad_rows)
            self.positions["real"] += plan.real
            self.positions["computed"] += plan.computed
            yield np.asarray(self.graph.run_packed(table, plan, start))  # a view


def _weights_digest(options, weights):
    digest = hashlib.sha256()
    canonical = options.to_dict()
    canonical["char_cnn"]["n_characters"] = 262  # 261 and 262 run identically
    digest.update(json.dumps(canonical, sort_keys=True).encode())
    for name in sorted(weights):
        array = np.ascontiguousarray(weights[name], dtype="<f4")
        digest.update(f"{name}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


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
            layers, final = self._backend.run(sentences, tuple(s[:, :, :n] for s in carried))
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
        for index, layers in zip(plan, self._backend.embed_batches(batches, self.initial_state)):
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
        layers = np.zeros((len(sentences), self.n_layers, max_len, self.dim), np.float32)
        mask = np.zeros((len(sentences), max_len), bool)
        for index, batch_layers, batch_mask in self.iter_embed(sentences, batch_size):
            width = batch_layers.shape[2]
            layers[index, :, :width] = batch_layers
            mask[index, :width] = batch_mask
        return layers, mask


def _mask(lengths, width):
    return np.arange(width)[None, :] < np.asarray(lengths)[:, None]


_CACHE = {}
_CACHE_LOCK = threading.Lock()


def load_bilm(source, initial_state="warm"):
    """Load an ELMo biLM, sharing one copy per process per source.

    Parameters
    ----------
    source : str or path-like
        A directory holding a bilm-tf ``options.json`` and one weights
        ``.hdf5`` file (the AllenNLP and NLPL published layouts), or the path
        of the options file with its weights beside it. Or a TF Hub ELMo
        module: a handle (``https://tfhub.dev/google/elmo/3``, a Kaggle URL;
        cached in ``TFHUB_CACHE_DIR``) or a local module directory; these
        take ``initial_state="zeros"`` only (see docs/hub.md).
    initial_state : {"warm", "zeros", "carry"}, default="warm"
        LSTM state each sentence starts from. "warm": a fixed state per model,
        left by reading a bundled warm-up text with carried state (outputs are
        a pure function of each sentence). "zeros": a zero state (also pure).
        "carry": the original implementation's behaviour; each call is one
        batch and row k continues from row k's state after the previous call.

    Returns
    -------
    Bilm
        Shared for "warm" and "zeros"; a new object (sharing the weights) for
        "carry", whose state belongs to its caller.

    Raises
    ------
    ValueError
        If the source is missing, ambiguous or malformed; the message names
        the file and the problem.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elmo import load_bilm
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> bilm = load_bilm(make_random_bilm(tempfile.mkdtemp()), initial_state="zeros")
    >>> bilm.n_layers, bilm.dim
    (3, 32)
    """
    if initial_state not in INITIAL_STATES:
        raise ValueError(
            f"initial_state must be one of {INITIAL_STATES}, got {initial_state!r}"
        )
    if is_hub_handle(source) or is_hub_module_dir(source):
        from ._hub import load_hub_bilm  # keeps tensorflow_hub out of import time

        return load_hub_bilm(source, initial_state)
    files = resolve_weight_files(source)
    key = files.identity()
    with _CACHE_LOCK:
        loaded = _CACHE.get(key)
        if loaded is None:
            loaded = _CACHE[key] = {"backend": _WeightFilesBackend(files), "modes": {}}
        if initial_state == "carry":
            return Bilm(loaded["backend"], initial_state, str(source))
        bilm = loaded["modes"].get(initial_state)
        if bilm is None:
            bilm = loaded["modes"][initial_state] = Bilm(
                loaded["backend"], initial_state, str(source)
            )
        return bilm


def clear_bilm_cache():
    """Drop every biLM this process has loaded (they reload on next use)."""
    with _CACHE_LOCK:
        _CACHE.clear()


def clear_token_caches():
    """Forget the token embeddings kept by every loaded biLM (for cold timings)."""
    with _CACHE_LOCK:
        backends = [loaded["backend"] for loaded in _CACHE.values()]
    for backend in backends:
        clear = getattr(backend, "clear_token_cache", None)  # TF Hub: none kept
        if clear is not None:
            clear()
