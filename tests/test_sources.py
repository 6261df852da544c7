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
    with pytest.raises(
        ValueError, match="several weights files.*weights.hdf5.*weights_old"
    ):
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
        np.testing.assert_array_equal(
            load_bilm(source, "zeros").embed([["a", "b"]])[0], reference
        )


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
    with pytest.raises(
        ValueError, match="weights.hdf5: missing dataset 'CNN_high_0/W_carry'"
    ):
        load_bilm(model)


def test_shape_disagrees_with_options(model):
    _rewrite_dataset(
        model / "weights.hdf5",
        "RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0",
        np.zeros((32, 64), np.float32),
    )
    with pytest.raises(
        ValueError, match=r"Cell1/LSTMCell/W_0' has shape \(32, 64\).*\(32, 128\)"
    ):
        load_bilm(model)


def test_options_disagree_with_weights(model):
    options = json.loads((model / "options.json").read_text())
    options["lstm"]["dim"] = 64
    (model / "options.json").write_text(json.dumps(options))
    with pytest.raises(ValueError, match="implies"):
        load_bilm(model)


def test_nan_weights(model):
    _rewrite_dataset(
        model / "weights.hdf5", "CNN/b_cnn_0", np.full(8, np.nan, np.float32)
    )
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


# -- model files as they are found ----------------------------------------------


def _embedding_dump(path, n=3):
    """A file like bilm-tf's dump_bilm_embeddings output: one dataset per sentence."""
    with h5py.File(path, "w") as fh:
        for i in range(n):
            fh.create_dataset(str(i), data=np.zeros((3, 4, 32), np.float32))


def _outputs(source):
    bilm = load_bilm(source, "zeros")
    return bilm.fingerprint, bilm.embed([["The", "cat", "."], ["Hi"]])[0]


def test_weights_recognised_among_embedding_dumps(model):
    _embedding_dump(model / "lm_embeddings_0.hdf5")
    _embedding_dump(model / "zz_elmo_vectors.hdf5")
    (model / "broken.hdf5").write_bytes(b"not hdf5" * 10)
    (model / "lm_embeddings_sentences.json").write_text('{"0": "the cat"}')
    fingerprint, layers = _outputs(model)
    expected_fingerprint, expected = _outputs(model / "weights.hdf5")
    assert fingerprint == expected_fingerprint
    np.testing.assert_array_equal(layers, expected)


def test_bilm_tf_test_folder_loads_as_a_folder(reference_dir):
    # bilm-tf's own test folder: lm_weights.hdf5 beside lm_embeddings_*.hdf5.
    assert _outputs(reference_dir)[0] == _outputs(reference_dir / "lm_weights.hdf5")[0]


def test_no_hdf5_holds_weights(model):
    (model / "weights.hdf5").rename(model / "old.txt")
    _embedding_dump(model / "lm_embeddings_0.hdf5")
    _embedding_dump(model / "lm_embeddings_1.hdf5")
    with pytest.raises(ValueError, match=r"none of the \.hdf5 files.*lm_embeddings_0"):
        load_bilm(model)


def test_options_recognised_among_other_json(model):
    (model / "options.json").rename(model / "elmo_options.json")
    (model / "meta.json").write_text('{"corpus": "wikipedia", "id": 209}')
    assert load_bilm(model, "zeros").dim == 32


def test_folder_pairs_allennlp_files_by_name(tmp_path):
    a = make_random_bilm(tmp_path / "a", seed=1)
    b = make_random_bilm(tmp_path / "b", seed=2)
    folder = tmp_path / "allennlp"
    folder.mkdir()
    prefix = "elmo_2x8_16_32cnn_1xhighway_"
    shutil.copy(a / "options.json", folder / f"{prefix}options.json")
    shutil.copy(a / "weights.hdf5", folder / f"{prefix}weights.hdf5")
    shutil.copy(b / "weights.hdf5", folder / "finetuned_weights.hdf5")  # also weights
    assert _outputs(folder)[0] == _outputs(a)[0]


# -- NLPL repository archives -----------------------------------------------------


def _nlpl_zip(model, path, folder="", compression=None):
    import zipfile

    compression = zipfile.ZIP_DEFLATED if compression is None else compression
    with zipfile.ZipFile(path, "w", compression) as zf:
        zf.write(model / "options.json", folder + "options.json")
        zf.write(model / "weights.hdf5", folder + "model.hdf5")
        zf.writestr(folder + "vocab.txt", "<S>\n</S>\n<UNK>\nthe\n")
        zf.writestr(folder + "meta.json", '{"id": 209, "corpus": "test"}')
        zf.writestr(folder + "README", "NLPL test archive")
    return path


@pytest.mark.parametrize("folder", ["", "209/"])
def test_nlpl_archive_loads_in_place(model, tmp_path, monkeypatch, folder):
    import tempfile

    archive = _nlpl_zip(model, tmp_path / "209.zip", folder)
    before = sorted(p.name for p in tmp_path.iterdir())

    def no_temp_files(*args, **kwargs):
        raise AssertionError("an archive is read in place, not unpacked")

    for name in ("mkdtemp", "mkstemp", "NamedTemporaryFile", "TemporaryDirectory"):
        monkeypatch.setattr(tempfile, name, no_temp_files)
    fingerprint, layers = _outputs(archive)
    expected_fingerprint, expected = _outputs(model)
    assert fingerprint == expected_fingerprint  # the same biLM, however it is stored
    np.testing.assert_array_equal(layers, expected)
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert load_bilm(archive, "zeros") is load_bilm(str(archive), "zeros")


def test_nlpl_archive_with_estimator_and_bundled_save(model, tmp_path):
    import sklearn_elmo

    archive = _nlpl_zip(model, tmp_path / "nlpl.zip")
    texts = ["the cat sat", "a dog ran"]
    vec = sklearn_elmo.ElmoVectorizer(archive).fit(texts)
    assert vec.bilm_initial_state_ == "warm"
    saved = sklearn_elmo.save(vec, tmp_path / "vec.zip", include_model=True)
    loaded = sklearn_elmo.load(saved, model_dir=tmp_path / "models")
    assert loaded.model.endswith("nlpl.zip") and loaded.model != str(archive)
    np.testing.assert_allclose(loaded.transform(texts), vec.transform(texts), atol=1e-6)


def test_broken_archives_are_named(model, tmp_path):
    import zipfile

    bad = tmp_path / "bad.zip"
    bad.write_bytes(b"PK not really a zip")
    with pytest.raises(ValueError, match=r"bad\.zip: not a readable zip archive"):
        load_bilm(bad)
    empty = tmp_path / "empty.zip"
    with zipfile.ZipFile(empty, "w") as zf:
        zf.writestr("vocab.txt", "the\n")
    with pytest.raises(ValueError, match=r"empty\.zip \(zip archive\): no options"):
        load_bilm(empty)
    truncated = tmp_path / "truncated.zip"
    with zipfile.ZipFile(truncated, "w") as zf:
        zf.write(model / "options.json", "options.json")
        zf.writestr("model.hdf5", (model / "weights.hdf5").read_bytes()[:500])
    with pytest.raises(ValueError, match=r"truncated\.zip!model\.hdf5: cannot read"):
        load_bilm(truncated)
