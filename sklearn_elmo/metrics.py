"""Entity-level evaluation of BIO/BIOES tag sequences, in the CoNLL convention.

Counting is done by `seqeval <https://github.com/chakki-works/seqeval>`_
(install it with ``pip install "sklearn-elmo[tagger]"``); this module checks
the inputs, names what is wrong and where, and provides scorers for
``GridSearchCV(scoring=...)`` and ``cross_val_score(scoring=...)``.

An entity is a maximal run of tags of one type that starts with ``B-`` (or
``S-``, a single-token entity) and continues with ``I-`` (ended by ``E-``
in BIOES). By default the count is conlleval's, the CoNLL shared tasks'
script: an ``I-`` tag after ``O`` or after another type starts an entity,
so IOB1 data (CoNLL-2003's original files) and BIO or BIOES tags are all
read as the CoNLL evaluation read them. With ``scheme`` the tags must follow
that scheme exactly and entities that break it are not counted (seqeval's
strict mode). An entity is correct only if its type, start and end all
match. Scores with no entity to count are 0, without a warning.
"""

import re

from sklearn.metrics import make_scorer

__all__ = [
    "entity_classification_report",
    "entity_f1_score",
    "entity_f1_scorer",
    "entity_precision_score",
    "entity_recall_score",
]

SCHEMES = ("IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU")
_TAG = re.compile(r"^(?:O|[BIESLU]-.+)$")
_INSTALL_HINT = (
    "Entity-level scores need the seqeval package: pip install seqeval "
    '(or pip install "sklearn-elmo[tagger]").'
)


def _seqeval():
    try:
        import seqeval.metrics
        import seqeval.scheme
    except ImportError as exc:
        raise ImportError(_INSTALL_HINT) from exc
    return seqeval


def _check_sequences(y, name):
    if isinstance(y, (str, bytes)) or not hasattr(y, "__len__"):
        raise TypeError(
            f"{name} must be a list with one list of tags per sentence, got "
            f"{type(y).__name__}."
        )
    out = []
    for i, sequence in enumerate(y):
        if isinstance(sequence, (str, bytes)) or not hasattr(sequence, "__iter__"):
            raise TypeError(
                f"{name}[{i}] must be the list of tags of sentence {i}, got "
                f"{type(sequence).__name__} ({sequence!r:.40})."
            )
        tags = list(sequence)
        for j, tag in enumerate(tags):
            if not isinstance(tag, str) or not _TAG.match(tag):
                raise ValueError(
                    f"{name}[{i}][{j}] is {tag!r}, not a BIO/BIOES tag: entity-level "
                    "scores read 'O' or a prefix B-, I-, E-, S- (L-, U- in BILOU) "
                    "and an entity type, such as 'B-PER'."
                )
        out.append([str(tag) for tag in tags])
    return out


