"""Shared fixtures: generated biLMs and the bilm-tf reference fixture."""

import os
from pathlib import Path

# TensorFlow's C++ start-up chatter (CUDA probes, CPU features) hides test output.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

from sklearn_elmo.testing import make_random_bilm  # noqa: E402

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
