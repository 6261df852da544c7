"""Bad or unusual input: every case has a defined result or a clear error.

The defined behaviours are listed in docs/errors.md.
"""

import copy
import time
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils._param_validation import InvalidParameterError

from sklearn_elmo import (
    ElmoClassifier,
    ElmoRegressor,
    ElmoVectorizer,
    config_context,
    load_bilm,
)
from sklearn_elmo.bilm import Bilm
from sklearn_elmo.exceptions import BilmMismatchError
from sklearn_elmo.features._embedding import embed_texts
from sklearn_elmo.testing import make_random_bilm

ESTIMATORS = [ElmoClassifier, ElmoRegressor, ElmoVectorizer]
WORDS = [
    ["good", "great", "fine", "happy", "nice"],
    ["bad", "awful", "poor", "sad", "grim"],
]
FAST = {"epochs": 3, "learning_rate": 0.02, "random_state": 0}
DIM = 32  # width of the tiny generated biLM


def make_data(n, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = [" ".join(rng.choice(WORDS[c], rng.randint(2, 5))) + " ." for c in y]
    return X, np.array(["neg", "pos"])[y]


X_TRAIN, Y_TRAIN = make_data(16)


def target_for(Estimator, y=Y_TRAIN):
    return (np.asarray(y) == "pos").astype(float) if Estimator is ElmoRegressor else y


def output_of(est, X):
    return est.transform(X) if isinstance(est, ElmoVectorizer) else est.predict(X)


@pytest.fixture(scope="module")
def model(tiny_model):
    return str(tiny_model)


@pytest.fixture(scope="module")
def fitted(model):
    """One fitted estimator of each kind (the vectorizer's mix is learned)."""
    return {Est: Est(model, **FAST).fit(X_TRAIN, target_for(Est)) for Est in ESTIMATORS}


@pytest.fixture(scope="module")
def vectorizer(model):
    return ElmoVectorizer(model, initial_state="zeros").fit(["warm up"])


@pytest.fixture
def no_embedding(monkeypatch):
    """Make any use of the biLM fail: the error must come before long work."""

    def refuse(self, sentences, batch_size=64):
        raise AssertionError("the biLM ran before the input was checked")
        yield  # pragma: no cover

    monkeypatch.setattr(Bilm, "iter_embed", refuse)
    with config_context(cache_memory=0):  # no text is answered from the cache
        yield


# -- texts: blank ----------------------------------------------------------------


@pytest.mark.parametrize("pooling", ["mean", "max", "mean_max"])
@pytest.mark.parametrize("layer_norm", [False, True])
def test_blank_texts_give_zero_vectors(model, pooling, layer_norm):
    vec = ElmoVectorizer(model, pooling=pooling, layer_norm=layer_norm).fit(["a b"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "mean of empty slice", no 0/0
        Z = vec.transform(["", " ", "\t\n \r", "\u3000\u2003", "a b"])
    width = 2 * DIM if pooling == "mean_max" else DIM
    assert Z.shape == (5, width) and Z.dtype == np.float32
    assert np.isfinite(Z).all()
    np.testing.assert_array_equal(Z[:4], 0.0)
    assert np.abs(Z[4]).sum() > 0


def test_blank_texts_through_a_trained_head(fitted):
    assert np.isfinite(fitted[ElmoRegressor].predict(["", "   ", "good"])).all()
    assert set(fitted[ElmoClassifier].predict(["", "   "])) <= {"neg", "pos"}
    proba = fitted[ElmoClassifier].predict_proba(["", "good"])
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    # A blank text's pooled vector is zero, so it scores like any other
    # all-blank input: the head's answer for "no evidence".
    np.testing.assert_allclose(
        proba[0], fitted[ElmoClassifier].predict_proba([" "])[0], rtol=1e-5
    )


def test_fit_on_blank_texts_only(model):
    vec = ElmoVectorizer(model).fit(["", " "])
    np.testing.assert_array_equal(vec.transform(["", "x"])[0], 0.0)
    clf = ElmoClassifier(model, epochs=2, random_state=0).fit(
        ["", " ", "", " "], [0, 1, 0, 1]
    )
    assert np.isfinite(clf.predict_proba(["", "a"])).all()


def test_blank_sentences_in_the_biLM(model):
    bilm = load_bilm(model, initial_state="zeros")
    layers, mask = bilm.embed([[], ["a"], []])
    assert layers.shape == (3, 3, 1, DIM) and mask.tolist() == [
        [False],
        [True],
        [False],
    ]
    np.testing.assert_array_equal(layers[[0, 2]], 0.0)
    layers, mask = bilm.embed([[]])
    assert layers.shape == (1, 3, 0, DIM) and mask.shape == (1, 0)


# -- texts: missing values and non-str items ---------------------------------------


@pytest.mark.parametrize(
    "bad, kind",
    [
        (None, "NoneType"),
        (np.nan, "float"),
        (pd.NA, "NAType"),
        (3, "int"),
        (2.5, "float"),
        (b"bytes", "bytes"),
        ({"text": "a"}, "dict"),
        (np.int64(1), "int64"),
    ],
    ids=["None", "nan", "NA", "int", "float", "bytes", "dict", "numpy-int"],
)
@pytest.mark.parametrize(
    "method", ["fit", "transform", "predict", "predict_proba", "fit_transform"]
)
def test_non_str_item_named_by_index(bad, kind, method, fitted, model, no_embedding):
    X = ["fine", "good", bad]
    calls = {
        "fit": lambda: ElmoClassifier(model).fit(X, ["a", "b", "a"]),
        "fit_transform": lambda: ElmoVectorizer(model).fit_transform(X),
        "transform": lambda: fitted[ElmoVectorizer].transform(X),
        "predict": lambda: fitted[ElmoClassifier].predict(X),
        "predict_proba": lambda: fitted[ElmoClassifier].predict_proba(X),
    }
    with pytest.raises(TypeError, match=rf"X\[2\] must be a str, got {kind}"):
        calls[method]()


@pytest.mark.parametrize(
    "X",
    [
        pd.Series(["ok", None, "fine"], index=[7, 8, 9]),
        pd.Series(["ok", np.nan, "fine"]),
        pd.Series(["ok", pd.NA, "fine"], dtype="string"),
        np.array(["ok", None, "fine"], dtype=object),
        pd.DataFrame({"text": ["ok", None, "fine"]}),
    ],
    ids=["series-None", "series-nan", "string-NA", "array-None", "frame-None"],
)
def test_missing_values_are_never_read_as_text(X, fitted, no_embedding):
    # The position is the row's position, not its index label.
    with pytest.raises(TypeError, match=r"X\[1\] must be a str"):
        fitted[ElmoVectorizer].transform(X)


def test_bytes_are_not_decoded(fitted, no_embedding):
    with pytest.raises(TypeError, match=r"X\[0\] must be a str, got bytes"):
        fitted[ElmoVectorizer].transform([b"caf\xc3\xa9"])
    with pytest.raises(TypeError, match="single bytes"):
        fitted[ElmoVectorizer].transform(b"text")


def test_biLM_input_errors_name_the_position(model):
    bilm = load_bilm(model, initial_state="zeros")
    for sentences, match in [
        (
            [["a"], ["b", None]],
            r"sentences\[1\]\[1\] must be a str token, got NoneType",
        ),
        ([["a", float("nan")]], r"sentences\[0\]\[1\] .* got float"),
        ([[b"a"]], r"sentences\[0\]\[0\] .* got bytes"),
        ([["a"], "b c"], r"sentences\[1\] must be a list of str tokens, got str"),
        ([["a"], None], r"sentences\[1\] must be a list of str tokens, got NoneType"),
        ("a b", "got a single str"),
    ]:
        with pytest.raises(TypeError, match=match):
            bilm.embed(sentences)
    with pytest.raises(ValueError, match=r"sentences\[0\]\[1\] is an empty token"):
        bilm.embed([["a", ""]])


def test_tokenizer_output_is_checked(model, no_embedding):
    bad_tokenizers = [
        (lambda t: t, r"must return a list of str; for X\[0\] it returned str"),
        (lambda t: [t, None], r"NoneType as token 1 of X\[0\]"),
        (lambda t: t.split(" "), r"empty string as token 1 of X\[0\]"),  # "a  b"
        (lambda t: None, "returned NoneType"),
    ]
    for tokenizer, match in bad_tokenizers:
        with pytest.raises((TypeError, ValueError), match=match):
            ElmoVectorizer(model, tokenizer=tokenizer).fit_transform(["a  b"])


# -- texts: containers -----------------------------------------------------------------


def test_generator_is_consumed_once_and_works(fitted, model):
    expected = fitted[ElmoVectorizer].transform(X_TRAIN[:5])
    consumed = []

    def texts():
        for t in X_TRAIN[:5]:
            consumed.append(t)
            yield t

    np.testing.assert_array_equal(fitted[ElmoVectorizer].transform(texts()), expected)
    assert consumed == X_TRAIN[:5]
    vec = ElmoVectorizer(model)
    np.testing.assert_array_equal(
        vec.fit_transform(t for t in X_TRAIN), vec.transform(X_TRAIN)
    )
    clf = ElmoClassifier(model, **FAST).fit((t for t in X_TRAIN), Y_TRAIN)
    reference = ElmoClassifier(model, **FAST).fit(X_TRAIN, Y_TRAIN)
    np.testing.assert_array_equal(
        clf.predict_proba(iter(X_TRAIN)), reference.predict_proba(X_TRAIN)
    )
    pipe = make_pipeline(ElmoVectorizer(model, **FAST), LogisticRegression())
    pipe.fit((t for t in X_TRAIN), Y_TRAIN)
    assert pipe.predict(t for t in X_TRAIN[:3]).shape == (3,)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_a_bare_string_is_refused(Est, fitted, model, no_embedding):
    with pytest.raises(TypeError, match="got a single str; wrap it in a list"):
        Est(model).fit("good film", ["pos"])
    with pytest.raises(TypeError, match="got a single str; wrap it in a list"):
        output_of(fitted[Est], "good film")


@pytest.mark.parametrize(
    "X",
    [
        np.array([["a", "b"], ["c", "d"]]),
        pd.DataFrame({"a": ["x", "y"], "b": ["z", "w"]}),
        [["a", "b"], ["c", "d"]],
        np.array([[["a"]], [["b"]]]),
    ],
    ids=["array", "frame", "list-of-lists", "3-D"],
)
def test_more_than_one_column_is_refused(X, fitted, model, no_embedding):
    with pytest.raises(ValueError, match="must be 1-D or a single column of texts"):
        fitted[ElmoVectorizer].transform(X)
    with pytest.raises(ValueError, match="must be 1-D or a single column of texts"):
        ElmoClassifier(model).fit(X, [0, 1])


@pytest.mark.parametrize(
    "empty",
    [[], (), np.array([], dtype=object), pd.Series([], dtype=object), iter([])],
    ids=["list", "tuple", "array", "series", "iterator"],
)
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_zero_samples_are_refused(Est, empty, fitted, model, no_embedding):
    if isinstance(empty, type(iter([]))):
        empty, again = iter([]), iter([])
    else:
        again = empty
    with pytest.raises(ValueError, match="X is empty: at least one text is required"):
        Est(model).fit(empty, [])
    with pytest.raises(ValueError, match="X is empty"):
        output_of(fitted[Est], again)


def test_biLM_embeds_zero_sentences_to_empty_arrays(model):
    # Documented engine behaviour (docs/engine.md): not an error there.
    layers, mask = load_bilm(model, initial_state="zeros").embed([])
    assert layers.shape == (0, 3, 0, DIM) and mask.shape == (0, 0)


def test_one_sample(fitted, model):
    for Est in ESTIMATORS:
        out = output_of(fitted[Est], ["good"])
        assert len(out) == 1
    vec = ElmoVectorizer(model).fit(["only one"])
    assert vec.transform(["only one"]).shape == (1, DIM)
    assert ElmoVectorizer(model).fit_transform(["one"]).shape == (1, DIM)
    reg = ElmoRegressor(model, epochs=2, random_state=0).fit(["one"], [3.0])
    assert reg.predict(["one"])[0] == pytest.approx(3.0)
    assert np.isfinite(reg.predict(["two", ""])).all()
    with pytest.raises(ValueError, match="at least 2 classes"):
        ElmoClassifier(model).fit(["one"], ["a"])


def test_pandas_with_a_non_default_index(fitted, model):
    X = pd.Series(X_TRAIN[:4], index=["w", "x", "y", "z"])
    vec = fitted[ElmoVectorizer]
    np.testing.assert_array_equal(vec.transform(X), vec.transform(list(X)))
    shuffled = pd.Series(X_TRAIN[:4], index=[30, 10, 40, 20])
    np.testing.assert_array_equal(vec.transform(shuffled), vec.transform(list(X)))
    frame = pd.DataFrame({"text": X_TRAIN[:4]}, index=[5, 3, 9, 1])
    np.testing.assert_array_equal(vec.transform(frame), vec.transform(list(X)))
    y = pd.Series(Y_TRAIN, index=np.arange(100, 100 + len(Y_TRAIN))[::-1])
    clf = ElmoClassifier(model, **FAST).fit(pd.Series(X_TRAIN, index=y.index), y)
    reference = ElmoClassifier(model, **FAST).fit(X_TRAIN, Y_TRAIN)
    np.testing.assert_array_equal(clf.predict_proba(X), reference.predict_proba(X))
    out = clone(vec).set_output(transform="pandas").fit(X).transform(shuffled)
    assert out.index.tolist() == [30, 10, 40, 20]


# -- texts: very long ----------------------------------------------------------------


def _long_text(n_tokens, seed=0):
    words = ["the", "cat", "sat", "on", "a", "mat", "while", "dogs", "bark"]
    words = np.array([*words, "at", "night", ",", "."])
    return " ".join(np.random.RandomState(seed).choice(words, n_tokens))


def test_a_100000_token_text_is_windowed_in_bounded_memory(model, monkeypatch):
    text = _long_text(100_000)
    vec = ElmoVectorizer(model, initial_state="zeros", max_tokens=256).fit(["warm"])
    widths = []
    original = Bilm.iter_embed

    def spy(self, sentences, batch_size=64):
        widths.extend(len(s) for s in sentences)
        yield from original(self, sentences, batch_size)

    monkeypatch.setattr(Bilm, "iter_embed", spy)
    vec.transform(["warm the engine up " * 60])  # compile outside the measurement
    widths.clear()
    tracemalloc.start()
    start = time.perf_counter()
    Z = vec.transform([text, "a short one"])
    elapsed = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert Z.shape == (2, DIM) and np.isfinite(Z).all()
    assert len(widths) == 392 and max(widths) <= 256  # 100,000 tokens in windows
    assert elapsed < 60
    # Embedding it whole would allocate its layers several times over
    # (100,000 x 3 x 32 float32 is 38 MiB per copy); windowed, the peak is
    # the token strings and one batch.
    assert peak < 48 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    np.testing.assert_allclose(Z[1], vec.transform(["a short one"])[0], rtol=1e-6)


def test_one_long_text_does_not_pad_its_batch(model):
    """Max pooling keeps token vectors; short texts are not padded to the long one."""
    vec = ElmoVectorizer(model, initial_state="zeros", pooling="max").fit(["warm"])
    X = [_long_text(4000)] + ["short text ."] * 127
    features = embed_texts(
        X, load_bilm(model, initial_state="zeros"), max_tokens=256, token_level=True
    )
    network = vec._network()
    expected = np.stack([network.encode(features_of(features, i))[0] for i in (0, 1)])
    tracemalloc.start()
    Z = network.encode(features)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    np.testing.assert_allclose(Z[:2], expected, rtol=1e-6)
    # 128 rows padded to 4000 tokens would be 128 x 3 x 4000 x 32 float32 = 188 MiB.
    assert peak < 16 * 2**20, f"peak {peak / 2**20:.0f} MiB"


def features_of(features, i):
    """The LayerFeatures of text i alone."""
    from sklearn_elmo.features._embedding import LayerFeatures

    start, stop = features.offsets[i], features.offsets[i + 1]
    return LayerFeatures(
        features.n_tokens[i : i + 1],
        features.means[i : i + 1],
        features.sq_means[i : i + 1],
        features.tokens[start:stop],
    )


# -- texts: unusual characters -------------------------------------------------------

UNUSUAL = {
    "long-token": "x" * 200 + " " + "é" * 100,
    "invalid-utf8": b"caf\xe9 \xff\xfe bad".decode("utf-8", errors="surrogateescape"),
    "lone-surrogates": "a \ud800 b \udfff c",
    "emoji": "I ❤️ 🐍 👩🏽‍💻 🇫🇷 !",
    "cjk": "我爱自然语言处理 。 日本語のテキスト",
    "rtl": "שלום עולם مرحبا بالعالم \u202eabc\u202c",
    "combining": "e\u0301 a\u0308\u0323 Z\u0351\u0352\u0353\u0354\u0355",
    "control": "a\x00b \x07\x1b[31m c\x7f \x85 d",
    "zero-width": "a\u200bb \ufeff c\u200d",
    "private-use": "\ue000 \U000f0000 \U0010ffff",
}


@pytest.mark.parametrize("pooling", ["mean", "max"])
def test_unusual_characters_embed_like_any_text(pooling, model):
    vec = ElmoVectorizer(model, initial_state="zeros", pooling=pooling).fit(["x"])
    texts = list(UNUSUAL.values())
    with config_context(cache_memory=0):  # each call really embeds
        Z = vec.transform(texts)
        alone = [vec.transform([text])[0] for text in texts]
    assert Z.shape == (len(texts), DIM) and Z.dtype == np.float32
    assert np.isfinite(Z).all()
    assert (np.abs(Z).sum(axis=1) > 0).all()  # every one has tokens
    # Independent of the other texts of the call.
    np.testing.assert_allclose(np.stack(alone), Z, rtol=1e-5, atol=1e-6)


def test_tokens_are_cut_at_48_bytes(model):
    bilm = load_bilm(model, initial_state="zeros")
    base = "a" * 48
    layers, _ = bilm.embed([[base + "bcd"], [base + "xyz"], [base]])
    np.testing.assert_array_equal(layers[0, 0], layers[1, 0])  # same token embedding
    np.testing.assert_array_equal(layers[0, 0], layers[2, 0])
    # A cut inside a multi-byte character is fine too.
    layers, mask = bilm.embed([["é" * 30], ["😀" * 20]])
    assert np.isfinite(layers).all() and mask.all()


def test_invalid_utf8_and_surrogates_in_the_biLM(model):
    bilm = load_bilm(model, initial_state="zeros")
    tokens = [["\ud800"], ["\udcff\udc80"], ["a\x00b"], ["\U0010ffff"]]
    layers, mask = bilm.embed(tokens)
    assert np.isfinite(layers).all() and mask.all()
    # Distinct strings stay distinct: the escape is not decoded away.
    assert not np.array_equal(layers[0], layers[1])


# -- targets -----------------------------------------------------------------------


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("n_targets", [15, 17])
def test_target_length_mismatch(Est, n_targets, model, no_embedding):
    y = target_for(Est, np.resize(Y_TRAIN, n_targets))
    with pytest.raises(ValueError, match=f"16 texts and {n_targets} targets"):
        Est(model).fit(X_TRAIN, y)


@pytest.mark.filterwarnings("ignore:invalid value encountered in cast:RuntimeWarning")
@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_y(Est, bad, model, no_embedding):
    y = np.linspace(0, 1, 16) if Est is not ElmoClassifier else np.arange(16.0) % 2
    y[3] = bad
    with pytest.raises(ValueError, match="NaN|infinity"):
        Est(model).fit(X_TRAIN, y)


def test_one_class_only(model, no_embedding):
    for Est in (ElmoClassifier, ElmoVectorizer):
        with pytest.raises(ValueError, match="at least 2 classes.*only the class 'x'"):
            Est(model).fit(X_TRAIN, ["x"] * 16)


def test_multilabel_with_an_all_zero_column(model):
    Y = np.column_stack([Y_TRAIN == "pos", np.zeros(16), Y_TRAIN == "neg"]).astype(int)
    for class_weight in (None, "balanced"):
        clf = ElmoClassifier(
            model, class_weight=class_weight, epochs=40, learning_rate=0.05
        ).fit(X_TRAIN, Y)
        proba = clf.predict_proba(X_TRAIN)
        assert proba.shape == (16, 3) and np.isfinite(proba).all()
        assert set(np.unique(clf.predict(X_TRAIN))) <= {0, 1}
        assert proba[:, 1].max() < 0.5  # never seen on: predicted absent
    vec = ElmoVectorizer(model, **FAST).fit(X_TRAIN, Y)
    assert np.isfinite(vec.mix_weights_).all()


def test_string_labels_and_unseen_labels_never_returned(model):
    X, y = make_data(24, seed=3)
    labels = np.where(y == "pos", "très bien ✓", "nul")
    clf = ElmoClassifier(model, **FAST).fit(X, labels)
    assert clf.classes_.tolist() == ["nul", "très bien ✓"]
    other = ["blue green red", "purple", "", "🐍 🐍", "totally new words here"]
    predicted = clf.predict(X + other)
    assert set(predicted) <= set(clf.classes_)
    assert predicted.dtype == clf.classes_.dtype
    multiclass = ElmoClassifier(model, **FAST).fit(X, np.arange(24) % 3 * 10)
    assert set(multiclass.predict(other)) <= {0, 10, 20}


# -- weights -------------------------------------------------------------------------


@pytest.mark.parametrize("Est", ESTIMATORS)
@pytest.mark.parametrize(
    "weight, match",
    [
        ("negative", "Negative values in data passed to `sample_weight`"),
        ("nan", "sample_weight contains NaN"),
        ("inf", "sample_weight contains infinity"),
        ("zero", "at least one non-zero number"),
        ("short", r"sample_weight.shape == \(15,\), expected \(16,\)"),
    ],
)
def test_bad_sample_weight(Est, weight, match, model, no_embedding):
    w = np.ones(16)
    if weight == "negative":
        w[2] = -1.0
    elif weight == "nan":
        w[2] = np.nan
    elif weight == "inf":
        w[2] = np.inf
    elif weight == "zero":
        w[:] = 0.0
    else:
        w = np.ones(15)
    with pytest.raises(ValueError, match=match):
        Est(model).fit(X_TRAIN, target_for(Est), sample_weight=w)


def test_class_weights_of_zero_for_every_class(model):
    with pytest.raises(ValueError, match="class_weight\\) are all zero"):
        ElmoClassifier(model, class_weight={"neg": 0, "pos": 0}).fit(X_TRAIN, Y_TRAIN)


@pytest.mark.parametrize("Est", [ElmoClassifier, ElmoVectorizer])
@pytest.mark.parametrize(
    "class_weight, match",
    [
        ({"maybe": 2.0}, r"key 'maybe', which is not in classes \['neg', 'pos'\]"),
        ({"neg": 1.0, "pos": 1.0, "x": 3.0}, "key 'x', which is not in classes"),
        ({0: 1.0}, "key 0, which is not in classes"),
        ({"pos": -1.0}, r"class_weight\['pos'\] must be a finite number >= 0"),
        ({"pos": np.nan}, r"class_weight\['pos'\] must be a finite number"),
        ({"pos": "2"}, r"class_weight\['pos'\] must be a finite number"),
        ("even", "'class_weight' parameter"),
    ],
)
def test_bad_class_weight(Est, class_weight, match, model, no_embedding):
    with pytest.raises(ValueError, match=match):
        Est(model, class_weight=class_weight).fit(X_TRAIN, Y_TRAIN)


def test_bad_multilabel_class_weight(model, no_embedding):
    Y = np.column_stack([Y_TRAIN == "pos", Y_TRAIN == "neg"]).astype(int)
    with pytest.raises(ValueError, match="key 2, which is not a label column"):
        ElmoClassifier(model, class_weight={2: 1.0}).fit(X_TRAIN, Y)
    with pytest.raises(ValueError, match=r"class_weight\[1\] must be a finite"):
        ElmoClassifier(model, class_weight={1: -2.0}).fit(X_TRAIN, Y)


# -- parameters ------------------------------------------------------------------------

COMMON_BAD = {
    "model": [3, None, b"/tmp/model", ["a"]],
    "initial_state": ["hot", None, 0],
    "layers": ["bottom", 2.5, None, True, "0"],
    "pooling": ["median", None, 1, "MEAN"],
    "layer_norm": ["yes", 1, None, 0.0],
    "tokenizer": ["spaces", 3, ["a"]],
    "max_tokens": [0, -1, 2.5, "10", True, np.nan, np.inf],
    "embed_batch_size": [0, -3, 1.5, None, True],
    "cache_dir": [3, ["dir"]],
    "hidden_layer_sizes": [0, -1, "abc", None, True],
    "dropout": [1.0, -0.1, np.nan, np.inf, "0.5", None],
    "mix_l2": [-1.0, np.nan, np.inf, None],
    "learning_rate": [0, -1e-3, np.nan, np.inf, None],
    "epochs": [0, -1, 1.5, None, True, np.inf],
    "batch_size": [0, 2.5, None, True],
    "early_stopping": ["yes", 1, None],
    "validation_fraction": [0, 1, 1.5, -0.1, np.nan, None],
    "n_iter_no_change": [0, 1.5, None, True],
    "random_state": ["abc", 1.5, -1, 2**40],
    "verbose": [-1, "yes", 1.5, None],
}
EXTRA_BAD = {
    ElmoClassifier: {"class_weight": ["even", [1.0, 2.0], 1.0]},
    ElmoRegressor: {},
    ElmoVectorizer: {"class_weight": ["even", [1.0, 2.0]], "mix": ["bogus", None]},
}
CASES = [
    (Est, name, value)
    for Est in ESTIMATORS
    for name, values in {**COMMON_BAD, **EXTRA_BAD[Est]}.items()
    for value in values
]


def test_every_parameter_has_bad_values_listed():
    for Est in ESTIMATORS:
        params = set(Est().get_params())
        assert params == set(COMMON_BAD) | set(EXTRA_BAD[Est]), Est.__name__


@pytest.mark.parametrize(
    "Est, name, value",
    CASES,
    ids=[f"{Est.__name__}-{name}-{value!r}" for Est, name, value in CASES],
)
def test_invalid_parameter_values_fail_at_fit(Est, name, value, model, no_embedding):
    est = Est(model, **{name: value}) if name != "model" else Est(value)
    assert est.get_params()[name] is value  # __init__ stores, never checks
    with pytest.raises(
        InvalidParameterError, match=f"The '{name}' parameter of {Est.__name__}"
    ):
        est.fit(X_TRAIN, target_for(Est))


VALUE_ERRORS = [
    (
        {"layers": [0, 5]},
        ValueError,
        "index 5 is out of range for a biLM with 3 layers",
    ),
    ({"layers": -4}, ValueError, "index -4 is out of range"),
    ({"layers": [1, -2]}, ValueError, "layers must not repeat a layer"),
    ({"layers": []}, ValueError, "non-empty list of layer indices"),
    ({"layers": [[0, 1]]}, ValueError, "non-empty list of layer indices"),
    ({"layers": [0.5]}, TypeError, "layers must hold int layer indices"),
    ({"layers": [True]}, TypeError, "layers must hold int layer indices"),
    (
        {"hidden_layer_sizes": (4, 0)},
        ValueError,
        "hidden_layer_sizes must hold positive",
    ),
    (
        {"hidden_layer_sizes": (4.5,)},
        ValueError,
        "hidden_layer_sizes must hold positive",
    ),
    (
        {"hidden_layer_sizes": (True,)},
        ValueError,
        "hidden_layer_sizes must hold positive",
    ),
    ({"model": ""}, ValueError, "model is an empty string"),
    ({"model": "/nonexistent/elmo"}, ValueError, "/nonexistent/elmo: no such file"),
]


@pytest.mark.parametrize("params, error, match", VALUE_ERRORS)
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_invalid_values_that_need_the_biLM_fail_before_embedding(
    Est, params, error, match, model, no_embedding
):
    params = {"model": model, **params}
    with pytest.raises(error, match=match):
        Est(**params).fit(X_TRAIN, target_for(Est))


def test_vectorizer_without_training_checks_its_parameters_too(model, no_embedding):
    with pytest.raises(InvalidParameterError, match="'epochs' parameter"):
        ElmoVectorizer(model, epochs=0).fit(X_TRAIN)  # epochs unused without y
    with pytest.raises(ValueError, match="index 9 is out of range"):
        ElmoVectorizer(model, layers=[9]).fit(X_TRAIN)


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_set_params_with_an_unknown_name(Est, model):
    est = Est(model)
    with pytest.raises(
        ValueError, match=f"Invalid parameter 'bogus' for estimator {Est.__name__}"
    ):
        est.set_params(bogus=1)
    with pytest.raises(ValueError, match="Invalid parameter 'pool' for estimator"):
        est.set_params(pool="max")  # a near miss is not guessed
    assert est.get_params() == Est(model).get_params()  # nothing was set
    pipe = Pipeline([("elmo", Est(model))])
    with pytest.raises(ValueError, match="Invalid parameter 'bogus'"):
        pipe.set_params(elmo__bogus=1)


# -- calls in the wrong order ---------------------------------------------------------


@pytest.mark.parametrize(
    "Est, method",
    [
        (ElmoClassifier, "predict"),
        (ElmoClassifier, "predict_proba"),
        (ElmoClassifier, "predict_log_proba"),
        (ElmoClassifier, "decision_function"),
        (ElmoClassifier, "score"),
        (ElmoRegressor, "predict"),
        (ElmoRegressor, "score"),
        (ElmoVectorizer, "transform"),
        (ElmoVectorizer, "get_feature_names_out"),
    ],
)
def test_use_before_fit(Est, method, model, fitted, no_embedding):
    args = {
        "get_feature_names_out": (),
        "score": (X_TRAIN, target_for(Est)),
    }.get(method, (X_TRAIN,))
    with pytest.raises(
        NotFittedError, match=f"This {Est.__name__} instance is not fitted"
    ):
        getattr(Est(model), method)(*args)
    with pytest.raises(NotFittedError):  # a clone of a fitted one is not fitted
        getattr(clone(fitted[Est]), method)(*args)


FEATURE_CHANGES = [
    ("layers", [0, 1]),
    ("layers", "top"),
    ("pooling", "max"),
    ("layer_norm", True),
    ("tokenizer", str.split),
    ("max_tokens", 2),
    ("max_tokens", None),
]


@pytest.mark.parametrize("name, value", FEATURE_CHANGES)
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_changing_a_feature_parameter_after_fit_requires_refit(
    Est, name, value, fitted
):
    est = copy.deepcopy(fitted[Est])
    before = output_of(est, X_TRAIN[:4])
    fitted_value = est.get_params()[name]
    est.set_params(**{name: value})
    with pytest.raises(
        ValueError, match=rf"fitted with {name}=.*but {name} is now"
    ) as info:
        output_of(est, X_TRAIN[:4])
    assert "call fit again" in str(info.value)
    est.set_params(**{name: fitted_value})  # back to the fitted value: fine again
    np.testing.assert_array_equal(output_of(est, X_TRAIN[:4]), before)
    est.set_params(**{name: value}).fit(X_TRAIN, target_for(Est))  # or refit
    assert len(output_of(est, X_TRAIN[:4])) == 4


def test_changing_mix_after_fit_requires_refit(fitted):
    vec = copy.deepcopy(fitted[ElmoVectorizer])
    vec.set_params(mix="top")
    with pytest.raises(
        ValueError, match="fitted with mix='auto', but mix is now 'top'"
    ):
        vec.transform(X_TRAIN[:2])


def test_equal_values_do_not_count_as_changes(fitted):
    vec = clone(fitted[ElmoVectorizer]).set_params(layers=[0, 2]).fit(X_TRAIN)
    vec.set_params(layers=(0, 2))  # same layers, another container
    vec.transform(X_TRAIN[:2])
    vec.set_params(layers=np.array([0, 2]))
    vec.transform(X_TRAIN[:2])


@pytest.mark.parametrize(
    "name, value",
    [
        ("epochs", 7),
        ("learning_rate", 0.5),
        ("dropout", 0.0),
        ("hidden_layer_sizes", (64,)),
        ("batch_size", 1),
        ("random_state", 99),
        ("early_stopping", True),
        ("embed_batch_size", 3),
        ("verbose", 1),
        ("cache_dir", "CACHE"),
    ],
)
def test_other_parameters_take_effect_at_the_next_fit(name, value, fitted, tmp_path):
    """Training and resource parameters change nothing until the next fit."""
    clf = fitted[ElmoClassifier]
    before = clf.predict_proba(X_TRAIN[:4])
    changed = copy.deepcopy(clf).set_params(
        **{name: str(tmp_path) if value == "CACHE" else value}
    )
    np.testing.assert_allclose(changed.predict_proba(X_TRAIN[:4]), before, rtol=1e-6)


def test_a_different_biLM_after_fit_is_refused(fitted, tmp_path):
    other = make_random_bilm(tmp_path / "other", seed=7)
    vec = clone(fitted[ElmoVectorizer]).fit(X_TRAIN)
    vec.set_params(model=str(other))
    with pytest.raises(
        BilmMismatchError, match="not the one this estimator was fitted"
    ):
        vec.transform(X_TRAIN[:2])
    vec.set_params(initial_state="zeros", model=fitted[ElmoVectorizer].model)
    with pytest.raises(BilmMismatchError, match="initial_state='warm'"):
        vec.transform(X_TRAIN[:2])
