"""Tokenizer identity: which tokenizer produced a cache entry.

Part of the embedding cache's key (see :mod:`sklearn_elmo.features._cached`).
"""

import hashlib
import inspect
import os
import pickle
import threading
import types
import warnings
import weakref

from ..exceptions import EmbeddingCacheWarning
from ..tokenize import default_tokenizer

_default_identity = None
_unstable_lock = threading.Lock()
_unstable = {}  # id(tokenizer) -> (weakref, token, warned)


def _code_digest(code, digest):
    digest.update(code.co_code)
    digest.update(repr(code.co_names).encode())
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            _code_digest(const, digest)
        elif isinstance(const, frozenset):  # set order varies between processes
            digest.update(repr(sorted(map(repr, const))).encode())
        else:
            digest.update(repr(const).encode())


def _code_of(tokenizer):
    for candidate in (
        tokenizer,
        getattr(tokenizer, "__func__", None),
        getattr(type(tokenizer), "__call__", None),  # noqa: B004 - for its code
    ):
        code = getattr(candidate, "__code__", None)
        if isinstance(code, types.CodeType):
            return code
    return None


def tokenizer_identity(tokenizer):
    """A key for a tokenizer and whether it holds across processes.

    Returns ``(identity, stable)``. The default tokenizer is identified by the
    source of :mod:`sklearn_elmo.tokenize`. A picklable callable is identified
    by its qualified name, a SHA-256 of its pickle (which holds the state of
    callable objects and ``functools.partial`` arguments) and of its code
    (so an edited function gets a new key): stable. Other callables (lambdas,
    local functions) get a token valid for the life of the object in this
    process: ``stable`` is False. A callable that can be neither pickled nor
    weakly referenced gets ``(None, False)``: not cached at all.
    """
    global _default_identity
    if tokenizer is None or tokenizer is default_tokenizer:
        if _default_identity is None:
            from .. import tokenize

            try:
                source = inspect.getsource(tokenize)
            except (OSError, TypeError):  # no source shipped: fall back to the version
                from .._version import __version__

                source = __version__
            _default_identity = (
                "default:" + hashlib.sha256(source.encode()).hexdigest()[:32]
            )
        return _default_identity, True
    name = getattr(tokenizer, "__qualname__", None) or type(tokenizer).__qualname__
    module = getattr(tokenizer, "__module__", None) or type(tokenizer).__module__
    try:
        blob = pickle.dumps(tokenizer, protocol=4)
    except Exception:  # noqa: BLE001 - any pickling failure means "not stable"
        blob = None
    if blob is not None:
        digest = hashlib.sha256(blob)
        code = _code_of(tokenizer)
        if code is not None:
            _code_digest(code, digest)
        return f"{module}.{name}:{digest.hexdigest()}", True
    with _unstable_lock:
        known = _unstable.get(id(tokenizer))
        if known is not None and known[0]() is tokenizer:
            return known[1], False
        key = id(tokenizer)
        try:
            ref = weakref.ref(tokenizer, lambda _, key=key: _unstable.pop(key, None))
        except TypeError:
            return None, False
        token = f"process:{os.getpid()}:{module}.{name}:{os.urandom(8).hex()}"
        _unstable[key] = (ref, token, [False])
        return token, False


def warn_unstable_once(tokenizer):
    """Warn, once per tokenizer, that its entries stay in memory only."""
    with _unstable_lock:
        known = _unstable.get(id(tokenizer))
        if known is None or known[2][0]:
            return
        known[2][0] = True
    warnings.warn(
        EmbeddingCacheWarning(
            f"The tokenizer {tokenizer!r} cannot be pickled, so it cannot be "
            "identified across processes: its embeddings are cached in memory only, "
            "not in the persistent cache. Use a module-level function or a "
            "picklable callable object to share them."
        ),
        stacklevel=4,
    )
