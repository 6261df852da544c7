"""Faults: broken model sources, interrupted fits, a failing cache, concurrency.

The guarantees tested here are listed in docs/errors.md.
"""

import copy
import errno
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest
from sklearn.exceptions import NotFittedError

import sklearn_elmo
from sklearn_elmo import (
    ElmoClassifier,
    ElmoRegressor,
    ElmoVectorizer,
    config_context,
    load_bilm,
)
from sklearn_elmo.bilm import Bilm
from sklearn_elmo.exceptions import EmbeddingCacheWarning
from sklearn_elmo.features import _disk
from sklearn_elmo.head import _train
from sklearn_elmo.testing import make_random_bilm

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ESTIMATORS = [ElmoClassifier, ElmoRegressor, ElmoVectorizer]
WORDS = [
    ["good", "great", "fine", "happy", "nice"],
    ["bad", "awful", "poor", "sad", "grim"],
]
FAST = {"epochs": 4, "learning_rate": 0.02, "random_state": 0}


def assert_same_vectors(actual, expected):
    """Equal to the engine's batch independence (1e-6, docs/determinism.md).

    A text recomputed in another batch may differ in the last bits (the
    engine picks its matmul kernel by rows per step); a wrong or stale
    vector differs by far more.
    """
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-6)


def make_data(n, seed=0):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = [" ".join(rng.choice(WORDS[c], rng.randint(2, 6))) + " ." for c in y]
    return X, np.array(["neg", "pos"])[y]


X_TRAIN, Y_TRAIN = make_data(16)
X_OTHER, Y_OTHER = make_data(20, seed=1)


def target_for(Est, y):
    return (np.asarray(y) == "pos").astype(float) if Est is ElmoRegressor else y


def output_of(est, X):
    if isinstance(est, ElmoVectorizer):
        return est.transform(X)
    if isinstance(est, ElmoClassifier):
        return est.predict_proba(X)
    return est.predict(X)


def entry_files(cache_dir):
    return sorted(Path(cache_dir).rglob("*.emb"))


@pytest.fixture(scope="module")
def model(tiny_model):
    return str(tiny_model)


@pytest.fixture
def private_model(tmp_path):
    """A model folder this test may damage (byte-identical to the tiny model)."""
    return make_random_bilm(tmp_path / "model", size="tiny", seed=0)


@pytest.fixture
def no_embedding(monkeypatch):
    def refuse(self, sentences, batch_size=64):
        raise AssertionError("the biLM ran before the fault was reported")
        yield  # pragma: no cover

    monkeypatch.setattr(Bilm, "iter_embed", refuse)
    with config_context(cache_memory=0):
        yield


# -- broken model sources ----------------------------------------------------------


def _rewrite_dataset(path, name, data):
    with h5py.File(path, "a") as fh:
        del fh[name]
        fh.create_dataset(name, data=data)


