"""The cached path: hits and misses, LRU budget, float16 bound, shared directory."""

import os
import subprocess
import sys
import textwrap
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

import sklearn_elmo
from sklearn_elmo import load_bilm
from sklearn_elmo.estimators import ElmoClassifier, ElmoVectorizer
from sklearn_elmo.features import (
    _cached,
    _entries,
    _memory,
    cached_embed_texts,
    embed_texts,
)
from sklearn_elmo.tokenize import default_tokenizer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORDS = ["good", "great", "fine", "bad", "awful", "poor", "blue", "green", "red"]
WORDS += ["the", "a", "of", "and", ",", "."]


def make_texts(n, seed=0):
    rng = np.random.RandomState(seed)
    return [" ".join(rng.choice(WORDS, rng.randint(2, 9))) for _ in range(n)]


pytestmark = pytest.mark.usefixtures("cold_cache")


def entry_files(cache_dir):
    return sorted(Path(cache_dir).rglob("*.emb"))


# -- hits and misses ------------------------------------------------------------


def test_grid_search_embeds_each_distinct_text_once(tiny_model, biLM_calls):
    X = make_texts(45, seed=1) + make_texts(15, seed=1)  # 15 texts appear twice
    y = np.arange(len(X)) % 2
    grid = {"learning_rate": [0.01, 0.02], "hidden_layer_sizes": [(), (4,)]}
    search = GridSearchCV(
        ElmoClassifier(str(tiny_model), epochs=2, random_state=0), grid, cv=3
    ).fit(X, y)
    assert len(search.cv_results_["params"]) == 4
    # 12 fits, 12 scorings and a refit: the biLM saw each distinct text once.
    assert sum(biLM_calls) == len(set(X))
    info = sklearn_elmo.cache_info()
    assert info["computed"] == len(set(X)) and info["entries"] == len(set(X))
    assert info["hits"] > 20 * len(X) // 3 and info["duplicates"] > 0
    # Clones and other estimators share it; so do other layer choices.
    ElmoVectorizer(str(tiny_model), layers="top").fit_transform(X[::-1])
    assert sum(biLM_calls) == len(set(X))


def test_cached_equals_direct_and_repeats_are_embedded_once(bilm, biLM_calls):
    texts = ["The cat sat .", "Hello !", "", "The cat sat .", "a b c d e f g h"]
    direct = embed_texts(texts, bilm, layers=[2, 0])
    cached = cached_embed_texts(texts, bilm, layers=[2, 0])
    assert biLM_calls == [4, 3]  # the repeated text once (and no window for "")
    np.testing.assert_array_equal(cached.n_tokens, direct.n_tokens)
    np.testing.assert_allclose(cached.means, direct.means, atol=1e-6)
    np.testing.assert_allclose(cached.sq_means, direct.sq_means, rtol=1e-5)
    assert cached.tokens is None and cached.means.dtype == np.float32
    again = cached_embed_texts(texts[::-1], bilm, layers=[0])
    assert len(biLM_calls) == 2  # nothing new to embed
    np.testing.assert_array_equal(again.means[::-1], cached.means[:, [1]])
    np.testing.assert_array_equal(
        again.layer_normalized().means[::-1],
        cached_embed_texts(texts, bilm, layers=[0]).layer_normalized().means,
    )
    empty = cached_embed_texts([], bilm, token_level=True)
    assert len(empty) == 0 and empty.tokens.shape == (0, 3, bilm.dim)


def test_keys_separate_what_changes_the_outputs(tiny_model, bilm, biLM_calls):
    texts = ["one two three four five six", "seven eight"]
    cached_embed_texts(texts, bilm)
    cached_embed_texts(texts, bilm, max_tokens=3)  # windowing changes outputs
    cached_embed_texts(texts, bilm, tokenizer=str.split)
    cached_embed_texts(texts, load_bilm(tiny_model, initial_state="zeros"))
    assert biLM_calls == [2, 3, 2, 2]  # max_tokens=3: 2 windows + 1
    cached_embed_texts(texts, bilm, tokenizer=default_tokenizer, batch_size=1)
    assert len(biLM_calls) == 4  # the default tokenizer by name; batch size is no key


def test_token_level_entries_serve_statistics_and_upgrade(bilm, biLM_calls):
    texts = make_texts(6)
    means_only = cached_embed_texts(texts, bilm)
    tokens = cached_embed_texts(texts, bilm, token_level=True)
    assert len(biLM_calls) == 2  # statistics alone cannot give token vectors
    cached_embed_texts(texts, bilm, token_level=True)
    again = cached_embed_texts(texts, bilm)
    assert len(biLM_calls) == 2
    np.testing.assert_array_equal(again.means, tokens.means)
    np.testing.assert_allclose(again.means, means_only.means, atol=1e-6)


def test_carry_mode_is_never_cached(tiny_model, biLM_calls):
    carry = load_bilm(tiny_model, initial_state="carry")
    texts = ["a b c", "d e"]
    first = cached_embed_texts(texts, carry)
    second = cached_embed_texts(texts, carry)
    assert biLM_calls == [2, 2] and sklearn_elmo.cache_info()["entries"] == 0
    assert not np.allclose(first.means, second.means)  # the state carried on


