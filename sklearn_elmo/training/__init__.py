"""Train and adapt ELMo biLMs (TensorFlow 2): the original recipe on CPU.

:func:`train_bilm` writes a biLM that :func:`~sklearn_elmo.load_bilm` and
the estimators read; :func:`evaluate_perplexity` scores held-out text with
the full softmax kept in the training checkpoint. TensorFlow is imported only
when training or evaluation starts.
"""

from .api import evaluate_perplexity, train_bilm

__all__ = ["evaluate_perplexity", "train_bilm"]
