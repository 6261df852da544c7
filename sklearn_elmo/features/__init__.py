"""The features layer: tokenized texts through the biLM, windows, pooling statistics
and the embedding cache. Imports the biLM layer only."""

from ._cached import cached_embed_texts, clear_cache, stream_chunk_size
from ._embedding import LayerFeatures, embed_texts, split_windows, tokenize_texts
from ._memory import cache_info
from ._tokens import stack_tokens, unstack_tokens

__all__ = [
    "LayerFeatures",
    "cache_info",
    "cached_embed_texts",
    "clear_cache",
    "embed_texts",
    "split_windows",
    "stack_tokens",
    "stream_chunk_size",
    "tokenize_texts",
    "unstack_tokens",
]
