"""Shared machinery of the ELMo estimators.

The estimators keep only plain fitted state (numpy arrays, dicts, str); the
biLM comes from :func:`~sklearn_elmo.bilm.load_bilm`'s per-process cache on
every use, and the Keras network is rebuilt from ``network_weights_`` the
first time an instance predicts.
"""

import copy
import os
import threading
import warnings
from numbers import Integral
from typing import ClassVar

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from .._validation import check_texts
from .._version import __version__
from ..bilm import load_bilm
from ..exceptions import InconsistentVersionWarning
from ..features import cached_embed_texts, stream_chunk_size
from ..head import NetworkSpec
from ._fingerprint import check_fitted_bilm
from ._params import _EMBEDDING_CONSTRAINTS, _TRAINING_CONSTRAINTS

# Building a Keras network is not meant to run in two threads at once.
_NETWORK_LOCK = threading.Lock()


class ElmoBase(BaseEstimator):
    """Base class: biLM access, feature extraction and network training.

    Not for direct use; subclasses define ``__init__`` with their parameters.
    """

    _parameter_constraints: ClassVar[dict] = {
        **_EMBEDDING_CONSTRAINTS,
        **_TRAINING_CONSTRAINTS,
    }

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.one_d_array = True
        tags.input_tags.two_d_array = False
        return tags

    # Dropped from pickles (and deep copies) and rebuilt on demand: Keras
    # objects and caches. A pickle holds parameters and plain fitted state.
    _transient_attributes = ("_network_cache",)

    def __getstate__(self):
        state = super().__getstate__()
        for name in self._transient_attributes:
            state.pop(name, None)
        state["_sklearn_elmo_version"] = __version__
        return state

    def __setstate__(self, state):
        state = dict(state)
        version = state.pop("_sklearn_elmo_version", "unknown")
        if version != __version__:
            warnings.warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    current_version=__version__,
                    original_version=version,
                ),
                stacklevel=2,
            )
        super().__setstate__(state)

    # -- biLM and features -------------------------------------------------

    # Parameters that define the features the fitted network reads. Changed
    # by set_params after fit, they would feed it features of another kind,
    # so the fitted estimator refuses to predict until it is refitted
    # (docs/errors.md). ``model`` and ``initial_state`` are covered by the
    # biLM fingerprint check. "mix" applies to ElmoVectorizer only.
    _feature_params = (
        "layers",
        "pooling",
        "layer_norm",
        "tokenizer",
        "max_tokens",
        "mix",
    )

    def _load_bilm(self):
        if not os.fspath(self.model).strip():
            raise ValueError(
                "model is an empty string; pass the folder (or options file) of an "
                "ELMo biLM, or a TF Hub handle."
            )
        return load_bilm(self.model, initial_state=self.initial_state)

    def _fitted_bilm(self):
        self._check_feature_params()
        return check_fitted_bilm(self)

    def _check_feature_params(self):
        """Refuse to predict when set_params changed a feature parameter since fit."""
        fitted = getattr(self, "_fit_feature_params", None)
        if fitted is None:  # pickled before this check existed
            return
        for name, value in fitted.items():
            current = getattr(self, name)
            if not _same_param(current, value):
                raise ValueError(
                    f"This {type(self).__name__} was fitted with {name}={value!r}, "
                    f"but {name} is now {current!r} (changed by set_params after "
                    f"fit). The fitted state was computed from features made with "
                    f"{name}={value!r}, so it cannot be applied to the new ones: call "
                    f"fit again, or set {name} back to its fitted value."
                )

    def _resolve_layers(self, n_layers):
        """Selected biLM layer indices, validated against the loaded biLM."""
        if isinstance(self.layers, str):
            if self.layers == "all":
                return np.arange(n_layers)
            return np.array([n_layers - 1])
        raw = np.atleast_1d(np.asarray(self.layers))
        if raw.ndim != 1 or raw.size == 0:
            raise ValueError(
                "layers must be 'all', 'top' or a non-empty list of layer indices; "
                f"got {self.layers!r}."
            )
        resolved = []
        for value in raw.tolist():
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"layers must hold int layer indices; got {value!r}.")
            if not -n_layers <= value < n_layers:
                raise ValueError(
                    f"layers: index {value} is out of range for a biLM with "
                    f"{n_layers} layers (0..{n_layers - 1})."
                )
            resolved.append(value % n_layers)
        if len(set(resolved)) != len(resolved):
            raise ValueError(f"layers must not repeat a layer; got {self.layers!r}.")
        return np.array(resolved)

    def _embed(self, texts, bilm, layers):
        """Features of the texts through the shared embedding cache."""
        features = cached_embed_texts(
            texts,
            bilm,
            tokenizer=self.tokenizer,
            max_tokens=self.max_tokens,
            batch_size=self.embed_batch_size,
            layers=layers,
            token_level=self.pooling != "mean",
            verbose=self.verbose,
            label=type(self).__name__,
            cache_dir=self.cache_dir,
        )
        return features.layer_normalized() if self.layer_norm else features

    def _prepare_bilm(self):
        """Load the biLM for fitting; return it and the selected layers.

        Also checks what the parameter constraints cannot, so that a bad
        value fails before the texts are embedded.
        """
        self._hidden_layer_sizes()
        bilm = self._load_bilm()
        return bilm, self._resolve_layers(bilm.n_layers)

    def _inference_features(self, X):
        check_is_fitted(self)
        texts = check_texts(X)
        return self._embed(texts, self._fitted_bilm(), self.layers_)

    def _map_features(self, X, compute):
        """``compute(features)`` over X in chunks, stacked: memory stays bounded.

        ``compute`` maps LayerFeatures of k texts to a ``(k, width)`` array.
        """
        check_is_fitted(self)
        texts = check_texts(X)
        bilm = self._fitted_bilm()
        chunk = stream_chunk_size(len(self.layers_), bilm.dim, self.pooling != "mean")
        out = None
        for start in range(0, max(len(texts), 1), chunk):
            features = self._embed(texts[start : start + chunk], bilm, self.layers_)
            part = compute(features)
            if out is None:
                out = np.empty((len(texts), *part.shape[1:]), part.dtype)
            out[start : start + len(part)] = part
        return out

    # -- training ------------------------------------------------------------

    def _hidden_layer_sizes(self):
        sizes = self.hidden_layer_sizes
        sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
        for size in sizes:
            if isinstance(size, bool) or not isinstance(size, Integral) or size < 1:
                raise ValueError(
                    "hidden_layer_sizes must hold positive ints; got "
                    f"{self.hidden_layer_sizes!r}."
                )
        return tuple(int(s) for s in sizes)

    def _train(
        self,
        features,
        targets,
        loss_weights,
        *,
        output,
        n_outputs,
        score,
        stratify=None,
    ):
        """Train a network on the features.

        Returns the network's spec, its weights, the history and the number
        of epochs run, for :meth:`_set_fitted`.
        """
        from ..head._train import train_network  # loads Keras

        spec = NetworkSpec(
            n_layers=features.n_layers,
            dim=features.dim,
            pooling=self.pooling,
            token_level=features.token_level,
            hidden_layer_sizes=self._hidden_layer_sizes(),
            n_outputs=n_outputs,
            output=output,
            dropout=float(self.dropout),
            mix_l2=float(self.mix_l2),
        )
        rng = check_random_state(self.random_state)
        split_seed, network_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))
        index = np.arange(len(features))
        val_index = None
        if self.early_stopping:
            try:
                train_index, val_index = train_test_split(
                    index,
                    test_size=self.validation_fraction,
                    random_state=split_seed,
                    stratify=stratify,
                )
            except ValueError as exc:
                raise ValueError(
                    f"early_stopping could not set aside a validation_fraction of "
                    f"{self.validation_fraction} from {len(index)} samples"
                    f"{' stratified by class' if stratify is not None else ''}: {exc}"
                ) from exc
        else:
            train_index = index
        scale = loss_weights[train_index].mean()
        if not scale > 0:
            raise ValueError(
                "The weights of the training samples (sample_weight times "
                "class_weight) are all zero."
            )

        weights, history, n_iter = train_network(
            spec,
            features,
            targets,
            (loss_weights / scale).astype(np.float32),
            train_index=train_index,
            val_index=val_index,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            n_iter_no_change=self.n_iter_no_change,
            seed=network_seed,
            score=score,
            verbose=self.verbose,
            label=type(self).__name__,
        )
        return spec, weights, history, n_iter

    def _set_fitted(self, bilm, layers, spec, weights, history, n_iter, **extra):
        """Store the fitted state in one step, so a failed fit changes nothing.

        ``extra`` holds a subclass's own fitted attributes. Everything is
        computed first; a fit interrupted before this call (an exception or
        KeyboardInterrupt) leaves a previous fit's state intact.
        """
        params = self.get_params(deep=False)
        state = {
            "bilm_fingerprint_": bilm.fingerprint,
            "bilm_initial_state_": bilm.initial_state,
            "layers_": layers,
            "history_": history,
            "n_iter_": n_iter,
            "_network_spec": spec.as_dict(),
            "network_weights_": weights,
            "mix_weights_": softmax(weights["scalar_mix/w"].astype(np.float64)),
            "gamma_": float(weights["scalar_mix/gamma"]),
            "_fit_feature_params": {
                name: copy.copy(params[name])
                if isinstance(params[name], (list, dict, np.ndarray))
                else params[name]
                for name in self._feature_params
                if name in params
            },
            "_network_cache": None,
            **extra,
        }
        vars(self).update(state)

    def _network(self):
        """The fitted Keras network, rebuilt once per instance from plain weights."""
        check_is_fitted(self)
        network = getattr(self, "_network_cache", None)
        if network is None:
            from ..head._inference import Network  # loads Keras

            with _NETWORK_LOCK:  # two threads may predict with a fresh estimator
                network = getattr(self, "_network_cache", None)
                if network is None:
                    network = Network(
                        NetworkSpec(**self._network_spec), self.network_weights_
                    )
                    self._network_cache = network
        return network


def _same_param(a, b):
    """Whether two values of a parameter are the same (arrays and lists by value)."""
    if a is b:
        return True
    try:
        if isinstance(a, (list, tuple, np.ndarray)) or isinstance(
            b, (list, tuple, np.ndarray)
        ):
            return bool(np.array_equal(np.asarray(a), np.asarray(b)))
        return bool(a == b)
    except (TypeError, ValueError):  # incomparable values are different
        return False
