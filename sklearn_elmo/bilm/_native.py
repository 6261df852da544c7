"""The native backend: bilm-tf weight files run by the TF2 engine.

The engine (:mod:`~sklearn_elmo.bilm._engine`) is imported when a model is
loaded, not at import time, so that TensorFlow stays out of ``import
sklearn_elmo``.
"""

import collections
import hashlib
import json
import threading

import numpy as np

from ._chars import BOS_IDS, EOS_IDS, batch_to_unique_ids, token_to_ids
from ._packing import PackedPlan, plan_batches
from ._protocol import INITIAL_STATES, batch_token_budget
from ._warmup import warmup_sentences
from ._weights import read_weight_files


class WeightFilesBackend:
    """A biLM from bilm-tf weight files, loaded once per process.

    Implements :class:`~sklearn_elmo.bilm._protocol.BilmBackend`; carried
    state is ``(c, h)``, each ``(n_lstm_layers, 2, rows, width)``.
    """

    initial_states = INITIAL_STATES

    # Distinct tokens whose embeddings are kept at once while embedding.
    max_table_tokens = 65536
    # Bytes of context-independent token embeddings kept across calls.
    token_cache_bytes = 128 * 2**20

    def __init__(self, files):
        from ._packed import PackedBilmGraph  # keeps TensorFlow out of import time

        self.files = files
        self.options, weights = read_weight_files(files)
        self.digest = _weights_digest(self.options, weights)
        self.graph = PackedBilmGraph(self.options, weights)
        self.n_layers = 1 + self.options.n_lstm_layers
        self.dim = self.options.output_dim
        self.max_batch_tokens = batch_token_budget(self.options.lstm_dim)
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
        # Rows of work in pure-mode calls, which benchmarks read: LSTM
        # positions, real (tokens) and computed (real + rows rounded up to a
        # compiled row count); rows of the first layer's input projection
        # (distinct tokens of each batch); tokens whose character CNN ran
        # (not found in the token cache).
        self.positions = {
            "real": 0,
            "computed": 0,
            "first_layer": 0,
            "token_embeddings": 0,
        }

    def round_batch(self, n_rows):
        return self.graph.round_batch(n_rows)

    def plan_batches(self, lengths, batch_size):
        return plan_batches(
            lengths,
            batch_size,
            self.max_batch_tokens,
            self.round_batch,
            self.graph.step_bucket,
        )

    def zero_state(self, n_rows):
        return self.graph.zero_state(n_rows)

    def _padded(self, sentences, state):
        """Pad a batch with empty rows to a row count XLA has compiled."""
        missing = self.graph.pad_rows(len(sentences)) - len(sentences)
        if missing == 0:
            return sentences, state
        state = tuple(
            np.concatenate([s, z], axis=2)
            for s, z in zip(state, self.zero_state(missing))
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
            self.positions["token_embeddings"] += len(missing)
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
            plan = PackedPlan(index, [len(s) for s in batch], self.graph.step_bucket)
            self.positions["real"] += plan.real
            self.positions["computed"] += plan.computed
            self.positions["first_layer"] += len(plan.tokens)
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
