"""The features layer: tokenized texts through the biLM, windows, pooling statistics
and the embedding cache. Imports the biLM layer only."""
