"""Scale-out on Dask: a LocalCluster of two single-thread worker processes.

The cluster listens on loopback only, its workers end by themselves after
``WORKER_LIFETIME`` even if this process dies, and every wait has a timeout.
"""

import logging
import os
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

dask = pytest.importorskip("dask", reason="dask is not installed (extra 'dask')")
distributed = pytest.importorskip("distributed", reason="extra 'dask' not installed")
dd = pytest.importorskip("dask.dataframe", reason="extra 'dask' not installed")

import cloudpickle  # comes with distributed
import dask.array as da
import dask.bag as db
import joblib
import pandas as pd
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import sklearn_elmo
from sklearn_elmo import ElmoClassifier, ElmoVectorizer, _threads
from sklearn_elmo.dask import TensorFlowThreads, apply_partitions
from sklearn_elmo.features import _disk as _cache

TIMEOUT = 240  # seconds, for any one result from the cluster
WORKER_LIFETIME = "20 minutes"
WORDS = [
    ["good", "great", "fine", "happy", "nice", "bright"],
    ["bad", "awful", "poor", "sad", "grim", "dull"],
]


def make_texts(n, seed):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = [
        " ".join(rng.choice(WORDS[c], rng.randint(2, 7))) + f" number {i} ."
        for i, c in enumerate(y)
    ]
    return X, np.array(["neg", "pos"])[y]


TEXTS, LABELS = make_texts(30, 0)


@pytest.fixture(scope="module")
def model(tiny_model):
    return str(tiny_model)


@pytest.fixture(scope="module")
def client():
    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers need it
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.CRITICAL,
        lifetime=WORKER_LIFETIME,
        death_timeout=60,
    )
    client = distributed.Client(cluster, timeout=120)
    client.register_plugin(TensorFlowThreads())
    try:
        yield client
    finally:
        client.close(timeout=30)
        cluster.close(timeout=30)
        cloudpickle.unregister_pickle_by_value(sys.modules[__name__])


def on_cluster(client, collection):
    return client.compute(collection).result(timeout=TIMEOUT)


# -- corpus embedding -----------------------------------------------------------------


@pytest.fixture(scope="module")
def vectorizer(model):
    return ElmoVectorizer(model, pooling="mean_max").fit(TEXTS[:2])


def collections(texts):
    series = dd.from_pandas(pd.Series(texts, name="text"), npartitions=3)
    return {
        "bag": db.from_sequence(texts, npartitions=4),
        "series": series,
        "frame": series.to_frame(),
        "array": da.from_array(np.array(texts, dtype=object), chunks=7),
        "column": da.from_array(np.array(texts, dtype=object)[:, None], chunks=(11, 1)),
    }


def test_apply_partitions_equals_local_transform(client, vectorizer):
    expected = vectorizer.transform(TEXTS)
    assert expected.shape == (30, 64)
    for name, texts in collections(TEXTS).items():
        X = apply_partitions(vectorizer, texts)
        assert X.shape == (30, 64), name
        assert X.chunks[1] == (64,) and sum(X.chunks[0]) == 30, name
        assert X.dtype == np.float32
        result = on_cluster(client, X)
        assert result.shape == expected.shape
        np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6, err_msg=name)


def test_partition_lengths_unknown_given_or_known(client, vectorizer):
    bag = db.from_sequence(TEXTS, npartitions=3)
    unknown = apply_partitions(vectorizer, bag, lengths=False)
    assert np.isnan(unknown.shape[0]) and unknown.chunks[1] == (64,)
    given = apply_partitions(
        vectorizer, bag, lengths=[10, 10, 10], meta=np.empty((0, 64), np.float32)
    )
    assert given.chunks == ((10, 10, 10), (64,))
    expected = vectorizer.transform(TEXTS)
    for X in (unknown, given):
        np.testing.assert_allclose(on_cluster(client, X), expected, rtol=0, atol=1e-6)
    wrong = apply_partitions(
        vectorizer, bag, lengths=[9, 11, 10], meta=np.empty((0, 64), np.float32)
    )
    with pytest.raises(ValueError, match="the dask array was built for"):
        on_cluster(client, wrong)


def test_apply_partitions_predicts_labels_and_probabilities(client, model):
    clf = ElmoClassifier(model, epochs=3, random_state=0).fit(TEXTS, LABELS)
    series = dd.from_pandas(pd.Series(TEXTS), npartitions=3)
    labels = apply_partitions(clf, series, "predict")
    assert labels.shape == (30,) and labels.dtype == object
    assert on_cluster(client, labels).tolist() == clf.predict(TEXTS).tolist()
    proba = apply_partitions(clf, series, "predict_proba")
    assert proba.chunks[1] == (2,)
    np.testing.assert_allclose(
        on_cluster(client, proba), clf.predict_proba(TEXTS), rtol=0, atol=1e-6
    )


