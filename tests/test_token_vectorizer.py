"""ElmoTokenVectorizer and stack_tokens / unstack_tokens."""

import pickle

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from tagging_tasks import (
    NEW_CAPS,
    NEW_DIGITS,
    char_task,
    context_task,
    majority_accuracy,
)

import sklearn_elmo
from sklearn_elmo import (
    ElmoTokenVectorizer,
    load_bilm,
    stack_tokens,
    unstack_tokens,
)
from sklearn_elmo.tokenize import default_tokenizer

SENTENCES = [["The", "cat", "sat", "."], [], ["Hello"], ["a", "b", "c", "d", "e"]]


@pytest.fixture(autouse=True)
def cold_cache():
    sklearn_elmo.clear_cache()
    yield
    sklearn_elmo.clear_cache()


@pytest.fixture(scope="module")
def model(tiny_model):
    return str(tiny_model)


@pytest.fixture(scope="module")
def raw_layers(model):
    """The biLM's own layers for SENTENCES (n, 3, T, 32) and mask."""
    return load_bilm(model).embed(SENTENCES)


def test_average_top_and_concat_are_the_biLM_layers(model, raw_layers):
    layers, mask = raw_layers
    tolerance = {"rtol": 2e-3, "atol": 2e-3}  # the cache keeps float16 by default
    average = ElmoTokenVectorizer(model).fit(SENTENCES).transform(SENTENCES)
    top = ElmoTokenVectorizer(model, mix="top").fit_transform(SENTENCES)
    concat = ElmoTokenVectorizer(model, mix="concat", layers=[2, 0]).fit_transform(
        SENTENCES
    )
    for i, sentence in enumerate(SENTENCES):
        n = len(sentence)
        assert average[i].dtype == np.float32 and average[i].shape == (n, 32)
        expected = layers[i, :, :n].transpose(1, 0, 2)  # (n, 3, 32)
        np.testing.assert_allclose(average[i], expected.mean(axis=1), **tolerance)
        np.testing.assert_allclose(top[i], expected[:, 2], **tolerance)
        assert concat[i].shape == (n, 64)
        np.testing.assert_allclose(
            concat[i], expected[:, [2, 0]].reshape(n, 64), **tolerance
        )
    assert mask.sum() == sum(len(s) for s in SENTENCES)


def test_texts_are_tokenized_and_tokens_reported(model):
    vec = ElmoTokenVectorizer(model).fit(["unused"])
    texts = ["The U.S. didn't win.", "Hello !"]
    tokens = vec.tokenize(texts)
    assert tokens == [default_tokenizer(t) for t in texts]
    from_texts = vec.transform(texts)
    from_tokens = vec.transform(tokens)
    for a, b, t in zip(from_texts, from_tokens, tokens):
        assert a.shape == (len(t), 32)
        np.testing.assert_array_equal(a, b)
    custom = ElmoTokenVectorizer(model, tokenizer=str.split).fit(["a"])
    assert custom.tokenize(["a-b c"]) == [["a-b", "c"]]
    assert vec.tokenize([["kept", "as", "is"]]) == [["kept", "as", "is"]]


def test_a_sentence_does_not_depend_on_the_others(model):
    vec = ElmoTokenVectorizer(model).fit([["x"]])
    target = ["Kim", "ran", "on", "the", "big", "tree"]
    alone = vec.transform([target])[0]
    sklearn_elmo.clear_cache()
    batch = [["y"] * 30, [], ["z", "w"]] * 4 + [target]
    np.testing.assert_allclose(vec.transform(batch)[-1], alone, atol=1e-3)


def test_learned_mix_from_token_labels(model):
    X, y = context_task(120, seed=7)
    vec = ElmoTokenVectorizer(
        model, dropout=0.0, learning_rate=0.1, epochs=30, random_state=0
    )
    vec.fit(X, y)
    assert set(vec.network_weights_) == {"scalar_mix/w", "scalar_mix/gamma"}
    assert vec.n_iter_ == 30 and len(vec.history_["loss"]) == 30
    # Layer 0 knows nothing of the previous token; the mix moves away from it.
    assert vec.mix_weights_[0] < 0.3 and not np.isclose(vec.gamma_, 1.0)
    unsupervised = ElmoTokenVectorizer(model, mix="average").fit(X, y)
    np.testing.assert_allclose(unsupervised.mix_weights_, 1 / 3)
    with pytest.raises(ValueError, match="fit needs y"):
        ElmoTokenVectorizer(model, mix="learned").fit(X)


