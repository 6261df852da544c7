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


def reference_layers(model_dir, tokens, state=None, return_state=False):
    """Layers (n_layers, len(tokens), 2P) of one sentence, float64 NumPy.

    With ``return_state`` also the final ``(c, h)``, shaped like the engine's
    one-row state ``(n_lstm_layers, 2, 1, dim)``.
    """
    options = json.loads((model_dir / "options.json").read_text())
    cnn, lstm = options["char_cnn"], options["lstm"]
    with h5py.File(model_dir / "weights.hdf5", "r") as fh:
        w = {}
        fh.visititems(
            lambda n, o: (
                w.__setitem__(n, o[...].astype(np.float64))
                if isinstance(o, h5py.Dataset)
                else None
            )
        )
    act = np.maximum if cnn["activation"] == "relu" else None

    def token_embedding(token):
        table = np.vstack([np.zeros((1, w["char_embed"].shape[1])), w["char_embed"]])
        chars = table[_char_ids(token)]  # (50, d)
        features = []
        for i, (width, _num) in enumerate(cnn["filters"]):
            kernel = w[f"CNN/W_cnn_{i}"][0]  # (width, d, num)
            conv = (
                np.array(
                    [
                        np.einsum("kd,kdn->n", chars[p : p + width], kernel)
                        for p in range(50 - width + 1)
                    ]
                )
                + w[f"CNN/b_cnn_{i}"]
            )
            conv = conv.max(axis=0)
            features.append(np.maximum(conv, 0) if act else np.tanh(conv))
        x = np.concatenate(features)
        for k in range(cnn["n_highway"]):
            g = _sigmoid(x @ w[f"CNN_high_{k}/W_carry"] + w[f"CNN_high_{k}/b_carry"])
            y = np.maximum(
                x @ w[f"CNN_high_{k}/W_transform"] + w[f"CNN_high_{k}/b_transform"], 0
            )
            x = g * y + (1 - g) * x
        if "CNN_proj/W_proj" in w:
            x = x @ w["CNN_proj/W_proj"] + w["CNN_proj/b_proj"]
        return x

    P, C = lstm["projection_dim"], lstm["dim"]
    n_layers = lstm["n_layers"]
    wrapped = ["<S>"] + list(tokens) + ["</S>"]
    emb = np.array([token_embedding(t) for t in wrapped])
    outputs, final = {}, {}
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
                ys.append(
                    h + x[t] if lstm.get("use_skip_connections") and layer > 0 else h
                )
            x = np.array(ys)
            outputs[d, layer] = x if d == 0 else x[::-1]
            final[d, layer] = c, h
    layers = [np.concatenate([emb, emb], axis=1)]
    for layer in range(n_layers):
        layers.append(np.concatenate([outputs[0, layer], outputs[1, layer]], axis=1))
    layers = np.array(layers)[:, 1:-1]
    if not return_state:
        return layers
    c, h = (
        np.array(
            [[[final[d, layer][k]] for d in range(2)] for layer in range(n_layers)]
        )
        for k in range(2)
    )
    return layers, (c, h)


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


# Packed pure-mode runs (sklearn_elmo.bilm._packed): the LSTM computes only the
# positions of sentences still running, against the unpacked graph run.


def _unpacked_layers(bilm, sentences):
    """Every sentence's layers through the unpacked graph, one batch of all rows."""
    backend = bilm._backend
    start = backend.start_state(bilm.initial_state)
    vocabulary = {}
    for sentence in sentences:
        for token in sentence:
            vocabulary.setdefault(token, len(vocabulary) + 1)
    table = backend._token_table(list(vocabulary))
    n, width = len(sentences), max(len(s) for s in sentences)
    index = np.zeros((n, width), np.int32)
    for i, sentence in enumerate(sentences):
        index[i, : len(sentence)] = [vocabulary[t] for t in sentence]
    state = tuple(np.repeat(s, n, axis=2) for s in start)
    lengths = np.array([len(s) for s in sentences], np.int32)
    layers, _, _ = backend.graph.run_inner(table, index, lengths, *state)
    return layers.numpy()


def _mixed_sentences(seed, n, longest=30, empty=True):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(0 if empty else 1, longest + 1, size=n)
    lengths[rng.integers(n)] = longest
    return [[f"w{rng.integers(40)}" for _ in range(k)] for k in lengths]


@pytest.mark.parametrize("skip", [True, False], ids=["skip", "no-skip"])
def test_packed_run_equals_the_unpacked_run(tmp_path, skip):
    options = _variant(lstm__use_skip_connections=skip, lstm__n_layers=3)
    model = make_random_bilm(tmp_path, size=options, seed=5)
    # Lengths 0-30 in one batch: the rows running shrink from 50 to 1 (and
    # the 1-row steps keep 2 rows), so steps use row counts 64, 32, .. 2.
    sentences = _mixed_sentences(0, 50)
    for mode in ("zeros", "warm"):
        bilm = load_bilm(model, initial_state=mode)
        layers, mask = bilm.embed(sentences, batch_size=64)
        expected = _unpacked_layers(bilm, sentences)
        assert layers.shape == expected.shape == (50, 4, 30, 32)
        P = 16
        for half in (slice(0, P), slice(P, 2 * P)):  # forward, then backward
            assert np.abs(expected[..., half]).max() > 0.1
            np.testing.assert_allclose(
                layers[..., half], expected[..., half], atol=1e-6, rtol=0
            )
        assert (layers.transpose(0, 2, 1, 3)[~mask] == 0).all()  # padding