def test_dask_ml_parallel_post_fit_predicts_on_a_text_column(client, model):
    """The documented dask-ml pattern: a single-column array, metas given."""
    wrappers = pytest.importorskip("dask_ml.wrappers")
    clf = ElmoClassifier(model, epochs=3, random_state=0).fit(TEXTS, LABELS)
    wrapped = wrappers.ParallelPostFit(
        clf,
        predict_meta=np.empty(0, dtype=object),
        predict_proba_meta=np.empty((0, 2)),
    )
    column = da.from_array(np.array(TEXTS, dtype=object)[:, None], chunks=(8, 1))
    predicted = on_cluster(client, wrapped.predict(column))
    assert predicted.tolist() == clf.predict(TEXTS).tolist()
    np.testing.assert_allclose(
        on_cluster(client, wrapped.predict_proba(column)),
        clf.predict_proba(TEXTS),
        rtol=0,
        atol=1e-6,
    )


def test_bad_inputs_name_the_problem(vectorizer):
    with pytest.raises(TypeError, match="must be a dask Bag, a dask DataFrame column"):
        apply_partitions(vectorizer, TEXTS)
    frame = dd.from_pandas(pd.DataFrame({"a": ["x"], "b": ["y"]}), npartitions=1)
    with pytest.raises(ValueError, match=r"columns \['a', 'b'\]; pass the column"):
        apply_partitions(vectorizer, frame)
    bag = db.from_sequence(TEXTS, npartitions=2)
    with pytest.raises(TypeError, match="method must be one of"):
        apply_partitions(vectorizer, bag, "fit")
    with pytest.raises(TypeError, match="has no method 'predict'"):
        apply_partitions(vectorizer, bag, "predict")
    with pytest.raises(ValueError, match="lengths: 3 counts for 2 partitions"):
        apply_partitions(vectorizer, bag, lengths=[1, 2, 3], meta=np.empty((0, 64)))
    square = da.from_array(np.array(TEXTS[:4], dtype=object).reshape(2, 2), chunks=2)
    with pytest.raises(ValueError, match="must be 1-D or a single column"):
        apply_partitions(vectorizer, square)


# -- TensorFlow threads ---------------------------------------------------------------


def _tf_thread_report(model):
    """On a worker: embed, then report TensorFlow's pool sizes and threads."""
    import tensorflow as tf

    ElmoVectorizer(model).fit_transform(["warm up the pools ."])
    names = [
        Path(f"/proc/self/task/{task}/comm").read_text().strip()
        for task in os.listdir("/proc/self/task")
    ]
    return {
        "setting": os.environ.get("SKLEARN_ELMO_NUM_THREADS"),
        "applied": _threads._applied,
        "intra": tf.config.threading.get_intra_op_parallelism_threads(),
        "inter": tf.config.threading.get_inter_op_parallelism_threads(),
        # The runtime pool of the XLA-compiled LSTM cell, one thread per core
        # (2 here) by default.
        "xla_threads": names.count("tf_XLAEigen"),
    }


@pytest.mark.skipif(not Path("/proc/self/task").is_dir(), reason="needs Linux /proc")
def test_single_thread_workers_run_tensorflow_on_one_thread(client, model):
    reports = client.run(_tf_thread_report, model)
    assert len(reports) == 2
    for report in reports.values():
        assert report["setting"] == "1"
        assert (report["intra"], report["inter"]) == (1, 1), report
        assert report["xla_threads"] == 1, report


def test_thread_setting_is_validated_and_warns_when_too_late(monkeypatch):
    import tensorflow as tf

    with pytest.raises(ValueError, match="SKLEARN_ELMO_NUM_THREADS must be a whole"):
        _threads.parse_num_threads("two")
    with pytest.raises(ValueError, match="n_threads must be an int >= 1"):
        TensorFlowThreads(0)
    tf.constant(1.0) + 1.0  # this process's TensorFlow has started
    current = tf.config.threading.get_intra_op_parallelism_threads()
    monkeypatch.setenv("SKLEARN_ELMO_NUM_THREADS", str(current + 1))
    monkeypatch.setattr(_threads, "_applied", None)
    for name in _threads.TF_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.warns(RuntimeWarning, match="came too late: TensorFlow had already"):
        _threads.apply_thread_setting()
    assert tf.config.threading.get_intra_op_parallelism_threads() == current


# -- grid search ----------------------------------------------------------------------


