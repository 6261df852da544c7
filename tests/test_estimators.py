"""ElmoClassifier, ElmoRegressor, ElmoVectorizer: behaviour and sklearn contract."""

import pickle
import pickletools

import numpy as np
import pandas as pd
import pytest
from sklearn.base import BaseEstimator, clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import Pipeline
from sklearn.utils import get_tags
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_elmo import load_bilm
from sklearn_elmo.bilm import Bilm
from sklearn_elmo.estimators import ElmoClassifier, ElmoRegressor, ElmoVectorizer
from sklearn_elmo.features import clear_cache
from sklearn_elmo.tokenize import default_tokenizer

ESTIMATORS = [ElmoClassifier, ElmoRegressor, ElmoVectorizer]
VOCABULARIES = [
    ["good", "great", "fine", "happy", "nice", "lovely", "superb"],
    ["bad", "awful", "poor", "sad", "nasty", "dreadful", "grim"],
    ["blue", "green", "red", "yellow", "purple", "orange", "pink"],
]
# Fast settings for the tiny generated biLM.
FAST = {"epochs": 30, "learning_rate": 0.02, "dropout": 0.1, "random_state": 0}


def make_task(n, seed=0, n_classes=2, labels=("neg", "pos", "other")):
    """Texts of 3-6 words from one vocabulary per class, plus the class labels."""
    rng = np.random.RandomState(seed)
    y = np.arange(n) % n_classes
    texts = [" ".join(rng.choice(VOCABULARIES[c], rng.randint(3, 7))) + " ." for c in y]
    return texts, np.asarray(labels)[y]


@pytest.fixture(scope="module")
def model(tiny_model):
    return str(tiny_model)


@pytest.fixture(scope="module")
def task():
    return make_task(48, seed=0), make_task(40, seed=1)


@pytest.fixture(scope="module")
def fitted_classifier(model, task):
    (X, y), _ = task
    return ElmoClassifier(model, **FAST).fit(X, y)


def _layer_means(model, texts, initial_state="warm"):
    """Per-layer means over real tokens, straight from the biLM: (n, L, D)."""
    bilm = load_bilm(model, initial_state=initial_state)
    layers, mask = bilm.embed([default_tokenizer(t) for t in texts])
    m = mask[:, None, :, None]
    return (layers * m).sum(axis=2) / m.sum(axis=2)


# -- scikit-learn contract ----------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_init_only_stores_parameters(Estimator):
    est = Estimator(model="/nonexistent", pooling="bogus", layers=[99], epochs=-1)
    params = est.get_params()
    assert params["model"] == "/nonexistent" and params["pooling"] == "bogus"
    assert params["layers"] == [99] and params["epochs"] == -1
    assert Estimator().model == "https://tfhub.dev/google/elmo/3"


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_clone_and_params_round_trip(Estimator, model):
    est = Estimator(model, layers=[0, 2], hidden_layer_sizes=(4,), random_state=3)
    cloned = clone(est)
    assert cloned is not est and cloned.get_params() == est.get_params()
    assert est.set_params(pooling="max", dropout=0.2) is est
    assert est.get_params()["pooling"] == "max" and est.get_params()["dropout"] == 0.2
    assert Estimator(**est.get_params()).get_params() == est.get_params()


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_mixins_left_of_base_estimator(Estimator):
    mro = Estimator.__mro__
    assert mro.index(BaseEstimator) > 1
    assert all(
        not issubclass(c, BaseEstimator)
        for c in mro[1 : mro.index(BaseEstimator)]
        if "Mixin" in c.__name__
    )


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_tags_declare_text_input(Estimator):
    tags = get_tags(Estimator())
    assert tags.input_tags.string and not tags.input_tags.two_d_array
    if Estimator is ElmoClassifier:
        assert tags.estimator_type == "classifier" and tags.classifier_tags.multi_label
    if Estimator is ElmoRegressor:
        assert tags.estimator_type == "regressor" and tags.target_tags.multi_output
    if Estimator is ElmoVectorizer:
        assert tags.transformer_tags is not None and not tags.target_tags.required


