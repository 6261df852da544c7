"""The TensorFlow engine against a slow, plain-NumPy reading of the conventions.

The reference below is written from ../shared/reference/elmo-conventions.md
alone (one sentence at a time, one time step at a time, weights read straight
from the HDF5 file) so that it shares no code with the engine. It covers what
the bilm-tf fixture cannot: skip connections, tanh, no highway, no projection.
"""

import copy
import json

import h5py
import numpy as np
import pytest

from sklearn_elmo import load_bilm
from sklearn_elmo.testing import SIZES, make_random_bilm


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _char_ids(token):
    if token in ("<S>", "</S>"):
        raw = [258, 256 if token == "<S>" else 257, 259]
    else:
        raw = [258] + list(token.encode("utf-8")[:48]) + [259]
    return np.array(raw + [260] * (50 - len(raw))) + 1


def reference_layers(model_dir, tokens, state=None):
    """Layers (n_layers, len(tokens), 2P) of one sentence, float64 NumPy."""
    options = json.loads((model_dir / "options.json").read_text())
    cnn, lstm = options["char_cnn"], options["lstm"]
    with h5py.File(model_dir / "weights.hdf5", "r") as fh:
        w = {}
        fh.visititems(lambda n, o: w.__setitem__(n, o[...].astype(np.float64))
                      if isinstance(o, h5py.Dataset) else None)
    act = np.maximum if cnn["activation"] == "relu" else None

    def token_embedding(token):
        table = np.vstack([np.zeros((1, w["char_embed"].shape[1])), w["char_embed"]])
        chars = table[_char_ids(token)]  # (50, d)
        features = []
        for i, (width, num) in enumerate(cnn["filters"]):
            kernel = w[f"CNN/W_cnn_{i}"][0]  # (width, d, num)
            conv = np.array([
                np.einsum("kd,kdn->n", chars[p : p + width], kernel)
                for p in range(50 - width + 1)
            ]) + w[f"CNN/b_cnn_{i}"]
            conv = conv.max(axis=0)
            features.append(np.maximum(conv, 0) if act else np.tanh(conv))
        x = np.concatenate(features)
        for k in range(cnn["n_highway"]):
            g = _sigmoid(x @ w[f"CNN_high_{k}/W_carry"] + w[f"CNN_high_{k}/b_carry"])
            y = np.maximum(x @ w[f"CNN_high_{k}/W_transform"] + w[f"CNN_high_{k}/b_transform"], 0)
            x = g * y + (1 - g) * x
        if "CNN_proj/W_proj" in w:
            x = x @ w["CNN_proj/W_proj"] + w["CNN_proj/b_proj"]
        return x

    P, C = lstm["projection_dim"], lstm["dim"]
    n_layers = lstm["n_layers"]
    wrapped = ["<S>"] + list(tokens) + ["</S>"]
    emb = np.array([token_embedding(t) for t in wrapped])
    outputs = {}
    for d in range(2):
        x = emb if d == 0 else emb[::-1]
        for layer in range(n_layers):
            prefix = f"RNN_{d}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"
            W, B, WP = w[f"{prefix}/W_0"], w[f"{prefix}/B"], w[f"{prefix}/W_P_0"]
            c = np.zeros(C) if state is None else state[0][layer, d, 0]
            h = np.zeros(P) if state is None else state[1][layer, d, 0]
            ys = []
            for t in range(len(x)):
                z = np.concatenate([x[t], h]) @ W + B
                i, j, f, o = np.split(z, 4)
                c = _sigmoid(f + 1.0) * c + _sigmoid(i) * np.tanh(j)
                if lstm.get("cell_clip"):
                    c = np.clip(c, -lstm["cell_clip"], lstm["cell_clip"])
                h = (_sigmoid(o) * np.tanh(c)) @ WP
                if lstm.get("proj_clip"):
                    h = np.clip(h, -lstm["proj_clip"], lstm["proj_clip"])
                ys.append(h + x[t] if lstm.get("use_skip_connections") and layer > 0 else h)
            x = np.array(ys)
            outputs[d, layer] = x if d == 0 else x[::-1]
    layers = [np.concatenate([emb, emb], axis=1)]
    for layer in range(n_layers):
        layers.append(np.concatenate([outputs[0, layer], outputs[1, layer]], axis=1))
    return np.array(layers)[:, 1:-1]


SENTENCES = [
    ["The", "cat", "sat", "on", "the", "mat", "."],
    ["Zoë", "visited", "東京", "!"],
    ["x" * 70],
    ["a"],
]


def _variant(**changes):
    options = copy.deepcopy(SIZES["tiny"])
    for key, value in changes.items():
        section, name = key.split("__")
        options[section][name] = value
    return options


@pytest.mark.parametrize(
    "options",
    [
        _variant(),  # skip connections, relu, highway, projection
        _variant(lstm__use_skip_connections=False),
        _variant(char_cnn__activation="tanh", char_cnn__n_highway=0),
        # n_filters == projection_dim: bilm-tf has no projection then.
        _variant(char_cnn__filters=[[1, 8], [2, 8]], lstm__n_layers=3),
        _variant(lstm__cell_clip=None, lstm__proj_clip=None),
    ],
    ids=["skip", "no-skip", "tanh-no-highway", "no-projection-3-layers", "no-clip"],
)
def test_engine_matches_numpy_reference(tmp_path, options):
    model = make_random_bilm(tmp_path, size=options, seed=3)
    bilm = load_bilm(model, initial_state="zeros")
    layers, mask = bilm.embed(SENTENCES, batch_size=3)
    assert bilm.n_layers == options["lstm"]["n_layers"] + 1
    for i, sentence in enumerate(SENTENCES):
        expected = reference_layers(model, sentence)
        n = len(sentence)
        assert mask[i].sum() == n
        np.testing.assert_allclose(layers[i, :, :n], expected, atol=1e-5, rtol=0)
        assert (layers[i, :, n:] == 0).all()


def test_warm_state_is_the_reference_run_from_the_warm_state(tiny_model):
    bilm = load_bilm(tiny_model, initial_state="warm")
    state = bilm._backend._initial_state("warm")
    layers, _ = bilm.embed([SENTENCES[0]])
    expected = reference_layers(tiny_model, SENTENCES[0], state=state)
    np.testing.assert_allclose(layers[0], expected, atol=1e-5, rtol=0)
