"""Shared fixtures: generated biLMs, the bilm-tf reference fixture, a cold cache."""

import os
from pathlib import Path

# TensorFlow's C++ start-up chatter (CUDA probes, CPU features) hides test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest

import sklearn_elmo
from sklearn_elmo import _config, load_bilm
from sklearn_elmo.bilm import Bilm
from sklearn_elmo.testing import make_random_bilm

PROJECT_ROOT = Path(__file__).resolve().parents[1]
REFERENCE_DIR = PROJECT_ROOT.parent / "shared" / "fixtures" / "bilm-tf"


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory):
    """Directory of a tiny generated biLM (skip connections on)."""
    return make_random_bilm(tmp_path_factory.mktemp("tiny"), size="tiny", seed=0)


@pytest.fixture(scope="session")
def reference_dir():
    """The bilm-tf reference model and expected outputs, or a skip."""
    if not (REFERENCE_DIR / "lm_weights.hdf5").is_file():
        pytest.skip(
            f"bilm-tf reference fixture not found at {REFERENCE_DIR} "
            "(it lives in ../shared/fixtures beside the project checkout)"
        )
    return REFERENCE_DIR


@pytest.fixture
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