@pytest.mark.parametrize(
    "Estimator, method",
    [
        (ElmoClassifier, "predict"),
        (ElmoClassifier, "predict_proba"),
        (ElmoClassifier, "decision_function"),
        (ElmoRegressor, "predict"),
        (ElmoVectorizer, "transform"),
        (ElmoVectorizer, "get_feature_names_out"),
    ],
)
def test_not_fitted(Estimator, method, model):
    args = () if method == "get_feature_names_out" else (["some text"],)
    with pytest.raises(NotFittedError):
        getattr(Estimator(model), method)(*args)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"pooling": "median"}, "'pooling' parameter"),
        ({"dropout": 1.0}, "'dropout' parameter"),
        ({"initial_state": "hot"}, "'initial_state' parameter"),
        ({"layers": "bottom"}, "'layers' parameter"),
        ({"learning_rate": 0}, "'learning_rate' parameter"),
        ({"max_tokens": 0}, "'max_tokens' parameter"),
        ({"class_weight": "even"}, "'class_weight' parameter"),
        ({"tokenizer": "spaces"}, "'tokenizer' parameter"),
        ({"model": 3}, "'model' parameter"),
    ],
)
def test_invalid_parameters(params, match, model):
    params.setdefault("model", model)
    with pytest.raises(InvalidParameterError, match=match):
        ElmoClassifier(**params).fit(["a b", "c d"], [0, 1])


@pytest.mark.parametrize(
    "params, error, match",
    [
        (
            {"layers": [0, 5]},
            ValueError,
            "index 5 is out of range for a biLM with 3 layers",
        ),
        ({"layers": [2, -1]}, ValueError, "must not repeat"),
        ({"layers": []}, ValueError, "non-empty"),
        ({"layers": [0.5]}, TypeError, "int layer indices"),
        ({"hidden_layer_sizes": (4, 0)}, ValueError, "positive ints"),
    ],
)
def test_invalid_values_found_in_fit(params, error, match, model):
    with pytest.raises(error, match=match):
        ElmoClassifier(model, epochs=1, **params).fit(["a b", "c d"], [0, 1])


def test_bad_input_is_named(fitted_classifier, model):
    with pytest.raises(TypeError, match=r"X\[1\] must be a str, got int"):
        fitted_classifier.predict(["fine", 7])
    with pytest.raises(TypeError, match="single str"):
        fitted_classifier.predict("fine")
    with pytest.raises(TypeError, match=r"X\[0\] must be a str"):
        ElmoVectorizer(model).fit([None])


def test_one_class_is_a_clear_error(model):
    with pytest.raises(ValueError, match="at least 2 classes.*only the class 'spam'"):
        ElmoClassifier(model).fit(["a", "b", "c"], ["spam"] * 3)


def test_biLM_is_shared_and_never_stored(fitted_classifier, model, task):
    (X, _), _ = task
    fitted_classifier.predict(X[:2])  # builds the cached Keras network
    assert not any("Bilm" in type(v).__name__ for v in vars(fitted_classifier).values())
    assert "Bilm" not in repr(fitted_classifier.get_params())
    bilm = load_bilm(model)
    assert fitted_classifier.bilm_fingerprint_ == bilm.fingerprint
    assert clone(fitted_classifier)._load_bilm() is bilm


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_pickle_holds_plain_state_only(Estimator, model, task):
    (X, y), (X_test, _) = task
    target = (y == "pos").astype(float) if Estimator is ElmoRegressor else y
    est = Estimator(model, epochs=2, random_state=0).fit(X, target)
    before = (
        est.transform(X_test) if Estimator is ElmoVectorizer else est.predict(X_test)
    )
    blob = pickle.dumps(est)
    modules = {
        str(arg).split(" ")[0]
        for op, arg, _ in pickletools.genops(blob)
        if op.name in ("GLOBAL", "STACK_GLOBAL", "SHORT_BINUNICODE", "BINUNICODE")
        and arg
        and str(arg).split(".")[0] in ("tensorflow", "keras", "tf_keras", "h5py")
    }
    assert not modules, f"pickle refers to {modules}"
    restored = pickle.loads(blob)
    assert restored.bilm_fingerprint_ == est.bilm_fingerprint_
    after = (
        restored.transform(X_test)
        if Estimator is ElmoVectorizer
        else restored.predict(X_test)
    )
    np.testing.assert_array_equal(before, after)
    for key, value in est.network_weights_.items():
        np.testing.assert_array_equal(restored.network_weights_[key], value)


