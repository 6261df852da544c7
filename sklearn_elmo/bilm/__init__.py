"""The biLM layer: model sources, weight files, the TF2 engine and TF Hub modules.

Imports nothing from the layers above it (features, head, estimators,
persistence, cli).
"""

from ._model import (
    FINGERPRINT_PROTOCOL,
    INITIAL_STATE_OPTIONS,
    INITIAL_STATES,
    Bilm,
    clear_bilm_cache,
    clear_token_caches,
    load_bilm,
    resolve_initial_state,
    warmup_sentences,
)
from ._sources import DEFAULT_HANDLE, is_hub_source

__all__ = [
    "DEFAULT_HANDLE",
    "FINGERPRINT_PROTOCOL",
    "INITIAL_STATES",
    "INITIAL_STATE_OPTIONS",
    "Bilm",
    "clear_bilm_cache",
    "clear_token_caches",
    "is_hub_source",
    "load_bilm",
    "resolve_initial_state",
    "warmup_sentences",
]
