import hashlib

import h5py
import pytest

from sklearn_elmo import load_bilm
from sklearn_elmo.bilm._options import read_options
from sklearn_elmo.bilm._weights import expected_shapes
from sklearn_elmo.testing import SIZES, make_random_bilm


def _digest(path):
    return hashlib.sha256((path / "weights.hdf5").read_bytes()).hexdigest()


def test_same_seed_same_weights_other_seed_other_weights(tmp_path):
    a = make_random_bilm(tmp_path / "a", seed=7)
    b = make_random_bilm(tmp_path / "b", seed=7)
    c = make_random_bilm(tmp_path / "c", seed=8)
    with h5py.File(a / "weights.hdf5") as fa, h5py.File(b / "weights.hdf5") as fb:
        assert (fa["char_embed"][...] == fb["char_embed"][...]).all()
    assert (
        load_bilm(a).fingerprint == load_bilm(b).fingerprint != load_bilm(c).fingerprint
    )


@pytest.mark.parametrize("size", ["tiny", "small"])
def test_layout_is_exactly_bilm_tf(tmp_path, size):
    path = make_random_bilm(tmp_path, size=size)
    opts = read_options(path / "options.json")
    names = set()
    with h5py.File(path / "weights.hdf5") as fh:
        fh.visititems(
            lambda n, o: names.add(n) if isinstance(o, h5py.Dataset) else None
        )
        for name, shape in expected_shapes(opts).items():
            assert fh[name].shape == shape and fh[name].dtype == "float32"
    assert names == set(expected_shapes(opts))
    assert opts.use_skip_connections


def test_published_sizes():
    dims = {
        k: (v["lstm"]["dim"], v["lstm"]["projection_dim"], v["char_cnn"]["n_highway"])
        for k, v in SIZES.items()
    }
    assert dims["small"] == (1024, 128, 1)
    assert dims["medium"] == (2048, 256, 1)
    assert dims["original"] == (4096, 512, 2)


def test_unknown_size(tmp_path):
    with pytest.raises(ValueError, match="size must be one of"):
        make_random_bilm(tmp_path, size="huge")


def test_options_dict_is_validated(tmp_path):
    options = {"lstm": {}, "char_cnn": {}}
    with pytest.raises(ValueError, match="missing option"):
        make_random_bilm(tmp_path, size=options)
