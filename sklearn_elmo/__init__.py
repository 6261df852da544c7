"""ELMo contextual embeddings behind the scikit-learn API."""

from ._version import __version__
from .bilm import Bilm, load_bilm

__all__ = ["Bilm", "__version__", "load_bilm"]
