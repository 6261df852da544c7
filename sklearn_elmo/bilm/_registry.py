"""The one registry of loaded biLMs: one backend per source per process.

Backends are keyed by what identifies their files (paths, sizes, mtimes), so
changed files reload and two spellings of one path share a backend. Each
backend serves one shared :class:`~sklearn_elmo.bilm.Bilm` per pure initial
state; "carry" gets a new ``Bilm`` per call (its state belongs to its caller).
"""

import threading

from ._model import Bilm

_LOADED = {}
_LOCK = threading.Lock()


def shared_bilm(key, make_backend, initial_state, source):
    """The Bilm for ``key`` in ``initial_state``, loading its backend once.

    ``make_backend()`` builds the backend on first use (under the lock, so
    concurrent first calls load once).
    """
    with _LOCK:
        loaded = _LOADED.get(key)
        if loaded is None:
            loaded = _LOADED[key] = {"backend": make_backend(), "modes": {}}
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
    with _LOCK:
        _LOADED.clear()


def clear_token_caches():
    """Forget the token embeddings kept by every loaded biLM (for cold timings)."""
    with _LOCK:
        backends = [loaded["backend"] for loaded in _LOADED.values()]
    for backend in backends:
        backend.clear_token_cache()
