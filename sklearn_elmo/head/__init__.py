"""The head layer: the small network on biLM features.

``_spec`` (the architecture, default weights, input statistics) and ``_mix``
(the scalar mix and pooling) are numpy and re-exported here; the Keras
modules (``_keras`` layers, ``_train``, ``_pooled_training``, ``_inference``)
load only when a network is trained or predicts. Imports the features layer
only.
"""

from ._mix import encode, mix_coefficients
from ._spec import NetworkSpec, default_weights, input_statistics

__all__ = [
    "NetworkSpec",
    "default_weights",
    "encode",
    "input_statistics",
    "mix_coefficients",
]
