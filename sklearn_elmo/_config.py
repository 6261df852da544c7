"""Process-wide settings of sklearn_elmo: :func:`set_config`, :func:`get_config`,
:func:`config_context`, in the manner of scikit-learn's.

The settings concern the embedding cache (see docs/caching.md). Unlike
scikit-learn's, they are shared by every thread of the process, as the cache
is. They do not travel to joblib worker processes: set the environment
variables (read when a setting was never set in the process) or use the
estimators' ``cache_dir`` parameter there.
"""

import os
import re
import threading
from contextlib import contextmanager
from numbers import Integral

MEMORY_VARIABLE = "SKLEARN_ELMO_CACHE_MEMORY"
TOKEN_DTYPE_VARIABLE = "SKLEARN_ELMO_CACHE_TOKEN_DTYPE"
DIR_VARIABLE = "SKLEARN_ELMO_CACHE_DIR"
DEFAULT_CACHE_MEMORY = 1024**3  # 1 GiB
TOKEN_DTYPES = ("float16", "float32")

_UNITS = {
    "": 1,
    "b": 1,
    "k": 1000,
    "kb": 1000,
    "m": 1000**2,
    "mb": 1000**2,
    "g": 1000**3,
    "gb": 1000**3,
    "t": 1000**4,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")

_lock = threading.Lock()
_settings = {}  # explicitly set values; unset keys fall back to the environment


def parse_memory(value, name="cache_memory"):
    """Bytes from an int or a size string such as ``"500MB"`` or ``"2GiB"``.

    Decimal units (kB, MB, GB, TB; also k, M, G, T) are powers of 1000,
    binary ones (KiB, MiB, GiB, TiB) powers of 1024; case is ignored.

    Examples
    --------
    >>> from sklearn_elmo._config import parse_memory
    >>> parse_memory("500MB"), parse_memory("1GiB"), parse_memory(0)
    (500000000, 1073741824, 0)
    """
    if isinstance(value, bool):
        raise TypeError(
            f"{name} must be a number of bytes or a size string, got {value!r}"
        )
    if isinstance(value, Integral):
        if value < 0:
            raise ValueError(f"{name} must be >= 0 bytes, got {value}")
        return int(value)
    if isinstance(value, float):
        if not value >= 0 or value == float("inf"):
            raise ValueError(
                f"{name} must be a finite number of bytes >= 0, got {value}"
            )
        return int(value)
    if not isinstance(value, str):
        raise TypeError(
            f"{name} must be a number of bytes or a size string such as '500MB', "
            f"got {type(value).__name__}"
        )
    match = _SIZE.match(value)
    unit = match.group(2).lower() if match else None
    if match is None or unit not in _UNITS:
        raise ValueError(
            f"{name}: cannot read {value!r} as a size; use bytes or a number with "
            "a unit such as '500MB', '2GB' or '1GiB'"
        )
    return int(float(match.group(1)) * _UNITS[unit])


def _check_token_dtype(value, name="cache_token_dtype"):
    if value not in TOKEN_DTYPES:
        raise ValueError(f"{name} must be one of {TOKEN_DTYPES}, got {value!r}")
    return value


def _from_environment(key):
    if key == "cache_memory":
        raw = os.environ.get(MEMORY_VARIABLE, "").strip()
        return parse_memory(raw, MEMORY_VARIABLE) if raw else DEFAULT_CACHE_MEMORY
    raw = os.environ.get(TOKEN_DTYPE_VARIABLE, "").strip()
    return _check_token_dtype(raw, TOKEN_DTYPE_VARIABLE) if raw else "float16"


def get_config():
    """Current values of the sklearn_elmo settings.

    Returns
    -------
    config : dict
        ``"cache_memory"``: the in-memory embedding cache's budget in bytes
        (0 = no in-memory cache); ``"cache_token_dtype"``: ``"float16"`` or
        ``"float32"``, how token-level outputs (for max pooling) are stored.
        A setting never passed to :func:`set_config` comes from its
        environment variable (``SKLEARN_ELMO_CACHE_MEMORY``,
        ``SKLEARN_ELMO_CACHE_TOKEN_DTYPE``), else its default (1 GiB,
        ``"float16"``).

    Examples
    --------
    >>> import sklearn_elmo
    >>> sorted(sklearn_elmo.get_config())
    ['cache_memory', 'cache_token_dtype']
    """
    with _lock:
        settings = dict(_settings)
    return {
        key: settings[key] if key in settings else _from_environment(key)
        for key in ("cache_memory", "cache_token_dtype")
    }


def set_config(cache_memory=None, cache_token_dtype=None):
    """Change sklearn_elmo settings for the whole process.

    Parameters
    ----------
    cache_memory : int or str, default=None
        Budget of the in-memory embedding cache, in bytes or as a size string
        (``"500MB"``, ``"2GiB"``). Least recently used entries are dropped
        beyond it; 0 turns the in-memory cache off. None leaves it unchanged.
        Default: ``SKLEARN_ELMO_CACHE_MEMORY``, else 1 GiB.
    cache_token_dtype : {"float16", "float32"}, default=None
        Storage of token-level outputs, which only max and mean_max pooling
        need. float16 halves their memory and disk use; each stored value is
        then within a relative 2**-11 (plus 2**-25) of its float32 value, so a
        pooled feature is within 2**-11 of the magnitudes pooled into it (the
        exact bound is in docs/caching.md). None leaves it unchanged. Default:
        ``SKLEARN_ELMO_CACHE_TOKEN_DTYPE``, else "float16".

    Examples
    --------
    >>> import sklearn_elmo
    >>> previous = sklearn_elmo.get_config()
    >>> sklearn_elmo.set_config(cache_memory="200MB")
    >>> sklearn_elmo.get_config()["cache_memory"]
    200000000
    >>> sklearn_elmo.set_config(**previous)
    """
    updates = {}
    if cache_memory is not None:
        updates["cache_memory"] = parse_memory(cache_memory)
    if cache_token_dtype is not None:
        updates["cache_token_dtype"] = _check_token_dtype(cache_token_dtype)
    with _lock:
        _settings.update(updates)


@contextmanager
def config_context(*, cache_memory=None, cache_token_dtype=None):
    """Temporarily change sklearn_elmo settings (process-wide) in a ``with`` block.

    Takes the parameters of :func:`set_config`; the previous settings (set or
    from the environment) are restored on exit, even after an error.

    Examples
    --------
    >>> import sklearn_elmo
    >>> with sklearn_elmo.config_context(cache_token_dtype="float32"):
    ...     sklearn_elmo.get_config()["cache_token_dtype"]
    'float32'
    """
    with _lock:
        saved = dict(_settings)
    set_config(cache_memory=cache_memory, cache_token_dtype=cache_token_dtype)
    try:
        yield
    finally:
        with _lock:
            _settings.clear()
            _settings.update(saved)


def cache_dir_from_environment():
    """``SKLEARN_ELMO_CACHE_DIR``, or None when unset or empty."""
    return os.environ.get(DIR_VARIABLE, "").strip() or None
