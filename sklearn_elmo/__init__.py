"""ELMo contextual embeddings behind the scikit-learn API."""

from ._cache import cache_info, clear_cache
from ._config import config_context, get_config, set_config
from ._hub_export import export_hub_module
from ._version import __version__
from .bilm import Bilm, load_bilm
from .estimators import ElmoClassifier, ElmoRegressor, ElmoVectorizer
from .persistence import load, save
from .tokenize import default_tokenizer
from .training import evaluate_perplexity, train_bilm

__all__ = [
    "Bilm",
    "ElmoClassifier",
    "ElmoRegressor",
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
    "train_bilm",
]