def test_grid_search_on_the_cluster_equals_local_and_shares_the_cache(
    client, model, tmp_path
):
    cache_dir = str(tmp_path / "shared-cache")
    grid = {"learning_rate": [0.01, 0.05], "layers": ["all", "top"]}
    cv = StratifiedKFold(2, shuffle=True, random_state=0)

    def search(cache):
        estimator = ElmoClassifier(model, epochs=3, random_state=0, cache_dir=cache)
        return GridSearchCV(estimator, grid, cv=cv)

    local = search(None).fit(TEXTS, LABELS)

    # Embed the corpus on the cluster first: the workers split the partitions
    # and write every text's entry to the shared folder. (Texts already in a
    # worker's memory, from earlier tests, would not be written.)
    client.run(sklearn_elmo.clear_cache)
    warm = ElmoVectorizer(model, cache_dir=cache_dir).fit(TEXTS[:1])
    on_cluster(client, apply_partitions(warm, db.from_sequence(TEXTS, npartitions=4)))
    written = list(Path(cache_dir).rglob("*.emb"))
    assert len(written) == len(TEXTS) + 1  # and the probe for the output's width

    client.run(sklearn_elmo.clear_cache)  # empty memory, reset the counts
    sklearn_elmo.clear_cache()
    with joblib.parallel_backend("dask"):
        remote = search(cache_dir).fit(TEXTS, LABELS)

    assert remote.best_params_ == local.best_params_
    for key in ("mean_test_score", "std_test_score", "rank_test_score"):
        np.testing.assert_allclose(
            remote.cv_results_[key], local.cv_results_[key], rtol=0, atol=1e-6
        )
    np.testing.assert_allclose(
        remote.predict_proba(TEXTS), local.predict_proba(TEXTS), rtol=0, atol=1e-6
    )
    # Nobody ran the biLM during the search: the workers (8 fits, 8 scorings)
    # and the refit here read what other processes had written.
    stats = client.run(sklearn_elmo.cache_info)
    assert sum(s["computed"] for s in stats.values()) == 0, stats
    assert sum(s["disk_hits"] for s in stats.values()) >= len(TEXTS), stats
    here = sklearn_elmo.cache_info()
    assert (here["computed"], here["disk_hits"]) == (0, len(TEXTS))


# -- faults (last: it kills a worker) ---------------------------------------------------


def _install_kill_hook(marker):
    """On a worker: the first entry written anywhere is cut in half, then exit."""
    original = _cache._write_all

    def write_half_then_die(fh, data):
        try:
            fd = os.open(marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:  # another worker died already
            return original(fh, data)
        os.write(fd, str(os.getpid()).encode())
        os.close(fd)
        fh.write(data[: len(data) // 2])
        fh.flush()
        os.fsync(fh.fileno())
        os._exit(1)  # killed mid-task, mid-write

    _cache._write_all = write_half_then_die
    return os.getpid()


def test_a_worker_killed_mid_task_is_replaced_and_nothing_is_corrupt(
    client, model, tmp_path
):
    cache_dir = tmp_path / "cache"
    marker = tmp_path / "killed"
    texts, _ = make_texts(40, 7)
    vec = ElmoVectorizer(model, cache_dir=str(cache_dir)).fit(texts[:1])
    expected = ElmoVectorizer(model).fit(texts[:1]).transform(texts)
    pids = set(client.run(_install_kill_hook, str(marker)).values())
    bag = db.from_sequence(texts, npartitions=5)
    result = on_cluster(client, apply_partitions(vec, bag))

    killed = int(marker.read_text())
    assert killed in pids
    np.testing.assert_allclose(result, expected, rtol=0, atol=1e-6)
    client.wait_for_workers(2, timeout=TIMEOUT)  # the nanny started a new one
    assert killed not in set(client.run(os.getpid).values())
    # The half-written temporary file is there; no entry is corrupt.
    assert list(cache_dir.rglob("*.part"))
    entries = list(cache_dir.rglob("*.emb"))
    # Every text, and the probe "." for the output's width unless a worker
    # already had it in memory from an earlier test.
    assert len(entries) in (len(texts), len(texts) + 1)
    for path in entries:
        _cache.decode_entry(path.read_bytes(), path.stem, 3, 32)  # raises if corrupt
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unusable entry would warn
        with sklearn_elmo.config_context(cache_memory=0):
            sklearn_elmo.clear_cache()
            again = vec.transform(texts)
    assert sklearn_elmo.cache_info()["disk_hits"] == len(texts)
    np.testing.assert_allclose(again, expected, rtol=0, atol=1e-6)