def test_verbose_progress_bar_and_summary(bilm, capsys):
    cached_embed_texts(make_texts(20), bilm, verbose=1, label="Test")
    out = capsys.readouterr().out
    assert "[Test] 20/20 texts [========================]" in out
    assert "tokens/s" in out and "elapsed" in out
    assert "[Test] embedded 20 texts (" in out and "20 by the biLM" in out
    cached_embed_texts(make_texts(20), bilm, verbose=1, label="Test")
    out = capsys.readouterr().out
    assert "texts [" not in out and "20 from memory" in out
    cached_embed_texts(make_texts(5, seed=3), bilm)
    assert capsys.readouterr().out == ""


def test_streamed_inference_matches(tiny_model, monkeypatch, biLM_calls):
    X = make_texts(150, seed=4)
    whole = ElmoVectorizer(str(tiny_model), pooling="mean_max").fit(X).transform(X)
    sklearn_elmo.clear_cache()
    biLM_calls.clear()
    monkeypatch.setattr(_cached, "_CHUNK_BYTES", 1)  # chunks of 32 texts
    est = ElmoVectorizer(str(tiny_model), pooling="mean_max").fit(X)
    streamed = est.transform(X)
    assert len(biLM_calls) == 5 and max(biLM_calls) <= 32
    # Other batches give embeddings within 1e-6, and the max half is pooled
    # from float16 token vectors (the cache's default): a value that close to
    # a rounding boundary may round one float16 step (2**-11 relative) apart.
    np.testing.assert_allclose(streamed, whole, rtol=2**-10, atol=1e-6)


# -- memory budget ----------------------------------------------------------------


def test_lru_eviction_under_a_tiny_budget(bilm, biLM_calls):
    texts = make_texts(8, seed=2)
    cached_embed_texts(texts[:1], bilm)
    per_entry = sklearn_elmo.cache_info()["bytes"]
    sklearn_elmo.clear_cache()
    sklearn_elmo.set_config(cache_memory=int(3.5 * per_entry))
    for text in texts[:3]:  # one call each: one call inserts in length order
        cached_embed_texts([text], bilm)
    cached_embed_texts(texts[:1], bilm)  # 0 becomes the most recent
    cached_embed_texts(texts[3:4], bilm)  # 3 evicts 1, the least recent
    info = sklearn_elmo.cache_info()
    assert info["entries"] == 3 and info["evictions"] == 1
    assert info["bytes"] <= info["budget"]
    biLM_calls.clear()
    cached_embed_texts([texts[0], texts[2], texts[3]], bilm)
    assert biLM_calls == []
    cached_embed_texts([texts[1]], bilm)
    assert biLM_calls == [1]
    # Shrinking the budget applies at the next call; 0 turns the cache off.
    sklearn_elmo.set_config(cache_memory=0)
    features = cached_embed_texts(texts, bilm)
    assert sklearn_elmo.cache_info()["entries"] == 0
    direct = embed_texts(texts, bilm)
    np.testing.assert_allclose(features.means, direct.means, atol=1e-6)


def test_memory_accounting_counts_what_is_held(bilm):
    """Reported bytes match what tracemalloc sees the entries take (within 25%)."""
    features = embed_texts(make_texts(40), bilm, token_level=True)
    namespace = ("f" * 64, "default:x", None)
    for token_dtype in (None, "float16"):
        sklearn_elmo.clear_cache()
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        for i in range(2000):
            text = f"text number {i} of the memory accounting test"
            entry = _entries.entry_from(features, i % 40, token_dtype, text)
            _memory.MEMORY.put((namespace, text), entry, 2**40)
        held = tracemalloc.get_traced_memory()[0] - before
        tracemalloc.stop()
        reported = sklearn_elmo.cache_info()["bytes"]
        assert 0.75 < reported / held < 1.25, (token_dtype, reported, held)


def test_an_entry_larger_than_the_budget_is_not_kept(bilm):
    sklearn_elmo.set_config(cache_memory=100)
    cached_embed_texts(["hello there"], bilm)
    assert sklearn_elmo.cache_info()["entries"] == 0


# -- float16 token vectors ---------------------------------------------------------


