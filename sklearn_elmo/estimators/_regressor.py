"""ElmoRegressor: text regression on a trained scalar mix of the biLM layers."""

import numpy as np
from sklearn.base import RegressorMixin, _fit_context
from sklearn.metrics import r2_score

from .._validation import (
    check_regression_target,
    check_texts,
)
from ..bilm import DEFAULT_HANDLE
from ._base import ElmoBase
from ._targets import sample_weights


def _regression_r2(targets, outputs):
    return r2_score(targets, outputs) if len(targets) > 1 else float("nan")


def _prepare_regression(texts, y, sample_weight):
    """Standardise y per output; return it with its mean, scale and loss weights."""
    y = check_regression_target(y, len(texts))
    Y = y.reshape(len(y), -1)
    mean = Y.mean(axis=0)
    scale = Y.std(axis=0)
    scale[scale == 0] = 1.0
    targets = ((Y - mean) / scale).astype(np.float32)
    loss_weights = np.repeat(
        sample_weights(sample_weight, texts)[:, None], Y.shape[1], axis=1
    )
    train_args = {"output": "linear", "n_outputs": Y.shape[1], "score": _regression_r2}
    return y, targets, mean, scale, loss_weights, train_args


class ElmoRegressor(RegressorMixin, ElmoBase):
    """Text regressor on ELMo: a trained scalar mix of the biLM layers, pooled.

    Same network as :class:`ElmoClassifier` with a linear output, trained on
    the mean squared error of the standardised targets (each output centred
    and scaled to unit variance; predictions are mapped back).

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
        Widths of relu hidden layers; empty for a linear head.
    dropout : float in [0, 1), default=0.5
        Dropout rate on the pooled vector during training.
    mix_l2 : float >= 0, default=1e-3
        L2 penalty on the scalar-mix weights.
    learning_rate : float > 0, default=1e-3
        Adam's learning rate.
    epochs : int, default=50
        Passes over the training set (the most, with ``early_stopping``).
    batch_size : int, default=32
        Texts per gradient step.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training set, stop when its
        loss has not improved for ``n_iter_no_change`` epochs, and keep the
        best epoch's weights.
    validation_fraction : float in (0, 1), default=0.1
        Share of the training set held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without validation improvement before stopping.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the initial weights, dropout and
        shuffling. An int makes fitting exactly reproducible on CPU.
    verbose : int, default=0
        Print embedding progress and one line per epoch when > 0.

    Attributes
    ----------
    mix_weights_ : ndarray of shape (n_selected_layers,)
        Softmax-normalised scalar-mix weights, in the order of ``layers_``.
    gamma_ : float
        Learned scale of the mix.
    layers_ : ndarray of int
        biLM layers that are mixed.
    y_mean_, y_scale_ : ndarray of shape (n_outputs,)
        Standardisation of the targets.
    network_weights_ : dict of str -> ndarray
        All trained weights of the network, by Keras variable path, plus the
        input standardisation ("input/center", "input/scale").
    history_ : dict of str -> list of float
        Per epoch: "loss" (standardised MSE plus mix penalty) and "score"
        (R²), and "val_loss", "val_score" with ``early_stopping``.
    n_iter_ : int
        Epochs run.
    bilm_initial_state_ : {"warm", "zeros", "carry"}
        The initial state the biLM ran with during ``fit`` (``initial_state``
        resolved).
    bilm_fingerprint_ : str
        Fingerprint of the biLM used in ``fit``.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elmo import ElmoRegressor
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> model = make_random_bilm(tempfile.mkdtemp())
    >>> X = ["one star", "two stars", "four stars", "five stars"]
    >>> reg = ElmoRegressor(model, epochs=5, random_state=0)
    >>> reg.fit(X, [1.0, 2.0, 4.0, 5.0]).predict(["three stars"]).shape
    (1,)
    """

    def __init__(
        self,
        model=DEFAULT_HANDLE,
        *,
        initial_state="auto",
        layers="all",
        pooling="mean",
        layer_norm=False,
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
        random_state=None,
        verbose=0,
    ):
        self.model = model
        self.initial_state = initial_state
        self.layers = layers
        self.pooling = pooling
        self.layer_norm = layer_norm
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
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Embed the texts and train the scalar mix and the regression head.

        Parameters
        ----------
        X : list, tuple, ndarray or pandas Series of str
            Training texts (a 2-D single column is accepted too).
        y : array-like of shape (n_samples,) or (n_samples, n_outputs)
            Finite real targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the loss.

        Returns
        -------
        self : ElmoRegressor
        """
        texts = check_texts(X)
        y, targets, mean, scale, loss_weights, train_args = _prepare_regression(
            texts, y, sample_weight
        )
        bilm, layers = self._prepare_bilm()
        features = self._embed(texts, bilm, layers)
        fitted = self._train(features, targets, loss_weights, **train_args)
        self._set_fitted(
            bilm, layers, *fitted, y_mean_=mean, y_scale_=scale, _y_ndim=y.ndim
        )
        return self

    def predict(self, X):
        """Predict targets.

        Returns
        -------
        y_pred : ndarray of shape (n_samples,) or (n_samples, n_outputs)
            1-D when ``fit`` got a 1-D y.
        """
        outputs = self._map_features(X, self._network().logits).astype(np.float64)
        outputs = outputs * self.y_scale_ + self.y_mean_
        return outputs[:, 0] if self._y_ndim == 1 else outputs
