"""Model files that run no code: sklearn_elmo.save / load with ``.skops`` files."""

import csv
import io
import json
import os
import subprocess
import sys
import textwrap
import zipfile
from functools import partial
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

import sklearn_elmo
from sklearn_elmo import (
    ElmoClassifier,
    ElmoRegressor,
    ElmoVectorizer,
    default_tokenizer,
    load,
    save,
)
from sklearn_elmo import estimators as estimators_module
from sklearn_elmo.cli import main
from sklearn_elmo.persistence import trusted_types

sio = pytest.importorskip("skops.io", reason="skops is not installed (extra 'skops')")
from skops.io.exceptions import UntrustedTypesFoundException

PROJECT_ROOT = Path(__file__).resolve().parents[1]
WORDS = [
    ["good", "great", "fine", "happy", "nice"],
    ["bad", "awful", "poor", "sad", "grim"],
]
FAST = {"epochs": 3, "learning_rate": 0.02, "random_state": 0}
TOLERANCE = 1e-6


def make_data(n, seed):
    rng = np.random.RandomState(seed)
    y = np.arange(n) % 2
    X = [" ".join(rng.choice(WORDS[c], rng.randint(2, 5))) + " ." for c in y]
    return X, np.array(["neg", "pos"])[y]


X_TRAIN, Y_TRAIN = make_data(16, 0)
X_TEST, _ = make_data(6, 1)


def outputs(est, X=X_TEST):
    for method in ("predict_proba", "transform", "predict"):
        if hasattr(est, method):
            return np.asarray(getattr(est, method)(X), dtype=np.float64)
    raise AssertionError(f"{est!r} has no output method")


@pytest.fixture(scope="module")
def model(tiny_model):
    return str(tiny_model)


@pytest.fixture(scope="module")
def objects(model):
    """Every kind of object a .skops file should hold, fitted, with its outputs."""
    search = GridSearchCV(
        ElmoClassifier(model, epochs=2, random_state=0),
        {"learning_rate": [0.005, 0.02]},
        cv=2,
    ).fit(X_TRAIN, Y_TRAIN)
    found = {
        "classifier": ElmoClassifier(model, layers=[0, 2], **FAST).fit(
            X_TRAIN, Y_TRAIN
        ),
        "multilabel": ElmoClassifier(model, pooling="mean_max", **FAST).fit(
            X_TRAIN, np.column_stack([Y_TRAIN == "pos", Y_TRAIN == "neg"]).astype(int)
        ),
        "regressor": ElmoRegressor(model, **FAST).fit(
            X_TRAIN, (Y_TRAIN == "pos").astype(float)
        ),
        "vectorizer": ElmoVectorizer(model).fit(X_TRAIN),
        "learned-mix": ElmoVectorizer(
            model, tokenizer=default_tokenizer, **{**FAST, "random_state": None}
        ).fit(X_TRAIN, Y_TRAIN),
        "pipeline": Pipeline(
            [("elmo", ElmoVectorizer(model, **FAST)), ("clf", LogisticRegression())]
        ).fit(X_TRAIN, Y_TRAIN),
        "best-estimator": search.best_estimator_,
        "unfitted": ElmoClassifier(model, hidden_layer_sizes=(8,)),
    }
    return {k: (v, None if k == "unfitted" else outputs(v)) for k, v in found.items()}


# -- round trips ---------------------------------------------------------------------


def test_every_object_round_trips_with_the_same_outputs(objects, tmp_path):
    for name, (obj, before) in objects.items():
        path = save(obj, tmp_path / f"{name}.skops")
        assert (
            path == tmp_path / f"{name}.skops"
            and sio.get_untrusted_types(file=path) != []
        )  # our types are not in skops' defaults: load must name them
        restored = load(path)
        assert type(restored) is type(obj)
        assert restored.get_params().keys() == obj.get_params().keys()
        if before is None:
            assert not hasattr(restored, "bilm_fingerprint_")
            continue
        after = outputs(restored)
        assert after.shape == before.shape
        assert np.max(np.abs(after - before)) <= TOLERANCE, name


def test_the_default_tokenizer_is_stored_by_reference(objects, tmp_path):
    obj, _ = objects["learned-mix"]
    restored = load(save(obj, tmp_path / "vec.skops"))
    assert restored.tokenizer is default_tokenizer
    assert restored._fit_feature_params["tokenizer"] is default_tokenizer


