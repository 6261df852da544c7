"""ELMo contextual embeddings behind the scikit-learn API."""

from ._version import __version__
from .bilm import Bilm, load_bilm
from ._hub_export import export_hub_module

__all__ = ["Bilm", "__version__", "export_hub_module", "load_bilm"]