def test_float16_tokens_error_bound(tiny_model, bilm, biLM_calls):
    """float16 storage: |x16 - x| <= 2**-11 |x| + 2**-25 per value; pooled
    features within a relative 1e-3 of float32 (documented in docs/caching.md)."""
    texts = make_texts(60, seed=5)
    with sklearn_elmo.config_context(cache_token_dtype="float32"):
        exact = cached_embed_texts(texts, bilm, token_level=True)
        v32 = ElmoVectorizer(str(tiny_model), pooling="mean_max").fit_transform(texts)
        n32 = ElmoVectorizer(str(tiny_model), pooling="max", layer_norm=True)
        n32 = n32.fit_transform(texts)
    reference = embed_texts(texts, bilm, token_level=True)
    np.testing.assert_array_equal(exact.tokens, reference.tokens)
    sklearn_elmo.clear_cache()
    rounded = cached_embed_texts(texts, bilm, token_level=True)
    error = np.abs(rounded.tokens - exact.tokens)
    assert np.all(error <= 2.0**-11 * np.abs(exact.tokens) + 2.0**-25)
    assert error.max() > 0  # it was rounded
    np.testing.assert_array_equal(rounded.means, exact.means)  # statistics exact

    v16 = ElmoVectorizer(str(tiny_model), pooling="mean_max").fit_transform(texts)
    n16 = ElmoVectorizer(str(tiny_model), pooling="max", layer_norm=True)
    n16 = n16.fit_transform(texts)
    for a, b in ((v16, v32), (n16, n32)):
        relative = np.linalg.norm(a - b, axis=1) / np.linalg.norm(b, axis=1)
        assert relative.max() < 1e-3
    # Element-wise: 2**-11 times the same pooling of the mix of |x| (here the
    # plain average of the layers) bounds the error of each feature.
    mixed_abs = np.abs(exact.tokens).mean(axis=1)  # (n_tokens, dim)
    spans = list(zip(exact.offsets[:-1], exact.offsets[1:]))
    bound = np.concatenate(
        [
            np.stack([mixed_abs[a:b].mean(axis=0) for a, b in spans]),
            np.stack([mixed_abs[a:b].max(axis=0) for a, b in spans]),
        ],
        axis=1,
    )
    assert np.all(np.abs(v16 - v32) <= 2.0**-11 * bound * (1 + 1e-5) + 1e-7)
    # Hits return the same rounded values as the first (missing) call.
    sklearn_elmo.clear_cache()
    first = cached_embed_texts(texts, bilm, token_level=True)
    second = cached_embed_texts(texts, bilm, token_level=True)
    np.testing.assert_array_equal(first.tokens, second.tokens)
    np.testing.assert_array_equal(first.tokens, rounded.tokens)


def test_float32_request_is_not_served_by_float16_entries(bilm, biLM_calls):
    texts = make_texts(3)
    cached_embed_texts(texts, bilm, token_level=True)
    with sklearn_elmo.config_context(cache_token_dtype="float32"):
        exact = cached_embed_texts(texts, bilm, token_level=True)
    assert len(biLM_calls) == 2
    # float32 entries serve float16 requests, rounded as fresh ones would be.
    rounded = cached_embed_texts(texts, bilm, token_level=True)
    assert len(biLM_calls) == 2
    np.testing.assert_array_equal(
        rounded.tokens, exact.tokens.astype(np.float16).astype(np.float32)
    )


def test_out_of_float16_range_stays_float32():
    big = np.array([[[70000.0, 1.0]]], np.float32)
    assert _entries.to_storage(big, "float16").dtype == np.float32
    assert _entries.to_storage(big / 10, "float16").dtype == np.float16


# -- persistent cache ----------------------------------------------------------------


def test_persistent_cache_is_shared_across_processes(tiny_model, tmp_path, biLM_calls):
    cache_dir = tmp_path / "cache"
    texts = make_texts(30, seed=6)
    script = textwrap.dedent(
        f"""
        import numpy as np, sys
        from sklearn_elmo import ElmoVectorizer, cache_info
        texts = {texts!r}
        est = ElmoVectorizer({str(tiny_model)!r}, pooling="mean_max")
        np.save(sys.argv[1], est.fit_transform(texts))
        assert cache_info()["computed"] == len(set(texts)), cache_info()
        """
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    env["SKLEARN_ELMO_CACHE_DIR"] = str(cache_dir)
    subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "out.npy")],
        check=True,
        env=env,
        capture_output=True,
        timeout=300,
    )
    assert len(entry_files(cache_dir)) == len(set(texts))
    est = ElmoVectorizer(str(tiny_model), pooling="mean_max", cache_dir=cache_dir)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = est.fit_transform(texts)
    assert biLM_calls == []
    assert sklearn_elmo.cache_info()["disk_hits"] == len(set(texts))
    np.testing.assert_array_equal(ours, np.load(tmp_path / "out.npy"))
    sklearn_elmo.clear_cache(cache_dir=cache_dir)
    assert entry_files(cache_dir) == []


def test_environment_variable_enables_the_persistent_cache(bilm, tmp_path, monkeypatch):
    monkeypatch.setenv("SKLEARN_ELMO_CACHE_DIR", str(tmp_path))
    cached_embed_texts(["a b", "c"], bilm)
    assert len(entry_files(tmp_path)) == 2
    files = entry_files(tmp_path)
    assert all(f.parent.parent.name == bilm.fingerprint[:32] for f in files)


def test_estimator_cache_dir_parameter(tiny_model, tmp_path):
    from sklearn.base import clone

    est = ElmoClassifier(str(tiny_model), cache_dir=tmp_path, epochs=1)
    assert clone(est).get_params()["cache_dir"] == tmp_path
    est.fit(["good fun", "bad film", "nice one", "awful"], [1, 0, 1, 0])
    assert len(entry_files(tmp_path)) == 4
    with pytest.raises(InvalidParameterError, match="cache_dir"):
        ElmoClassifier(str(tiny_model), cache_dir=3).fit(["a", "b"], [0, 1])
