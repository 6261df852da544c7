"""Every way a model source can be wrong gives a ValueError naming the file."""

import json
import shutil

import h5py
import numpy as np
import pytest

from sklearn_elmo import load_bilm
from sklearn_elmo.testing import make_random_bilm


@pytest.fixture
def model(tmp_path):
    return make_random_bilm(tmp_path / "model", seed=5)


def _rewrite_dataset(path, name, data):
    with h5py.File(path, "a") as fh:
        del fh[name]
        if data is not None:
            fh.create_dataset(name, data=data)


def test_missing_directory(tmp_path):
    with pytest.raises(ValueError, match="no such file or directory"):
        load_bilm(tmp_path / "nowhere")


def test_directory_without_options(model):
    (model / "options.json").unlink()
    with pytest.raises(ValueError, match=r"no options files \(\*\.json\) found"):
        load_bilm(model)


def test_directory_without_weights(model):
    (model / "weights.hdf5").unlink()
    with pytest.raises(ValueError, match=r"no weights files \(\*\.hdf5\) found"):
        load_bilm(model)


def test_two_candidate_weight_files(model):
    shutil.copy(model / "weights.hdf5", model / "weights_old.hdf5")
    with pytest.raises(ValueError, match="several weights files.*weights.hdf5.*weights_old"):
        load_bilm(model)
    # Naming the weights file chooses between them.
    assert load_bilm(model / "weights_old.hdf5").dim == 32


def test_allennlp_file_names_and_extra_vocab(tmp_path):
    model = make_random_bilm(tmp_path / "src", seed=5)
    target = tmp_path / "allennlp"
    target.mkdir()
    prefix = "elmo_2x8_16_32cnn_1xhighway_"
    shutil.copy(model / "options.json", target / f"{prefix}options.json")
    shutil.copy(model / "weights.hdf5", target / f"{prefix}weights.hdf5")
    (target / "vocab.txt").write_text("the\ncat\n")
    reference = load_bilm(model, "zeros").embed([["a", "b"]])[0]
    for source in (target, target / f"{prefix}options.json"):
        np.testing.assert_array_equal(load_bilm(source, "zeros").embed([["a", "b"]])[0], reference)


def test_nlpl_layout(tmp_path):
    model = make_random_bilm(tmp_path / "nlpl", seed=5)
    (model / "weights.hdf5").rename(model / "model.hdf5")
    (model / "vocab.txt").write_text("<S>\n</S>\n")
    assert load_bilm(model).n_layers == 3


def test_truncated_hdf5(model):
    path = model / "weights.hdf5"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match="weights.hdf5"):
        load_bilm(model)


def test_not_hdf5_at_all(model):
    (model / "weights.hdf5").write_bytes(b"this is not an HDF5 file" * 100)
    with pytest.raises(ValueError, match="weights.hdf5: cannot read the weights file"):
        load_bilm(model)


def test_missing_dataset(model):
    _rewrite_dataset(model / "weights.hdf5", "CNN_high_0/W_carry", None)
    with pytest.raises(ValueError, match="weights.hdf5: missing dataset 'CNN_high_0/W_carry'"):
        load_bilm(model)


def test_shape_disagrees_with_options(model):
    _rewrite_dataset(
        model / "weights.hdf5",
        "RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0",
        np.zeros((32, 64), np.float32),
    )
    with pytest.raises(ValueError, match=r"Cell1/LSTMCell/W_0' has shape \(32, 64\).*\(32, 128\)"):
        load_bilm(model)


def test_options_disagree_with_weights(model):
    options = json.loads((model / "options.json").read_text())
    options["lstm"]["dim"] = 64
    (model / "options.json").write_text(json.dumps(options))
    with pytest.raises(ValueError, match="implies"):
        load_bilm(model)


def test_nan_weights(model):
    _rewrite_dataset(model / "weights.hdf5", "CNN/b_cnn_0", np.full(8, np.nan, np.float32))
    with pytest.raises(ValueError, match="NaN"):
        load_bilm(model)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"activation": "gelu"}, "unknown char_cnn activation 'gelu'"),
        ({"n_characters": 263}, "char_cnn.n_characters must be 262"),
    ],
)
def test_bad_options_file(model, change, message):
    options = json.loads((model / "options.json").read_text())
    options["char_cnn"].update(change)
    (model / "options.json").write_text(json.dumps(options))
    with pytest.raises(ValueError, match=f"options.json: {message}"):
        load_bilm(model)


def test_n_characters_261_loads_and_runs_like_262(model, tmp_path):
    copy = shutil.copytree(model, tmp_path / "copy261")
    options = json.loads((copy / "options.json").read_text())
    options["char_cnn"]["n_characters"] = 261
    (copy / "options.json").write_text(json.dumps(options))
    a = load_bilm(model, "zeros")
    b = load_bilm(copy, "zeros")
    np.testing.assert_array_equal(a.embed([["x"]])[0], b.embed([["x"]])[0])
    assert a.fingerprint == b.fingerprint


def test_a_file_that_is_no_model(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ValueError, match="not a biLM source"):
        load_bilm(path)


def test_changed_files_are_reloaded(model):
    before = load_bilm(model, "zeros").fingerprint
    make_random_bilm(model, seed=6)  # overwrite in place
    assert load_bilm(model, "zeros").fingerprint != before


def test_allennlp_options_file_picks_its_own_weights(tmp_path):
    for seed, prefix in ((1, "elmo_a_"), (2, "elmo_b_")):
        model = make_random_bilm(tmp_path / f"m{seed}", seed=seed)
        shutil.copy(model / "options.json", tmp_path / f"{prefix}options.json")
        shutil.copy(model / "weights.hdf5", tmp_path / f"{prefix}weights.hdf5")
    with pytest.raises(ValueError, match="several options files"):
        load_bilm(tmp_path)
    a = load_bilm(tmp_path / "elmo_a_options.json", "zeros")
    assert a.fingerprint == load_bilm(tmp_path / "m1", "zeros").fingerprint
