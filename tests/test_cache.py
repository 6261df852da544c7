"""The embedding cache: hits and misses, LRU budget, float16 bound, persistent cache."""

import os
import pickle
import subprocess
import sys
import textwrap
import threading
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError

import sklearn_elmo
from sklearn_elmo import _config, load_bilm
from sklearn_elmo.features import _cache
from sklearn_elmo.features._cache import (
    CacheEntry,
    EmbeddingCacheWarning,
    cached_embed_texts,
    tokenizer_identity,
)
from sklearn_elmo.features._features import embed_texts
from sklearn_elmo.bilm import Bilm
from sklearn_elmo.estimators import ElmoClassifier, ElmoVectorizer
from sklearn_elmo.tokenize import default_tokenizer

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORDS = "good great fine bad awful poor blue green red the a of and , .".split()


def make_texts(n, seed=0):
    rng = np.random.RandomState(seed)
    return [" ".join(rng.choice(WORDS, rng.randint(2, 9))) for _ in range(n)]


def pipe_tokenizer(text):
    """A module-level custom tokenizer (picklable by reference)."""
    return [t for t in text.split("|") if t]


class SplitOn:
    """A picklable tokenizer object with state."""

    def __init__(self, sep):
        self.sep = sep

    def __call__(self, text):
        return [t for t in text.split(self.sep) if t]


@pytest.fixture(autouse=True)
def cold_cache(monkeypatch):
    """Each test starts with an empty cache, default settings, no cache_dir variable."""
    monkeypatch.delenv("SKLEARN_ELMO_CACHE_DIR", raising=False)
    saved = dict(_config._settings)
    _config._settings.clear()
    sklearn_elmo.clear_cache()
    yield
    _config._settings.clear()
    _config._settings.update(saved)
    sklearn_elmo.clear_cache()


@pytest.fixture(scope="module")
def bilm(tiny_model):
    return load_bilm(tiny_model)


@pytest.fixture
def biLM_calls(monkeypatch):
    """Sentences the biLM is asked to embed, per call of Bilm.iter_embed."""
    calls = []
    original = Bilm.iter_embed

    def counting(self, sentences, batch_size=64):
        sentences = list(sentences)
        calls.append(len(sentences))
        yield from original(self, sentences, batch_size)

    monkeypatch.setattr(Bilm, "iter_embed", counting)
    return calls


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
    monkeypatch.setattr(_cache, "_CHUNK_BYTES", 1)  # chunks of 32 texts
    est = ElmoVectorizer(str(tiny_model), pooling="mean_max").fit(X)
    streamed = est.transform(X)
    assert len(biLM_calls) == 5 and max(biLM_calls) <= 32
    np.testing.assert_allclose(streamed, whole, atol=1e-6)


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
            entry = _cache._entry_from(features, i % 40, token_dtype, text)
            _cache._MEMORY.put((namespace, text), entry, 2**40)
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
    assert _cache.to_storage(big, "float16").dtype == np.float32
    assert _cache.to_storage(big / 10, "float16").dtype == np.float16


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


def test_environment_variable_enables_the_persistent_cache(
    bilm, tmp_path, monkeypatch
):
    monkeypatch.setenv("SKLEARN_ELMO_CACHE_DIR", str(tmp_path))
    cached_embed_texts(["a b", "c"], bilm)
    assert len(entry_files(tmp_path)) == 2
    files = entry_files(tmp_path)
    assert all(f.parent.parent.name == bilm.fingerprint[:32] for f in files)


def _populate(bilm, cache_dir, texts, **kwargs):
    features = cached_embed_texts(texts, bilm, cache_dir=cache_dir, **kwargs)
    sklearn_elmo.clear_cache()  # later reads come from disk
    return features


