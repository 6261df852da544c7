"""en-mini: the English biLM shipped with the package, usable by name offline."""

import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from sklearn_elmo import load_bilm
from sklearn_elmo.bilm._sources import bundled_model_dir


def test_loads_by_name_with_its_published_layout():
    folder = bundled_model_dir("en-mini")
    bilm = load_bilm("en-mini")
    assert (bilm.n_layers, bilm.dim, bilm.initial_state) == (3, 256, "warm")
    assert bilm is load_bilm(folder)  # the same files, one backend
    size = (folder / "weights.hdf5").stat().st_size
    assert size <= 25 * 2**20
    card = json.loads((folder / "provenance.json").read_text())
    assert card["heldout_perplexity"]["average"] < 1000


def test_a_real_folder_of_that_name_takes_precedence(tiny_model, tmp_path, monkeypatch):
    shutil.copytree(tiny_model, tmp_path / "en-mini")
    monkeypatch.chdir(tmp_path)
    assert load_bilm("en-mini").dim == load_bilm(tiny_model).dim == 32


def test_cli_model_name_offline(tmp_path):
    texts = tmp_path / "t.txt"
    texts.write_text("Hello world .\nThe cat sat .\n", encoding="utf-8")
    out = tmp_path / "X.npy"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "sklearn_elmo",
            "embed",
            str(texts),
            "-o",
            str(out),
            "--model",
            "en-mini",
            "--quiet",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert np.load(out).shape == (2, 256)


@pytest.mark.parametrize("name", ["en-maxi", "EN-MINI"])
def test_other_names_are_not_bundled(name):
    with pytest.raises(ValueError, match="no such file or directory"):
        load_bilm(name)
