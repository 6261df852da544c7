"""ElmoVectorizer, ElmoClassifier and ElmoRegressor: ELMo behind the scikit-learn API.

Each estimator embeds its training texts once with the frozen biLM, then
trains the scalar mix of the biLM layers together with a small head on the
pooled result. See :mod:`sklearn_elmo._network` for the network.
"""

from functools import partial
from typing import ClassVar

import numpy as np
from scipy.special import expit, log_expit, log_softmax
from scipy.special import softmax as softmax_rows
from sklearn.base import ClassifierMixin, RegressorMixin, TransformerMixin, _fit_context
from sklearn.metrics import r2_score
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import type_of_target
from sklearn.utils.validation import check_is_fitted

from .._validation import (
    check_classification_target,
    check_regression_target,
    check_texts,
)
from ..bilm import DEFAULT_HANDLE
from ._base import (
    _CLASS_WEIGHT_CONSTRAINT,
    ElmoBase,
    class_loss_weights,
    sample_weights,
)

__all__ = ["ElmoClassifier", "ElmoRegressor", "ElmoVectorizer"]


def _classification_accuracy(task, targets, logits):
    if task == "multiclass":
        return np.mean(np.argmax(logits, axis=1) == targets)
    return np.mean(np.all((logits > 0) == (targets > 0.5), axis=1))


def _regression_r2(targets, outputs):
    return r2_score(targets, outputs) if len(targets) > 1 else float("nan")


def _prepare_classification(estimator, texts, y, sample_weight):
    """Encode y and build the loss weights; return the training arguments."""
    task, classes, encoded = check_classification_target(
        y, len(texts), type(estimator).__name__
    )
    loss_weights = class_loss_weights(estimator.class_weight, task, classes, encoded)
    loss_weights = loss_weights * sample_weights(sample_weight, texts)[:, None]
    train_args = {
        "output": "softmax" if task == "multiclass" else "sigmoid",
        "n_outputs": 1 if task == "binary" else len(classes),
        "score": partial(_classification_accuracy, task),
        "stratify": None if task == "multilabel" else encoded.ravel(),
    }
    return task, classes, encoded, loss_weights, train_args


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


