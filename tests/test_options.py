import copy
import json

import pytest

from sklearn_elmo.bilm._options import parse_options, read_options
from sklearn_elmo.testing import SIZES


def tiny():
    return copy.deepcopy(SIZES["tiny"])


def test_published_sizes_have_the_published_dimensions():
    original = parse_options(SIZES["original"])
    assert (original.lstm_dim, original.projection_dim, original.n_highway) == (
        4096,
        512,
        2,
    )
    assert original.n_filters == 2048 and original.output_dim == 1024
    assert original.use_skip_connections
    # About 200 MFLOPs per token, as the paper's model is usually quoted.
    assert 190e6 < original.flops_per_token() < 220e6
    small = parse_options(SIZES["small"])
    assert (small.lstm_dim, small.projection_dim, small.output_dim) == (1024, 128, 256)


def test_training_n_characters_261_is_accepted():
    opts = tiny()
    opts["char_cnn"]["n_characters"] = 261
    assert parse_options(opts).n_characters == 261


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda o: o["char_cnn"].update(n_characters=300), "n_characters"),
        (lambda o: o["char_cnn"].update(activation="gelu"), "activation"),
        (lambda o: o["char_cnn"].update(max_characters_per_token=60), "max_characters"),
        (lambda o: o["lstm"].pop("projection_dim"), "projection_dim"),
        (lambda o: o.pop("char_cnn"), "char_cnn"),
        (lambda o: o["lstm"].update(dim=0), "lstm.dim"),
        (lambda o: o["lstm"].update(cell_clip=-1), "cell_clip"),
        (lambda o: o["lstm"].update(use_skip_connections="yes"), "use_skip"),
        (lambda o: o["char_cnn"].update(filters=[[1]]), "filters"),
        (lambda o: o["char_cnn"].update(filters=[]), "filters"),
    ],
)
def test_bad_options_name_the_problem(change, message):
    opts = tiny()
    change(opts)
    with pytest.raises(ValueError, match=message):
        parse_options(opts, "some/options.json")


def test_read_options_reports_bad_json_with_the_path(tmp_path):
    path = tmp_path / "options.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match="options.json: not valid JSON"):
        read_options(path)


def test_to_dict_round_trips():
    opts = parse_options(tiny())
    assert parse_options(json.loads(json.dumps(opts.to_dict()))) == opts