def _checked(y_true, y_pred, scheme):
    y_true = _check_sequences(y_true, "y_true")
    y_pred = _check_sequences(y_pred, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(
            f"y_true and y_pred have {len(y_true)} and {len(y_pred)} sentences."
        )
    for i, (t, p) in enumerate(zip(y_true, y_pred, strict=True)):
        if len(t) != len(p):
            raise ValueError(
                f"Sentence {i} has {len(t)} tags in y_true but {len(p)} in y_pred."
            )
    seqeval = _seqeval()
    options = {"zero_division": 0}
    if scheme is not None:
        if scheme not in SCHEMES:
            raise ValueError(
                f"scheme must be None or one of {SCHEMES}, got {scheme!r}."
            )
        options.update(mode="strict", scheme=getattr(seqeval.scheme, scheme))
    return seqeval.metrics, y_true, y_pred, options


def _value(score):
    """A Python float for an averaged score; per-type scores stay an array."""
    return score if getattr(score, "ndim", 0) else float(score)


def entity_f1_score(y_true, y_pred, *, scheme=None, average="micro"):
    """F1 score of the entities in predicted tag sequences.

    Parameters
    ----------
    y_true, y_pred : list of list of str
        One list of BIO/BIOES tags per sentence, of equal lengths.
    scheme : {None, "IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU"}, default=None
        None counts entities as conlleval does (the CoNLL convention); a
        scheme counts only entities that follow it exactly.
    average : {"micro", "macro", "weighted"} or None, default="micro"
        Over entity types: pooled counts, an unweighted mean, a mean weighted
        by support; None returns one score per type (sorted by type name).

    Returns
    -------
    score : float, or ndarray with ``average=None``

    Examples
    --------
    >>> from sklearn_elmo.metrics import entity_f1_score
    >>> y_true = [["B-PER", "I-PER", "O", "B-LOC"]]
    >>> y_pred = [["B-PER", "I-PER", "O", "O"]]
    >>> entity_f1_score(y_true, y_pred)  # precision 1, recall 1/2
    0.6666666666666666
    """
    metrics, y_true, y_pred, options = _checked(y_true, y_pred, scheme)
    return _value(metrics.f1_score(y_true, y_pred, average=average, **options))


def entity_precision_score(y_true, y_pred, *, scheme=None, average="micro"):
    """Precision of the predicted entities; parameters as :func:`entity_f1_score`.

    Examples
    --------
    >>> from sklearn_elmo.metrics import entity_precision_score
    >>> entity_precision_score([["B-PER", "O"]], [["B-PER", "B-LOC"]])
    0.5
    """
    metrics, y_true, y_pred, options = _checked(y_true, y_pred, scheme)
    return _value(metrics.precision_score(y_true, y_pred, average=average, **options))


def entity_recall_score(y_true, y_pred, *, scheme=None, average="micro"):
    """Recall of the true entities; parameters as :func:`entity_f1_score`.

    Examples
    --------
    >>> from sklearn_elmo.metrics import entity_recall_score
    >>> entity_recall_score([["B-PER", "B-LOC"]], [["B-PER", "O"]])
    0.5
    """
    metrics, y_true, y_pred, options = _checked(y_true, y_pred, scheme)
    return _value(metrics.recall_score(y_true, y_pred, average=average, **options))


def entity_classification_report(
    y_true, y_pred, *, scheme=None, digits=2, output_dict=False
):
    """Precision, recall, F1 and support per entity type, and their averages.

    Parameters
    ----------
    y_true, y_pred : list of list of str
    scheme : as in :func:`entity_f1_score`
    digits : int, default=2
        Digits of the printed scores.
    output_dict : bool, default=False
        Return a dict instead of a printable string.

    Returns
    -------
    report : str or dict

    Examples
    --------
    >>> from sklearn_elmo.metrics import entity_classification_report
    >>> print(entity_classification_report([["B-PER", "O"]], [["B-PER", "O"]]))
    ... # doctest: +NORMALIZE_WHITESPACE
                  precision    recall  f1-score   support
    <BLANKLINE>
             PER       1.00      1.00      1.00         1
    <BLANKLINE>
       micro avg       1.00      1.00      1.00         1
       macro avg       1.00      1.00      1.00         1
    weighted avg       1.00      1.00      1.00         1
    <BLANKLINE>
    """
    metrics, y_true, y_pred, options = _checked(y_true, y_pred, scheme)
    return metrics.classification_report(
        y_true, y_pred, digits=digits, output_dict=output_dict, **options
    )


entity_f1_scorer = make_scorer(entity_f1_score)
entity_f1_scorer.__doc__ = """Scorer of :func:`entity_f1_score` (micro, CoNLL convention).

For ``GridSearchCV(scoring=entity_f1_scorer)`` and ``cross_val_score``; it
calls the estimator's ``predict`` on the sentences. For another scheme or
average: ``sklearn.metrics.make_scorer(entity_f1_score, scheme="IOBES")``.
"""