class ElmoClassifier(ClassifierMixin, ElmoBase):
    """Text classifier on ELMo: a trained scalar mix of the biLM layers, pooled.

    The frozen biLM embeds the training texts once; a network then learns the
    softmax-normalised layer weights ``mix_weights_`` and scale ``gamma_`` of
    the scalar mix together with the classification head:
    scalar mix -> pooling over real tokens -> dropout -> relu hidden layers
    -> output (sigmoid for binary and multilabel targets, softmax for
    multiclass), trained with Adam on the cross-entropy. The head reads the
    layers centred and scaled with training-set statistics, which only shifts
    and rescales the pooled mix (the layer weights keep their meaning) but
    makes training far better conditioned.

    Parameters
    ----------
    model : str or path-like, default="https://tfhub.dev/google/elmo/3"
        The biLM, as accepted by :func:`sklearn_elmo.load_bilm`: a TF Hub
        handle (the default; resolved through ``TFHUB_CACHE_DIR``, so a
        pre-downloaded module works offline), a TF Hub module folder, a
        directory with ``options.json`` and a weights ``.hdf5`` file, or an
        NLPL ``.zip`` archive. Loaded lazily, once per process, and shared by
        all estimators (and clones) using it.
    initial_state : {"auto", "warm", "zeros", "carry"}, default="auto"
        LSTM state every sentence starts from; see :func:`~sklearn_elmo.load_bilm`.
        "auto" is "warm" for weight files and "zeros" (their only state) for
        TF Hub modules, so the defaults work with every source; the resolved
        state is recorded in ``bilm_initial_state_`` and in the fingerprint.
    layers : "all", "top", int or list of int, default="all"
        biLM layers to mix: all of them (layer 0 is the token embedding), only
        the top LSTM layer, or the given indices (negative ones count from
        the top).
    pooling : {"mean", "max", "mean_max"}, default="mean"
        How the mixed token vectors of a text are pooled, over real tokens
        only. "mean_max" concatenates both (twice the width).
    layer_norm : bool, default=False
        Normalise each layer of each text to zero mean and unit variance over
        its tokens and dimensions before mixing (no learned scale or shift).
    tokenizer : callable or None, default=None
        str -> list of str. None uses
        :func:`~sklearn_elmo.tokenize.default_tokenizer`, which splits
        punctuation and clitics from words as ELMo's training data was, and
        keeps case.
    max_tokens : int or None, default=256
        Texts with more tokens are split into near-equal windows of at most
        this many tokens, embedded separately and pooled together (weighted by
        tokens). Nothing is truncated. None embeds every text whole.
    embed_batch_size : int, default=256
        Most windows per biLM batch.
    cache_dir : str, path-like or None, default=None
        Folder of a persistent embedding cache shared by processes (the
        workers of ``GridSearchCV(n_jobs=...)``, later runs). None uses the
        environment variable ``SKLEARN_ELMO_CACHE_DIR``, else no persistent
        cache. Embeddings are always cached in memory, shared by all
        estimators and clones in the process (see
        :func:`sklearn_elmo.set_config` and docs/caching.md).
    hidden_layer_sizes : int or tuple of int, default=()
        Widths of relu hidden layers between the pooled vector and the
        output; empty for a linear head.
    dropout : float in [0, 1), default=0.5
        Dropout rate applied to the pooled vector during training.
    mix_l2 : float >= 0, default=1e-3
        L2 penalty ``mix_l2 * sum(w ** 2)`` on the scalar-mix weights ``w``.
    learning_rate : float > 0, default=1e-3
        Adam's learning rate.
    epochs : int, default=50
        Passes over the training set (the most, with ``early_stopping``).
    batch_size : int, default=32
        Texts per gradient step.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the training set (stratified by
        class), stop when its loss has not improved for ``n_iter_no_change``
        epochs, and keep the weights of the best epoch.
    validation_fraction : float in (0, 1), default=0.1
        Share of the training set held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without validation improvement before stopping.
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn's linear
        models. For a multilabel target, a dict maps a label's column to a
        factor on that label's loss and "balanced" weighs each label's
        positives and negatives by ``n / (2 * count)``.
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the initial weights, dropout and
        shuffling. An int makes fitting exactly reproducible on CPU.
    verbose : int, default=0
        Print embedding progress and one line per epoch when > 0.

    Attributes
    ----------
    classes_ : ndarray
        Class labels (for a multilabel target, the column indices).
    mix_weights_ : ndarray of shape (n_selected_layers,)
        Softmax-normalised scalar-mix weights, in the order of ``layers_``.
    gamma_ : float
        Learned scale of the mix.
    layers_ : ndarray of int
        biLM layers that are mixed.
    network_weights_ : dict of str -> ndarray
        All trained weights of the network, by Keras variable path, plus the
        input standardisation ("input/center", "input/scale").
    history_ : dict of str -> list of float
        Per epoch: "loss" and "score" (accuracy) on the training set, and
        "val_loss", "val_score" on the validation set with ``early_stopping``.
        Losses include the mix penalty.
    n_iter_ : int
        Epochs run.
    bilm_initial_state_ : {"warm", "zeros", "carry"}
        The initial state the biLM ran with during ``fit`` (``initial_state``
        resolved).
    bilm_fingerprint_ : str
        Fingerprint of the biLM used in ``fit``; prediction checks it.

    See Also
    --------
    ElmoVectorizer : ELMo features for any scikit-learn estimator.
    ElmoRegressor : The same network for continuous targets.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elmo import ElmoClassifier
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> model = make_random_bilm(tempfile.mkdtemp())
    >>> X = ["a good film", "great fun", "a bad film", "awful and dull"]
    >>> y = ["pos", "pos", "neg", "neg"]
    >>> clf = ElmoClassifier(model, epochs=5, random_state=0).fit(X, y)
    >>> clf.predict(["good fun"]).shape
    (1,)
    >>> clf.mix_weights_.shape
    (3,)
    """

    _parameter_constraints: ClassVar[dict] = {
        **ElmoBase._parameter_constraints,
        **_CLASS_WEIGHT_CONSTRAINT,
    }

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
        class_weight=None,
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
        self.class_weight = class_weight
        self.random_state = random_state
        self.verbose = verbose

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.multi_output = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Embed the texts and train the scalar mix and the classifier head.

        Parameters
        ----------
        X : list, tuple, ndarray or pandas Series of str
            Training texts (a 2-D single column is accepted too).
        y : array-like of shape (n_samples,) or (n_samples, n_labels)
            Class labels of any type, or a multilabel indicator matrix.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the samples in the loss.

        Returns
        -------
        self : ElmoClassifier
        """
        texts = check_texts(X)
        task, classes, encoded, loss_weights, train_args = _prepare_classification(
            self, texts, y, sample_weight
        )
        bilm, layers = self._prepare_bilm()
        features = self._embed(texts, bilm, layers)
        fitted = self._train(features, encoded, loss_weights, **train_args)
        self._set_fitted(bilm, layers, *fitted, classes_=classes, _task=task)
        return self

    def decision_function(self, X):
        """Output-layer logits.

        Returns
        -------
        scores : ndarray of shape (n_samples,) or (n_samples, n_classes)
            1-D for a binary target, where positive scores favour
            ``classes_[1]``; one column per class (or label) otherwise.
        """
        logits = self._map_features(X, self._network().logits)
        return logits[:, 0] if self._task == "binary" else logits

    def predict(self, X):
        """Predict class labels (an indicator matrix for a multilabel target)."""
        scores = self.decision_function(X)
        if self._task == "binary":
            return self.classes_[(scores > 0).astype(int)]
        if self._task == "multiclass":
            return self.classes_[np.argmax(scores, axis=1)]
        return (scores > 0).astype(int)

    def predict_proba(self, X):
        """Class probabilities.

        Returns
        -------
        proba : ndarray of shape (n_samples, n_classes)
            Columns follow ``classes_``. For a multilabel target, column j is
            the probability that label j is present.
        """
        scores = self.decision_function(X).astype(np.float64)
        if self._task == "binary":
            return np.column_stack([expit(-scores), expit(scores)])
        if self._task == "multiclass":
            return softmax_rows(scores, axis=1)
        return expit(scores)

    def predict_log_proba(self, X):
        """Logarithm of :meth:`predict_proba`, computed stably from the logits."""
        scores = self.decision_function(X).astype(np.float64)
        if self._task == "binary":
            return np.column_stack([log_expit(-scores), log_expit(scores)])
        if self._task == "multiclass":
            return log_softmax(scores, axis=1)
        return log_expit(scores)


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

    _parameter_constraints: ClassVar[dict] = {
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
        from ..head._network import NetworkSpec, default_weights

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
            return self._map_features(X, self._network().encode)
        return self._network().encode(features)

    def transform(self, X):
        """ELMo vectors of the texts.

        Parameters
        ----------
        X : list, tuple, ndarray or pandas Series of str

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_features), float32
        """
        return self._map_features(X, self._network().encode)

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
