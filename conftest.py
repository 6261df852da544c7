"""Doctest collection: modules of optional extras are skipped when not installed."""

import importlib.util

collect_ignore = []
if not all(importlib.util.find_spec(name) for name in ("dask", "distributed")):
    collect_ignore.append("sklearn_elmo/dask.py")  # the "dask" extra
