"""Entity-level scores of BIO/BIOES tags (CoNLL convention) and their scorer."""

import numpy as np
import pytest
from sklearn.base import BaseEstimator
from sklearn.metrics import make_scorer
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

from sklearn_elmo.metrics import (
    entity_classification_report,
    entity_f1_score,
    entity_f1_scorer,
    entity_precision_score,
    entity_recall_score,
)

Y_TRUE = [
    ["B-PER", "I-PER", "O", "B-LOC", "O"],
    ["O", "B-ORG", "I-ORG", "I-ORG"],
    ["B-LOC"],
]


def test_exact_entities_only_count():
    # PER right, LOC missed, ORG with a wrong end, one spurious PER.
    y_pred = [
        ["B-PER", "I-PER", "O", "O", "O"],
        ["O", "B-ORG", "I-ORG", "O"],
        ["B-PER"],
    ]
    # 4 true entities, 3 predicted, 1 correct.
    assert entity_precision_score(Y_TRUE, y_pred) == pytest.approx(1 / 3)
    assert entity_recall_score(Y_TRUE, y_pred) == pytest.approx(1 / 4)
    assert entity_f1_score(Y_TRUE, y_pred) == pytest.approx(2 / 7)
    assert entity_f1_score(Y_TRUE, Y_TRUE) == 1.0
    per_type = entity_f1_score(Y_TRUE, y_pred, average=None)
    np.testing.assert_allclose(per_type, [0.0, 0.0, 2 / 3])  # LOC, ORG, PER


def test_conll_convention_reads_an_I_tag_as_a_start_strict_mode_does_not():
    y_true = [["O", "B-PER", "I-PER", "O"]]
    y_pred = [["O", "I-PER", "I-PER", "O"]]  # IOB1-style start
    assert entity_f1_score(y_true, y_pred) == 1.0  # conlleval
    assert entity_f1_score(y_true, y_pred, scheme="IOB2") == 0.0


def test_bioes_tags():
    y_true = [["S-PER", "O", "B-LOC", "I-LOC", "E-LOC"]]
    y_pred = [["S-PER", "O", "B-LOC", "E-LOC", "O"]]
    assert entity_f1_score(y_true, y_pred) == pytest.approx(0.5)
    assert entity_f1_score(y_true, y_pred, scheme="IOBES") == pytest.approx(0.5)
    assert entity_f1_score(y_true, y_true, scheme="IOBES") == 1.0


def test_no_entities_scores_zero_without_warning(recwarn):
    assert entity_f1_score([["O", "O"]], [["O", "O"]]) == 0.0
    assert not [w for w in recwarn if "seqeval" in str(w.filename)]


def test_report():
    report = entity_classification_report(Y_TRUE, Y_TRUE, output_dict=True)
    assert set(report) >= {"PER", "LOC", "ORG", "micro avg"}
    assert report["LOC"]["support"] == 2
    assert "ORG" in entity_classification_report(Y_TRUE, Y_TRUE)


@pytest.mark.parametrize(
    "y_true, y_pred, error, match",
    [
        ([["O", "B-X"]], [["O"]], ValueError, "Sentence 0 has 2 tags in y_true but 1"),
        ([["O"], ["O"]], [["O"]], ValueError, "2 and 1 sentences"),
        ([["NN", "O"]], [["O", "O"]], ValueError, r"y_true\[0\]\[0\] is 'NN'"),
        ([["O"]], [["B-"]], ValueError, r"y_pred\[0\]\[0\] is 'B-'"),
        ([["O"]], [[3]], ValueError, r"y_pred\[0\]\[0\] is 3"),
        ("O B-X", [["O"]], TypeError, "y_true must be a list"),
        ([["O"]], ["O"], TypeError, r"y_pred\[0\] must be the list of tags"),
    ],
)
def test_bad_input(y_true, y_pred, error, match):
    with pytest.raises(error, match=match):
        entity_f1_score(y_true, y_pred)


def test_unknown_scheme():
    with pytest.raises(ValueError, match="scheme must be None or one of"):
        entity_f1_score([["O"]], [["O"]], scheme="BIO")


class FirstTokenTagger(BaseEstimator):
    """Tags each sentence's first token B-<tag>, the rest O (no ELMo: fast)."""

    def __init__(self, tag="PER"):
        self.tag = tag

    def fit(self, X, y):
        self.fitted_ = True
        return self

    def predict(self, X):
        return [[f"B-{self.tag}"] + ["O"] * (len(s) - 1) if s else [] for s in X]


def test_scorer_in_grid_search_and_cross_validation():
    X = [["Ann", "ran"], ["Oslo"], ["Bo", "sat", "down"]] * 4
    y = [["B-PER", "O"], ["B-LOC"], ["B-PER", "O", "O"]] * 4
    search = GridSearchCV(
        FirstTokenTagger(),
        {"tag": ["PER", "LOC"]},
        cv=KFold(3),
        scoring=entity_f1_scorer,
    ).fit(X, y)
    assert search.best_params_ == {"tag": "PER"}
    assert search.best_score_ == pytest.approx(2 / 3)
    strict = make_scorer(entity_f1_score, scheme="IOB2")
    scores = cross_val_score(FirstTokenTagger("LOC"), X, y, cv=KFold(3), scoring=strict)
    np.testing.assert_allclose(scores, [1 / 4, 2 / 4, 1 / 4])  # Oslo per fold of 4
