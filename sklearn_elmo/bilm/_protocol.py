"""The one interface every biLM backend implements (weight files, TF Hub).

:class:`~sklearn_elmo.bilm.Bilm` (batching, carried state, checks) talks to
a backend through :class:`BilmBackend` only; the registry
(:mod:`~sklearn_elmo.bilm._registry`) keeps one loaded backend per source.
"""

from typing import Protocol, runtime_checkable

INITIAL_STATES = ("warm", "zeros", "carry")
# Largest input-projection activation a batch may allocate; sets the token
# budget of every backend (``max_batch_tokens``).
BATCH_ACTIVATION_BYTES = 1024 * 2**20


def batch_token_budget(lstm_dim):
    """Most tokens per batch so the gate activations stay within the budget."""
    per_token = 2 * 4 * lstm_dim * 4  # two directions, four gates, float32
    return max(256, BATCH_ACTIVATION_BYTES // per_token)


@runtime_checkable
class BilmBackend(Protocol):
    """What :class:`~sklearn_elmo.bilm.Bilm` needs from a loaded biLM.

    Attributes
    ----------
    n_layers, dim : int
        Output layers (token layer + LSTM layers) and their width.
    max_batch_tokens : int
        Most padded tokens per batch (see :func:`batch_token_budget`).
    digest : str
        Hex SHA-256 over everything that determines the outputs.
    initial_states : tuple of str
        The states of :data:`INITIAL_STATES` the backend supports.
    """

    n_layers: int
    dim: int
    max_batch_tokens: int
    digest: str
    initial_states: tuple

    def round_batch(self, n_rows):
        """The largest row count <= ``n_rows`` the backend runs efficiently."""

    def embed_batches(self, batches, initial_state):
        """Yield the layers of each batch, every sentence from a pure state.

        ``layers`` are ``(n, n_layers, max_len, dim)`` float32, zero at padding.
        """

    def zero_state(self, n_rows):
        """A zero carried state for ``n_rows`` rows (arrays with rows on axis 2)."""

    def run(self, sentences, state):
        """``(layers, final_state)`` of one batch from a carried ``state``."""

    # Optional: ``plan_batches(lengths, batch_size)`` -> list of index arrays,
    # for a backend that plans its own batches (the native one computes only
    # real positions, so its costs differ from padded rows x width).

    def clear_token_cache(self):
        """Forget cached context-independent token embeddings (cold timings)."""
