"""Persistence: pickle, joblib, deepcopy, clone, the fingerprint check, archives."""

import copy
import hashlib
import io
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import textwrap
import warnings
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
import sklearn
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.exceptions import InconsistentVersionWarning as SklearnVersionWarning
from sklearn.exceptions import NotFittedError
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

import sklearn_elmo
from sklearn_elmo import ElmoClassifier, ElmoRegressor, ElmoVectorizer, load, save
from sklearn_elmo.estimators import _base
from sklearn_elmo.exceptions import BilmMismatchError, InconsistentVersionWarning
from sklearn_elmo.persistence import _elmo_estimators, default_model_dir
from sklearn_elmo.testing import make_random_bilm

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ESTIMATORS = [ElmoClassifier, ElmoRegressor, ElmoVectorizer]
WORDS = [
    ["good", "great", "fine", "happy", "nice"],
    ["bad", "awful", "poor", "sad", "grim"],
]
FAST = dict(epochs=3, learning_rate=0.02, random_state=0)
TOLERANCE = 1e-6


def make_data(n, seed):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = [" ".join(rng.choice(WORDS[c], rng.randint(2, 5))) + " ." for c in y]
    return X, np.array(["neg", "pos"])[y]


X_TRAIN, Y_TRAIN = make_data(16, 0)
X_TEST, _ = make_data(6, 1)


def target_for(Estimator):
    return (Y_TRAIN == "pos").astype(float) if Estimator is ElmoRegressor else Y_TRAIN


def outputs(est, X=X_TEST):
    """What an estimator computes: probabilities, predictions or vectors."""
    for method in ("predict_proba", "transform", "predict"):
        if hasattr(est, method):
            return np.asarray(getattr(est, method)(X), dtype=np.float64)
    raise AssertionError(f"{est!r} has no output method")


def pickle_round_trip(obj):
    return pickle.loads(pickle.dumps(obj))


def joblib_round_trip(obj, tmp_path):
    path = tmp_path / f"{type(obj).__name__}-{id(obj)}.joblib"
    joblib.dump(obj, path)
    return joblib.load(path)


ROUND_TRIPS = ["pickle", "joblib", "deepcopy"]


def round_trip(obj, how, tmp_path):
    if how == "pickle":
        return pickle_round_trip(obj)
    if how == "joblib":
        return joblib_round_trip(obj, tmp_path)
    return copy.deepcopy(obj)


def assert_same_outputs(before, restored):
    after = outputs(restored)
    assert after.shape == before.shape
    assert np.max(np.abs(after - before)) <= TOLERANCE


def pickled_globals(blob):
    """Every module.name a pickle imports when loaded."""
    found = set()

    class Recorder(pickle.Unpickler):
        def find_class(self, module, name):
            found.add(f"{module}.{name}")
            return super().find_class(module, name)

    Recorder(io.BytesIO(blob)).load()
    return found


@pytest.fixture(scope="module")
def model(tiny_model):
    return str(tiny_model)


@pytest.fixture(scope="module")
def fitted(model):
    """One fitted estimator per class, with its outputs on X_TEST."""
    result = {}
    for Estimator in ESTIMATORS:
        est = Estimator(model, **FAST).fit(X_TRAIN, target_for(Estimator))
        result[Estimator] = (est, outputs(est))
    return result


@pytest.fixture(scope="module")
def pipeline(model):
    pipe = Pipeline(
        [("elmo", ElmoVectorizer(model, **FAST)), ("clf", LogisticRegression())]
    ).fit(X_TRAIN, Y_TRAIN)
    return pipe, outputs(pipe)


@pytest.fixture(scope="module")
def search(model):
    search = GridSearchCV(
        ElmoClassifier(model, epochs=2, random_state=0),
        {"learning_rate": [0.005, 0.02]},
        cv=2,
    ).fit(X_TRAIN, Y_TRAIN)
    return search, outputs(search)


# -- pickle, joblib, deepcopy, clone ---------------------------------------------