def test_stacked_features_train_any_classifier(model):
    X, y = char_task(120, seed=1)
    X_new, y_new = char_task(80, seed=2, caps=NEW_CAPS, digits=NEW_DIGITS)
    vec = ElmoTokenVectorizer(model).fit(X)
    features, _ = stack_tokens(vec.transform(X))
    labels, _ = stack_tokens(y)
    assert features.shape == (len(labels), 32) and labels.dtype == object
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    clf.fit(features, labels)
    new_features, offsets = stack_tokens(vec.transform(X_new))
    predicted = [p.tolist() for p in unstack_tokens(clf.predict(new_features), offsets)]
    assert [len(p) for p in predicted] == [len(s) for s in X_new]
    accuracy = np.mean(
        [a == b for ps, ts in zip(predicted, y_new) for a, b in zip(ps, ts)]
    )
    assert accuracy > majority_accuracy(y_new) + 0.1


def test_feature_names_and_pickle(model):
    vec = ElmoTokenVectorizer(model, mix="concat", layers=[0, 2]).fit([["a"]])
    names = vec.get_feature_names_out()
    assert len(names) == vec.n_features_out_ == 64
    assert names[0] == "elmo_l0_0" and names[-1] == "elmo_l2_31"
    mixed = ElmoTokenVectorizer(model).fit([["a"]])
    assert mixed.get_feature_names_out()[:2].tolist() == ["elmo_0", "elmo_1"]
    blob = pickle.dumps(mixed)
    assert len(blob) < 8_000 and b"tensorflow" not in blob
    np.testing.assert_array_equal(
        pickle.loads(blob).transform([["Hi", "there"]])[0],
        mixed.transform([["Hi", "there"]])[0],
    )


def test_bad_input(model):
    vec = ElmoTokenVectorizer(model).fit([["a"]])
    with pytest.raises(TypeError, match=r"X\[1\]\[0\] must be a str token"):
        vec.transform([["a"], [1]])
    with pytest.raises(
        TypeError, match=r"X\[0\] must be a list of str tokens or a text"
    ):
        vec.transform([3])
    with pytest.raises(
        ValueError, match=r"y\[0\] has 1 labels but sentence X\[0\] has 2"
    ):
        ElmoTokenVectorizer(model).fit([["a", "b"], ["c"]], [["O"], ["B"]])
    assert vec.transform([[]])[0].shape == (0, 32)


# -- stack_tokens / unstack_tokens ---------------------------------------------------


def test_stack_and_unstack_round_trip():
    arrays = [np.arange(6.0).reshape(3, 2), np.zeros((0, 2)), np.ones((1, 2))]
    stacked, offsets = stack_tokens(arrays)
    assert stacked.shape == (4, 2) and offsets.tolist() == [0, 3, 3, 4]
    for a, b in zip(unstack_tokens(stacked, offsets), arrays):
        np.testing.assert_array_equal(a, b)
    labels, label_offsets = stack_tokens([["O", "B-X"], [], ["O"]])
    assert labels.tolist() == ["O", "B-X", "O"]
    assert label_offsets.tolist() == [0, 2, 2, 3]
    ints, _ = stack_tokens([[1, 2], [3]])
    assert ints.tolist() == [1, 2, 3]
    empty, empty_offsets = stack_tokens([[], []])
    assert empty.shape == (0,) and empty_offsets.tolist() == [0, 0, 0]


def test_stack_and_unstack_refuse_bad_input():
    with pytest.raises(ValueError, match="differ in width"):
        stack_tokens([np.ones((2, 3)), np.ones((1, 4))])
    with pytest.raises(ValueError, match="same kind"):
        stack_tokens([np.ones((2, 3)), ["a", "b"]])
    with pytest.raises(TypeError, match=r"sequences\[0\] is a str"):
        stack_tokens(["abc"])
    with pytest.raises(ValueError, match="empty"):
        stack_tokens([])
    with pytest.raises(ValueError, match="rows but the offsets end at 3"):
        unstack_tokens(np.ones(4), [0, 1, 3])
    with pytest.raises(ValueError, match="non-decreasing"):
        unstack_tokens(np.ones(3), [0, 2, 1, 3])
