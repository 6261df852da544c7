"""export_hub_module: the TF1 Hub format module and google/elmo/3's contract.

The modules are loaded exactly as a user loads google/elmo/3:
``tensorflow_hub.load(handle)`` then ``m.signatures[...]``.
"""

import numpy as np
import pytest

from sklearn_elmo import export_hub_module
from sklearn_elmo.bilm._options import read_options
from sklearn_elmo.bilm._weights import expected_shapes
from sklearn_elmo.testing import SIZES, make_random_bilm

tf = pytest.importorskip("tensorflow")
hub = pytest.importorskip("tensorflow_hub")

OUTPUTS = {
    "word_emb",
    "lstm_outputs1",
    "lstm_outputs2",
    "elmo",
    "default",
    "sequence_len",
}


def _no_skip_options():
    options = {key: dict(value) for key, value in SIZES["tiny"].items()}
    options["lstm"]["use_skip_connections"] = False
    return options


@pytest.fixture(scope="module", params=["skip", "no_skip"])
def exported(request, tmp_path_factory):
    """(weights dir, module dir) of a tiny biLM with / without skip connections."""
    root = tmp_path_factory.mktemp(f"export-{request.param}")
    size = "tiny" if request.param == "skip" else _no_skip_options()
    bilm = make_random_bilm(root / "bilm", size=size, seed=3)
    return bilm, export_hub_module(bilm, root / "module")


@pytest.fixture(scope="module")
def loaded(exported):
    return hub.load(str(exported[1]))


def _padded(sentences):
    width = max(len(s) for s in sentences)
    tokens = np.array([s + [""] * (width - len(s)) for s in sentences], dtype=object)
    lengths = np.array([len(s) for s in sentences], np.int32)
    return tf.constant(tokens), tf.constant(lengths)


SENTENCES = [["The", "cat", "sat", "on", "the", "mat", "."], ["Hello", "!"], ["naïve"]]


def test_files_are_tf1_hub_format(exported):
    from tensorflow.core.protobuf import saved_model_pb2

    module = exported[1]
    assert (module / "tfhub_module.pb").read_bytes() == b"\x08\x03"  # FORMAT_V3
    assert (module / "variables" / "variables.index").is_file()
    saved = saved_model_pb2.SavedModel()
    saved.ParseFromString((module / "saved_model.pb").read_bytes())
    assert len(saved.meta_graphs) == 1
    meta = saved.meta_graphs[0]
    assert list(meta.meta_info_def.tags) == []
    assert set(meta.signature_def) == {"default", "tokens"}
    assert not [p for p in module.parent.iterdir() if p.name.startswith(".module-")]


def test_variables(exported, loaded):
    opts = read_options(exported[0] / "options.json")
    shapes = {v.name: tuple(v.shape) for v in loaded.variables}
    assert shapes.pop("aggregation/weights:0") == (3,)
    assert shapes.pop("aggregation/scaling:0") == ()
    assert shapes == {f"bilm/{k}:0": v for k, v in expected_shapes(opts).items()}
    values = {v.name: v.numpy() for v in loaded.variables}
    np.testing.assert_array_equal(values["aggregation/weights:0"], np.zeros(3))
    assert values["aggregation/scaling:0"] == 1.0


def test_signature_inputs(loaded):
    _, tokens_inputs = loaded.signatures["tokens"].structured_input_signature
    assert {k: (v.dtype, v.shape.as_list()) for k, v in tokens_inputs.items()} == {
        "tokens": (tf.string, [None, None]),
        "sequence_len": (tf.int32, [None]),
    }
    _, default_inputs = loaded.signatures["default"].structured_input_signature
    assert {k: (v.dtype, v.shape.as_list()) for k, v in default_inputs.items()} == {
        "text": (tf.string, [None])
    }


@pytest.mark.parametrize("signature", ["tokens", "default"])
def test_signature_outputs(exported, loaded, signature):
    P = read_options(exported[0] / "options.json").projection_dim
    outputs = loaded.signatures[signature].structured_outputs
    assert set(outputs) == OUTPUTS
    expected = {
        "word_emb": (tf.float32, [None, None, P]),
        "lstm_outputs1": (tf.float32, [None, None, 2 * P]),
        "lstm_outputs2": (tf.float32, [None, None, 2 * P]),
        "elmo": (tf.float32, [None, None, 2 * P]),
        "default": (tf.float32, [None, 2 * P]),
        "sequence_len": (tf.int32, [None]),
    }
    assert {k: (v.dtype, v.shape.as_list()) for k, v in outputs.items()} == expected