def test_predicts_the_same_in_a_fresh_process_without_unpickling(objects, tmp_path):
    """Load in a new Python process in which every way to unpickle raises."""
    names = sorted(n for n, (_, before) in objects.items() if before is not None)
    for name in names:
        obj, before = objects[name]
        save(obj, tmp_path / f"{name}.skops")
        np.save(tmp_path / f"{name}.expected.npy", before)
    script = textwrap.dedent(
        f"""
        import pickle, sys, warnings
        import joblib, numpy as np

        def forbidden(*args, **kwargs):
            raise AssertionError("a .skops file was unpickled")

        class ForbiddenUnpickler(pickle.Unpickler):
            __init__ = forbidden

        pickle.load = pickle.loads = joblib.load = forbidden
        pickle.Unpickler = ForbiddenUnpickler
        warnings.simplefilter("error")  # no version warning, nothing else
        import sklearn_elmo
        folder = sys.argv[1]
        for name in {names!r}:
            est = sklearn_elmo.load(f"{{folder}}/{{name}}.skops")
            for method in ("predict_proba", "transform", "predict"):
                if hasattr(est, method):
                    out = np.asarray(getattr(est, method)({X_TEST!r}), np.float64)
                    break
            np.save(f"{{folder}}/{{name}}.fresh.npy", out)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "TF_CPP_MIN_LOG_LEVEL": "2"}
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        check=False,
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for name in names:
        expected = np.load(tmp_path / f"{name}.expected.npy")
        fresh = np.load(tmp_path / f"{name}.fresh.npy")
        assert fresh.shape == expected.shape
        assert np.max(np.abs(fresh - expected)) <= TOLERANCE, name


# -- what is refused at save time ------------------------------------------------------


def _upper_tokens(text):
    return text.upper().split()


@pytest.mark.parametrize(
    "tokenizer",
    [str.split, _upper_tokens, lambda t: t.split(), partial(default_tokenizer)],
    ids=["str.split", "function", "lambda", "partial"],
)
def test_other_tokenizers_are_refused_with_a_clear_error(model, tokenizer, tmp_path):
    vec = ElmoVectorizer(model, tokenizer=tokenizer).fit(X_TRAIN)
    pipe = Pipeline([("elmo", vec), ("clf", LogisticRegression())])
    for obj, where in ((vec, "estimator "), (pipe, "estimator.steps[0][1] ")):
        with pytest.raises(TypeError) as info:
            save(obj, tmp_path / "vec.skops")
        message = str(info.value)
        assert message.startswith(where + "(ElmoVectorizer) has tokenizer=")
        assert repr(tokenizer) in message
        assert "tokenizer=None or sklearn_elmo.default_tokenizer" in message
        assert ".joblib" in message
    assert not list(tmp_path.iterdir())  # nothing written, not even a temporary


def test_a_tokenizer_changed_after_fit_is_refused_too(objects, tmp_path):
    vec, _ = objects["vectorizer"]
    vec = sklearn_elmo.load(save(vec, tmp_path / "a.skops"))
    vec._fit_feature_params["tokenizer"] = str.split  # fitted with another one
    with pytest.raises(TypeError, match="has tokenizer=<method 'split'"):
        save(vec, tmp_path / "b.skops")


def test_a_whole_search_is_refused_pointing_to_best_estimator(model, tmp_path):
    search = GridSearchCV(
        ElmoClassifier(model, epochs=1), {"pooling": ["mean", "max"]}, cv=2
    ).fit(X_TRAIN, Y_TRAIN)
    with pytest.raises(ValueError) as info:
        save(search, tmp_path / "search.skops")
    assert "not trusted" in str(info.value)
    assert "best_estimator_" in str(info.value)
    assert not (tmp_path / "search.skops").exists()


def test_include_model_is_for_archives(objects, tmp_path):
    with pytest.raises(ValueError, match="include_model=True bundles the biLM"):
        save(objects["vectorizer"][0], tmp_path / "v.skops", include_model=True)


# -- what is refused at load time --------------------------------------------------------


class Payload:
    """Stands for any class with side effects on construction."""

    def __setstate__(self, state):
        Path(state["marker"]).write_text("code ran")


def _rewrite_schema(path, edit):
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    schema = json.loads(members["schema.json"])
    edit(schema)
    members["schema.json"] = json.dumps(schema).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def test_a_file_altered_to_hold_an_untrusted_type_is_refused(objects, tmp_path):
    vec, _ = objects["vectorizer"]
    marker = tmp_path / "marker"

    def swap_in_payload(schema):  # the estimator's node now builds a Payload
        schema["__module__"] = __name__
        schema["__class__"] = "Payload"
        schema["content"]["content"]["marker"] = {
            "__class__": "str",
            "__module__": "builtins",
            "__loader__": "JsonNode",
            "content": json.dumps(str(marker)),
            "is_json": True,
        }

    def tokenizer_os_system(schema):
        schema["content"]["content"]["tokenizer"] = {
            "__class__": "system",
            "__module__": "os",
            "__loader__": "FunctionNode",
        }

    for edit, unsafe in ((swap_in_payload, "Payload"), (tokenizer_os_system, "os")):
        path = save(vec, tmp_path / f"{edit.__name__}.skops")
        _rewrite_schema(path, edit)
        with pytest.raises(UntrustedTypesFoundException, match=unsafe):
            load(path)
        assert not marker.exists()
        # The CLI reports skops' refusal in one line.
        assert main(["predict", str(path), "-"]) == 2


def test_skops_alone_does_not_trust_our_estimators(objects, tmp_path):
    path = save(objects["classifier"][0], tmp_path / "clf.skops")
    with pytest.raises(UntrustedTypesFoundException, match="ElmoClassifier"):
        sio.load(path)
    restored = sio.load(path, trusted=trusted_types())  # what load passes
    assert isinstance(restored, ElmoClassifier)


def test_a_pickle_named_skops_is_never_unpickled(objects, tmp_path, monkeypatch):
    vec, _ = objects["vectorizer"]
    joblib.dump(vec, tmp_path / "joblib.skops")
    save(vec, tmp_path / "archive.zip")
    (tmp_path / "archive.zip").rename(tmp_path / "archive.skops")

    def forbidden(*args, **kwargs):
        raise AssertionError("unpickled")

    monkeypatch.setattr(joblib, "load", forbidden)
    for name in ("joblib.skops", "archive.skops"):
        with pytest.raises(ValueError, match="not a .skops file"):
            load(tmp_path / name)


def test_a_skops_file_under_another_name_is_read_by_skops(objects, tmp_path):
    vec, before = objects["vectorizer"]
    save(vec, tmp_path / "vec.skops").rename(tmp_path / "vec.model")
    assert np.max(np.abs(outputs(load(tmp_path / "vec.model")) - before)) <= TOLERANCE


# -- trusted types -------------------------------------------------------------------------


def test_new_estimator_classes_of_the_package_are_trusted(model, tmp_path, monkeypatch):
    class ElmoNewVectorizer(ElmoVectorizer):
        pass

    ElmoNewVectorizer.__qualname__ = "ElmoNewVectorizer"
    ElmoNewVectorizer.__module__ = "sklearn_elmo.estimators"
    monkeypatch.setattr(
        estimators_module, "ElmoNewVectorizer", ElmoNewVectorizer, raising=False
    )
    assert "sklearn_elmo.estimators.ElmoNewVectorizer" in trusted_types()
    vec = ElmoNewVectorizer(model).fit(X_TRAIN)
    restored = load(save(vec, tmp_path / "new.skops"))
    assert type(restored) is ElmoNewVectorizer
    assert np.max(np.abs(outputs(restored) - outputs(vec))) <= TOLERANCE


class OutsideVectorizer(ElmoVectorizer):
    """A subclass outside the package: not trusted."""


def test_subclasses_outside_the_package_are_not_trusted(model, tmp_path):
    assert f"{__name__}.OutsideVectorizer" not in trusted_types()
    vec = OutsideVectorizer(model).fit(X_TRAIN)
    with pytest.raises(ValueError, match="OutsideVectorizer"):
        save(vec, tmp_path / "outside.skops")


def test_trusted_types_are_the_estimators_and_the_default_tokenizer():
    names = trusted_types()
    assert {
        "sklearn_elmo.estimators.ElmoClassifier",
        "sklearn_elmo.estimators.ElmoRegressor",
        "sklearn_elmo.estimators.ElmoVectorizer",
        "sklearn_elmo.tokenize.default_tokenizer",
    } <= set(names)
    assert (
        "sklearn_elmo.estimators._base.ElmoBase" not in names
    )  # the base class builds nothing
    assert all(name.startswith("sklearn_elmo.") for name in names)


def test_without_skops_the_error_says_how_to_install(objects, tmp_path, monkeypatch):
    path = save(objects["vectorizer"][0], tmp_path / "v.skops")
    monkeypatch.setitem(sys.modules, "skops", None)
    monkeypatch.setitem(sys.modules, "skops.io", None)
    for call in (lambda: load(path), lambda: save(objects["vectorizer"][0], path)):
        with pytest.raises(ImportError, match=r'pip install "sklearn-elmo\[skops\]"'):
            call()


# -- the command line --------------------------------------------------------------------


def test_cli_trains_into_and_predicts_from_skops_files(model, tmp_path, capsys):
    data = tmp_path / "data.csv"
    with open(data, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["text", "label"])
        writer.writerows(zip(X_TRAIN, Y_TRAIN))
    out = tmp_path / "clf.skops"
    argv = ["train", str(data), "-o", str(out), "--model", model, "--epochs", "3"]
    assert main([*argv, "--cv", "0"]) == 0
    assert sio.get_untrusted_types(file=out) == [
        "sklearn_elmo.estimators.ElmoClassifier"
    ]
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(X_TEST) + "\n", "utf-8")
    capsys.readouterr()
    assert main(["predict", str(out), str(texts)]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    clf = load(out)
    assert [r["label"] for r in rows] == clf.predict(X_TEST).tolist()
    proba = clf.predict_proba(X_TEST)
    for row, p in zip(rows, proba):
        assert float(row["proba_pos"]) == pytest.approx(p[1], abs=1e-5)