def test_kill_mid_write_leaves_no_usable_partial_entry(bilm, tmp_path, biLM_calls):
    """A writer killed between writing and renaming leaves only a temporary file."""
    script = textwrap.dedent(
        f"""
        import os, numpy as np
        from sklearn_elmo.features import _cache
        entry = _cache.CacheEntry(
            3, np.ones((3, 32), np.float32), np.ones(3), np.ones((3, 3, 32), np.float16)
        )
        store = _cache._DiskStore({str(tmp_path)!r}, "{bilm.fingerprint}")
        os.replace = lambda *args: os._exit(9)  # killed before the rename
        store.write(_cache._key_hash(("{bilm.fingerprint}", "k", None), "x"), entry)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run([sys.executable, "-c", script], env=env, timeout=120)
    assert result.returncode == 9
    assert entry_files(tmp_path) == []
    assert len(list(tmp_path.rglob("*.part"))) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a leftover temporary file is no problem
        features = cached_embed_texts(
            ["x"], bilm, tokenizer=str.split, cache_dir=tmp_path
        )
    assert biLM_calls == [1] and features.n_tokens.tolist() == [1]


def test_truncated_entry_is_detected_and_recomputed(bilm, tmp_path, biLM_calls):
    texts = ["one two three", "four five"]
    reference = _populate(bilm, tmp_path, texts, token_level=True)
    path = entry_files(tmp_path)[0]
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    (path.parent / ".partial-write.part").write_bytes(data[:10])
    biLM_calls.clear()
    with pytest.warns(EmbeddingCacheWarning, match="1 entry .* could not be used"):
        features = cached_embed_texts(texts, bilm, cache_dir=tmp_path, token_level=True)
    assert biLM_calls == [1]
    np.testing.assert_array_equal(features.tokens, reference.tokens)
    assert path.read_bytes() == data  # rewritten whole


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda data, other: data[:-3] + b"xyz", "checksum mismatch"),
        (lambda data, other: other, "foreign entry"),
        (lambda data, other: b"GARBAGE!" + data[8:], "bad magic"),
        (lambda data, other: data[:8] + b"\x07" + data[9:], "format version 7"),
        (lambda data, other: data[:17] + b"}" + data[18:], "malformed header"),
        (lambda data, other: b"", "truncated"),
    ],
    ids=["bit-flip", "foreign", "magic", "version", "header", "empty"],
)
def test_corrupt_and_foreign_entries_are_recomputed(
    bilm, tmp_path, biLM_calls, damage, reason
):
    texts = ["alpha beta", "gamma delta epsilon"]
    reference = _populate(bilm, tmp_path, texts)
    namespace = (bilm.fingerprint, tokenizer_identity(None)[0], None)
    key = _cache._key_hash(namespace, texts[0])
    path = _cache._DiskStore(tmp_path, bilm.fingerprint).path(key)
    other = next(p for p in entry_files(tmp_path) if p != path)
    path.write_bytes(damage(path.read_bytes(), other.read_bytes()))
    biLM_calls.clear()
    with pytest.warns(EmbeddingCacheWarning, match=reason):
        features = cached_embed_texts(texts, bilm, cache_dir=tmp_path)
    assert biLM_calls == [1]
    np.testing.assert_allclose(features.means, reference.means, atol=1e-6)
    sklearn_elmo.clear_cache()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # repaired
        cached_embed_texts(texts, bilm, cache_dir=tmp_path)


@pytest.mark.parametrize("failure", ["read-only", "full", "not a directory"])
def test_unwritable_directory_warns_and_results_are_correct(
    bilm, tmp_path, monkeypatch, biLM_calls, failure
):
    import errno

    texts = make_texts(5, seed=7)
    cache_dir = tmp_path / "cache"
    if failure == "not a directory":
        cache_dir.write_text("a file")
    elif failure == "read-only" and os.geteuid() != 0:
        cache_dir.mkdir()
        cache_dir.chmod(0o555)
    else:  # as root, permissions do not stop writes: fail them as the OS would
        code = errno.EROFS if failure == "read-only" else errno.ENOSPC

        def failing_write(fh, data):
            raise OSError(code, os.strerror(code))

        monkeypatch.setattr(_cache, "_write_all", failing_write)
    with pytest.warns(EmbeddingCacheWarning, match="Could not write to the embedding"):
        features = cached_embed_texts(texts, bilm, cache_dir=cache_dir)
    direct = embed_texts(texts, bilm)
    np.testing.assert_allclose(features.means, direct.means, atol=1e-6)
    assert not list(tmp_path.rglob("*.part"))  # no temporary file left behind
    assert not list(tmp_path.rglob("*.emb"))


def test_concurrent_writers_and_readers_never_see_a_partial_entry(bilm, tmp_path):
    features = embed_texts(["some text here"], bilm, token_level=True)
    entry = _cache._entry_from(features, 0, "float16", "some text here")
    key = "ab" * 32
    store = _cache._DiskStore(tmp_path, bilm.fingerprint)
    store.write(key, entry)
    stop, problems = threading.Event(), []

    def write():
        writer = _cache._DiskStore(tmp_path, bilm.fingerprint)
        while not stop.is_set():
            writer.write(key, entry)

    def read():
        reader = _cache._DiskStore(tmp_path, bilm.fingerprint)
        for _ in range(300):
            got = reader.read(key, bilm.n_layers, bilm.dim, "float16")
            if got is None or not np.array_equal(got.tokens, entry.tokens):
                problems.append(reader.bad)
        stop.set()

    threads = [threading.Thread(target=write) for _ in range(2)]
    threads.append(threading.Thread(target=read))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    assert not list(tmp_path.rglob("*.part"))


def test_entry_round_trip():
    rng = np.random.default_rng(0)
    entry = CacheEntry(
        4,
        rng.normal(size=(3, 8)).astype(np.float32),
        rng.random(3),
        rng.normal(size=(4, 3, 8)).astype(np.float16),
    )
    back = _cache.decode_entry(_cache.encode_entry(entry, "k" * 64), "k" * 64, 3, 8)
    for name in ("means", "sq_means", "tokens"):
        np.testing.assert_array_equal(getattr(back, name), getattr(entry, name))
        assert getattr(back, name).dtype == getattr(entry, name).dtype
    with pytest.raises(_cache.CorruptEntry, match=r"layers of shape \(3, 8\)"):
        _cache.decode_entry(_cache.encode_entry(entry, "k" * 64), "k" * 64, 3, 16)


# -- tokenizer identity ----------------------------------------------------------------


def test_tokenizer_identity():
    default, stable = tokenizer_identity(None)
    assert stable and default.startswith("default:")
    assert tokenizer_identity(default_tokenizer) == (default, True)
    function, stable = tokenizer_identity(pipe_tokenizer)
    assert stable and "test_cache.pipe_tokenizer:" in function
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
    namespace = {}
    exec("def tok(text):\n    return text.split()", namespace)
    before = _cache._code_of(namespace["tok"])
    exec("def tok(text):\n    return text.split(',')", namespace)
    after = _cache._code_of(namespace["tok"])
    digests = []
    for code in (before, after):
        digest = __import__("hashlib").sha256()
        _cache._code_digest(code, digest)
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


def test_estimator_cache_dir_parameter(tiny_model, tmp_path):
    from sklearn.base import clone

    est = ElmoClassifier(str(tiny_model), cache_dir=tmp_path, epochs=1)
    assert clone(est).get_params()["cache_dir"] == tmp_path
    est.fit(["good fun", "bad film", "nice one", "awful"], [1, 0, 1, 0])
    assert len(entry_files(tmp_path)) == 4
    with pytest.raises(InvalidParameterError, match="cache_dir"):
        ElmoClassifier(str(tiny_model), cache_dir=3).fit(["a", "b"], [0, 1])
