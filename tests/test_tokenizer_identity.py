"""Tokenizer identity: the tokenizer part of the embedding cache key."""

import pickle
import warnings
from pathlib import Path

import pytest

from sklearn_elmo.exceptions import EmbeddingCacheWarning
from sklearn_elmo.features import (
    _tokenizer_identity,
    cached_embed_texts,
)
from sklearn_elmo.features._tokenizer_identity import tokenizer_identity
from sklearn_elmo.tokenize import default_tokenizer


def pipe_tokenizer(text):
    """A module-level custom tokenizer (picklable by reference)."""
    return [t for t in text.split("|") if t]


class SplitOn:
    """A picklable tokenizer object with state."""

    def __init__(self, sep):
        self.sep = sep

    def __call__(self, text):
        return [t for t in text.split(self.sep) if t]


pytestmark = pytest.mark.usefixtures("cold_cache")


def entry_files(cache_dir):
    return sorted(Path(cache_dir).rglob("*.emb"))


def test_tokenizer_identity():
    default, stable = tokenizer_identity(None)
    assert stable and default.startswith("default:")
    assert tokenizer_identity(default_tokenizer) == (default, True)
    function, stable = tokenizer_identity(pipe_tokenizer)
    assert stable and "test_tokenizer_identity.pipe_tokenizer:" in function
    assert tokenizer_identity(pickle.loads(pickle.dumps(pipe_tokenizer)))[0] == function
    # State of callable objects is part of the key.
    assert tokenizer_identity(SplitOn("|")) == tokenizer_identity(SplitOn("|"))
    assert tokenizer_identity(SplitOn("|")) != tokenizer_identity(SplitOn(","))
    # Lambdas cannot be identified across processes: a per-object token.
    first, second = (lambda t: t.split()), (lambda t: t.split())
    key, stable = tokenizer_identity(first)
    assert not stable and key == tokenizer_identity(first)[0]
    assert key != tokenizer_identity(second)[0]


def test_edited_function_gets_a_new_identity():
    namespace = {}  # the same function name, defined twice with different code
    exec("def tok(text):\n    return text.split()", namespace)  # noqa: S102
    before = _tokenizer_identity._code_of(namespace["tok"])
    exec("def tok(text):\n    return text.split(',')", namespace)  # noqa: S102
    after = _tokenizer_identity._code_of(namespace["tok"])
    digests = []
    for code in (before, after):
        digest = __import__("hashlib").sha256()
        _tokenizer_identity._code_digest(code, digest)
        digests.append(digest.hexdigest())
    assert digests[0] != digests[1]


def test_unpicklable_tokenizer_is_cached_in_memory_only(bilm, tmp_path, biLM_calls):
    def local_tokenizer(text):
        return text.split()

    texts = ["a b", "c d e"]
    with pytest.warns(EmbeddingCacheWarning, match="cached in memory only"):
        cached_embed_texts(texts, bilm, tokenizer=local_tokenizer, cache_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per tokenizer
        cached_embed_texts(texts, bilm, tokenizer=local_tokenizer, cache_dir=tmp_path)
    assert biLM_calls == [2] and entry_files(tmp_path) == []
    cached_embed_texts(texts, bilm, tokenizer=pipe_tokenizer, cache_dir=tmp_path)
    assert len(entry_files(tmp_path)) == 2