def test_tokens_signature_values(exported, loaded):
    P = read_options(exported[0] / "options.json").projection_dim
    tokens, lengths = _padded(SENTENCES)
    out = loaded.signatures["tokens"](tokens=tokens, sequence_len=lengths)
    out = {k: v.numpy() for k, v in out.items()}
    n, width = len(SENTENCES), 7
    assert out["word_emb"].shape == (n, width, P)
    for name in ("lstm_outputs1", "lstm_outputs2", "elmo"):
        assert out[name].shape == (n, width, 2 * P)
    assert out["default"].shape == (n, 2 * P)
    np.testing.assert_array_equal(out["sequence_len"], [7, 2, 1])
    mask = np.arange(width)[None, :] < np.array([7, 2, 1])[:, None]
    for name in ("word_emb", "lstm_outputs1", "lstm_outputs2", "elmo"):
        assert np.all(out[name][~mask] == 0), name
        assert np.all(np.abs(out[name][mask]).sum(-1) > 0), name
    word = np.concatenate([out["word_emb"]] * 2, -1)
    layers = [word, out["lstm_outputs1"], out["lstm_outputs2"]]
    np.testing.assert_allclose(out["elmo"], np.mean(layers, axis=0), atol=1e-6)
    mean = (out["elmo"] * mask[..., None]).sum(1) / mask.sum(1)[:, None]
    np.testing.assert_allclose(out["default"], mean, atol=1e-6)


def test_default_signature_splits_on_spaces(loaded):
    texts = ["The cat  sat on the mat .", "Hello !", " naïve"]
    by_text = loaded.signatures["default"](text=tf.constant(texts))
    tokens, lengths = _padded([t.split() for t in texts])
    by_tokens = loaded.signatures["tokens"](tokens=tokens, sequence_len=lengths)
    np.testing.assert_array_equal(by_text["sequence_len"].numpy(), [7, 2, 1])
    for name in OUTPUTS:
        np.testing.assert_allclose(
            by_text[name].numpy(), by_tokens[name].numpy(), atol=1e-6
        )


def test_elmo_is_weighted_by_aggregation_variables(exported):
    module = hub.load(str(exported[1]))  # a private copy: its variables change
    variables = {v.name: v for v in module.variables}
    weights = np.array([0.5, -1.0, 2.0], np.float32)
    variables["aggregation/weights:0"].assign(weights)
    variables["aggregation/scaling:0"].assign(3.0)
    tokens, lengths = _padded(SENTENCES)
    out = module.signatures["tokens"](tokens=tokens, sequence_len=lengths)
    mix = np.exp(weights) / np.exp(weights).sum()
    word = out["word_emb"].numpy()
    layers = [np.concatenate([word, word], -1)]
    layers += [out["lstm_outputs1"].numpy(), out["lstm_outputs2"].numpy()]
    expected = 3.0 * sum(s * layer for s, layer in zip(mix, layers))
    np.testing.assert_allclose(out["elmo"].numpy(), expected, atol=1e-5)


def test_sequence_len_beyond_tokens_is_clipped(loaded):
    tokens, _ = _padded([["a", "b"]])
    out = loaded.signatures["tokens"](tokens=tokens, sequence_len=tf.constant([5]))
    assert out["sequence_len"].numpy().tolist() == [2]
    assert out["elmo"].shape[1] == 2


def test_out_dir_must_be_new_or_empty(tiny_model, tmp_path):
    (tmp_path / "taken").mkdir()
    (tmp_path / "taken" / "file").write_text("x")
    with pytest.raises(ValueError, match="not an empty directory"):
        export_hub_module(tiny_model, tmp_path / "taken")
    (tmp_path / "empty").mkdir()
    module = export_hub_module(tiny_model, tmp_path / "empty")
    assert (module / "tfhub_module.pb").is_file()


def test_source_must_be_weight_files(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        export_hub_module(tmp_path / "missing", tmp_path / "out")
    assert not (tmp_path / "out").exists()
