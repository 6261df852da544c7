import numpy as np
import pandas as pd
import pytest

from sklearn_elmo._validation import (
    check_classification_target,
    check_regression_target,
    check_texts,
    check_tokens,
)


@pytest.mark.parametrize(
    "X",
    [
        ["a b", "c"],
        ("a b", "c"),
        np.array(["a b", "c"]),
        np.array(["a b", "c"], dtype=object),
        np.array([["a b"], ["c"]], dtype=object),
        [["a b"], ["c"]],
        pd.Series(["a b", "c"], index=[10, 20]),
        pd.Series(["a b", "c"], dtype="string"),
        pd.DataFrame({"text": ["a b", "c"]}),
    ],
    ids=[
        "list",
        "tuple",
        "unicode-array",
        "object-array",
        "column-array",
        "column-list",
        "series",
        "string-series",
        "one-column-frame",
    ],
)
def test_accepted_containers(X):
    texts = check_texts(X)
    assert texts == ["a b", "c"]
    assert all(type(t) is str for t in texts)


def test_single_string_is_refused():
    with pytest.raises(TypeError, match="single str; wrap it in a list"):
        check_texts("just one text")


@pytest.mark.parametrize("X", [{"a": 1}, 3, None, {"a", "b"}, range(3)])
def test_other_containers_are_refused(X):
    with pytest.raises(
        TypeError, match="X must be a list, tuple, iterator, numpy array"
    ):
        check_texts(X)


def test_iterators_are_consumed_once():
    assert check_texts(iter(["a b", "c"])) == ["a b", "c"]
    assert check_texts(t.upper() for t in ["a", "b"]) == ["A", "B"]
    assert check_texts(iter([["a"], ["b"]])) == ["a", "b"]  # one column
    with pytest.raises(ValueError, match="empty"):
        check_texts(iter([]))


@pytest.mark.parametrize(
    "X, position, kind",
    [
        (["ok", 3, "fine"], 1, "int"),
        (["ok", "fine", None], 2, "NoneType"),
        (pd.Series(["ok", np.nan]), 1, "float"),
        (np.array(["ok", b"bytes"], dtype=object), 1, "bytes"),
        (pd.Series(["ok", None], dtype="string"), 1, "NAType"),
    ],
)
def test_bad_element_is_named(X, position, kind):
    with pytest.raises(TypeError, match=rf"X\[{position}\] must be a str, got {kind}"):
        check_texts(X)


def test_input_name_in_messages():
    with pytest.raises(TypeError, match=r"texts\[0\]"):
        check_texts([1], input_name="texts")


def test_empty_and_multi_column_are_refused():
    with pytest.raises(ValueError, match="empty"):
        check_texts([])
    with pytest.raises(ValueError, match=r"shape \(2, 2\)"):
        check_texts(pd.DataFrame({"a": ["x", "y"], "b": ["z", "w"]}))
    with pytest.raises(ValueError, match="single column"):
        check_texts(np.array([["a", "b"]]))


def test_check_tokens():
    assert check_tokens(("a", "b"), 0) == ["a", "b"]
    with pytest.raises(TypeError, match=r"for X\[4\] it returned str"):
        check_tokens("a b", 4)
    with pytest.raises(TypeError, match=r"int as token 1 of X\[2\]"):
        check_tokens(["a", 1], 2)
    with pytest.raises(ValueError, match=r"empty string as token 0 of X\[0\]"):
        check_tokens([""], 0)


def test_classification_binary_any_labels():
    task, classes, encoded = check_classification_target(
        ["spam", "ham", "spam"], 3, "Clf"
    )
    assert task == "binary"
    assert classes.tolist() == ["ham", "spam"]
    assert encoded.tolist() == [[1.0], [0.0], [1.0]]


def test_classification_multiclass_and_multilabel():
    task, classes, encoded = check_classification_target([3, 1, 2, 1], 4, "Clf")
    assert task == "multiclass" and classes.tolist() == [1, 2, 3]
    assert encoded.tolist() == [2, 0, 1, 0] and encoded.dtype == np.int32
    Y = np.array([[1, 0, 1], [0, 1, 1]])
    task, classes, encoded = check_classification_target(Y, 2, "Clf")
    assert task == "multilabel" and classes.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(encoded, Y)


def test_classification_errors():
    with pytest.raises(ValueError, match="at least 2 classes.*only the class 'a'"):
        check_classification_target(["a", "a"], 2, "Clf")
    with pytest.raises(ValueError, match="'continuous'. Use ElmoRegressor"):
        check_classification_target([0.5, 1.5], 2, "Clf")
    with pytest.raises(ValueError, match="2 texts and 3 targets"):
        check_classification_target([0, 1, 0], 2, "Clf")
    with pytest.raises(ValueError, match="multiclass-multioutput"):
        check_classification_target([[1, 2], [3, 1]], 2, "Clf")
    with pytest.raises(ValueError, match="y is None"):
        check_classification_target(None, 2, "Clf")


def test_regression_target():
    y = check_regression_target([1, 2.5], 2)
    assert y.dtype == np.float64 and y.shape == (2,)
    assert check_regression_target([[1, 2], [3, 4]], 2).shape == (2, 2)
    with pytest.raises(ValueError, match="NaN"):
        check_regression_target([1.0, np.nan], 2)
    with pytest.raises(ValueError, match="1 texts and 2 targets"):
        check_regression_target([1.0, 2.0], 1)
