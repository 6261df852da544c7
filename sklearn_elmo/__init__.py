"""ELMo contextual embeddings behind the scikit-learn API."""

from ._cache import cache_info, clear_cache
from ._config import config_context, get_config, set_config
from ._hub_export import export_hub_module
from ._tagger import ElmoTagger
from ._token_features import stack_tokens, unstack_tokens
from ._token_vectorizer import ElmoTokenVectorizer
from ._version import __version__
from .bilm import Bilm, load_bilm
from .estimators import ElmoClassifier, ElmoRegressor, ElmoVectorizer
from .persistence import load, save
from .tokenize import default_tokenizer

__all__ = [
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
    "export_hub_module",
    "get_config",
    "load",
    "load_bilm",
    "save",
    "set_config",
    "stack_tokens",
    "unstack_tokens",
]
