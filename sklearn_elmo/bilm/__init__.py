"""The biLM layer: model sources, weight files, the TF2 engine and TF Hub modules.

Imports nothing from the layers above it (features, head, estimators,
persistence, cli).
"""

from ._load import INITIAL_STATE_OPTIONS, load_bilm, resolve_initial_state
from ._model import FINGERPRINT_PROTOCOL, Bilm
from ._protocol import INITIAL_STATES, BilmBackend
from ._registry import clear_bilm_cache, clear_token_caches
from ._sources import DEFAULT_HANDLE, is_hub_source
from ._warmup import warmup_sentences

__all__ = [
    "DEFAULT_HANDLE",
    "FINGERPRINT_PROTOCOL",
    "INITIAL_STATES",
    "INITIAL_STATE_OPTIONS",
    "Bilm",
    "BilmBackend",
    "clear_bilm_cache",
    "clear_token_caches",
    "is_hub_source",
    "load_bilm",
    "resolve_initial_state",
    "warmup_sentences",
]
