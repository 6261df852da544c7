"""The persistent store: entry format, atomic writes, corrupt and foreign files."""

import os
import subprocess
import sys
import textwrap
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import sklearn_elmo
from sklearn_elmo.exceptions import EmbeddingCacheWarning
from sklearn_elmo.features import (
    _disk,
    _entries,
    cached_embed_texts,
    embed_texts,
)
from sklearn_elmo.features._entries import CacheEntry
from sklearn_elmo.features._tokenizer_identity import tokenizer_identity

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORDS = ["good", "great", "fine", "bad", "awful", "poor", "blue", "green", "red"]
WORDS += ["the", "a", "of", "and", ",", "."]


def make_texts(n, seed=0):
    rng = np.random.RandomState(seed)
    return [" ".join(rng.choice(WORDS, rng.randint(2, 9))) for _ in range(n)]


pytestmark = pytest.mark.usefixtures("cold_cache")


def entry_files(cache_dir):
    return sorted(Path(cache_dir).rglob("*.emb"))


def _populate(bilm, cache_dir, texts, **kwargs):
    features = cached_embed_texts(texts, bilm, cache_dir=cache_dir, **kwargs)
    sklearn_elmo.clear_cache()  # later reads come from disk
    return features


def test_kill_mid_write_leaves_no_usable_partial_entry(bilm, tmp_path, biLM_calls):
    """A writer killed between writing and renaming leaves only a temporary file."""
    script = textwrap.dedent(
        f"""
        import os, numpy as np
        from sklearn_elmo.features import _disk, _entries
        entry = _entries.CacheEntry(
            3, np.ones((3, 32), np.float32), np.ones(3), np.ones((3, 3, 32), np.float16)
        )
        store = _disk.DiskStore({str(tmp_path)!r}, "{bilm.fingerprint}")
        os.replace = lambda *args: os._exit(9)  # killed before the rename
        store.write(_disk.key_hash(("{bilm.fingerprint}", "k", None), "x"), entry)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run(
        [sys.executable, "-c", script], check=False, env=env, timeout=120
    )
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
    # Recomputed in another batch: equal to the engine's batch independence.
    np.testing.assert_allclose(features.tokens, reference.tokens, rtol=0, atol=1e-6)
    assert len(path.read_bytes()) == len(data)  # rewritten whole
    biLM_calls.clear()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the rewritten entry reads back cleanly
        again = cached_embed_texts(texts, bilm, cache_dir=tmp_path, token_level=True)
    assert biLM_calls == []
    np.testing.assert_array_equal(again.tokens, features.tokens)


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
    key = _disk.key_hash(namespace, texts[0])
    path = _disk.DiskStore(tmp_path, bilm.fingerprint).path(key)
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

        monkeypatch.setattr(_disk, "_write_all", failing_write)
    with pytest.warns(EmbeddingCacheWarning, match="Could not write to the embedding"):
        features = cached_embed_texts(texts, bilm, cache_dir=cache_dir)
    direct = embed_texts(texts, bilm)
    np.testing.assert_allclose(features.means, direct.means, atol=1e-6)
    assert not list(tmp_path.rglob("*.part"))  # no temporary file left behind
    assert not list(tmp_path.rglob("*.emb"))


def test_concurrent_writers_and_readers_never_see_a_partial_entry(bilm, tmp_path):
    features = embed_texts(["some text here"], bilm, token_level=True)
    entry = _entries.entry_from(features, 0, "float16", "some text here")
    key = "ab" * 32
    store = _disk.DiskStore(tmp_path, bilm.fingerprint)
    store.write(key, entry)
    stop, problems = threading.Event(), []

    def write():
        writer = _disk.DiskStore(tmp_path, bilm.fingerprint)
        while not stop.is_set():
            writer.write(key, entry)

    def read():
        reader = _disk.DiskStore(tmp_path, bilm.fingerprint)
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
    back = _disk.decode_entry(_disk.encode_entry(entry, "k" * 64), "k" * 64, 3, 8)
    for name in ("means", "sq_means", "tokens"):
        np.testing.assert_array_equal(getattr(back, name), getattr(entry, name))
        assert getattr(back, name).dtype == getattr(entry, name).dtype
    with pytest.raises(_disk.CorruptEntry, match=r"layers of shape \(3, 8\)"):
        _disk.decode_entry(_disk.encode_entry(entry, "k" * 64), "k" * 64, 3, 16)
