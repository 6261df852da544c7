"""The in-process embedding cache: an LRU store shared by every estimator."""

import threading
from collections import OrderedDict


class _MemoryStore:
    """Least-recently-used entries within a byte budget, thread-safe."""

    def __init__(self):
        self._entries = OrderedDict()
        self._lock = threading.Lock()
        self.nbytes = 0
        self.counters = dict.fromkeys(
            ("hits", "disk_hits", "computed", "duplicates", "evictions"), 0
        )

    def __len__(self):
        return len(self._entries)

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

    def clear(self):
        with self._lock:
            self._entries.clear()
            self.nbytes = 0
            for name in self.counters:
                self.counters[name] = 0


_MEMORY = _MemoryStore()
