"""ELMo contextual embeddings behind the scikit-learn API."""

from ._config import config_context, get_config, set_config
from ._version import __version__
from .bilm import DEFAULT_HANDLE, Bilm, load_bilm
from .bilm._hub_export import export_hub_module
from .estimators import (
    ElmoClassifier,
    ElmoRegressor,
    ElmoTagger,
    ElmoTokenVectorizer,
    ElmoVectorizer,
)
from .features import cache_info, clear_cache, stack_tokens, unstack_tokens
from .persistence import load, save
from .tokenize import default_tokenizer
from .training import evaluate_perplexity, train_bilm

__all__ = [
    "DEFAULT_HANDLE",
    "Bilm",
    "ElmoClassifier",
    "ElmoRegressor",
    "ElmoTagger",
    "ElmoTokenVectorizer",
    "ElmoVectorizer",
    "__version__",
    "cache_info",
    "clear_cache",
    "config_context",
    "default_tokenizer",
    "evaluate_perplexity",
    "export_hub_module",
    "get_config",
    "load",
    "load_bilm",
    "save",
    "set_config",
    "stack_tokens",
    "train_bilm",
    "unstack_tokens",
]
