import pytest
from hypothesis import given
from hypothesis import strategies as st

from sklearn_elmo.tokenize import default_tokenizer


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The cat sat.", ["The", "cat", "sat", "."]),
        ("Hello, world!", ["Hello", ",", "world", "!"]),
        ("I don't know.", ["I", "do", "n't", "know", "."]),
        ("It's John's car", ["It", "'s", "John", "'s", "car"]),
        (
            "We're, they've, I'll, I'm, he'd",
            [
                "We",
                "'re",
                ",",
                "they",
                "'ve",
                ",",
                "I",
                "'ll",
                ",",
                "I",
                "'m",
                ",",
                "he",
                "'d",
            ],
        ),
        ("can't won't", ["ca", "n't", "wo", "n't"]),
        ("O'Neil rock'n'roll", ["O'Neil", "rock'n'roll"]),
        ("the dogs' bones", ["the", "dogs", "'", "bones"]),
        (
            "The U.S. grew 2.5% in 2019.",
            ["The", "U.S.", "grew", "2.5", "%", "in", "2019", "."],
        ),
        ("1,000 people at 10:30", ["1,000", "people", "at", "10:30"]),
        (
            "a well-known state-of-the-art model",
            ["a", "well-known", "state-of-the-art", "model"],
        ),
        ("Wait... what -- no", ["Wait", "...", "what", "--", "no"]),
        ('"Quoted" (text)', ['"', "Quoted", '"', "(", "text", ")"]),
        ("3rd place", ["3rd", "place"]),
        ("Café naïve 東京", ["Café", "naïve", "東京"]),
        ("it\u2019s", ["it", "\u2019s"]),
        ("", []),
        ("  \n\t ", []),
    ],
)
def test_examples(text, expected):
    assert default_tokenizer(text) == expected


def test_keeps_case():
    assert default_tokenizer("NASA Nasa nasa") == ["NASA", "Nasa", "nasa"]


@given(st.text())
def test_lossless_and_clean(text):
    tokens = default_tokenizer(text)
    assert all(isinstance(t, str) and t for t in tokens)
    assert not any(c.isspace() for t in tokens for c in t)
    # Only whitespace is dropped: the tokens rebuild the text without it.
    assert "".join(tokens) == "".join(c for c in text if not c.isspace())


@given(st.lists(st.from_regex(r"[A-Za-z]{1,8}", fullmatch=True), max_size=10))
def test_plain_words_split_on_spaces(words):
    assert default_tokenizer(" ".join(words)) == words


def test_rejects_non_str():
    with pytest.raises(TypeError, match="expects a str, got int"):
        default_tokenizer(3)
