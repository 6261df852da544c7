"""ElmoTagger: a sequence labeller on per-token ELMo, in sklearn-crfsuite's manner.

``fit(X, y)`` takes sentences (lists of str tokens) and one label list per
sentence; ``predict`` returns one label list per sentence, ``predict_proba``
one ``(n_tokens, n_classes)`` array per sentence. The frozen biLM embeds the
training sentences once (through the embedding cache); a per-token network
(:mod:`sklearn_elmo._tagger_network`) then learns the scalar mix with the
tagging head.
"""

from typing import ClassVar

import numpy as np
from scipy.special import softmax
from sklearn.base import _fit_context
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.validation import check_is_fitted

from ..bilm import DEFAULT_HANDLE
from ..features import stream_chunk_size
from ..features._tokens import (
    check_sentences,
    check_tag_sequences,
    embed_sentences,
)
from ._base import ElmoBase
from ._params import (
    _CLASS_WEIGHT_CONSTRAINT,
    _EMBEDDING_CONSTRAINTS,
    _TRAINING_CONSTRAINTS,
    _Int,
)
from ._targets import class_loss_weights, sample_weights

__all__ = ["ElmoTagger"]

_TOKEN_EMBEDDING_CONSTRAINTS = {
    k: v for k, v in _EMBEDDING_CONSTRAINTS.items() if k != "pooling"
}
_TOKEN_TRAINING_CONSTRAINTS = {
    k: v for k, v in _TRAINING_CONSTRAINTS.items() if k != "hidden_layer_sizes"
}


class TokenEstimator(ElmoBase):
    """Shared machinery of the token-level estimators: sentences in, tokens out.

    Not for direct use. Subclasses read sentences with :meth:`_sentences`,
    embed them with :meth:`_embed_sentences` and train with
    :meth:`_train_tagger`.
    """

    _allow_texts = False  # whether str elements of X are texts to tokenize

    def _sentences(self, X):
        return check_sentences(
            X,
            tokenizer=getattr(self, "tokenizer", None),
            allow_texts=self._allow_texts,
        )

    def _prepare_bilm(self):
        bilm = self._load_bilm()
        return bilm, self._resolve_layers(bilm.n_layers)

    def _embed_sentences(self, sentences, bilm, layers):
        return embed_sentences(
            sentences,
            bilm,
            layers=layers,
            max_tokens=self.max_tokens,
            batch_size=self.embed_batch_size,
            layer_norm=self.layer_norm,
            verbose=self.verbose,
            label=type(self).__name__,
            cache_dir=self.cache_dir,
        )

    def _iter_features(self, sentences):
        """Fitted features of the sentences, chunk by chunk: (start, LayerFeatures)."""
        check_is_fitted(self)
        bilm = self._fitted_bilm()
        chunk = stream_chunk_size(len(self.layers_), bilm.dim, True)
        for start in range(0, len(sentences), chunk):
            part = sentences[start : start + chunk]
            yield start, self._embed_sentences(part, bilm, self.layers_)

    def _train_tagger(self, sentences, y, sample_weight, bilm, layers, hidden, size):
        """Encode y, embed, train; return the fitted pieces for ``_set_fitted``.

        Returns ``(spec, weights, history, n_iter, classes)``.
        """
        from ..head._tagger_model import TaggerSpec
        from ..head._tagger_network import train_tagger

        name = type(self).__name__
        lengths = [len(s) for s in sentences]
        sequences = check_tag_sequences(y, lengths, name)
        weights_per_sentence = sample_weights(sample_weight, sentences)
        flat = np.array([t for seq in sequences for t in seq], dtype=object)
        if flat.size == 0:
            raise ValueError(
                f"{name} needs tokens to learn from; every sentence of X is empty."
            )
        classes, encoded = np.unique(flat, return_inverse=True)
        if len(classes) < 2:
            raise ValueError(
                f"{name} needs at least 2 distinct labels in y; y contains only the "
                f"label {classes.tolist()[0]!r}."
            )
        tags = encoded.astype(np.int32)
        token_weights = class_loss_weights(
            self.class_weight, "multiclass", classes, tags
        )[:, 0] * np.repeat(weights_per_sentence, lengths)

        spec = TaggerSpec(
            n_layers=len(layers),
            dim=bilm.dim,
            n_classes=len(classes),
            hidden=hidden,
            hidden_size=int(size) if hidden == "bilstm" else 0,
            dropout=float(self.dropout),
            mix_l2=float(self.mix_l2),
        )
        rng = check_random_state(self.random_state)
        split_seed, network_seed = (int(s) for s in rng.randint(0, 2**31 - 1, size=2))
        index = np.arange(len(sentences))
        val_index = None
        train_index = index
        if self.early_stopping:
            try:
                train_index, val_index = train_test_split(
                    index, test_size=self.validation_fraction, random_state=split_seed
                )
            except ValueError as exc:
                raise ValueError(
                    f"early_stopping could not set aside a validation_fraction of "
                    f"{self.validation_fraction} from {len(index)} sentences: {exc}"
                ) from exc
        n_tokens = np.asarray(lengths)
        train_tokens = np.repeat(np.isin(index, train_index), n_tokens)
        scale = token_weights[train_tokens].mean() if train_tokens.any() else 0.0
        if not scale > 0:
            raise ValueError(
                "The weights of the training tokens (sample_weight times "
                "class_weight) are all zero, or the training sentences are empty."
            )
        features = self._embed_sentences(sentences, bilm, layers)
        weights, history, n_iter = train_tagger(
            spec,
            features,
            tags,
            (token_weights / scale).astype(np.float32),
            train_index=train_index,
            val_index=val_index,
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            n_iter_no_change=self.n_iter_no_change,
            seed=network_seed,
            verbose=self.verbose,
            label=name,
        )
        return spec, weights, history, n_iter, classes


