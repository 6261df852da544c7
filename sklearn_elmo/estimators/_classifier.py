"""ElmoClassifier: a text classifier on a trained scalar mix of the biLM layers."""

from functools import partial

import numpy as np
from scipy.special import expit, log_expit, log_softmax
from scipy.special import softmax as softmax_rows
from sklearn.base import ClassifierMixin, _fit_context

from .._validation import (
    check_classification_target,
    check_texts,
)
from ..bilm import DEFAULT_HANDLE
from ._base import ElmoBase
from ._params import _CLASS_WEIGHT_CONSTRAINT
from ._targets import class_loss_weights, sample_weights


def _classification_accuracy(task, targets, logits):
    if task == "multiclass":
        return np.mean(np.argmax(logits, axis=1) == targets)
    return np.mean(np.all((logits > 0) == (targets > 0.5), axis=1))


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

    _parameter_constraints = {
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