def test_packed_run_matches_the_numpy_reference_at_every_length(tmp_path):
    model = make_random_bilm(tmp_path, size="tiny", seed=6)
    bilm = load_bilm(model, initial_state="zeros")
    sentences = [["a"], ["b", "c"], ["d"] * 7, [], ["e", "f", "g"], ["h"] * 12]
    layers, _ = bilm.embed(sentences)
    for i, sentence in enumerate(sentences):
        if sentence:
            np.testing.assert_allclose(
                layers[i, :, : len(sentence)],
                reference_layers(model, sentence),
                atol=1e-5,
                rtol=0,
            )
        assert (layers[i, :, len(sentence) :] == 0).all()


def test_packed_outputs_do_not_depend_on_the_batch(tiny_model):
    bilm = load_bilm(tiny_model, initial_state="warm")
    sentences = _mixed_sentences(1, 70, longest=40)
    reference, _ = bilm.embed(sentences, batch_size=256)
    rng = np.random.default_rng(2)
    for batch_size in (2, 5, 33, 70):
        order = rng.permutation(len(sentences))
        layers, _ = bilm.embed([sentences[i] for i in order], batch_size=batch_size)
        width = layers.shape[2]
        np.testing.assert_allclose(
            layers, reference[order][:, :, :width], atol=1e-6, rtol=0
        )
    # Alone: one row per step, the matrix-vector kernel (1e-6 on this model).
    for i in (0, int(np.argmax([len(s) for s in sentences]))):
        alone, _ = bilm.embed([sentences[i]])
        n = len(sentences[i])
        np.testing.assert_allclose(alone[0], reference[i, :, :n], atol=1e-6, rtol=0)


def test_packed_runs_trace_once_and_use_few_row_counts(tiny_model, monkeypatch):
    bilm = load_bilm(tiny_model, initial_state="zeros")
    graph = bilm._backend.graph
    bilm.embed([["a", "b"]])
    traces = graph._run_packed.experimental_get_tracing_count()
    cell_traces = graph._packed_cell.experimental_get_tracing_count()
    seen = set()
    original = graph.run_packed

    def recording(table, plan, start):
        seen.update(plan.counts.tolist())
        return original(table, plan, start)

    monkeypatch.setattr(graph, "run_packed", recording)
    rng = np.random.default_rng(3)
    for n in (1, 2, 3, 7, 40, 100, 129, 300):
        longest = int(rng.integers(1, 60))
        bilm.embed(_mixed_sentences(int(rng.integers(1000)), n, longest=longest))
    assert traces == 1 and graph._run_packed.experimental_get_tracing_count() == 1
    # (The cell is traced while the run is, once per loop-body trace.)
    assert graph._packed_cell.experimental_get_tracing_count() == cell_traces
    # XLA compiles the cell once per row count: a small fixed set.
    assert seen <= {1, 2, 4, 8, 12, 16, 24, 32, *range(48, 257, 16)}
    assert {1, 2} <= seen and max(seen) > 32


def test_carry_keeps_each_rows_state_in_the_given_order(tmp_path):
    """Carry is not packed: row k continues from row k's state, lengths mixed."""
    model = make_random_bilm(tmp_path, size="tiny", seed=8)
    bilm = load_bilm(model, initial_state="carry")
    positions = dict(bilm._backend.positions)
    first = [["a", "b", "c", "d", "e"], ["f"], ["g", "h", "i"]]
    second = [["j"], ["k", "l", "m", "n"], ["o", "p"]]
    bilm.embed(first)
    layers, _ = bilm.embed(second)
    for row, (before, after) in enumerate(zip(first, second, strict=True)):
        _, state = reference_layers(model, before, return_state=True)
        expected = reference_layers(model, after, state=state)
        np.testing.assert_allclose(
            layers[row, :, : len(after)], expected, atol=1e-5, rtol=0
        )
    assert bilm._backend.positions == positions  # the packed path did not run


@pytest.mark.parametrize("one_matmul", [False, True])
def test_input_projection_kernels_equal_one_matmul(tiny_model, one_matmul):
    """XLA blocks of 256 rows or one oneDNN matmul, XLA or oneDNN for the rest."""
    import tensorflow as tf

    from sklearn_elmo.bilm._packed import BLOCK_ROWS, FUSED_MIN_ROWS

    graph = load_bilm(tiny_model)._backend.graph
    w = graph._lstm[0][0][0]
    project = tf.function(lambda x, w: graph._project(x, w, one_matmul))
    rng = np.random.default_rng(7)
    for n in (
        0,
        1,
        FUSED_MIN_ROWS - 1,
        FUSED_MIN_ROWS,
        BLOCK_ROWS - 1,
        BLOCK_ROWS,
        300,
        600,
    ):
        x = rng.normal(size=(n, w.shape[0])).astype(np.float32)
        got = project(tf.constant(x), w).numpy()
        assert got.shape == (n, w.shape[1])
        np.testing.assert_allclose(got, x @ w.numpy(), atol=1e-5, rtol=1e-5)


def test_fused_step_equals_the_small_step(tiny_model):
    """A step of many rows (one XLA call) gives what oneDNN matmuls around the cell give."""
    import tensorflow as tf

    graph = load_bilm(tiny_model)._backend.graph
    opts = graph.opts
    w_x, w_h, bias, w_p = graph._lstm[0]
    rng = np.random.default_rng(8)
    n, C, P = 96, opts.lstm_dim, opts.projection_dim

    def normal(*shape):
        return tf.constant(rng.normal(size=shape).astype(np.float32))

    for d in range(2):  # each direction with its own weights
        args = (normal(n, 4 * C), normal(n, P), normal(n, C), w_h[d], bias[d], w_p[d])
        fused = graph._fused_step(*args)
        small = tf.function(graph._small_step)(*args)
        for a, b in zip(fused, small, strict=True):
            assert np.abs(b.numpy()).max() > 0.01
            np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-6, rtol=1e-6)
