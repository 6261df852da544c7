import numpy as np
import pytest

from sklearn_elmo.bilm._chars import (
    MAX_CHARS,
    batch_to_ids,
    batch_to_unique_ids,
    token_to_ids,
)


def expected_ids(raw_bytes):
    ids = [258] + list(raw_bytes) + [259] + [260] * (MAX_CHARS - 2 - len(raw_bytes))
    return [i + 1 for i in ids]


@pytest.mark.parametrize("token", ["a", "The", "naïve", "東京", "😀", "x" * 48])
def test_token_bytes_are_shifted_utf8(token):
    raw = token.encode("utf-8")
    assert token_to_ids(token).tolist() == expected_ids(raw)


def test_long_token_is_cut_to_48_bytes_even_inside_a_character():
    token = "a" + "é" * 30  # 61 bytes; byte 48 is the first half of an "é"
    raw = token.encode("utf-8")[:48]
    assert token_to_ids(token).tolist() == expected_ids(raw)
    assert token_to_ids(token)[-1] == 260  # end-of-word lands on the last slot


def test_boundary_strings_map_to_sentence_markers():
    assert token_to_ids("<S>")[:4].tolist() == [259, 257, 260, 261]
    assert token_to_ids("</S>")[:4].tolist() == [259, 258, 260, 261]
    assert (token_to_ids("<S>")[3:] == 261).all()
    # Only the exact strings are markers.
    assert token_to_ids("<s>").tolist() == expected_ids(b"<s>")


def test_lone_surrogate_encodes_instead_of_raising():
    ids = token_to_ids("a\ud800")
    assert ids[:5].tolist() == [259, 98, 238, 161, 129]


def test_batch_wraps_sentences_and_pads_with_zeros():
    ids, lengths = batch_to_ids([["Hi", "there"], []])
    assert ids.shape == (2, 4, MAX_CHARS)
    assert lengths.tolist() == [4, 2]
    assert (ids[0, 0] == token_to_ids("<S>")).all()
    assert (ids[0, 1] == token_to_ids("Hi")).all()
    assert (ids[0, 3] == token_to_ids("</S>")).all()
    assert (ids[1, 1] == token_to_ids("</S>")).all()
    assert (ids[1, 2:] == 0).all()


def test_unique_encoding_reconstructs_the_dense_batch():
    sentences = [["a", "b", "a"], ["b"], [], ["c", "a", "c", "d"]]
    dense, lengths = batch_to_ids(sentences)
    unique, index, unique_lengths = batch_to_unique_ids(sentences)
    assert (lengths == unique_lengths).all()
    assert len(unique) == 2 + 4  # boundaries + a, b, c, d
    padded = np.concatenate([np.zeros((1, MAX_CHARS), np.int32), unique])
    assert (padded[index] == dense).all()
