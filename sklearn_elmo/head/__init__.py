"""The head layer: the small network on biLM features (spec, Keras layers, training,
inference). Imports the features and biLM layers only."""
