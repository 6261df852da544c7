"""The defaults work with every source: initial_state="auto" and the default handle.

A user who pre-downloaded google/elmo/3 into a TF Hub cache runs the package
with no arguments at all, offline. The module here is exported from a
generated model and placed exactly where tensorflow_hub caches the handle.
"""

import os
import subprocess
import sys

import joblib
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline

from sklearn_elmo import DEFAULT_HANDLE, ElmoClassifier, ElmoVectorizer, load_bilm
from sklearn_elmo.bilm import clear_bilm_cache, resolve_initial_state

pytest.importorskip("tensorflow_hub")

TEXTS = [
    "the cat sat on the mat",
    "a dog ran in the park",
    "stocks fell sharply today",
    "the market rallied at noon",
    "my cat likes warm milk",
    "dogs chase cats all day",
    "bond yields rose again",
    "investors sold their shares",
] * 2
LABELS = ["pets", "pets", "money", "money", "pets", "pets", "money", "money"] * 2


@pytest.fixture(scope="module")
def hub_cache(tiny_model, tmp_path_factory):
    """A TF Hub cache holding DEFAULT_HANDLE's module (the tiny model's weights)."""
    from sklearn_elmo import export_hub_module
    from sklearn_elmo.bilm import _hub

    cache = tmp_path_factory.mktemp("tfhub-cache")
    old = os.environ.get("TFHUB_CACHE_DIR")
    os.environ["TFHUB_CACHE_DIR"] = str(cache)
    try:
        target = _hub.cached_module_dir(DEFAULT_HANDLE)
        assert target.parent == cache  # where tensorflow_hub itself looks
        export_hub_module(tiny_model, target)
        yield cache
    finally:
        if old is None:
            os.environ.pop("TFHUB_CACHE_DIR", None)
        else:
            os.environ["TFHUB_CACHE_DIR"] = old
        clear_bilm_cache()


@pytest.fixture()
def offline(monkeypatch):
    import socket

    def fail(*args, **kwargs):
        raise socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "getaddrinfo", fail)


def test_auto_resolves_per_kind_of_source(tiny_model):
    assert resolve_initial_state(DEFAULT_HANDLE) == "zeros"
    assert resolve_initial_state(tiny_model) == "warm"
    for state in ("warm", "zeros", "carry"):
        assert resolve_initial_state(tiny_model, state) == state
    with pytest.raises(ValueError, match="initial_state must be one of"):
        resolve_initial_state(tiny_model, "cold")


def test_auto_on_weight_files_is_warm(tiny_model):
    bilm = load_bilm(tiny_model)
    assert bilm.initial_state == "warm"
    assert bilm is load_bilm(tiny_model, "warm") is load_bilm(tiny_model, "auto")


def test_default_handle_from_the_hub_cache_equals_native(
    hub_cache, tiny_model, offline
):
    bilm = load_bilm(DEFAULT_HANDLE)
    assert bilm.initial_state == "zeros"
    assert bilm is load_bilm(DEFAULT_HANDLE, "zeros")
    sentences = [["The", "cat", "sat", "."], ["Hello"], [], ["naïve", "café"] * 7]
    native, native_mask = load_bilm(tiny_model, "zeros").embed(sentences)
    layers, mask = bilm.embed(sentences)
    np.testing.assert_array_equal(mask, native_mask)
    assert np.max(np.abs(layers - native)) <= 1e-5
    for state in ("warm", "carry"):  # an explicit request stays an error
        with pytest.raises(ValueError, match="not available for a TF Hub module"):
            load_bilm(DEFAULT_HANDLE, state)


def test_no_argument_pipeline_grid_search_and_pickle(hub_cache, tmp_path, offline):
    pipe = Pipeline([("elmo", ElmoVectorizer()), ("clf", LogisticRegression())])
    pipe.fit(TEXTS, LABELS)
    vectorizer = pipe.named_steps["elmo"]
    assert vectorizer.model == DEFAULT_HANDLE and vectorizer.initial_state == "auto"
    assert vectorizer.bilm_initial_state_ == "zeros"
    assert vectorizer.bilm_fingerprint_ == load_bilm(DEFAULT_HANDLE).fingerprint

    search = GridSearchCV(pipe, {"elmo__pooling": ["mean", "max"]}, cv=2)
    search.fit(TEXTS, LABELS)
    assert search.best_estimator_.named_steps["elmo"].bilm_initial_state_ == "zeros"

    joblib.dump(search.best_estimator_, tmp_path / "pipe.joblib")
    clear_bilm_cache()  # the reloaded model finds the biLM in the cache again
    loaded = joblib.load(tmp_path / "pipe.joblib")
    np.testing.assert_allclose(
        loaded.predict_proba(TEXTS),
        search.best_estimator_.predict_proba(TEXTS),
        atol=1e-6,
    )


def test_classifier_defaults_on_hub_and_files(hub_cache, tiny_model, offline):
    clf = ElmoClassifier(epochs=2, random_state=0).fit(TEXTS, LABELS)
    assert clf.bilm_initial_state_ == "zeros"
    on_files = ElmoClassifier(tiny_model, epochs=2, random_state=0).fit(TEXTS, LABELS)
    assert on_files.bilm_initial_state_ == "warm"
    assert on_files.bilm_fingerprint_ == load_bilm(tiny_model, "warm").fingerprint
    # Setting the resolved state explicitly is the same fitted biLM.
    on_files.set_params(initial_state="warm").predict(TEXTS[:2])


def test_cli_embed_without_model(hub_cache, tiny_model, tmp_path):
    texts = tmp_path / "texts.txt"
    texts.write_text("\n".join(TEXTS[:4]) + "\n", encoding="utf-8")
    out = tmp_path / "X.npy"
    env = dict(os.environ, TFHUB_CACHE_DIR=str(hub_cache), TF_CPP_MIN_LOG_LEVEL="2")
    env["SKLEARN_ELMO_HUB_TIMEOUT"] = "1"  # never needed: the handle is cached
    result = subprocess.run(
        [sys.executable, "-m", "sklearn_elmo", "embed", str(texts), "-o", str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    expected = ElmoVectorizer(mix="average").fit(TEXTS[:4]).transform(TEXTS[:4])
    np.testing.assert_allclose(np.load(out), expected, atol=1e-5)
