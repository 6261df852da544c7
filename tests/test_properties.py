"""Property-based tests: any Unicode text, any neighbours.

Random texts (every Unicode category, lone surrogates and control characters
included) through the estimators never crash and give finite float32 rows of
the right width; a text's features do not depend on the other texts of the
call. Run on the tiny generated biLM, in the pure initial states.
"""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sklearn_elmo import ElmoClassifier, ElmoVectorizer, config_context, load_bilm

DIM = 32  # width of the tiny generated biLM
SETTINGS = settings(
    max_examples=25,
    deadline=None,
    database=None,  # nothing written into the checkout
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# Any code point, surrogates included; whitespace and ASCII made common so
# that texts have several tokens; a few multi-code-point graphemes (emoji
# ZWJ sequences, combining accents) as whole pieces.
PIECES = st.one_of(
    st.characters(exclude_categories=()),
    st.characters(categories=["Cs"]),
    st.sampled_from(list(" \t\n\u3000.,'-") + list("abcXYZ09")),
    st.sampled_from(["😀", "👩🏽‍💻", "中", "ש", "م", "e\u0301", "\x00", "\u200b"]),
)
TEXTS = st.lists(PIECES, max_size=80).map("".join)
BATCHES = st.lists(TEXTS, min_size=1, max_size=6)
CONFIGS = [
    {"pooling": "mean"},
    {"pooling": "max"},
    {"pooling": "mean_max", "layer_norm": True},
    {"pooling": "mean", "layers": "top", "max_tokens": 5},
]


@pytest.fixture(scope="module", params=["zeros", "warm"])
def vectorizers(tiny_model, request):
    """Fitted vectorizers, one per configuration."""
    return [
        ElmoVectorizer(str(tiny_model), initial_state=request.param, **config).fit(
            ["warm up"]
        )
        for config in CONFIGS
    ]


@pytest.fixture(scope="module")
def classifier(tiny_model):
    X = ["good fine nice", "bad awful grim", "nice great", "poor sad"] * 3
    return ElmoClassifier(
        str(tiny_model), initial_state="zeros", epochs=2, random_state=0
    ).fit(X, ["pos", "neg", "pos", "neg"] * 3)


def _width(vec):
    return 2 * DIM if vec.pooling == "mean_max" else DIM


@SETTINGS
@given(texts=BATCHES, which=st.integers(0, len(CONFIGS) - 1))
def test_any_text_gives_finite_float32_rows(vectorizers, texts, which):
    vec = vectorizers[which]
    Z = vec.transform(texts)
    assert Z.shape == (len(texts), _width(vec))
    assert Z.dtype == np.float32
    assert np.isfinite(Z).all()


@SETTINGS
@given(
    text=TEXTS,
    before=st.lists(TEXTS, max_size=4),
    after=st.lists(TEXTS, max_size=4),
    which=st.integers(0, len(CONFIGS) - 1),
)
def test_features_do_not_depend_on_the_other_texts(
    vectorizers, text, before, after, which
):
    vec = vectorizers[which]
    # Nothing from the cache: every call embeds its texts afresh, batched
    # with whatever else it holds. Token vectors are kept in float32 here:
    # float16 storage (the cache default) rounds them, which is a precision
    # setting, not a dependence on the neighbours.
    with config_context(cache_memory=0, cache_token_dtype="float32"):
        alone = vec.transform([text])[0]
        among = vec.transform([*before, text, *after])[len(before)]
    np.testing.assert_allclose(among, alone, rtol=1e-5, atol=1e-5)


@SETTINGS
@given(texts=BATCHES)
def test_classifier_outputs_are_valid_for_any_text(classifier, texts):
    proba = classifier.predict_proba(texts)
    assert proba.shape == (len(texts), 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-6)
    assert set(classifier.predict(texts)) <= {"neg", "pos"}


TOKENS = st.lists(PIECES, min_size=1, max_size=60).map("".join)


@SETTINGS
@given(sentences=st.lists(st.lists(TOKENS, max_size=8), min_size=1, max_size=5))
def test_biLM_embeds_any_tokens(tiny_model, sentences):
    bilm = load_bilm(str(tiny_model), initial_state="zeros")
    layers, mask = bilm.embed(sentences)
    lengths = [len(s) for s in sentences]
    assert layers.shape == (len(sentences), 3, max(lengths), DIM)
    assert layers.dtype == np.float32 and np.isfinite(layers).all()
    assert mask.sum(axis=1).tolist() == lengths
    np.testing.assert_array_equal(layers.transpose(0, 2, 1, 3)[~mask], 0.0)
    for i, sentence in enumerate(sentences):  # each row as if embedded alone
        alone, _ = bilm.embed([sentence])
        np.testing.assert_allclose(
            layers[i, :, : lengths[i]], alone[0], rtol=1e-5, atol=1e-5
        )
