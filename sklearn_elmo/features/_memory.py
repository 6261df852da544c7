"""The in-process embedding cache: an LRU store shared by every estimator."""

import threading
from collections import OrderedDict

from .._config import get_config


class MemoryStore:
    """Least-recently-used entries within a byte budget, thread-safe."""

    def __init__(self):
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.counters = dict.fromkeys(
            ("hits", "disk_hits", "computed", "duplicates", "evictions"), 0
        )

    def get(self, key, token_dtype):
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or not entry.serves(token_dtype):
                return None
            self._entries.move_to_end(key)
            return entry

    def put(self, key, entry, budget):
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self.nbytes -= old.nbytes
            if entry.nbytes <= budget:
                self._entries[key] = entry
                self.nbytes += entry.nbytes
            self._trim(budget)

    def trim(self, budget):
        with self._lock:
            self._trim(budget)

    def _trim(self, budget):
        while self.nbytes > budget and self._entries:
            _, entry = self._entries.popitem(last=False)
            self.nbytes -= entry.nbytes
            self.counters["evictions"] += 1

    def count(self, **increments):
        with self._lock:
            for name, value in increments.items():
                self.counters[name] += value

    def info(self):
        """The counters, ``entries`` and ``bytes``, read together."""
        with self._lock:
            return {
                **self.counters,
                "entries": len(self._entries),
                "bytes": self.nbytes,
            }

    def clear(self):
        with self._lock:
            self._entries.clear()
            self.nbytes = 0
            for name in self.counters:
                self.counters[name] = 0


MEMORY = MemoryStore()


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
    info = MEMORY.info()
    info["budget"] = get_config()["cache_memory"]
    return info
