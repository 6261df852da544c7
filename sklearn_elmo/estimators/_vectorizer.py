"""ElmoVectorizer: texts -> pooled ELMo vectors (an average, top or learned mix)."""

import numpy as np
from sklearn.base import TransformerMixin, _fit_context
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    check_texts,
)
from ..bilm import DEFAULT_HANDLE
from ..head import NetworkSpec, default_weights, encode
from ._base import ElmoBase
from ._classifier import _prepare_classification
from ._params import _CLASS_WEIGHT_CONSTRAINT
from ._regressor import _prepare_regression


class ElmoVectorizer(TransformerMixin, ElmoBase):
    """ELMo sentence vectors for any scikit-learn estimator.

    ``transform`` returns, per text, the pooled scalar mix of the biLM layers
    ``gamma * sum_j s_j * layer_j`` (float32, ``n_features`` = the biLM width,
    twice that for ``pooling="mean_max"``).

    ``fit(X)`` trains nothing: the mix is the plain average of the selected
    layers (or the top one, ``mix="top"``). ``fit(X, y)`` learns
    task-specific layer weights as in the ELMo paper: it trains the scalar
    mix with a temporary head suited to y (a classifier for class labels or
    a multilabel indicator, a regressor for real-valued targets, as
    :class:`ElmoClassifier` and :class:`ElmoRegressor` would) and keeps only
    the mix. So ``Pipeline([("elmo", ElmoVectorizer(...)), ("clf",
    LogisticRegression())]).fit(X, y)`` tunes the layer weights for the task.

    Parameters
    ----------
    model : str or path-like, default="https://tfhub.dev/google/elmo/3"
        The biLM, as accepted by :func:`sklearn_elmo.load_bilm` (see
        :class:`ElmoVectorizer`). Loaded lazily, once per process, and shared
        by all estimators using it.
    initial_state : {"auto", "warm", "zeros", "carry"}, default="auto"
        LSTM state every sentence starts from; see :func:`~sklearn_elmo.load_bilm`.
        "auto" is "warm" for weight files and "zeros" (their only state) for
        TF Hub modules, so the defaults work with every source; the resolved
        state is recorded in ``bilm_initial_state_`` and in the fingerprint.
    layers : "all", "top", int or list of int, default="all"
        biLM layers to mix (layer 0 is the token embedding).
    pooling : {"mean", "max", "mean_max"}, default="mean"
        Pooling of the mixed token vectors over real tokens.
    layer_norm : bool, default=False
        Normalise each layer of each text over its tokens before mixing.
    mix : {"auto", "learned", "average", "top"}, default="auto"
        "learned": train the mix on y (y is required); "average": equal
        weights, y is ignored; "top": only the topmost selected layer, y is
        ignored; "auto": "learned" when ``fit`` gets a y, else "average".
    tokenizer : callable or None, default=None
        str -> list of str; None uses :func:`~sklearn_elmo.tokenize.default_tokenizer`.
    max_tokens : int or None, default=256
        Longer texts are embedded in windows of at most this many tokens and
        pooled together; nothing is truncated.
    embed_batch_size : int, default=256
        Most windows per biLM batch.
    cache_dir : str, path-like or None, default=None
        Folder of a persistent embedding cache shared by processes; None
        uses ``SKLEARN_ELMO_CACHE_DIR``, else none. See :class:`ElmoClassifier`.
    hidden_layer_sizes : int or tuple of int, default=()
        Hidden layers of the temporary head that trains the mix.
    dropout : float in [0, 1), default=0.5
        Dropout on the pooled vector while the mix is trained.
    mix_l2 : float >= 0, default=1e-3
        L2 penalty on the scalar-mix weights.
    learning_rate : float > 0, default=1e-3
        Adam's learning rate.
    epochs : int, default=50
        Passes over the training set (the most, with ``early_stopping``).
    batch_size : int, default=32
        Texts per gradient step.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training set (stratified for
        class labels), stop after ``n_iter_no_change`` epochs without a lower
        validation loss and keep the best epoch's mix.
    validation_fraction : float in (0, 1), default=0.1
        Share of the training set held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without validation improvement before stopping.
    class_weight : dict, "balanced" or None, default=None
        Class weights in the loss, as in :class:`ElmoClassifier`; only for
        classification targets.
    random_state : int, RandomState instance or None, default=None
        Seeds the training of the mix; an int makes it exactly reproducible
        on CPU.
    verbose : int, default=0
        Print embedding progress and one line per epoch when > 0.

    Attributes
    ----------
    mix_weights_ : ndarray of shape (n_mixed_layers,)
        Softmax-normalised scalar-mix weights, in the order of ``layers_``.
    gamma_ : float
        Scale of the mix (1 unless learned).
    layers_ : ndarray of int
        biLM layers that are mixed.
    target_type_ : {"classification", "regression"} or None
        Kind of head the mix was trained with; None when not trained.
    history_ : dict of str -> list of float
        Per-epoch training record of the learned mix (empty if not trained).
    n_iter_ : int
        Epochs run (0 if not trained).
    network_weights_ : dict of str -> ndarray
        The scalar-mix weights, by Keras variable path.
    bilm_initial_state_ : {"warm", "zeros", "carry"}
        The initial state the biLM ran with during ``fit`` (``initial_state``
        resolved).
    bilm_fingerprint_ : str
        Fingerprint of the biLM used in ``fit``.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn_elmo import ElmoVectorizer
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> model = make_random_bilm(tempfile.mkdtemp())
    >>> ElmoVectorizer(model).fit_transform(["Hello world .", "Bye !"]).shape
    (2, 32)
    >>> X, y = ["a good film", "great fun", "a bad film", "awful"], [1, 1, 0, 0]
    >>> pipe = make_pipeline(ElmoVectorizer(model, epochs=5, random_state=0),
    ...                      LogisticRegression()).fit(X, y)
    >>> pipe.predict(["good fun"]).shape
    (1,)
    """

    _parameter_constraints = {
        **ElmoBase._parameter_constraints,
        **_CLASS_WEIGHT_CONSTRAINT,
        "mix": [StrOptions({"auto", "learned", "average", "top"})],
    }

    def __init__(
        self,
        model=DEFAULT_HANDLE,
        *,
        initial_state="auto",
        layers="all",
        pooling="mean",
        layer_norm=False,
        mix="auto",
        tokenizer=None,
        max_tokens=256,
        embed_batch_size=256,
        cache_dir=None,
        hidden_layer_sizes=(),
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
        self.pooling = pooling
        self.layer_norm = layer_norm
        self.mix = mix
        self.tokenizer = tokenizer
        self.max_tokens = max_tokens
        self.embed_batch_size = embed_batch_size
        self.cache_dir = cache_dir
        self.hidden_layer_sizes = hidden_layer_sizes
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

    def _fit(self, X, y, sample_weight):
        """Fit; return the training texts' features if they were embedded."""
        texts = check_texts(X)
        if self.mix == "learned" and y is None:
            raise ValueError(
                "mix='learned' trains the layer weights on y; fit needs y."
            )
        supervised = self.mix == "learned" or (self.mix == "auto" and y is not None)
        target_type = None
        if supervised:
            kind = type_of_target(y, input_name="y")
            if kind in ("binary", "multiclass", "multilabel-indicator"):
                _, _, targets, loss_weights, train_args = _prepare_classification(
                    self, texts, y, sample_weight
                )
                target_type = "classification"
            elif kind in ("continuous", "continuous-multioutput"):
                if self.class_weight is not None:
                    raise ValueError(
                        "class_weight only applies to classification targets; "
                        "y is continuous."
                    )
                _, targets, _, _, loss_weights, train_args = _prepare_regression(
                    texts, y, sample_weight
                )
                target_type = "regression"
            else:
                raise ValueError(
                    "To learn the mix, y must be class labels, a multilabel indicator "
                    f"matrix or real-valued; y is {kind!r}."
                )

        bilm, layers = self._prepare_bilm()
        if self.mix == "top":
            layers = layers[-1:]
        encoder_spec = NetworkSpec(
            n_layers=len(layers),
            dim=bilm.dim,
            pooling=self.pooling,
            token_level=self.pooling != "mean",
        )
        if not supervised:
            fitted = (encoder_spec, default_weights(encoder_spec), {}, 0)
            features = None
        else:
            features = self._embed(texts, bilm, layers)
            _, weights, history, n_iter = self._train(
                features, targets, loss_weights, **train_args
            )
            mix_only = {k: v for k, v in weights.items() if k.startswith("scalar_mix/")}
            fitted = (encoder_spec, mix_only, history, n_iter)
        self._set_fitted(bilm, layers, *fitted, target_type_=target_type)
        return features

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Set up the mix: plain average without y, learned from y with it.

        Parameters
        ----------
        X : list, tuple, ndarray or pandas Series of str
            Training texts (a 2-D single column is accepted too).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs), default=None
            Class labels, a multilabel indicator matrix or real-valued targets
            to learn the layer weights from (see ``mix``).
        sample_weight : array-like of shape (n_samples,), default=None
            Weights of the samples when learning the mix.

        Returns
        -------
        self : ElmoVectorizer
        """
        self._fit(X, y, sample_weight)
        return self

    @_fit_context(prefer_skip_nested_validation=True)
    def fit_transform(self, X, y=None, sample_weight=None):
        """Fit, then transform X, embedding it only once.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), float32
        """
        X = check_texts(X)  # an iterator is read once, for both steps
        features = self._fit(X, y, sample_weight)
        if features is None:
            return self._map_features(X, self._encode)
        return self._encode(features)

    def transform(self, X):
        """ELMo vectors of the texts.

        Parameters
        ----------
        X : list, tuple, ndarray or pandas Series of str

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), float32
        """
        return self._map_features(X, self._encode)

    def _encode(self, features):
        """The fitted scalar mix, pooled (numpy: a vectorizer never loads Keras)."""
        return encode(
            NetworkSpec(**self._network_spec), self.network_weights_, features
        )

    def get_feature_names_out(self, input_features=None):
        """Names of the output features: ``elmo_mean_0``, ..., ``elmo_max_0``, ...

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self)
        dim = self._network_spec["dim"]
        pooling = self._network_spec["pooling"]
        kinds = ["mean", "max"] if pooling == "mean_max" else [pooling]
        return np.asarray(
            [f"elmo_{kind}_{i}" for kind in kinds for i in range(dim)], dtype=object
        )
