"""ElmoTagger: learning per-token tasks, the crfsuite-style API, search, pickles, bad input."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score
from sklearn.utils._param_validation import InvalidParameterError
from tagging_tasks import (
    NEW_CAPS,
    NEW_DIGITS,
    char_task,
    context_task,
    majority_accuracy,
    token_accuracy,
)

import sklearn_elmo
from sklearn_elmo import ElmoTagger, load_bilm
from sklearn_elmo.bilm import Bilm
from sklearn_elmo.exceptions import BilmMismatchError
from sklearn_elmo.metrics import entity_f1_scorer
from sklearn_elmo.testing import make_random_bilm

# One network shape for most tests (a shape is built and traced once).
FAST = {"dropout": 0.0, "learning_rate": 0.1, "epochs": 30, "random_state": 0}


@pytest.fixture(autouse=True)
def cold_cache():
    sklearn_elmo.clear_cache()
    yield
    sklearn_elmo.clear_cache()


@pytest.fixture(scope="module")
def model(tiny_model):
    return str(tiny_model)


@pytest.fixture(scope="module")
def char_data():
    return char_task(150, seed=1)


@pytest.fixture(scope="module")
def char_tagger(model, char_data):
    return ElmoTagger(model, **FAST).fit(*char_data)


@pytest.fixture
def biLM_calls(monkeypatch):
    """Sentences the biLM is asked to embed, per call of Bilm.iter_embed."""
    calls = []
    original = Bilm.iter_embed

    def counting(self, sentences, batch_size=64):
        sentences = list(sentences)
        calls.append(len(sentences))
        yield from original(self, sentences, batch_size)

    monkeypatch.setattr(Bilm, "iter_embed", counting)
    return calls


# -- learning -----------------------------------------------------------------------


def test_learns_a_task_decided_by_the_characters_of_unseen_words(char_tagger):
    X_new, y_new = char_task(100, seed=2, caps=NEW_CAPS, digits=NEW_DIGITS)
    accuracy = token_accuracy(y_new, char_tagger.predict(X_new))
    assert accuracy > majority_accuracy(y_new) + 0.12
    assert char_tagger.history_["score"][-1] > 0.97  # the training words
    assert char_tagger.score(X_new, y_new) == pytest.approx(accuracy)


@pytest.mark.parametrize("hidden", ["none", "bilstm"])
def test_learns_a_task_decided_by_the_context(model, hidden):
    X, y = context_task(150, seed=3)
    X_new, y_new = context_task(100, seed=4)
    params = dict(FAST, hidden=hidden, hidden_size=16)
    if hidden == "bilstm":
        params.update(learning_rate=0.01, epochs=20)
    tagger = ElmoTagger(model, **params).fit(X, y)
    accuracy = tagger.score(X_new, y_new)
    majority = majority_accuracy(y_new)
    # The biLM's LSTM layers carry the previous token; a BiLSTM head reads it too.
    assert accuracy > majority + (0.04 if hidden == "none" else 0.12)
    assert hidden == "bilstm" or tagger.mix_weights_[0] < 1 / 3  # not layer 0


def test_api_follows_sklearn_crfsuite(char_tagger):
    X = [["Anna", "ran", "42"], [], ["the", "dog"]]
    predicted = char_tagger.predict(X)
    assert isinstance(predicted, list) and [len(p) for p in predicted] == [3, 0, 2]
    assert all(isinstance(tag, str) for tags in predicted for tag in tags)
    proba = char_tagger.predict_proba(X)
    assert [p.shape for p in proba] == [(3, 3), (0, 3), (2, 3)]
    np.testing.assert_allclose(np.concatenate(proba).sum(axis=1), 1.0, atol=1e-9)
    assert char_tagger.classes_.tolist() == ["CAP", "NUM", "O"]
    for probabilities, tags in zip(proba, predicted):
        assert char_tagger.classes_[np.argmax(probabilities, axis=1)].tolist() == tags
    assert char_tagger.mix_weights_.shape == (3,)
    assert np.isclose(char_tagger.mix_weights_.sum(), 1.0)
    assert len(char_tagger.history_["loss"]) == char_tagger.n_iter_ == FAST["epochs"]


def test_a_sentence_output_does_not_depend_on_the_other_sentences(char_tagger):
    target = ["Bob", "sat", "under", "7", "red", "trees"]
    alone = char_tagger.predict_proba([target])[0]
    sklearn_elmo.clear_cache()  # embedded again, in another batch
    others = [["x"] * 40, ["Kim"], [], ["a", "b", "c", "d", "e", "f", "g"]] * 5
    mixed = char_tagger.predict_proba(others[:7] + [target] + others[7:])[7]
    np.testing.assert_allclose(mixed, alone, atol=1e-5)


def test_same_seed_same_fit_and_labels_seen_in_fit_only(model, char_data):
    X, y = char_data
    a = ElmoTagger(model, **FAST).fit(X[:60], y[:60])
    b = ElmoTagger(model, **FAST).fit(X[:60], y[:60])
    for name, value in a.network_weights_.items():
        np.testing.assert_array_equal(value, b.network_weights_[name])
    # Test-time sentences full of forms never seen still get fitted labels only.
    predicted = a.predict([["ZZZ", "qqq", "12345678"], ["Ünïcødé", "😀"]])
    assert {t for tags in predicted for t in tags} <= set(a.classes_.tolist())


def test_bilstm_early_stopping_and_class_weight(model):
    X, y = context_task(150, seed=6)
    tagger = ElmoTagger(
        model,
        hidden="bilstm",
        hidden_size=16,  # the network shape of the context test: traced once
        early_stopping=True,
        validation_fraction=0.2,
        n_iter_no_change=2,
        class_weight="balanced",
        dropout=0.0,
        learning_rate=0.01,
        epochs=40,
        random_state=0,
    ).fit(X, y)
    assert set(tagger.history_) == {"loss", "score", "val_loss", "val_score"}
    assert tagger.n_iter_ == len(tagger.history_["val_loss"]) <= 40
    assert any(k.startswith("bilstm/") for k in tagger.network_weights_)
    assert tagger.history_["val_score"][-1] > 0.9


def test_sample_weight_zero_removes_a_sentence(model):
    X = [["Anna", "sat"], ["the", "7"]] * 10
    y = [["CAP", "O"], ["O", "NUM"]] * 10
    poison = [["Anna", "sat"]] * 20, [["O", "CAP"]] * 20  # contradicting labels
    weights = np.r_[np.ones(20), np.zeros(20)]
    tagger = ElmoTagger(model, **FAST).fit(X + poison[0], y + poison[1], weights)
    assert tagger.predict([["Anna", "sat"]]) == [["CAP", "O"]]


# -- search, cross-validation, the cache ---------------------------------------------


def test_grid_search_runs_the_biLM_once_per_distinct_sentence(model, biLM_calls):
    X, y = context_task(60, seed=5)
    X = [s[:] for s in X] + [s[:] for s in X[:10]]  # ten sentences twice
    y = y + y[:10]
    search = GridSearchCV(
        ElmoTagger(model, **dict(FAST, epochs=5)),
        {"learning_rate": [0.05, 0.1], "mix_l2": [0.0, 1e-3]},
        cv=3,
        scoring=entity_f1_scorer,
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    distinct = len({tuple(s) for s in X})
    # 12 fits, 12 scorings and a refit; the biLM saw each distinct sentence once.
    assert sum(biLM_calls) == distinct
    assert 0.0 <= search.best_score_ <= 1.0
    assert isinstance(search.predict(X[:2]), list)


def test_cross_val_score_over_sentences(model, char_data):
    X, y = char_data
    scores = cross_val_score(
        ElmoTagger(model, **dict(FAST, epochs=10)), X[:90], y[:90], cv=KFold(3)
    )
    assert scores.shape == (3,) and np.all(scores > 0.7)


def test_clone_keeps_parameters_and_refits_from_the_cache(model, char_data, biLM_calls):
    X, y = char_data
    first = ElmoTagger(model, **dict(FAST, epochs=2)).fit(X[:30], y[:30])
    second = clone(first).set_params(epochs=3).fit(X[:30], y[:30])
    assert second.n_iter_ == 3 and not hasattr(clone(first), "classes_")
    assert sum(biLM_calls) == len({tuple(s) for s in X[:30]})


def test_sentences_are_cached_on_disk_too(model, tmp_path, biLM_calls):
    X, y = context_task(20, seed=8)
    first = ElmoTagger(model, cache_dir=tmp_path, **dict(FAST, epochs=2)).fit(X, y)
    embedded = sum(biLM_calls)
    assert embedded == len({tuple(s) for s in X})
    sklearn_elmo.clear_cache()  # memory only: the entries stay in tmp_path
    second = ElmoTagger(model, cache_dir=tmp_path, **dict(FAST, epochs=2)).fit(X, y)
    assert sum(biLM_calls) == embedded  # read back from disk, keyed by token tuple
    for name, value in first.network_weights_.items():
        np.testing.assert_array_equal(value, second.network_weights_[name])


# -- pickles -------------------------------------------------------------------------


def test_pickle_is_small_and_predicts_the_same(char_tagger, model):
    X = [["Rome", "ran", "on", "60"], ["a"]]
    expected = char_tagger.predict_proba(X)
    blob = pickle.dumps(char_tagger)
    weights = sum(v.nbytes for v in char_tagger.network_weights_.values())
    assert len(blob) < weights + 8_000
    assert b"tensorflow" not in blob and b"keras" not in blob
    restored = pickle.loads(blob)
    for a, b in zip(restored.predict_proba(X), expected):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert restored.predict(X) == char_tagger.predict(X)


def test_save_and_load_archive(char_tagger, tmp_path):
    path = sklearn_elmo.save(char_tagger, tmp_path / "tagger.zip", include_model=True)
    restored = sklearn_elmo.load(path, model_dir=tmp_path / "models")
    assert restored.model != char_tagger.model
    assert restored.predict([["Kim", "42"]]) == char_tagger.predict([["Kim", "42"]])


def test_another_biLM_is_refused(char_tagger, tmp_path):
    other = str(make_random_bilm(tmp_path / "other", size="tiny", seed=1))
    tagger = pickle.loads(pickle.dumps(char_tagger)).set_params(model=other)
    with pytest.raises(BilmMismatchError, match="not the one this estimator"):
        tagger.predict([["Kim"]])


def test_changed_layers_after_fit_is_refused(char_tagger):
    tagger = pickle.loads(pickle.dumps(char_tagger)).set_params(layers="top")
    with pytest.raises(ValueError, match="fitted with layers='all'"):
        tagger.predict([["Kim"]])


# -- bad input -----------------------------------------------------------------------


def test_label_sequence_of_another_length_names_the_sentence(model):
    X = [["a", "b"], ["c", "d", "e"], ["f"]]
    y = [["O", "O"], ["O", "B-X"], ["O"]]
    with pytest.raises(
        ValueError, match=r"y\[1\] has 2 labels but sentence X\[1\] has 3"
    ):
        ElmoTagger(model).fit(X, y)


@pytest.mark.parametrize(
    "X, error, match",
    [
        ([["a", 3]], TypeError, r"X\[0\]\[1\] must be a str token, got int"),
        ([["a"], ["b", None]], TypeError, r"X\[1\]\[1\] must be a str token"),
        ([["a", ""]], ValueError, r"X\[0\]\[1\] is an empty token"),
        (["a text"], TypeError, r"X\[0\] is a str .*lists of tokens"),
        ("a b", TypeError, "got a single str"),
        ([], ValueError, "X is empty"),
        ([{"a"}], TypeError, r"X\[0\] must be a list of str tokens, got set"),
        (42, TypeError, "got int"),
    ],
)
def test_bad_sentences(model, char_tagger, X, error, match):
    with pytest.raises(error, match=match):
        ElmoTagger(model).fit(X, [["O"]] * (len(X) if isinstance(X, list) else 1))
    with pytest.raises(error, match=match):
        char_tagger.predict(X)


@pytest.mark.parametrize(
    "y, error, match",
    [
        (None, ValueError, "requires y"),
        (
            ["O", "O"],
            TypeError,
            r"y\[0\] must be the list of labels of sentence X\[0\]",
        ),
        ([["O"]], ValueError, "2 sentences and 1 label sequences"),
        ([["O"], [1.5]], TypeError, r"y\[1\]\[0\] must be a str or int label"),
        ([["O"], [None]], TypeError, r"y\[1\]\[0\] must be a str or int label"),
        ([["O"], [1]], TypeError, "mix str and int"),
        ([["O"], ["O"]], ValueError, "at least 2 distinct labels"),
        ("OO", TypeError, "got a single str"),
    ],
)
def test_bad_targets(model, y, error, match):
    with pytest.raises(error, match=match):
        ElmoTagger(model).fit([["a"], ["b"]], y)


def test_empty_sentences_are_allowed_but_not_only_empty_ones(model, char_tagger):
    assert char_tagger.predict([[], []]) == [[], []]
    with pytest.raises(ValueError, match="every sentence of X is empty"):
        ElmoTagger(model).fit([[], []], [[], []])
    with pytest.raises(ValueError, match="every sentence of X is empty"):
        char_tagger.score([[]], [[]])


def test_int_labels_and_arrays_work(model):
    X = np.array([["Anna", "sat"], ["the", "Kim"]] * 5)
    y = np.array([[1, 0], [0, 1]] * 5)
    tagger = ElmoTagger(model, **dict(FAST, epochs=3)).fit(X, y)
    assert tagger.classes_.tolist() == [0, 1]
    assert all(isinstance(t, int) for t in tagger.predict(X)[0])


@pytest.mark.parametrize(
    "params, match",
    [
        ({"hidden": "lstm"}, "hidden"),
        ({"hidden_size": 0}, "hidden_size"),
        ({"epochs": True}, "epochs"),
        ({"layers": [0, 7]}, "out of range"),
    ],
)
def test_bad_parameters(model, params, match):
    with pytest.raises((InvalidParameterError, ValueError), match=match):
        ElmoTagger(model, **params).fit([["a"], ["b"]], [["O"], ["X"]])


def test_bad_weights(model):
    X, y = [["a"], ["b"]], [["O"], ["X"]]
    with pytest.raises(ValueError, match="non-zero"):
        ElmoTagger(model).fit(X, y, sample_weight=[0, 0])
    with pytest.raises(ValueError, match="are all zero"):
        ElmoTagger(model, class_weight={"O": 0, "X": 0}).fit(X, y)
    with pytest.raises(ValueError):
        ElmoTagger(model).fit(X, y, sample_weight=[1, 2, 3])
    with pytest.raises(ValueError, match="class_weight has key 'Y'"):
        ElmoTagger(model, class_weight={"Y": 2.0}).fit(X, y)


def test_predict_before_fit(model):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        ElmoTagger(model).predict([["a"]])


def test_uses_the_loaded_biLM_lazily(model):
    tagger = ElmoTagger(model)
    assert "bilm" not in vars(tagger)
    assert load_bilm(model) is load_bilm(model)