@pytest.mark.parametrize("how", ROUND_TRIPS + ["clone"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_unfitted_round_trip(Estimator, how, model, tmp_path):
    est = Estimator(model, layers=[0, 2], hidden_layer_sizes=(4,), random_state=3)
    restored = clone(est) if how == "clone" else round_trip(est, how, tmp_path)
    assert type(restored) is Estimator and restored is not est
    assert restored.get_params() == est.get_params()
    with pytest.raises(NotFittedError):
        outputs(restored)


@pytest.mark.parametrize("how", ROUND_TRIPS)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fitted_round_trip_predicts_the_same(Estimator, how, fitted, tmp_path):
    est, before = fitted[Estimator]
    restored = round_trip(est, how, tmp_path)
    assert restored.get_params() == est.get_params()
    assert restored.bilm_fingerprint_ == est.bilm_fingerprint_
    assert restored.network_weights_.keys() == est.network_weights_.keys()
    for key, value in est.network_weights_.items():
        np.testing.assert_array_equal(restored.network_weights_[key], value)
    assert_same_outputs(before, restored)
    # the round trip left the original alone
    assert_same_outputs(before, est)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_clone_of_fitted_is_unfitted_with_same_params(Estimator, fitted):
    est, _ = fitted[Estimator]
    cloned = clone(est)
    assert cloned.get_params() == est.get_params()
    assert not hasattr(cloned, "network_weights_")
    with pytest.raises(NotFittedError):
        outputs(cloned)


@pytest.mark.parametrize("how", ROUND_TRIPS)
def test_pipeline_round_trip(how, pipeline, tmp_path):
    pipe, before = pipeline
    restored = round_trip(pipe, how, tmp_path)
    assert_same_outputs(before, restored)
    cloned = clone(pipe)
    assert cloned.get_params(deep=False).keys() == pipe.get_params(deep=False).keys()
    assert not hasattr(cloned.named_steps["elmo"], "layers_")


@pytest.mark.parametrize("how", ROUND_TRIPS)
def test_search_and_best_estimator_round_trip(how, search, tmp_path):
    grid, before = search
    best = round_trip(grid.best_estimator_, how, tmp_path)
    assert isinstance(best, ElmoClassifier)
    assert_same_outputs(before, best)
    whole = round_trip(grid, how, tmp_path)
    assert whole.best_params_ == grid.best_params_
    assert_same_outputs(before, whole)
    assert not hasattr(clone(grid), "best_estimator_")


def test_estimators_are_found_everywhere(pipeline, search, model):
    pipe, _ = pipeline
    assert [w for w, _ in _elmo_estimators(pipe)] == ["estimator.steps[0][1]"]
    grid, _ = search
    found = dict(_elmo_estimators(grid))
    assert found["estimator.estimator"] is grid.estimator
    assert found["estimator.best_estimator_"] is grid.best_estimator_
    # fitted clones that are no parameter: a ColumnTransformer's transformers_
    ct = ColumnTransformer([("elmo", ElmoVectorizer(model), "text")])
    ct.fit(pd.DataFrame({"text": X_TRAIN}))
    found = dict(_elmo_estimators({"ct": ct}))
    assert set(found) == {
        "estimator['ct'].transformers[0][1]",
        "estimator['ct'].transformers_[0][1]",
    }
    assert hasattr(found["estimator['ct'].transformers_[0][1]"], "layers_")


# -- what a pickle holds -----------------------------------------------------------


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_pickle_holds_no_tensorflow_no_biLM_no_cache(Estimator, fitted, model):
    est, _ = fitted[Estimator]
    outputs(est)  # builds the cached Keras network (a vectorizer mixes in numpy)
    assert (getattr(est, "_network_cache", None) is None) == (
        Estimator is ElmoVectorizer
    )
    blob = pickle.dumps(est)
    for name in pickled_globals(blob):
        module = name.split(".")[0]
        allowed = {"numpy", "builtins", "copyreg", "_codecs", "sklearn_elmo"}
        assert module in allowed, name
        if module == "sklearn_elmo":
            assert name.startswith("sklearn_elmo.estimators."), name
    state = pickle.loads(blob).__dict__
    assert "_network_cache" not in state and "_sklearn_elmo_version" not in state
    weights = sum(v.nbytes for v in est.network_weights_.values())
    biLM_bytes = sum(p.stat().st_size for p in os.scandir(model))
    assert len(blob) < weights + 8_000 < biLM_bytes  # weights plus a little


def test_original_size_classifier_pickles_under_100_kb(tmp_path):
    """A fitted ElmoClassifier on an `original`-size biLM pickles to < 100 KB.

    The generated model has the published original's dimensions (4096-cell
    LSTMs projected to 512, so 1024-wide layers, 3 layers, about 375 MB of
    weights). ``initial_state="zeros"`` skips the warm-up run to keep the
    test short; the pickle does not depend on it (the fingerprint is a hex
    string either way). The pickle is dominated by the head's input
    statistics (3 x 1024 float32) and output layer (1024 x 1).
    """
    source = make_random_bilm(tmp_path / "original", size="original", seed=0)
    clf = ElmoClassifier(
        str(source), initial_state="zeros", epochs=1, random_state=0
    ).fit(X_TRAIN[:10], Y_TRAIN[:10])
    assert clf.network_weights_["input/center"].shape == (3, 1024)
    size_pickle = len(pickle.dumps(clf))
    joblib.dump(clf, tmp_path / "clf.joblib")
    size_joblib = (tmp_path / "clf.joblib").stat().st_size
    size_archive = save(clf, tmp_path / "clf.zip").stat().st_size
    print(
        f"original-size ElmoClassifier: pickle {size_pickle} B, joblib "
        f"{size_joblib} B, save() archive {size_archive} B"
    )
    assert max(size_pickle, size_joblib, size_archive) < 100_000


# -- fresh process -----------------------------------------------------------------


def test_predicts_the_same_in_a_fresh_process(fitted, pipeline, tmp_path):
    """Fit here, predict in a new Python process from joblib files."""
    jobs = {}
    for Estimator in ESTIMATORS:
        est, before = fitted[Estimator]
        jobs[Estimator.__name__] = (est, before)
    jobs["pipeline"] = pipeline
    for name, (est, before) in jobs.items():
        joblib.dump(est, tmp_path / f"{name}.joblib")
        np.save(tmp_path / f"{name}.expected.npy", before)
    script = textwrap.dedent(
        f"""
        import json, sys, warnings
        import joblib, numpy as np
        warnings.simplefilter("error")  # no version warning, nothing else
        names = {sorted(jobs)!r}
        X = {X_TEST!r}
        folder = sys.argv[1]
        for name in names:
            est = joblib.load(f"{{folder}}/{{name}}.joblib")
            for method in ("predict_proba", "transform", "predict"):
                if hasattr(est, method):
                    out = np.asarray(getattr(est, method)(X), dtype=np.float64)
                    break
            np.save(f"{{folder}}/{{name}}.fresh.npy", out)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in jobs:
        expected = np.load(tmp_path / f"{name}.expected.npy")
        fresh = np.load(tmp_path / f"{name}.fresh.npy")
        assert fresh.shape == expected.shape
        assert np.max(np.abs(fresh - expected)) <= TOLERANCE, name


# -- the fingerprint check -----------------------------------------------------------


@pytest.fixture(scope="module")
def other_model(tmp_path_factory):
    return str(make_random_bilm(tmp_path_factory.mktemp("other"), size="tiny", seed=1))


def test_a_different_biLM_is_refused_naming_both_fingerprints(fitted, other_model):
    est = pickle_round_trip(fitted[ElmoClassifier][0])
    est.set_params(model=other_model)
    with pytest.raises(BilmMismatchError) as info:
        est.predict(X_TEST)
    error = info.value
    assert isinstance(error, ValueError)
    message = str(error)
    assert est.bilm_fingerprint_ in message and error.expected == est.bilm_fingerprint_
    assert error.found in message and error.found != error.expected
    assert repr(other_model) in message and error.source == other_model
    assert "not the one this estimator was fitted with" in message
    assert "set_params(model=" in message


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_moved_copy_works(Estimator, fitted, tmp_path):
    est, before = fitted[Estimator]
    moved = shutil.copytree(est.model, tmp_path / "moved copy")
    restored = joblib_round_trip(est, tmp_path).set_params(model=str(moved))
    assert_same_outputs(before, restored)
    # checked the same way: the copy, altered, is refused
    make_random_bilm(moved, size="tiny", seed=2)
    fresh = joblib_round_trip(est, tmp_path).set_params(model=str(moved))
    with pytest.raises(BilmMismatchError, match=str(moved)):
        outputs(fresh)


def test_changed_initial_state_gets_a_helpful_error(fitted):
    est = copy.deepcopy(fitted[ElmoVectorizer][0]).set_params(initial_state="zeros")
    with pytest.raises(BilmMismatchError) as info:
        est.transform(X_TEST)
    message = str(info.value)
    assert "fitted with initial_state='warm'" in message
    assert "now has initial_state='zeros'" in message
    assert "set_params(initial_state='warm')" in message


def test_missing_model_error_names_the_fingerprint_and_the_way_out(fitted, tmp_path):
    est = pickle_round_trip(fitted[ElmoRegressor][0])
    est.set_params(model=str(tmp_path / "gone"))
    with pytest.raises(ValueError) as info:
        est.predict(X_TEST)
    message = str(info.value)
    assert est.bilm_fingerprint_ in message and "gone" in message
    assert "include_model=True" in message


def test_biLM_is_loaded_lazily_after_unpickling(fitted, tmp_path):
    est = fitted[ElmoClassifier][0]
    blob = pickle.dumps(est)
    restored = pickle.loads(blob)
    restored.set_params(model=str(tmp_path / "not yet there"))  # no error yet
    shutil.copytree(est.model, tmp_path / "not yet there")
    assert restored.predict(X_TEST).shape == (len(X_TEST),)


# -- versions ----------------------------------------------------------------------


def test_other_version_warns(fitted, monkeypatch):
    est = fitted[ElmoClassifier][0]
    monkeypatch.setattr(_base, "__version__", "0.0.1")
    blob = pickle.dumps(est)
    monkeypatch.undo()
    with pytest.warns(InconsistentVersionWarning) as record:
        restored = pickle.loads(blob)
    (warning,) = [
        w.message for w in record if isinstance(w.message, InconsistentVersionWarning)
    ]
    assert warning.original_version == "0.0.1"
    assert warning.current_version == sklearn_elmo.__version__
    assert "ElmoClassifier" in str(warning) and "0.0.1" in str(warning)
    assert "_sklearn_elmo_version" not in vars(restored)
    assert_same_outputs(fitted[ElmoClassifier][1], restored)


def test_old_pickle_without_version_warns(fitted):
    est = fitted[ElmoRegressor][0]
    state = est.__getstate__()
    del state["_sklearn_elmo_version"]
    blank = ElmoRegressor.__new__(ElmoRegressor)
    match = "from sklearn-elmo version unknown"
    with pytest.warns(InconsistentVersionWarning, match=match):
        blank.__setstate__(state)


def test_same_version_is_silent_and_sklearn_versioning_still_works(
    pipeline, monkeypatch
):
    pipe, _ = pipeline
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle_round_trip(pipe)
    monkeypatch.setattr(sklearn.base, "__version__", "0.0.1")
    blob = pickle.dumps(pipe)
    monkeypatch.undo()
    with pytest.warns(SklearnVersionWarning) as record:  # for the Pipeline
        pickle.loads(blob)
    assert not [w for w in record if isinstance(w.message, InconsistentVersionWarning)]


# -- save / load archives ------------------------------------------------------------


@pytest.fixture()
def private_model(model, tmp_path):
    """A copy of the tiny model that a test may delete."""
    return str(shutil.copytree(model, tmp_path / "private model"))


def test_archive_without_model_is_small(fitted, tmp_path):
    est, before = fitted[ElmoClassifier]
    archive = save(est, tmp_path / "clf.zip")
    with zipfile.ZipFile(archive) as zf:
        assert sorted(zf.namelist()) == ["estimator.joblib", "manifest.json"]
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["sklearn_elmo_version"] == sklearn_elmo.__version__
    assert manifest["include_model"] is False and manifest["models"] == []
    (record,) = manifest["estimators"]
    assert record["bilm_fingerprint"] == est.bilm_fingerprint_
    assert record["model"] == est.model and record["bundle"] is None
    assert archive.stat().st_size < 20_000
    restored = load(archive)
    assert restored.model == est.model
    assert_same_outputs(before, restored)


def test_self_contained_archive_works_without_the_source(
    fitted, private_model, tmp_path
):
    est = clone(fitted[ElmoClassifier][0]).set_params(model=private_model)
    before = outputs(est.fit(X_TRAIN, Y_TRAIN))
    archive = save(est, tmp_path / "clf.zip", include_model=True)
    with zipfile.ZipFile(archive) as zf:
        names = sorted(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
    assert names == [
        "estimator.joblib",
        "manifest.json",
        "model/private_model/options.json",
        "model/private_model/weights.hdf5",
    ]
    (bundle,) = manifest["models"]
    assert bundle["kind"] == "weight-files" and bundle["source"] == private_model
    weights = open(os.path.join(private_model, "weights.hdf5"), "rb").read()
    assert {
        "name": "weights.hdf5",
        "size": len(weights),
        "sha256": hashlib.sha256(weights).hexdigest(),
    } in bundle["files"]
    shutil.rmtree(private_model)

    model_dir = tmp_path / "models"
    restored = load(archive, model_dir=model_dir)
    assert os.path.dirname(restored.model) == str(model_dir)
    assert_same_outputs(before, restored)
    # a second load reuses the unpacked folder
    stamp = os.stat(os.path.join(restored.model, "weights.hdf5")).st_mtime_ns
    again = load(archive, model_dir=model_dir)
    assert again.model == restored.model
    assert os.stat(os.path.join(again.model, "weights.hdf5")).st_mtime_ns == stamp
    assert [p.name for p in model_dir.iterdir()] == [os.path.basename(again.model)]


def test_default_model_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SKLEARN_ELMO_MODEL_DIR", str(tmp_path / "here"))
    assert default_model_dir() == tmp_path / "here"
    monkeypatch.delenv("SKLEARN_ELMO_MODEL_DIR")
    monkeypatch.delenv("SKLEARN_ELMO_HOME", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_model_dir() == tmp_path / "xdg" / "sklearn-elmo" / "models"


def test_archive_of_a_search_repoints_every_estimator(
    search, model, private_model, tmp_path
):
    grid, before = search
    grid = copy.deepcopy(grid)
    for _, est in _elmo_estimators(grid):
        est.set_params(model=private_model)  # the same content: still matches
    archive = save(grid, tmp_path / "search.zip", include_model=True)
    shutil.rmtree(private_model)
    restored = load(archive, model_dir=tmp_path / "models")
    found = _elmo_estimators(restored)
    assert len(found) == 2
    assert len({est.model for _, est in found}) == 1
    assert found[0][1].model.startswith(str(tmp_path / "models"))
    assert_same_outputs(before, restored)


def test_archive_of_a_pipeline(pipeline, tmp_path):
    pipe, before = pipeline
    archive = save(pipe, tmp_path / "pipe.zip", include_model=True)
    restored = load(archive, model_dir=tmp_path / "models")
    assert restored.named_steps["elmo"].model.startswith(str(tmp_path / "models"))
    assert_same_outputs(before, restored)


def test_save_refuses_to_bundle_the_wrong_biLM(fitted, other_model, tmp_path):
    est = copy.deepcopy(fitted[ElmoClassifier][0]).set_params(model=other_model)
    with pytest.raises(BilmMismatchError):
        save(est, tmp_path / "wrong.zip", include_model=True)
    assert not list(tmp_path.iterdir())  # nothing written, no temporary left


def test_corrupt_archives_are_refused(fitted, other_model, tmp_path):
    est = fitted[ElmoVectorizer][0]
    archive = save(est, tmp_path / "vec.zip", include_model=True)
    tampered = tmp_path / "tampered.zip"
    with zipfile.ZipFile(archive) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("weights.hdf5"):
                data = open(os.path.join(other_model, "weights.hdf5"), "rb").read()
            dst.writestr(info, data)
    with pytest.raises(ValueError, match="weights.hdf5 is corrupt"):
        load(tampered, model_dir=tmp_path / "models")
    assert not list((tmp_path / "models").iterdir())  # temporary folder removed

    joblib.dump(est, tmp_path / "plain.joblib")
    with pytest.raises(ValueError, match="use joblib.load"):
        load(tmp_path / "plain.joblib")
    with zipfile.ZipFile(tmp_path / "other.zip", "w") as zf:
        zf.writestr("hello.txt", "hi")
    with pytest.raises(ValueError, match="not an sklearn-elmo archive"):
        load(tmp_path / "other.zip")
    with pytest.raises(ValueError, match="no such file"):
        load(tmp_path / "missing.zip")


def test_bad_arguments(fitted, tmp_path):
    est = fitted[ElmoVectorizer][0]
    with pytest.raises(TypeError, match="include_model must be True or False"):
        save(est, tmp_path / "a.zip", include_model="yes")
    with pytest.raises(ValueError, match="is a directory"):
        save(est, tmp_path)
    with pytest.raises(ValueError, match="no such directory"):
        save(est, tmp_path / "nowhere" / "a.zip")
    archive = save(est, tmp_path / "a.zip")
    with pytest.raises(TypeError, match="verify must be True or False"):
        load(archive, verify="no")


# -- TF Hub modules as bundled models --------------------------------------------------


def test_archive_bundles_hub_module_dirs_and_cached_handles(tmp_path, monkeypatch):
    pytest.importorskip("tensorflow_hub")
    from sklearn_elmo import export_hub_module

    bilm = make_random_bilm(tmp_path / "bilm", size="tiny", seed=7)
    module = export_hub_module(bilm, tmp_path / "module")
    vec = ElmoVectorizer(str(module), initial_state="zeros").fit(X_TRAIN)
    before = vec.transform(X_TEST)
    archive = save(vec, tmp_path / "vec.zip", include_model=True)

    # a TF Hub handle, served from the TF Hub cache with the network down
    handle = "https://tfhub.dev/google/elmo/3"
    cache = tmp_path / "tfhub-cache"
    monkeypatch.setenv("TFHUB_CACHE_DIR", str(cache))

    def offline(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", offline)
    shutil.copytree(module, cache / hashlib.sha1(handle.encode()).hexdigest())
    by_handle = clone(vec).set_params(model=handle).fit(X_TRAIN)
    assert by_handle.bilm_fingerprint_ == vec.bilm_fingerprint_  # same content
    handle_archive = save(by_handle, tmp_path / "handle.zip", include_model=True)

    shutil.rmtree(module)
    shutil.rmtree(cache)
    for path in (archive, handle_archive):
        with zipfile.ZipFile(path) as zf:
            assert any(n.endswith("/saved_model.pb") for n in zf.namelist())
            (bundle,) = json.loads(zf.read("manifest.json"))["models"]
        assert bundle["kind"] == "tf-hub-module"
        restored = load(path, model_dir=tmp_path / "models")
        np.testing.assert_allclose(restored.transform(X_TEST), before, atol=TOLERANCE)