class ElmoTagger(TokenEstimator):
    """Sequence labeller (NER, chunking, POS) on ELMo, in scikit-learn style.

    Follows sklearn-crfsuite's conventions: ``fit(X, y)`` with X a list of
    sentences, each a list of str tokens, and y one list of labels per
    sentence, of the same length; :meth:`predict` returns one list of labels
    per sentence, :meth:`predict_proba` one ``(n_tokens, n_classes)`` array;
    :meth:`score` is the token accuracy. Empty sentences are allowed and get
    empty outputs.

    The frozen biLM embeds the training sentences once (through the shared
    embedding cache, so a grid search embeds each distinct sentence once);
    a network then learns, per token: the scalar mix of the biLM layers
    (``mix_weights_``, ``gamma_``) -> dropout -> optionally a BiLSTM over the
    sentence -> softmax over the labels, trained with Adam on the token
    cross-entropy. The network reads the layers standardised with training
    statistics, as :class:`ElmoClassifier`'s head does. For entity-level
    evaluation of BIO/BIOES tags see :mod:`sklearn_elmo.metrics`.

    Parameters
    ----------
    model : str or path-like, default="https://tfhub.dev/google/elmo/3"
        The biLM, as accepted by :func:`sklearn_elmo.load_bilm`. Loaded
        lazily, once per process, and shared by all estimators using it.
    initial_state : {"warm", "zeros", "carry"}, default="warm"
        LSTM state every sentence starts from; see :func:`~sklearn_elmo.load_bilm`.
    layers : "all", "top", int or list of int, default="all"
        biLM layers to mix (layer 0 is the token embedding).
    layer_norm : bool, default=False
        Normalise each layer of each sentence over its tokens before mixing.
    hidden : {"none", "bilstm"}, default="none"
        "none": a linear softmax layer on each token's mixed vector; "bilstm":
        a bidirectional LSTM of ``hidden_size`` units per direction between
        the mixed vectors and the softmax.
    hidden_size : int, default=64
        Units per direction of the BiLSTM (``hidden="bilstm"`` only).
    max_tokens : int or None, default=256
        Longer sentences are embedded in near-equal windows of at most this
        many tokens (each token keeps its own vector; nothing is dropped).
        None embeds every sentence whole.
    embed_batch_size : int, default=256
        Most sentences (windows) per biLM batch.
    cache_dir : str, path-like or None, default=None
        Folder of a persistent embedding cache shared by processes; None uses
        ``SKLEARN_ELMO_CACHE_DIR``, else none (docs/caching.md).
    dropout : float in [0, 1), default=0.5
        Dropout rate on the mixed token vectors during training.
    mix_l2 : float >= 0, default=1e-3
        L2 penalty ``mix_l2 * sum(w ** 2)`` on the scalar-mix weights.
    learning_rate : float > 0, default=1e-3
        Adam's learning rate.
    epochs : int, default=50
        Passes over the training sentences (the most, with ``early_stopping``).
    batch_size : int, default=32
        Sentences per gradient step (padded to the batch's longest).
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the sentences, stop when their
        loss has not improved for ``n_iter_no_change`` epochs, and keep the
        best epoch's weights.
    validation_fraction : float in (0, 1), default=0.1
        Share of the sentences held out with ``early_stopping``.
    n_iter_no_change : int, default=5
        Epochs without validation improvement before stopping.
    class_weight : dict, "balanced" or None, default=None
        Weights of the labels in the token loss, as in scikit-learn's linear
        models ("balanced": ``n_tokens / (n_classes * count)``).
    random_state : int, RandomState instance or None, default=None
        Seeds the validation split, the initial weights, dropout and
        shuffling. An int makes fitting exactly reproducible on CPU.
    verbose : int, default=0
        Print embedding progress and one line per epoch when > 0.

    Attributes
    ----------
    classes_ : ndarray
        The labels seen in ``fit``, sorted; predictions only use these.
    mix_weights_ : ndarray of shape (n_selected_layers,)
        Softmax-normalised scalar-mix weights, in the order of ``layers_``.
    gamma_ : float
        Learned scale of the mix.
    layers_ : ndarray of int
        biLM layers that are mixed.
    network_weights_ : dict of str -> ndarray
        Every trained weight of the network, by Keras variable path, plus the
        input standardisation ("input/center", "input/scale").
    history_ : dict of str -> list of float
        Per epoch: "loss" and "score" (token accuracy) on the training
        sentences, "val_loss" and "val_score" with ``early_stopping``.
    n_iter_ : int
        Epochs run.
    bilm_fingerprint_ : str
        Fingerprint of the biLM used in ``fit``; prediction checks it.

    See Also
    --------
    ElmoTokenVectorizer : Per-token ELMo features for any estimator.
    sklearn_elmo.metrics.entity_f1_score : Entity-level F1 of BIO/BIOES tags.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elmo import ElmoTagger
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> model = make_random_bilm(tempfile.mkdtemp())
    >>> X = [["Anna", "lives", "in", "Oslo"], ["Bo", "visited", "Rome", "."]]
    >>> y = [["B-PER", "O", "O", "B-LOC"], ["B-PER", "O", "B-LOC", "O"]]
    >>> tagger = ElmoTagger(model, epochs=5, random_state=0).fit(X, y)
    >>> [len(tags) for tags in tagger.predict([["Eva", "met", "Bo"], []])]
    [3, 0]
    >>> tagger.predict_proba([["Eva", "met", "Bo"]])[0].shape
    (3, 3)
    >>> tagger.classes_.tolist()
    ['B-LOC', 'B-PER', 'O']
    """

    _parameter_constraints: ClassVar[dict] = {
        **_TOKEN_EMBEDDING_CONSTRAINTS,
        **_TOKEN_TRAINING_CONSTRAINTS,
        **_CLASS_WEIGHT_CONSTRAINT,
        "hidden": [StrOptions({"none", "bilstm"})],
        "hidden_size": [_Int(1, None, closed="left")],
    }
    _parameter_constraints.pop("tokenizer")

    def __init__(
        self,
        model=DEFAULT_HANDLE,
        *,
        initial_state="warm",
        layers="all",
        layer_norm=False,
        hidden="none",
        hidden_size=64,
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
        self.hidden = hidden
        self.hidden_size = hidden_size
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

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.required = True
        return tags

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Embed the sentences and train the scalar mix and the tagging head.

        Parameters
        ----------
        X : list of list of str
            Training sentences, each a list of tokens (may be empty).
        y : list of list of labels
            ``y[i]`` holds one label (str or int) per token of ``X[i]``.
        sample_weight : array-like of shape (n_sentences,), default=None
            Non-negative weight of each sentence, applied to its tokens.

        Returns
        -------
        self : ElmoTagger
        """
        sentences = self._sentences(X)
        bilm, layers = self._prepare_bilm()
        spec, weights, history, n_iter, classes = self._train_tagger(
            sentences, y, sample_weight, bilm, layers, self.hidden, self.hidden_size
        )
        self._set_fitted(bilm, layers, spec, weights, history, n_iter, classes_=classes)
        return self

    def _network(self):
        check_is_fitted(self)
        network = getattr(self, "_network_cache", None)
        if network is None:
            from ..head._tagger_model import TaggerSpec
            from ..head._tagger_network import TaggerNetwork

            network = TaggerNetwork(
                TaggerSpec(**self._network_spec), self.network_weights_
            )
            self._network_cache = network
        return network

    def _logits(self, X):
        """Per sentence, the ``(n_tokens, n_classes)`` logits, float32."""
        sentences = self._sentences(X)
        network = self._network()
        out = []
        for _, features in self._iter_features(sentences):
            logits = network.logits(features)
            out.extend(np.split(logits, features.offsets[1:-1]))
        return out

    def predict_proba(self, X):
        """Label probabilities of every token.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        proba : list of ndarray
            Per sentence, shape ``(n_tokens, n_classes)`` (float64), columns
            following ``classes_``.
        """
        return [softmax(z.astype(np.float64), axis=1) for z in self._logits(X)]

    def predict(self, X):
        """Predict the labels of every token.

        Parameters
        ----------
        X : list of list of str

        Returns
        -------
        y_pred : list of list
            Per sentence, one label of ``classes_`` per token.
        """
        logits = self._logits(X)  # checks that the tagger is fitted
        labels = self.classes_.tolist()
        return [[labels[k] for k in np.argmax(z, axis=1)] for z in logits]

    def score(self, X, y, sample_weight=None):
        """Token accuracy of :meth:`predict` on X against y.

        Parameters
        ----------
        X : list of list of str
        y : list of list of labels
        sample_weight : array-like of shape (n_sentences,), default=None
            Weight of each sentence, applied to each of its tokens.

        Returns
        -------
        score : float
        """
        check_is_fitted(self)
        sentences = self._sentences(X)
        lengths = [len(s) for s in sentences]
        sequences = check_tag_sequences(y, lengths, type(self).__name__)
        weights = np.repeat(sample_weights(sample_weight, sentences), lengths)
        if weights.size == 0:
            raise ValueError("score needs tokens; every sentence of X is empty.")
        predicted = self.predict(sentences)
        correct = np.array(
            [p == t for ps, ts in zip(predicted, sequences) for p, t in zip(ps, ts)],
            dtype=np.float64,
        )
        if not weights.sum() > 0:
            raise ValueError("The weights of the scored tokens are all zero.")
        return float(np.average(correct, weights=weights))
