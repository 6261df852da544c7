"""Corpus reading, vocabulary files and the stateful training windows."""

import gzip

import numpy as np
import pytest

from sklearn_elmo.training.corpus import read_corpus
from sklearn_elmo.training.data import Windows, type_char_ids
from sklearn_elmo.training.vocabulary import Vocabulary


def _corpus(texts):
    return read_corpus(texts, tokenizer=str.split)


def _words(corpus, ids):
    return [[corpus.types[i] for i in row] for row in ids]


def test_read_corpus_from_texts_files_and_gzip(tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_text("the cat\n\n  \na dog barks\n", encoding="utf-8")
    packed = tmp_path / "b.txt.gz"
    with gzip.open(packed, "wt", encoding="utf-8") as fh:
        fh.write("the end\n")
    corpus = read_corpus([plain, str(packed)], tokenizer=str.split)
    assert corpus.n_sentences == 3  # blank lines skipped
    assert corpus.n_words == 7
    words = [corpus.types[i] for i in corpus.flat]
    assert words[:5] == ["<S>", "the", "cat", "</S>", "<S>"]
    assert corpus.digest() == _corpus(["the cat", "a dog barks", "the end"]).digest()
    assert corpus.digest() != _corpus(["the cat", "a dog", "the end"]).digest()


def test_default_tokenizer_is_used_when_none():
    corpus = read_corpus(["It didn't work."])
    assert [corpus.types[i] for i in corpus.flat[1:-1]] == [
        "It",
        "did",
        "n't",
        "work",
        ".",
    ]


def test_windows_pairs_forward_and_backward():
    corpus = _corpus(["a b c", "d e", "f g h i"])
    windows = Windows(corpus, np.arange(len(corpus.types)), 2, 3, seed=None)
    assert windows.row_length == 6 and windows.steps_per_epoch == 2
    forward, backward = windows.positions(0)
    assert _words(corpus, corpus.flat[forward]) == [
        ["<S>", "a", "b"],
        ["e", "<S>", "f"],
    ]
    assert _words(corpus, corpus.flat[backward]) == [
        ["</S>", "c", "b"],
        ["d", "</S>", "i"],
    ]
    targets = windows.batch(1)[2]
    # Targets are the next token forward and the previous token backward; rows
    # continue where the previous step stopped.
    assert _words(corpus, targets[0]) == [["</S>", "d", "e"], ["h", "i", "</S>"]]
    assert _words(corpus, targets[1]) == [["<S>", "e", "d"], ["g", "f", "<S>"]]


def test_windows_cover_each_pair_once_per_epoch_and_shuffle_by_seed():
    corpus = _corpus([" ".join(f"w{i}" for i in range(k % 7 + 1)) for k in range(60)])
    windows = Windows(corpus, np.arange(len(corpus.types)), 4, 5, seed=3)
    seen = np.concatenate(
        [windows.positions(s)[0].ravel() for s in range(windows.steps_per_epoch)]
    )
    assert len(set(seen.tolist())) == len(seen)  # no pair twice in an epoch
    assert len(seen) > 0.85 * corpus.n_pairs
    again = Windows(corpus, np.arange(len(corpus.types)), 4, 5, seed=3)
    assert np.array_equal(again.positions(7)[0], windows.positions(7)[0])
    other = Windows(corpus, np.arange(len(corpus.types)), 4, 5, seed=4)
    assert not np.array_equal(other.positions(0)[0], windows.positions(0)[0])
    next_epoch = windows.positions(windows.steps_per_epoch)[0]
    assert not np.array_equal(next_epoch, windows.positions(0)[0])


def test_batch_index_points_at_its_distinct_types():
    corpus = _corpus(["x y x y x", "y z"])
    windows = Windows(corpus, np.arange(len(corpus.types)), 2, 3, seed=0)
    types, index, _ = windows.batch(0)
    forward, backward = windows.positions(0)
    assert np.array_equal(types[index[0]], corpus.flat[forward])
    assert np.array_equal(types[index[1]], corpus.flat[backward])
    assert len(types) == len(set(types.tolist()))


def test_type_char_ids_are_training_ids():
    ids = type_char_ids(["<S>", "é"])
    assert ids.min() >= 0 and ids.max() <= 260  # 261 training characters
    assert ids[0, :3].tolist() == [258, 256, 259]
    assert ids[1, :4].tolist() == [258, 0xC3, 0xA9, 259]


def test_vocabulary_from_counts_sorted_with_limits():
    vocab = Vocabulary.from_counts({"b": 2, "a": 2, "c": 5, "d": 1}, max_vocab=5)
    assert vocab.tokens == ["<S>", "</S>", "<UNK>", "c", "a"]
    vocab = Vocabulary.from_counts({"b": 2, "a": 2, "c": 5, "d": 1}, min_count=2)
    assert vocab.tokens[3:] == ["c", "a", "b"]
    assert vocab.id("zzz") == vocab.unk_id == 2


def test_vocabulary_file_round_trip(tmp_path):
    path = tmp_path / "vocab.txt"
    Vocabulary.from_counts({"x": 3, "y": 1}).write(path)
    assert Vocabulary.read(path).tokens == ["<S>", "</S>", "<UNK>", "x", "y"]


@pytest.mark.parametrize(
    "content, match",
    [
        (b"", "empty"),
        (b"<S>\n</S>\n<UNK>\nthe 120\n", "line 4: expected one token per line"),
        (b"<S>\n</S>\nthe\n", "missing <UNK>"),
        (b"<S>\n</S>\n<UNK>\nthe\nthe\n", "'the' appears twice"),
        (b"<S>\n</S>\n\n<UNK>\n", "line 3: empty line"),
        (b"\x89HDF\r\n\x1a\n\x00\x00", "binary"),
        (b"<S>\n</S>\n<UNK>\n\xff\xfe\n", "not UTF-8"),
    ],
)
def test_vocabulary_file_errors(tmp_path, content, match):
    path = tmp_path / "vocab.txt"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=match):
        Vocabulary.read(path)