def test_prediction_refuses_a_different_biLM(model, task):
    (X, y), _ = task
    clf = ElmoClassifier(model, epochs=1).fit(X, y)
    clf.bilm_fingerprint_ = "0" * 64
    with pytest.raises(ValueError, match="not the one this estimator was fitted with"):
        clf.predict(X)


@pytest.mark.parametrize(
    "Estimator, fit_args",
    [
        (ElmoClassifier, ("fit",)),
        (ElmoRegressor, ("fit",)),
        (ElmoVectorizer, ("fit_transform",)),
    ],
)
def test_biLM_runs_once_per_fit_not_per_epoch(
    Estimator, fit_args, model, task, monkeypatch
):
    (X, y), _ = task
    target = (y == "pos").astype(float) if Estimator is ElmoRegressor else y
    calls = []
    original = Bilm.iter_embed

    def counting(self, sentences, batch_size=64):
        calls.append(len(sentences))
        yield from original(self, sentences, batch_size)

    monkeypatch.setattr(Bilm, "iter_embed", counting)
    clear_cache()  # earlier tests embedded X: start cold
    est = Estimator(model, epochs=4, early_stopping=True, random_state=0)
    getattr(est, fit_args[0])(X, target)
    assert est.n_iter_ == 4
    assert calls == [len(set(X))]


# -- ElmoClassifier -----------------------------------------------------------


def test_classifier_learns_binary(fitted_classifier, task):
    _, (X_test, y_test) = task
    clf = fitted_classifier
    assert clf.classes_.tolist() == ["neg", "pos"]
    assert clf.score(X_test, y_test) >= 0.85  # chance is 0.5
    assert clf.history_["loss"][-1] < clf.history_["loss"][0]
    assert len(clf.history_["loss"]) == clf.n_iter_ == 30
    assert set(clf.history_) == {"loss", "score"}


def test_classifier_outputs_are_consistent(fitted_classifier, task):
    _, (X_test, _) = task
    clf = fitted_classifier
    proba = clf.predict_proba(X_test)
    scores = clf.decision_function(X_test)
    assert proba.shape == (40, 2) and scores.shape == (40,)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_allclose(clf.predict_log_proba(X_test), np.log(proba), rtol=1e-6)
    np.testing.assert_array_equal(
        clf.predict(X_test), clf.classes_[(scores > 0).astype(int)]
    )
    np.testing.assert_array_equal(
        clf.predict(X_test), clf.classes_[proba.argmax(axis=1)]
    )


def test_classifier_mix_attributes(fitted_classifier):
    clf = fitted_classifier
    assert clf.mix_weights_.shape == (3,) and clf.layers_.tolist() == [0, 1, 2]
    assert clf.mix_weights_.sum() == pytest.approx(1.0)
    assert not np.allclose(clf.mix_weights_, 1 / 3)  # the mix was trained
    assert isinstance(clf.gamma_, float) and clf.gamma_ != 1.0
    assert set(clf.network_weights_) == {
        "scalar_mix/w",
        "scalar_mix/gamma",
        "output/kernel",
        "output/bias",
        "input/center",
        "input/scale",
    }