def _damage(folder, fault):
    """Damage a model folder; return the file the error must name."""
    weights, options = folder / "weights.hdf5", folder / "options.json"
    if fault == "missing":
        shutil.rmtree(folder)
        return folder
    if fault == "weights-deleted":
        weights.unlink()
        return folder
    if fault == "corrupt":
        weights.write_bytes(b"\x89HDF\r\n\x1a\n" + os.urandom(4000))
        return weights
    if fault == "truncated":
        data = weights.read_bytes()
        weights.write_bytes(data[: len(data) // 2])
        return weights
    if fault == "wrong-shape":
        _rewrite_dataset(
            weights, "RNN_0/RNN/MultiRNNCell/Cell0/LSTMCell/W_0", np.zeros((3, 3))
        )
        return weights
    if fault == "options-corrupt":
        options.write_text('{"lstm": {"dim": 32,')
        return options
    raise AssertionError(fault)


FAULTS = [
    "missing",
    "weights-deleted",
    "corrupt",
    "truncated",
    "wrong-shape",
    "options-corrupt",
]


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_broken_model_fails_fit_naming_the_file(
    Est, fault, private_model, no_embedding
):
    named = _damage(private_model, fault)
    X = X_TRAIN * 200  # much to embed: the error must come first
    with pytest.raises(ValueError) as info:
        Est(str(private_model)).fit(X, target_for(Est, np.tile(Y_TRAIN, 200)))
    assert str(named) in str(info.value)


@pytest.mark.parametrize("fault", FAULTS)
def test_model_broken_after_fit_fails_predict_naming_the_file(
    fault, private_model, monkeypatch
):
    clf = ElmoClassifier(str(private_model), **FAST).fit(X_TRAIN, Y_TRAIN)
    named = _damage(private_model, fault)
    monkeypatch.setattr(Bilm, "iter_embed", None)  # any embedding would fail
    with (
        config_context(cache_memory=0),
        pytest.raises(ValueError, match="cannot be loaded") as info,
    ):
        clf.predict(["good", "bad"])
    assert str(named) in str(info.value)


# -- interrupted fit ----------------------------------------------------------------


def _fitted_state(est):
    """A deep copy of everything fit stores (public and private)."""
    return copy.deepcopy(
        {
            k: v
            for k, v in vars(est).items()
            if k != "_network_cache" and k not in est.get_params()
        }
    )


def _assert_same_state(state, est):
    now = _fitted_state(est)
    assert set(now) == set(state)
    for key, value in state.items():
        if isinstance(value, dict):
            assert set(value) == set(now[key]), key
            for k in value:
                np.testing.assert_array_equal(
                    np.asarray(now[key][k]), np.asarray(value[k])
                )
        else:
            np.testing.assert_array_equal(np.asarray(now[key]), np.asarray(value))


def _interrupt_training(monkeypatch, exception, at_epoch=2):
    """Raise ``exception`` at the end of epoch ``at_epoch`` of the training loop."""
    original, calls = _train._score, []

    def score(*args):
        calls.append(1)
        if len(calls) == at_epoch:
            raise exception
        return original(*args)

    monkeypatch.setattr(_train, "_score", score)
    return calls


def _interrupt_embedding(monkeypatch, exception):
    """Raise ``exception`` after the biLM has yielded its first batch."""
    original = Bilm.iter_embed

    def iter_embed(self, sentences, batch_size=64):
        for k, batch in enumerate(original(self, sentences, batch_size)):
            if k == 1:
                raise exception
            yield batch

    monkeypatch.setattr(Bilm, "iter_embed", iter_embed)


@pytest.mark.parametrize("where", ["training", "embedding"])
@pytest.mark.parametrize("exception", [KeyboardInterrupt, RuntimeError("boom")])
@pytest.mark.parametrize("Est", ESTIMATORS)
def test_interrupted_refit_leaves_the_previous_fit_intact(
    Est, exception, where, model, monkeypatch
):
    est = Est(model, **FAST).fit(X_TRAIN, target_for(Est, Y_TRAIN))
    before = output_of(est, X_OTHER)
    state = _fitted_state(est)
    # The refit differs in everything: new texts, a third class (or other
    # values), other settings.
    texts = [t + " (again)" for t in X_OTHER]  # not in the cache: embedded now
    y_new = np.where(np.arange(20) % 3 == 0, "third", Y_OTHER)
    y_new = np.arange(20.0) if Est is ElmoRegressor else y_new
    est.set_params(epochs=6, hidden_layer_sizes=(4,), embed_batch_size=3)
    if where == "training":
        calls = _interrupt_training(monkeypatch, exception)
    else:
        _interrupt_embedding(monkeypatch, exception)
    expected = exception if isinstance(exception, type) else type(exception)
    with config_context(cache_memory=0), pytest.raises(expected):
        est.fit(texts, y_new)
    if where == "training":
        assert len(calls) == 2  # it really stopped midway
    monkeypatch.undo()
    _assert_same_state(state, est)
    assert_same_vectors(output_of(est, X_OTHER), before)
    restored = pickle.loads(pickle.dumps(est))  # still a sound estimator
    assert_same_vectors(output_of(restored, X_OTHER), before)
    est.fit(texts, y_new)
    assert est.n_iter_ == 6  # the new fit took effect


@pytest.mark.parametrize("Est", ESTIMATORS)
def test_interrupted_first_fit_leaves_the_estimator_unfitted(Est, model, monkeypatch):
    est = Est(model, **FAST)
    _interrupt_training(monkeypatch, KeyboardInterrupt, at_epoch=1)
    with pytest.raises(KeyboardInterrupt):
        est.fit(X_TRAIN, target_for(Est, Y_TRAIN))
    assert not [k for k in vars(est) if k.endswith("_") and not k.startswith("_")]
    with pytest.raises(NotFittedError):
        output_of(est, X_TRAIN)


def test_an_interrupted_embedding_leaves_nothing_in_the_cache(
    model, monkeypatch, tmp_path
):
    texts = [f"interrupted text number {i} ." for i in range(40)]
    with config_context(cache_memory=0):
        reference = ElmoVectorizer(model, pooling="mean_max").fit_transform(texts)
    sklearn_elmo.clear_cache()
    _interrupt_embedding(monkeypatch, KeyboardInterrupt)
    vec = ElmoVectorizer(
        model, pooling="mean_max", embed_batch_size=4, cache_dir=tmp_path
    )
    with pytest.raises(KeyboardInterrupt):
        vec.fit_transform(texts)
    monkeypatch.undo()
    assert entry_files(tmp_path) == [] and not list(tmp_path.rglob("*.part"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_same_vectors(vec.fit_transform(texts), reference)


# -- a failing persistent cache -------------------------------------------------------

CACHE_TEXTS = [f"the cache holds text {i} , kept for later ." for i in range(12)]


@pytest.fixture(scope="module")
def reference(model):
    """Outputs computed without any persistent cache."""
    with config_context(cache_memory=0):
        return {
            pooling: ElmoVectorizer(model, pooling=pooling).fit_transform(CACHE_TEXTS)
            for pooling in ("mean", "mean_max")
        }


def _transform_from_disk(model, cache_dir, pooling, texts=CACHE_TEXTS):
    """Transform with an empty memory cache, so entries come from cache_dir."""
    sklearn_elmo.clear_cache()
    vec = ElmoVectorizer(model, pooling=pooling, cache_dir=cache_dir)
    return vec.fit_transform(texts)


def _no_warnings(function, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return function(*args)


def _fail_under(directory, monkeypatch, code):
    """Make creating files and folders under ``directory`` fail as the OS would."""
    directory = str(directory)
    mkstemp, mkdir = tempfile.mkstemp, Path.mkdir

    def failing_mkstemp(*args, dir=None, **kwargs):
        if dir is not None and str(dir).startswith(directory):
            raise OSError(code, os.strerror(code), str(dir))
        return mkstemp(*args, dir=dir, **kwargs)

    def failing_mkdir(self, *args, **kwargs):
        if str(self).startswith(directory) and not self.exists():
            raise OSError(code, os.strerror(code), str(self))
        return mkdir(self, *args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", failing_mkstemp)
    monkeypatch.setattr(Path, "mkdir", failing_mkdir)


@pytest.mark.parametrize("pooling", ["mean", "mean_max"])
def test_read_only_cache_directory(pooling, model, reference, tmp_path, monkeypatch):
    cache_dir = tmp_path / "cache"
    half = CACHE_TEXTS[:6]
    _transform_from_disk(model, cache_dir, pooling, half)  # some entries exist
    n_entries = len(entry_files(cache_dir))
    if os.geteuid() != 0:
        for folder in [cache_dir, *cache_dir.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o555)
    else:  # root ignores permission bits: fail writes as a read-only mount does
        _fail_under(cache_dir, monkeypatch, errno.EROFS)
    try:
        # Entries already there are served without a complaint ...
        out = _no_warnings(_transform_from_disk, model, cache_dir, pooling, half)
        assert_same_vectors(out, reference[pooling][:6])
        # ... new texts are computed, the failed write is reported once.
        with pytest.warns(EmbeddingCacheWarning, match="Could not write") as record:
            out = _transform_from_disk(model, cache_dir, pooling)
        assert len(record) == 1
        assert_same_vectors(out, reference[pooling])
        assert len(entry_files(cache_dir)) == n_entries
    finally:
        for folder in [cache_dir, *cache_dir.rglob("*")]:
            if folder.is_dir():
                folder.chmod(0o755)


def test_full_disk_mid_write(model, reference, tmp_path, monkeypatch):
    """ENOSPC after part of an entry is written: no partial file, exact results."""
    cache_dir = tmp_path / "cache"
    original = _disk._write_all
    written = []

    def write_then_fill_up(fh, data):
        if written:
            fh.write(data[: len(data) // 3])  # the disk fills up midway
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        written.append(1)
        return original(fh, data)

    monkeypatch.setattr(_disk, "_write_all", write_then_fill_up)
    with pytest.warns(EmbeddingCacheWarning, match="No space left on device"):
        out = _transform_from_disk(model, cache_dir, "mean_max")
    assert_same_vectors(out, reference["mean_max"])
    assert len(entry_files(cache_dir)) == 1  # the one write before the disk filled
    assert not list(cache_dir.rglob("*.part"))
    monkeypatch.undo()
    out = _no_warnings(_transform_from_disk, model, cache_dir, "mean_max")
    assert_same_vectors(out, reference["mean_max"])
    assert len(entry_files(cache_dir)) == len(CACHE_TEXTS)


def _damage_entry(path, how, other):
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "bit-flip":
        flipped = bytearray(data)
        flipped[-5] ^= 0x10
        path.write_bytes(bytes(flipped))
    elif how == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif how == "swapped":  # another text's valid entry under this name
        path.write_bytes(other.read_bytes())
    elif how == "directory":
        path.unlink()
        path.mkdir()
    else:
        raise AssertionError(how)


DAMAGE = ["truncated", "empty", "bit-flip", "garbage", "swapped"]


@pytest.mark.parametrize("pooling", ["mean", "mean_max"])
def test_corrupt_and_partial_entries_warn_and_are_recomputed(
    pooling, model, reference, tmp_path
):
    cache_dir = tmp_path / "cache"
    _transform_from_disk(model, cache_dir, pooling)
    files = entry_files(cache_dir)
    assert len(files) == len(CACHE_TEXTS)
    for path, how in zip(files, DAMAGE, strict=False):
        _damage_entry(path, how, other=files[-1])
    # Leftovers of killed writers are ignored.
    (files[-1].parent / ".0123456789abcdef-x.part").write_bytes(b"SKELMOC\npartial")
    with pytest.warns(
        EmbeddingCacheWarning,
        match="5 entries .* could not be used and were recomputed",
    ):
        out = _transform_from_disk(model, cache_dir, pooling)
    assert_same_vectors(out, reference[pooling])  # never a wrong vector
    # The damaged files were replaced by good ones.
    out = _no_warnings(_transform_from_disk, model, cache_dir, pooling)
    assert_same_vectors(out, reference[pooling])


def test_a_directory_where_an_entry_should_be(model, reference, tmp_path):
    cache_dir = tmp_path / "cache"
    _transform_from_disk(model, cache_dir, "mean")
    path = entry_files(cache_dir)[3]
    path.unlink()
    path.mkdir()
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        out = _transform_from_disk(model, cache_dir, "mean")
    assert_same_vectors(out, reference["mean"])
    messages = [str(w.message) for w in record]
    assert all(issubclass(w.category, EmbeddingCacheWarning) for w in record)
    assert len(messages) == 2
    assert "1 entry" in messages[0] and "unreadable" in messages[0]
    assert "Could not write" in messages[1]


def test_cache_dir_that_is_a_file(model, reference, tmp_path):
    cache_dir = tmp_path / "not-a-folder"
    cache_dir.write_text("I am a file")
    with pytest.warns(EmbeddingCacheWarning, match="Could not write"):
        out = _transform_from_disk(model, cache_dir, "mean")
    assert_same_vectors(out, reference["mean"])
    assert cache_dir.read_text() == "I am a file"


# -- concurrency ------------------------------------------------------------------------


def _run_threads(function, n=2):
    barrier, results, errors = threading.Barrier(n), [None] * n, []

    def run(k):
        try:
            barrier.wait()
            results[k] = function(k)
        except BaseException as exc:  # noqa: BLE001 - reported in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("cache_memory", [0, 2**28], ids=["no-cache", "shared-cache"])
@pytest.mark.parametrize("Est", [ElmoVectorizer, ElmoClassifier])
def test_two_threads_with_one_fitted_estimator(Est, cache_memory, model):
    texts = [f"thread text {i} " + "word " * (i % 9) for i in range(60)]
    fitted = Est(model, pooling="max", **FAST).fit(X_TRAIN, Y_TRAIN)
    with config_context(cache_memory=0):
        expected = output_of(copy.deepcopy(fitted), texts)
    sklearn_elmo.clear_cache()
    est = pickle.loads(pickle.dumps(fitted))  # fresh: both threads build the network

    def work(k):
        parts = [texts, texts[k::2], texts[::-1]]
        return [(part, output_of(est, part)) for part in parts]

    with config_context(cache_memory=cache_memory):
        results = _run_threads(work)
    for result in results:
        for part, out in result:
            index = [texts.index(t) for t in part]
            assert_same_vectors(out, expected[index])


def test_two_threads_with_one_biLM(model):
    bilm = load_bilm(model)
    sentences = [[f"w{i}", "and", "more"] * (1 + i % 5) for i in range(50)]
    expected, _ = bilm.embed(sentences)
    results = _run_threads(lambda k: bilm.embed(sentences[k:] + sentences[:k])[0])
    assert_same_vectors(results[0], expected)
    assert_same_vectors(results[1], np.concatenate([expected[1:], expected[:1]]))


def test_two_processes_sharing_a_cache_directory(model, tmp_path):
    cache_dir = tmp_path / "shared"
    texts = [f"process text {i} " + "word " * (i % 7) for i in range(80)]
    with config_context(cache_memory=0):
        expected = ElmoVectorizer(model, pooling="mean_max").fit_transform(texts)
    script = textwrap.dedent(
        """
        import sys, warnings, numpy as np
        from sklearn_elmo import ElmoVectorizer
        texts = [f"process text {i} " + "word " * (i % 7) for i in range(80)]
        if sys.argv[3] == "reversed":
            texts = texts[::-1]
        warnings.simplefilter("error")  # a torn or foreign entry would warn
        vec = ElmoVectorizer(sys.argv[1], pooling="mean_max", cache_dir=sys.argv[2])
        out = vec.fit_transform(texts)
        np.save(sys.argv[4], out[::-1] if sys.argv[3] == "reversed" else out)
        """
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("SKLEARN_ELMO_CACHE_DIR", None)
    processes = [
        subprocess.Popen(
            [
                sys.executable,
                "-c",
                script,
                model,
                str(cache_dir),
                order,
                str(tmp_path / f"{order}.npy"),
            ],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for order in ("forward", "reversed")
    ]
    for process in processes:
        _, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, stderr.decode()[-2000:]
    for order in ("forward", "reversed"):
        np.testing.assert_array_equal(np.load(tmp_path / f"{order}.npy"), expected)
    assert len(entry_files(cache_dir)) == len(texts)
    assert not list(cache_dir.rglob("*.part"))
    # What they left is complete and right: a third reader gets it all from disk.
    sklearn_elmo.clear_cache()
    out = _no_warnings(
        ElmoVectorizer(model, pooling="mean_max", cache_dir=cache_dir).fit_transform,
        texts,
    )
    np.testing.assert_array_equal(out, expected)
    assert sklearn_elmo.cache_info()["disk_hits"] == len(texts)
