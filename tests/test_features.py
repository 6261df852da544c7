import itertools
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sklearn_elmo import load_bilm
from sklearn_elmo.features._embedding import (
    LayerFeatures,
    embed_texts,
    split_windows,
    tokenize_texts,
)
from sklearn_elmo.tokenize import default_tokenizer

TEXTS = [
    "The cat sat on the mat.",
    "Hello!",
    "",
    "A somewhat longer sentence, with a comma and a full stop at the end.",
]


@pytest.fixture(scope="module")
def bilm(tiny_model):
    return load_bilm(tiny_model, initial_state="zeros")


def _reference(bilm, token_lists):
    """Per-sentence token vectors straight from Bilm.embed: list of (L, T, D)."""
    layers, mask = bilm.embed(token_lists)
    return [layers[i][:, mask[i]] for i in range(len(token_lists))]


@given(st.integers(0, 500), st.integers(1, 60))
def test_split_windows(n_tokens, max_tokens):
    windows = split_windows(n_tokens, max_tokens)
    assert len(windows) == math.ceil(n_tokens / max_tokens)
    if windows:
        assert windows[0][0] == 0 and windows[-1][1] == n_tokens
        assert all(a[1] == b[0] for a, b in itertools.pairwise(windows))
        sizes = [stop - start for start, stop in windows]
        assert max(sizes) <= max_tokens and max(sizes) - min(sizes) <= 1


def test_split_windows_unlimited():
    assert split_windows(1000, None) == [(0, 1000)]
    assert split_windows(0, None) == []


def test_means_match_the_biLM(bilm):
    features = embed_texts(TEXTS, bilm, batch_size=2)
    reference = _reference(bilm, [default_tokenizer(t) for t in TEXTS])
    assert features.means.shape == (4, bilm.n_layers, bilm.dim)
    assert features.means.dtype == np.float32
    assert features.n_tokens.tolist() == [r.shape[1] for r in reference]
    for i, ref in enumerate(reference):
        if ref.shape[1] == 0:
            assert not features.means[i].any() and features.sq_means[i].sum() == 0
            continue
        np.testing.assert_allclose(features.means[i], ref.mean(axis=1), atol=1e-6)
        np.testing.assert_allclose(
            features.sq_means[i], np.square(ref).mean(axis=(1, 2)), rtol=1e-5
        )
    assert features.tokens is None


def test_layer_selection_and_token_level(bilm):
    features = embed_texts(TEXTS, bilm, layers=[2, 0], token_level=True)
    reference = _reference(bilm, [default_tokenizer(t) for t in TEXTS])
    assert features.n_layers == 2
    tokens = np.concatenate([r[[2, 0]].transpose(1, 0, 2) for r in reference])
    np.testing.assert_allclose(features.tokens, tokens, atol=1e-6)
    for i, ref in enumerate(reference):
        if ref.shape[1]:
            np.testing.assert_allclose(
                features.means[i], ref[[2, 0]].mean(axis=1), atol=1e-6
            )


def test_long_texts_are_windowed_not_truncated(bilm):
    text = "one two three four five six seven eight"
    tokens = text.split()
    features = embed_texts([text, "short one"], bilm, max_tokens=3, token_level=True)
    # 8 tokens in windows of at most 3: [0:2], [2:5], [5:8], embedded separately.
    windows = [tokens[0:2], tokens[2:5], tokens[5:8]]
    reference = np.concatenate(_reference(bilm, windows), axis=1)  # (L, 8, D)
    assert features.n_tokens.tolist() == [8, 2]
    np.testing.assert_allclose(features.means[0], reference.mean(axis=1), atol=1e-6)
    np.testing.assert_allclose(
        features.tokens[:8], reference.transpose(1, 0, 2), atol=1e-6
    )
    whole = embed_texts([text], bilm)
    assert not np.allclose(whole.means[0], features.means[0])


def test_batch_pads_and_masks(bilm):
    features = embed_texts(TEXTS, bilm, token_level=True)
    batch = features.batch([1, 0, 2])
    assert set(batch) == {"layers", "mask"}
    assert batch["layers"].shape == (3, bilm.n_layers, 7, bilm.dim)
    assert batch["mask"].sum(axis=1).tolist() == [2, 7, 0]
    assert not batch["layers"][0, :, 2:].any()
    np.testing.assert_array_equal(
        batch["layers"][1], features.tokens[0:7].transpose(1, 0, 2)
    )
    empty = features.batch([2])
    assert empty["layers"].shape[2] == 1 and not empty["mask"].any()
    means_only = embed_texts(TEXTS, bilm)
    assert set(means_only.batch([0, 3])) == {"layers"}
    np.testing.assert_array_equal(
        means_only.batch([0, 3])["layers"], means_only.means[[0, 3]]
    )


def test_layer_normalisation(bilm):
    features = embed_texts(TEXTS, bilm, token_level=True).layer_normalized()
    for i in (0, 1, 3):
        start, stop = features.offsets[i], features.offsets[i + 1]
        tokens = features.tokens[start:stop].astype(np.float64)  # (T, L, D)
        np.testing.assert_allclose(tokens.mean(axis=(0, 2)), 0.0, atol=1e-5)
        np.testing.assert_allclose(tokens.var(axis=(0, 2)), 1.0, rtol=1e-3)
        # The statistics-only path gives the same normalised means.
        np.testing.assert_allclose(features.means[i], tokens.mean(axis=0), atol=1e-5)
    assert not features.means[2].any()
    stats_only = embed_texts(TEXTS, bilm).layer_normalized()
    np.testing.assert_allclose(stats_only.means, features.means, atol=1e-5)


def test_custom_tokenizer_and_its_errors(bilm):
    features = embed_texts(["a|b|c", "d"], bilm, tokenizer=lambda t: t.split("|"))
    assert features.n_tokens.tolist() == [3, 1]
    with pytest.raises(TypeError, match=r"for X\[1\] it returned NoneType"):
        tokenize_texts(["a", "b"], tokenizer=lambda t: None if t == "b" else [t])
    with pytest.raises(ValueError, match=r"empty string as token 1 of X\[0\]"):
        embed_texts(["a  b"], bilm, tokenizer=lambda t: t.split(" "))


def test_verbose_progress(bilm, capsys):
    embed_texts(TEXTS, bilm, verbose=2, batch_size=2, label="Test")
    out = capsys.readouterr().out
    assert "[Test] embedded 2/3 windows" in out
    assert "[Test] embedded 4 texts (" in out


def test_all_empty_texts(bilm):
    features = embed_texts(["", "  "], bilm, token_level=True)
    assert isinstance(features, LayerFeatures)
    assert features.n_tokens.tolist() == [0, 0]
    assert features.tokens.shape == (0, bilm.n_layers, bilm.dim)
    assert not features.means.any()