def test_classifier_multiclass_any_labels(model):
    X, y = make_task(60, seed=2, n_classes=3, labels=(10, 20, 30))
    X_test, y_test = make_task(30, seed=3, n_classes=3, labels=(10, 20, 30))
    clf = ElmoClassifier(model, **FAST).fit(X, y)
    assert clf.classes_.tolist() == [10, 20, 30]
    proba = clf.predict_proba(X_test)
    assert proba.shape == (30, 3) and clf.decision_function(X_test).shape == (30, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(clf.predict_log_proba(X_test), np.log(proba), rtol=1e-5)
    assert set(clf.predict(X_test)) <= {10, 20, 30}
    assert clf.score(X_test, y_test) >= 0.6  # chance is 1/3


def test_classifier_multilabel(model):
    X, y = make_task(60, seed=4, n_classes=3)
    Y = np.column_stack([y == "neg", y != "pos"]).astype(int)
    clf = ElmoClassifier(model, **FAST).fit(X, Y)
    assert clf.classes_.tolist() == [0, 1]
    predicted = clf.predict(X)
    assert predicted.shape == (60, 2) and set(np.unique(predicted)) <= {0, 1}
    proba = clf.predict_proba(X)
    assert proba.shape == (60, 2) and ((proba >= 0) & (proba <= 1)).all()
    assert clf.score(X, Y) >= 0.6  # subset accuracy; chance is 1/4


@pytest.mark.parametrize(
    "params",
    [
        {"pooling": "max"},
        {"pooling": "mean_max", "layer_norm": True, "hidden_layer_sizes": (8,)},
        {"layers": "top", "layer_norm": True},
        {"initial_state": "zeros", "max_tokens": 2, "layers": [0, -1]},
        {"initial_state": "carry", "embed_batch_size": 5},
    ],
)
def test_classifier_variants_learn(params, model, task):
    (X, y), (X_test, y_test) = task
    clf = ElmoClassifier(model, **{**FAST, **params}).fit(X, y)
    assert clf.mix_weights_.shape == (len(clf.layers_),)
    assert clf.score(X_test, y_test) >= 0.75


def test_classifier_reproducible(model, task):
    (X, y), (X_test, _) = task
    params = {
        "epochs": 5,
        "dropout": 0.5,
        "hidden_layer_sizes": (8,),
        "early_stopping": True,
    }
    a = ElmoClassifier(model, random_state=7, **params).fit(X, y)
    b = ElmoClassifier(model, random_state=7, **params).fit(X, y)
    c = ElmoClassifier(model, random_state=8, **params).fit(X, y)
    np.testing.assert_array_equal(a.predict_proba(X_test), b.predict_proba(X_test))
    assert a.history_ == b.history_
    assert not np.array_equal(a.predict_proba(X_test), c.predict_proba(X_test))


def test_sample_weight(model, task):
    (X, y), _ = task
    params = {"epochs": 5, "random_state": 0}
    plain = ElmoClassifier(model, **params).fit(X, y)
    doubled = ElmoClassifier(model, **params).fit(
        X, y, sample_weight=np.full(len(y), 2.0)
    )
    np.testing.assert_array_equal(
        plain.network_weights_["output/kernel"],
        doubled.network_weights_["output/kernel"],
    )
    # Samples with zero weight do not count: their labels are irrelevant.
    w = np.where(np.arange(len(y)) < 16, 0.0, 1.0)
    relabelled = y.copy()
    relabelled[:16] = np.where(y[:16] == "pos", "neg", "pos")
    a = ElmoClassifier(model, **params).fit(X, y, sample_weight=w)
    b = ElmoClassifier(model, **params).fit(X, relabelled, sample_weight=w)
    for key in a.network_weights_:
        np.testing.assert_array_equal(a.network_weights_[key], b.network_weights_[key])
    c = ElmoClassifier(model, **params).fit(X, relabelled)
    assert not np.allclose(
        a.network_weights_["output/kernel"], c.network_weights_["output/kernel"]
    )
    with pytest.raises(ValueError, match="(?i)negative"):
        ElmoClassifier(model).fit(X, y, sample_weight=-np.ones(len(y)))
    with pytest.raises(ValueError, match="sample_weight.shape"):
        ElmoClassifier(model).fit(X, y, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="non-zero"):
        ElmoClassifier(model).fit(X, y, sample_weight=np.zeros(len(y)))


def test_class_weight(model):
    # 40 "neg", 8 "pos": texts barely differ, so the prior dominates.
    rng = np.random.RandomState(0)
    X = [" ".join(rng.choice(VOCABULARIES[0], 4)) for _ in range(48)]
    y = np.array(["neg"] * 40 + ["pos"] * 8)
    params = {"epochs": 20, "learning_rate": 0.02, "random_state": 0}
    plain = ElmoClassifier(model, **params).fit(X, y)
    balanced = ElmoClassifier(model, class_weight="balanced", **params).fit(X, y)
    assert (balanced.predict(X) == "pos").sum() > (plain.predict(X) == "pos").sum()
    assert (
        balanced.predict_proba(X)[:, 1].mean()
        > plain.predict_proba(X)[:, 1].mean() + 0.1
    )
    # A class weight acts exactly as the same weight on that class's samples.
    by_class = ElmoClassifier(model, class_weight={"pos": 3.0}, **params).fit(X, y)
    by_sample = ElmoClassifier(model, **params).fit(
        X, y, sample_weight=np.where(y == "pos", 3.0, 1.0)
    )
    np.testing.assert_array_equal(by_class.predict_proba(X), by_sample.predict_proba(X))
    with pytest.raises(ValueError, match="not in class"):
        ElmoClassifier(model, class_weight={"maybe": 2.0}, epochs=1).fit(X, y)


def test_multilabel_class_weight(model):
    X, y = make_task(30, seed=5)
    Y = np.column_stack([y == "pos", np.zeros(30)]).astype(int)
    Y[:3, 1] = 1
    params = {"epochs": 10, "learning_rate": 0.02, "random_state": 0}
    plain = ElmoClassifier(model, **params).fit(X, Y)
    balanced = ElmoClassifier(model, class_weight="balanced", **params).fit(X, Y)
    assert balanced.predict_proba(X)[:, 1].mean() > plain.predict_proba(X)[:, 1].mean()
    with pytest.raises(ValueError, match="not a label column"):
        ElmoClassifier(model, class_weight={5: 1.0}, epochs=1).fit(X, Y)


def test_early_stopping(model, task):
    (X, y), _ = task
    clf = ElmoClassifier(
        model,
        early_stopping=True,
        validation_fraction=0.25,
        n_iter_no_change=2,
        epochs=200,
        learning_rate=0.05,
        hidden_layer_sizes=(16,),
        random_state=0,
    ).fit(X, y)
    assert clf.n_iter_ < 200
    assert set(clf.history_) == {"loss", "score", "val_loss", "val_score"}
    assert all(len(v) == clf.n_iter_ for v in clf.history_.values())
    failing = ElmoClassifier(model, early_stopping=True, epochs=1)
    with pytest.raises(ValueError, match="stratified by class"):
        failing.fit(["a", "b", "c", "d"], ["x", "x", "x", "y"])
    with pytest.raises(NotFittedError):  # a failed fit leaves no fitted state
        failing.predict(["a"])


def test_verbose(model, task, capsys):
    (X, y), _ = task
    ElmoClassifier(model, epochs=2, verbose=1).fit(X, y)
    out = capsys.readouterr().out
    assert "[ElmoClassifier] embedded 48 texts" in out
    assert "[ElmoClassifier] epoch 2/2: loss" in out
    ElmoClassifier(model, epochs=2).fit(X, y)
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize(
    "convert",
    [
        tuple,
        np.array,
        pd.Series,
        lambda X: np.array(X, dtype=object).reshape(-1, 1),
        lambda X: pd.DataFrame({"text": X}),
    ],
    ids=["tuple", "array", "series", "column", "frame"],
)
def test_input_containers(convert, fitted_classifier, task):
    _, (X_test, _) = task
    np.testing.assert_array_equal(
        fitted_classifier.predict_proba(convert(X_test)),
        fitted_classifier.predict_proba(X_test),
    )


def test_custom_tokenizer(model, task):
    (X, y), _ = task
    clf = ElmoClassifier(model, tokenizer=str.split, epochs=1).fit(X, y)
    assert clf.predict(X[:3]).shape == (3,)


# -- ElmoRegressor -------------------------------------------------------------


def test_regressor_learns(model, task):
    (X, y), (X_test, y_test) = task
    target = np.where(y == "pos", 5.0, 1.0) + np.random.RandomState(0).normal(
        0, 0.1, len(y)
    )
    reg = ElmoRegressor(model, **FAST).fit(X, target)
    predicted = reg.predict(X_test)
    assert predicted.shape == (40,) and predicted.dtype == np.float64
    assert reg.score(X_test, np.where(y_test == "pos", 5.0, 1.0)) > 0.5
    assert reg.y_mean_.shape == (1,) and reg.history_["score"][-1] > 0.5


def test_regressor_two_d_targets(model, task):
    (X, y), _ = task
    Y = np.column_stack([y == "pos", np.arange(len(y)) * 100.0]).astype(float)
    reg = ElmoRegressor(model, epochs=3, random_state=0).fit(X, Y)
    assert reg.predict(X[:5]).shape == (5, 2)
    assert reg.network_weights_["output/kernel"].shape == (32, 2)
    column = ElmoRegressor(model, epochs=1, random_state=0).fit(X, Y[:, :1])
    assert column.predict(X[:5]).shape == (5, 1)
    np.testing.assert_allclose(reg.y_mean_, Y.mean(axis=0))


def test_regressor_rejects_bad_targets(model, task):
    (X, _), _ = task
    with pytest.raises(ValueError, match="NaN"):
        ElmoRegressor(model).fit(X, np.full(len(X), np.nan))
    with pytest.raises(ValueError, match="could not convert|convert"):
        ElmoRegressor(model).fit(X, ["a"] * len(X))


# -- ElmoVectorizer -------------------------------------------------------------


def test_vectorizer_average_is_the_plain_mean_of_all_layers(model):
    # Texts of different lengths: padding must not leak into the means, and
    # the token layer (0) takes part in the average.
    X = ["Short .", "A much longer text with many more tokens in it .", "Mid size one"]
    vec = ElmoVectorizer(model).fit(X)
    assert vec.n_iter_ == 0 and vec.history_ == {} and vec.target_type_ is None
    np.testing.assert_allclose(vec.mix_weights_, [1 / 3] * 3)
    assert vec.gamma_ == 1.0
    Z = vec.transform(X)
    assert Z.dtype == np.float32 and Z.shape == (3, 32)
    np.testing.assert_allclose(
        Z, _layer_means(model, X).mean(axis=1), rtol=1e-5, atol=1e-6
    )


def test_vectorizer_top_and_layer_choices(model):
    X = ["The cat sat .", "Dogs bark"]
    means = _layer_means(model, X)
    top = ElmoVectorizer(model, mix="top").fit(X)
    assert top.layers_.tolist() == [2]
    np.testing.assert_allclose(top.transform(X), means[:, 2], rtol=1e-5, atol=1e-6)
    chosen = ElmoVectorizer(model, layers=[0, 1]).fit(X)
    np.testing.assert_allclose(
        chosen.transform(X), means[:, :2].mean(axis=1), rtol=1e-5, atol=1e-6
    )
    same = ElmoVectorizer(model, layers="top").fit_transform(X)
    np.testing.assert_allclose(same, top.transform(X))


def test_vectorizer_learns_the_mix_from_y(model, task):
    (X, y), _ = task
    vec = ElmoVectorizer(model, **FAST).fit(X, y)
    assert vec.target_type_ == "classification" and vec.n_iter_ == 30
    assert not np.allclose(vec.mix_weights_, 1 / 3)
    assert set(vec.network_weights_) == {"scalar_mix/w", "scalar_mix/gamma"}
    expected = vec.gamma_ * np.tensordot(
        _layer_means(model, X), vec.mix_weights_, axes=([1], [0])
    )
    np.testing.assert_allclose(vec.transform(X), expected, rtol=1e-4, atol=1e-5)
    again = ElmoVectorizer(model, **FAST).fit_transform(X, y)
    np.testing.assert_allclose(again, vec.transform(X), rtol=1e-6)


def test_vectorizer_mix_modes(model, task):
    (X, y), _ = task
    regression = ElmoVectorizer(model, epochs=2).fit(X, np.linspace(0, 1, len(X)))
    assert regression.target_type_ == "regression"
    ignored = ElmoVectorizer(model, mix="average").fit(X, y)
    assert ignored.n_iter_ == 0
    np.testing.assert_allclose(ignored.mix_weights_, 1 / 3)
    with pytest.raises(ValueError, match="fit needs y"):
        ElmoVectorizer(model, mix="learned").fit(X)
    with pytest.raises(ValueError, match="class_weight only applies"):
        ElmoVectorizer(model, class_weight="balanced").fit(X, np.linspace(0, 1, len(X)))


def test_vectorizer_feature_names_and_pandas_output(model):
    X = pd.Series(["The cat sat .", "Dogs bark", "Hi"], index=[7, 8, 9])
    vec = ElmoVectorizer(model, pooling="mean_max").set_output(transform="pandas")
    frame = vec.fit_transform(X)
    names = vec.get_feature_names_out()
    assert names.tolist()[:2] == ["elmo_mean_0", "elmo_mean_1"]
    assert names.tolist()[32:34] == ["elmo_max_0", "elmo_max_1"] and len(names) == 64
    assert isinstance(frame, pd.DataFrame) and frame.shape == (3, 64)
    assert frame.columns.tolist() == names.tolist() and frame.index.tolist() == [
        7,
        8,
        9,
    ]
    assert isinstance(vec.transform(X), pd.DataFrame)


def test_vectorizer_windows_long_texts(model):
    long_text = " ".join(["word"] * 9 + ["end", "."])
    short = "a short one"
    whole = ElmoVectorizer(model, max_tokens=None).fit_transform([long_text, short])
    windowed = ElmoVectorizer(model, max_tokens=4).fit_transform([long_text, short])
    np.testing.assert_allclose(whole[1], windowed[1], rtol=0, atol=1e-6)
    assert not np.allclose(whole[0], windowed[0])


def test_vectorizer_in_column_transformer(model):
    frame = pd.DataFrame(
        {"text": ["The cat sat .", "Dogs bark", "Hi"], "n": [1.0, 2.0, 3.0]}
    )
    ct = ColumnTransformer(
        [("elmo", ElmoVectorizer(model), ["text"]), ("num", "passthrough", ["n"])]
    )
    out = ct.fit_transform(frame)
    assert out.shape == (3, 33)
    np.testing.assert_allclose(out[:, -1], [1.0, 2.0, 3.0])


# -- model selection -----------------------------------------------------------


def test_pipeline_with_logistic_regression(model, task):
    (X, y), (X_test, y_test) = task
    pipe = Pipeline(
        [("elmo", ElmoVectorizer(model, **FAST)), ("clf", LogisticRegression(C=100.0))]
    )
    assert pipe.fit(X, y) is pipe
    assert pipe.named_steps["elmo"].target_type_ == "classification"
    assert pipe.score(X_test, y_test) >= 0.85


def test_grid_search_over_vectorizer_params(model, task):
    (X, y), _ = task
    pipe = Pipeline(
        [
            ("elmo", ElmoVectorizer(model, epochs=3, random_state=0)),
            ("clf", LogisticRegression()),
        ]
    )
    grid = {
        "elmo__layers": ["all", "top"],
        "elmo__pooling": ["mean", "max"],
        "clf__C": [1.0, 100.0],
    }
    search = GridSearchCV(pipe, grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert set(search.best_params_) == set(grid)
    assert search.best_score_ >= 0.75
    assert search.predict(X[:4]).shape == (4,)


def test_grid_search_over_classifier_params(model, task):
    (X, y), _ = task
    grid = {
        "learning_rate": [0.001, 0.02],
        "hidden_layer_sizes": [(), (8,)],
        "dropout": [0.0, 0.5],
    }
    search = GridSearchCV(
        ElmoClassifier(model, epochs=10, random_state=0), grid, cv=2
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 8
    assert (
        search.best_params_["learning_rate"] == 0.02
    )  # 0.001 barely moves in 10 epochs
    assert isinstance(search.best_estimator_, ElmoClassifier)


def test_cross_val_score(model, task):
    (X, y), _ = task
    scores = cross_val_score(ElmoClassifier(model, **FAST), X, y, cv=3)
    assert scores.shape == (3,) and scores.mean() >= 0.75


def test_grid_search_in_parallel(model, task):
    (X, y), _ = task
    grid = {"learning_rate": [0.005, 0.02]}
    parallel = GridSearchCV(
        ElmoClassifier(model, epochs=5, random_state=0), grid, cv=2, n_jobs=2
    ).fit(X, y)
    serial = GridSearchCV(
        ElmoClassifier(model, epochs=5, random_state=0), grid, cv=2
    ).fit(X, y)
    np.testing.assert_allclose(
        parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"]
    )
