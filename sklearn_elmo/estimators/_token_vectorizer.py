"""ElmoTokenVectorizer: ELMo vectors per token, for sentences or texts."""

from typing import ClassVar

import numpy as np
from sklearn.base import TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ..bilm import DEFAULT_HANDLE
from ._params import _CLASS_WEIGHT_CONSTRAINT
from ._tagger import (
    _TOKEN_EMBEDDING_CONSTRAINTS,
    _TOKEN_TRAINING_CONSTRAINTS,
    TokenEstimator,
)

__all__ = ["ElmoTokenVectorizer"]


class _MixSpec:
    """The spec ``_set_fitted`` stores for a vectorizer: the layers and the width."""

    def __init__(self, n_layers, dim, mix):
        self.n_layers, self.dim, self.mix = n_layers, dim, mix

    def as_dict(self):
        return {"n_layers": self.n_layers, "dim": self.dim, "mix": self.mix}


class ElmoTokenVectorizer(TransformerMixin, TokenEstimator):
    """ELMo vectors of every token, one float32 array per sentence.

    ``transform`` takes sentences (lists of str tokens) or texts (str, split
    by ``tokenizer``; :meth:`tokenize` shows the tokens) and returns, per
    sentence, an ``(n_tokens, width)`` float32 array: the scalar mix
    ``gamma * sum_j s_j * layer_j`` of each token's biLM layers (width: the
    biLM's), or with ``mix="concat"`` the selected layers side by side
    (width ``n_layers * dim``, layer after layer; ``a.reshape(n_tokens,
    n_layers, dim)`` gives AllenNLP's layout per token).

    ``fit(X)`` trains nothing: the mix is the plain average of the selected
    layers (or the top one). ``fit(X, y)`` with one label list per sentence
    learns task-specific layer weights from the token labels, as in the ELMo
    paper: it trains the scalar mix with a temporary per-token softmax
    (:class:`ElmoTagger` with ``hidden="none"``) and keeps only the mix.

    For a scikit-learn classifier over tokens, stack the sentences' arrays
    into one ``(total_tokens, width)`` matrix with
    :func:`~sklearn_elmo.stack_tokens` and split its predictions back with
    :func:`~sklearn_elmo.unstack_tokens`.

    Parameters
    ----------
    model : str or path-like, default="https://tfhub.dev/google/elmo/3"
        The biLM, as accepted by :func:`sklearn_elmo.load_bilm`.
    initial_state : {"warm", "zeros", "carry"}, default="warm"
        LSTM state every sentence starts from; see :func:`~sklearn_elmo.load_bilm`.
    layers : "all", "top", int or list of int, default="all"
        biLM layers to use (layer 0 is the token embedding).
    layer_norm : bool, default=False
        Normalise each layer of each sentence over its tokens first.
    mix : {"auto", "learned", "average", "top", "concat"}, default="auto"
        "learned": train the mix on y (y is required); "average": equal
        weights; "top": the topmost selected layer only; "concat": no mix,
        every selected layer concatenated; "auto": "learned" when ``fit``
        gets a y, else "average". y is ignored except by "learned" and "auto".
    tokenizer : callable or None, default=None
        str -> list of str for texts; None uses
        :func:`~sklearn_elmo.tokenize.default_tokenizer`. Sentences given as
        token lists are used as they are.
    max_tokens : int or None, default=256
        Longer sentences are embedded in near-equal windows of at most this
        many tokens; every token keeps its own vector.
    embed_batch_size : int, default=256
        Most sentences (windows) per biLM batch.
    cache_dir : str, path-like or None, default=None
        Folder of a persistent embedding cache; see :class:`ElmoTagger`.
    dropout, mix_l2, learning_rate, epochs, batch_size, early_stopping, \
validation_fraction, n_iter_no_change, class_weight, random_state
        Training of the learned mix, as in :class:`ElmoTagger`.
    verbose : int, default=0
        Print embedding progress (and epochs when learning the mix) when > 0.

    Attributes
    ----------
    mix_weights_ : ndarray of shape (n_mixed_layers,)
        Softmax-normalised scalar-mix weights, in the order of ``layers_``
        (equal for "average" and "concat").
    gamma_ : float
        Scale of the mix (1 unless learned).
    layers_ : ndarray of int
        biLM layers used.
    n_features_out_ : int
        Width of each token's vector.
    history_ : dict of str -> list of float
        Training record of the learned mix (empty if not trained).
    n_iter_ : int
        Epochs run (0 if not trained).
    network_weights_ : dict of str -> ndarray
        The scalar-mix weights, by Keras variable path.
    bilm_fingerprint_ : str
        Fingerprint of the biLM used in ``fit``.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elmo import ElmoTokenVectorizer, stack_tokens
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> model = make_random_bilm(tempfile.mkdtemp())
    >>> vec = ElmoTokenVectorizer(model).fit([["Hello", "world"]])
    >>> [a.shape for a in vec.transform([["Hello", "world", "!"], "Bye now."])]
    [(3, 32), (3, 32)]
    >>> vec.tokenize(["Bye now."])
    [['Bye', 'now', '.']]
    >>> X, offsets = stack_tokens(vec.transform([["Hello", "world"], ["Bye"]]))
    >>> X.shape, offsets.tolist()
    ((3, 32), [0, 2, 3])
    >>> ElmoTokenVectorizer(model, mix="concat").fit_transform([["Hi"]])[0].shape
    (1, 96)
    """

    _allow_texts = True
    _parameter_constraints: ClassVar[dict] = {
        **_TOKEN_EMBEDDING_CONSTRAINTS,
        **_TOKEN_TRAINING_CONSTRAINTS,
        **_CLASS_WEIGHT_CONSTRAINT,
        "mix": [StrOptions({"auto", "learned", "average", "top", "concat"})],
    }

    def __init__(
        self,
        model=DEFAULT_HANDLE,
        *,
        initial_state="warm",
        layers="all",
        layer_norm=False,
        mix="auto",
        tokenizer=None,
        max_tokens=256,
        embed_batch_size=256,
        cache_dir=None,
        dropout=0.5,
        mix_l2=1e-3,
        learning_rate=1e-3,
        epochs=50,
        batch_size=32,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=5,
        class_weight=None,
        random_state=None,
        verbose=0,
    ):
        self.model = model
        self.initial_state = initial_state
        self.layers = layers
        self.layer_norm = layer_norm
        self.mix = mix
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.embed_batch_size = embed_batch_size
        self.cache_dir = cache_dir
        self.dropout = dropout
        self.mix_l2 = mix_l2
        self.learning_rate = learning_rate
        self.epochs = epochs
        self.batch_size = batch_size
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.class_weight = class_weight
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, sentences, y, sample_weight):
        if self.mix == "learned" and y is None:
            raise ValueError(
                "mix='learned' trains the layer weights on token labels; fit needs y."
            )
        supervised = self.mix == "learned" or (self.mix == "auto" and y is not None)
        bilm, layers = self._prepare_bilm()
        if self.mix == "top":
            layers = layers[-1:]
        spec = _MixSpec(len(layers), bilm.dim, self.mix)
        weights = {
            "scalar_mix/w": np.zeros(len(layers), np.float32),
            "scalar_mix/gamma": np.ones((), np.float32),
        }
        history, n_iter = {}, 0
        if supervised:
            _, trained, history, n_iter, _ = self._train_tagger(
                sentences, y, sample_weight, bilm, layers, "none", 0
            )
            weights = {k: v for k, v in trained.items() if k.startswith("scalar_mix/")}
        width = bilm.dim * (len(layers) if self.mix == "concat" else 1)
        self._set_fitted(
            bilm, layers, spec, weights, history, n_iter, n_features_out_=width
        )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Set up the mix: plain average without y, learned from token labels with it.

        Parameters
        ----------
        X : list of (list of str or str)
            Sentences as token lists, or texts to tokenize.
        y : list of list of labels, default=None
            One label per token of each sentence (of the tokens
            :meth:`tokenize` gives for a text), to learn the layer weights.
        sample_weight : array-like of shape (n_sentences,), default=None
            Weight of each sentence when learning the mix.

        Returns
        -------
        self : ElmoTokenVectorizer
        """
        self._fit(self._sentences(X), y, sample_weight)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then transform X (embedded once: the cache holds its sentences).

        Returns
        -------
        X_new : list of ndarray
            Per sentence, ``(n_tokens, n_features_out_)`` float32.
        """
        sentences = self._sentences(X)
        self._fit(sentences, y, sample_weight)
        return self._transform(sentences)

    def transform(self, X):
        """ELMo vectors of every token.

        Parameters
        ----------
        X : list of (list of str or str)
            Sentences as token lists, or texts to tokenize.

        Returns
        -------
        X_new : list of ndarray
            Per sentence, ``(n_tokens, n_features_out_)`` float32 (zero rows
            for an empty sentence).
        """
        check_is_fitted(self)
        return self._transform(self._sentences(X))

    def _transform(self, sentences):
        weights = self.network_weights_
        mix = (float(weights["scalar_mix/gamma"]) * self.mix_weights_).astype(
            np.float32
        )
        out = []
        for _, features in self._iter_features(sentences):
            tokens = features.tokens
            if self._network_spec["mix"] == "concat":
                vectors = tokens.reshape(len(tokens), -1).astype(np.float32)
            else:  # a weighted sum over the layer axis, in float32
                vectors = np.einsum("tld,l->td", tokens.astype(np.float32), mix)
            out.extend(np.split(vectors, features.offsets[1:-1]))
        return out

    def tokenize(self, X):
        """The tokens each sentence is embedded as: texts split, token lists kept.

        Parameters
        ----------
        X : list of (list of str or str)

        Returns
        -------
        tokens : list of list of str
        """
        return [list(s) for s in self._sentences(X)]

    def get_feature_names_out(self, input_features=None):
        """Names of a token vector's columns: ``elmo_0``, ... or ``elmo_l2_0``, ...

        With ``mix="concat"`` each name carries its biLM layer.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        dim = self._network_spec["dim"]
        if self._network_spec["mix"] == "concat":
            names = [f"elmo_l{layer}_{i}" for layer in self.layers_ for i in range(dim)]
        else:
            names = [f"elmo_{i}" for i in range(dim)]
        return np.asarray(names, dtype=object)
