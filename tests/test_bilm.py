import json
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import sklearn_elmo
from sklearn_elmo import load_bilm
from sklearn_elmo.bilm import warmup_sentences
from sklearn_elmo.bilm._packing import PackedPlan, step_rows
from sklearn_elmo.testing import make_random_bilm

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _reference_batches(reference_dir):
    sentences = json.loads((reference_dir / "lm_embeddings_sentences.json").read_text())
    expected = []
    for k in range(3):
        with h5py.File(reference_dir / f"lm_embeddings_{k}.hdf5", "r") as fh:
            expected.append([fh[str(i)][...] for i in range(10)])
    for i in range(10):
        batch = [sentences[k][i].split() for k in range(3)]
        top = [np.concatenate(list(expected[k][i]), axis=-1) for k in range(3)]
        yield batch, top


def _assert_top_layer(layers, batch, top, atol=1e-5):
    for row, (tokens, expected) in enumerate(zip(batch, top)):
        assert expected.shape == (len(tokens), 32)
        np.testing.assert_allclose(
            layers[row, 2, : len(tokens)], expected, atol=atol, rtol=0
        )


def test_carry_matches_bilm_tf_on_all_ten_batches(reference_dir):
    bilm = load_bilm(reference_dir / "lm_weights.hdf5", initial_state="carry")
    for batch, top in _reference_batches(reference_dir):
        layers, mask = bilm.embed(batch)
        _assert_top_layer(layers, batch, top)
        assert mask.sum(axis=1).tolist() == [len(s) for s in batch]
        assert (layers[~mask.astype(bool)[:, None, :].repeat(3, 1)] == 0).all()


def test_zeros_matches_bilm_tf_first_batch_only(reference_dir):
    bilm = load_bilm(reference_dir / "lm_weights.hdf5", initial_state="zeros")
    batches = list(_reference_batches(reference_dir))
    batch, top = batches[0]
    _assert_top_layer(bilm.embed(batch)[0], batch, top)
    # Later reference batches were run with carried state: zeros must differ.
    batch, top = batches[1]
    layers, _ = bilm.embed(batch)
    assert np.abs(layers[0, 2, : len(batch[0])] - top[0]).max() > 1e-3


def test_carry_state_is_per_row_and_resettable(reference_dir):
    bilm = load_bilm(reference_dir / "lm_weights.hdf5", initial_state="carry")
    batches = list(_reference_batches(reference_dir))
    bilm.embed(batches[0][0])
    bilm.reset_state()
    _assert_top_layer(bilm.embed(batches[0][0])[0], *batches[0])
    # A carry Bilm is private to its caller: a new one starts from zeros.
    other = load_bilm(reference_dir / "lm_weights.hdf5", initial_state="carry")
    assert other is not bilm
    _assert_top_layer(other.embed(batches[0][0])[0], *batches[0])


SENTENCES = [
    ["The", "cat", "sat", "on", "the", "mat", "."],
    ["Hello"],
    [],
    [
        "A",
        "much",
        "longer",
        "sentence",
        ",",
        "with",
        "punctuation",
        ",",
        "that",
        "goes",
        "on",
        "for",
        "a",
        "while",
        ".",
    ],
    ["The", "cat"],
    ["naïve", "東京", "😀", "x" * 60],
]


@pytest.mark.parametrize("mode", ["zeros", "warm"])
def test_output_is_a_pure_function_of_each_sentence(tiny_model, mode):
    bilm = load_bilm(tiny_model, initial_state=mode)
    alone = [bilm.embed([s])[0][0] for s in SENTENCES]
    for batch_size in (1, 2, 3, 64):
        for order in (
            list(range(len(SENTENCES))),
            list(reversed(range(len(SENTENCES)))),
        ):
            sentences = [SENTENCES[i] for i in order] * 3
            layers, mask = bilm.embed(sentences, batch_size=batch_size)
            for row, i in enumerate(order * 3):
                n = len(SENTENCES[i])
                assert mask[row].sum() == n
                np.testing.assert_allclose(
                    layers[row, :, :n], alone[i][:, :n], atol=1e-6, rtol=0
                )
                assert (layers[row, :, n:] == 0).all()
    # Repeated calls give the same answer.
    again, _ = bilm.embed(SENTENCES)
    first, _ = bilm.embed(SENTENCES)
    np.testing.assert_array_equal(again, first)


def test_warm_differs_from_zeros_but_only_in_context_layers(tiny_model):
    warm, _ = load_bilm(tiny_model, "warm").embed([SENTENCES[0]])
    zeros, _ = load_bilm(tiny_model, "zeros").embed([SENTENCES[0]])
    np.testing.assert_array_equal(warm[:, 0], zeros[:, 0])  # token layer
    assert np.abs(warm[:, 1:] - zeros[:, 1:]).max() > 1e-3


def test_warmup_text_is_substantial_english():
    sentences = warmup_sentences()
    assert len(sentences) >= 50
    assert all(len(s) >= 5 for s in sentences)


def test_shapes_dtypes_and_empty_input(tiny_model):
    bilm = load_bilm(tiny_model)
    layers, mask = bilm.embed([["a", "b"], []])
    assert layers.dtype == np.float32 and mask.dtype == bool
    assert layers.shape == (2, bilm.n_layers, 2, bilm.dim)
    assert not mask[1].any() and (layers[1] == 0).all()
    layers, mask = bilm.embed([[]])
    assert layers.shape == (1, 3, 0, 32) and mask.shape == (1, 0)
    layers, mask = bilm.embed([])
    assert layers.shape == (0, 3, 0, 32)
    # Any iterable of token sequences works, including tuples and generators.
    layers, _ = bilm.embed(tuple(s) for s in [("a", "b")])
    assert layers.shape == (1, 3, 2, 32)


def test_tokens_longer_than_48_bytes_share_their_first_48(tiny_model):
    bilm = load_bilm(tiny_model, initial_state="zeros")
    layers, _ = bilm.embed([["y" * 48 + "a"], ["y" * 48 + "b"], ["y" * 47 + "b"]])
    np.testing.assert_array_equal(layers[0], layers[1])
    assert np.abs(layers[0] - layers[2]).max() > 0


@pytest.mark.parametrize(
    "sentences, error, message",
    [
        ("The cat", TypeError, "single str"),
        (["The", "cat"], TypeError, r"sentences\[0\]"),
        ([["The", 3]], TypeError, r"sentences\[0\]\[1\]"),
        ([["ok"], ["The", None]], TypeError, r"sentences\[1\]\[1\]"),
        ([["The", ""]], ValueError, "empty token"),
        (42, TypeError, "list of lists"),
        ([[b"bytes"]], TypeError, r"sentences\[0\]\[0\]"),
    ],
)
def test_bad_sentences_are_clear_errors(tiny_model, sentences, error, message):
    with pytest.raises(error, match=message):
        load_bilm(tiny_model).embed(sentences)


@pytest.mark.parametrize("batch_size", [0, -1, 1.5, "8", True])
def test_bad_batch_size(tiny_model, batch_size):
    with pytest.raises((TypeError, ValueError), match="batch_size"):
        load_bilm(tiny_model).embed([["a"]], batch_size=batch_size)


def test_bad_initial_state(tiny_model):
    with pytest.raises(ValueError, match="initial_state"):
        load_bilm(tiny_model, initial_state="random")


def test_iter_embed_covers_every_sentence_once(tiny_model):
    bilm = load_bilm(tiny_model)
    seen = []
    for index, layers, mask in bilm.iter_embed(SENTENCES * 4, batch_size=5):
        assert len(index) <= 5 and layers.shape[0] == len(index) == mask.shape[0]
        seen.extend(index.tolist())
    assert sorted(seen) == list(range(len(SENTENCES) * 4))


def test_load_bilm_shares_one_object_per_source_and_mode(tiny_model):
    assert load_bilm(tiny_model) is load_bilm(str(tiny_model))
    assert load_bilm(tiny_model) is load_bilm(tiny_model / "options.json")
    assert load_bilm(tiny_model, "zeros") is not load_bilm(tiny_model, "warm")


def test_fingerprint_depends_on_weights_and_protocol(tiny_model, tmp_path):
    warm = load_bilm(tiny_model, "warm").fingerprint
    assert len(warm) == 64 and int(warm, 16) >= 0
    assert warm != load_bilm(tiny_model, "zeros").fingerprint
    copy = shutil.copytree(tiny_model, tmp_path / "moved")
    assert load_bilm(copy, "warm").fingerprint == warm
    other = make_random_bilm(tmp_path / "other", seed=1)
    assert load_bilm(other, "warm").fingerprint != warm


def test_fingerprint_and_warm_outputs_are_identical_in_a_fresh_process(
    tiny_model, tmp_path
):
    bilm = load_bilm(tiny_model, "warm")
    layers, _ = bilm.embed([SENTENCES[0]])
    code = (
        "import sys, numpy as np\n"
        "from sklearn_elmo import load_bilm\n"
        "b = load_bilm(sys.argv[1])\n"
        "l, _ = b.embed([sys.argv[2].split()])\n"
        "np.save(sys.argv[3], l)\n"
        "print(b.fingerprint)\n"
    )
    out = tmp_path / "layers.npy"
    result = subprocess.run(
        [sys.executable, "-c", code, str(tiny_model), " ".join(SENTENCES[0]), str(out)],
        capture_output=True,
        text=True,
        check=True,
        cwd=PROJECT_ROOT,
    )
    assert result.stdout.strip().splitlines()[-1] == bilm.fingerprint
    np.testing.assert_allclose(np.load(out), layers, atol=1e-6, rtol=0)


def test_batches_use_few_row_counts_and_respect_limits(tiny_model):
    bilm = load_bilm(tiny_model)
    graph = bilm._backend.graph
    assert [graph.round_batch(n) for n in (1, 3, 31, 32, 63, 64, 100)] == [
        1,
        2,
        16,
        32,
        32,
        64,
        96,
    ]
    assert [graph.pad_rows(n) for n in (1, 3, 31, 32, 33, 100)] == [
        1,
        4,
        32,
        32,
        64,
        128,
    ]
    rng = np.random.default_rng(0)
    lengths = rng.integers(0, 80, size=1000)
    budget = 2000  # small enough to bind on the tiny model
    bilm._backend.max_batch_tokens = budget
    try:
        batches = bilm._plan_batches(lengths, batch_size=200)
    finally:
        bilm._backend.max_batch_tokens = bilm.max_batch_tokens
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    # Longest first: the ragged remainder holds the shortest sentences.
    assert [int(lengths[b].max()) for b in batches] == sorted(
        (int(lengths[b].max()) for b in batches), reverse=True
    )
    assert len(batches[-1]) <= 200
    for batch in batches[:-1]:
        assert len(batch) <= 200 and graph.round_batch(len(batch)) == len(batch)
        # Packed runs compute the real tokens plus the rows rounded up.
        assert step_rows(lengths[batch], graph.step_bucket).sum() <= budget
        assert len(batch) * lengths[batch].max() <= 2 * budget
    assert min(map(len, batches[:-1])) < 32  # long sentences: the budget binds
    short = bilm._plan_batches(np.full(1000, 3), batch_size=200)
    assert [len(b) for b in short] == [192] * 5 + [40]  # 200, rounded to 6 x 32


def test_packed_steps_round_rows_to_few_fine_buckets(tiny_model):
    graph = load_bilm(tiny_model)._backend.graph
    rounded = [graph.step_bucket(n) for n in range(1, 257)]
    assert all(n <= r < n + 16 for n, r in enumerate(rounded, start=1))
    assert sorted(set(rounded)) == [1, 2, 4, 8, 12, 16, 24, 32] + list(
        range(48, 257, 16)
    )
    assert [graph.step_bucket(n) for n in (3, 9, 17, 25, 33, 100)] == [
        4,
        12,
        24,
        32,
        48,
        112,
    ]


def test_step_rows_and_packed_plan_place_every_position(tiny_model):
    pad_rows = load_bilm(tiny_model)._backend.graph.pad_rows
    assert step_rows([5, 3, 3, 1], pad_rows).tolist() == [4, 4, 4, 2, 2]
    assert step_rows([7], pad_rows).tolist() == [1] * 7  # alone: one row
    assert step_rows([40] * 33 + [2], pad_rows).tolist() == [64, 64] + [64] * 38
    rng = np.random.default_rng(1)
    lengths = rng.integers(0, 12, size=37)
    lengths[5] = 12
    index = np.zeros((37, 12), np.int32)
    for i, n in enumerate(lengths):
        index[i, :n] = rng.integers(1, 100, size=n)
    plan = PackedPlan(index, lengths, pad_rows)
    assert plan.counts.tolist() == step_rows(lengths, pad_rows).tolist()
    assert plan.real == lengths.sum() and plan.computed == plan.counts.sum()
    assert len(plan.fw_rows) == len(plan.bw_rows) == plan.computed
    # The first layer projects each distinct token once: the positions' rows
    # come back through fw_tokens / bw_tokens.
    assert len(np.unique(plan.tokens)) == len(plan.tokens)
    assert (plan.tokens[plan.fw_tokens] == plan.fw_rows).all()
    assert (plan.tokens[plan.bw_tokens] == plan.bw_rows).all()
    starts = np.concatenate([[0], np.cumsum(plan.counts)])
    for i, n in enumerate(lengths):
        for p in range(12):
            if p >= n:
                assert plan.fw_out[i, p] == plan.bw_out[i, p] == 0
                continue
            # Forward step p and backward step n - 1 - p read token p.
            fw, bw = plan.fw_out[i, p] - 1, plan.bw_out[i, p] - 1
            assert starts[p] <= fw < starts[p + 1]
            assert starts[n - 1 - p] <= bw < starts[n - p]
            assert plan.fw_rows[fw] == plan.bw_rows[bw] == index[i, p]
            # A sentence keeps its row (rank by decreasing length) at every step.
            assert fw - starts[p] == bw - starts[n - 1 - p]


def test_positions_count_real_computed_and_distinct_rows(tiny_model):
    bilm = load_bilm(tiny_model, initial_state="zeros")
    positions = bilm._backend.positions
    sklearn_elmo.clear_cache()
    before = dict(positions)
    bilm.embed([["a"] * 5] * 4)  # 4 rows x 5 steps: no padding at all
    assert positions["real"] - before["real"] == 20
    assert positions["computed"] - before["computed"] == 20
    assert positions["first_layer"] - before["first_layer"] == 1  # "a"
    assert positions["token_embeddings"] - before["token_embeddings"] == 1
    before = dict(positions)
    bilm.embed([["a"] * 9, ["b"], ["c"] * 3])  # steps of 3, 2, 2 then 2 rows
    assert positions["real"] - before["real"] == 13
    assert positions["computed"] - before["computed"] == 4 + 2 + 2 + 6 * 2
    # The step rows added by rounding read the padding row: a distinct row
    # of the first layer's projection, but no token's CNN.
    assert positions["first_layer"] - before["first_layer"] == 4
    # "a" comes from the token cache: the CNN runs for "b" and "c" only.
    assert positions["token_embeddings"] - before["token_embeddings"] == 2


def test_public_names_are_exported():
    import sklearn_elmo

    for name in sklearn_elmo.__all__:
        assert hasattr(sklearn_elmo, name), name
    assert {"load_bilm", "ElmoClassifier", "ElmoRegressor", "ElmoVectorizer"} <= set(
        sklearn_elmo.__all__
    )


def _counting_token_table(monkeypatch, backend):
    """Count the tokens the character CNN runs on."""
    counted = []
    original = backend.graph.token_table

    def counting(unique_ids, *args, **kwargs):
        counted.append(len(unique_ids))
        return original(unique_ids, *args, **kwargs)

    monkeypatch.setattr(backend.graph, "token_table", counting)
    return counted


def test_token_embeddings_are_kept_across_calls(tmp_path, monkeypatch):
    import sklearn_elmo

    # A model of its own: nothing cached by other tests.
    bilm = load_bilm(make_random_bilm(tmp_path / "m", seed=3), initial_state="zeros")
    backend = bilm._backend
    counted = _counting_token_table(monkeypatch, backend)
    first = [["the", "cat", "sat"], ["a", "dog"]]
    second = [["the", "dog", "ran"], ["cat"]]
    expected, _ = bilm.embed(second)
    sklearn_elmo.clear_cache()  # also empties the token embeddings
    counted.clear()
    bilm.embed(first)
    assert counted == [5]
    layers, _ = bilm.embed(second)
    assert counted == [5, 1]  # only "ran" is new
    np.testing.assert_allclose(layers, expected, rtol=1e-6, atol=1e-6)
    bilm.embed(first + second)
    assert counted == [5, 1]  # nothing new: the CNN does not run


def test_token_cache_is_bounded_and_stays_exact(tmp_path, monkeypatch):
    bilm = load_bilm(make_random_bilm(tmp_path / "m", seed=4), initial_state="zeros")
    backend = bilm._backend
    backend.clear_token_cache()
    monkeypatch.setattr(backend, "_token_cache_rows", 3)
    sentences = [[f"w{i}" for i in range(k, k + 4)] for k in range(6)]
    first, _ = bilm.embed(sentences)
    assert len(backend._token_cache) == 3
    again, _ = bilm.embed(sentences[::-1])
    np.testing.assert_allclose(again[::-1], first, rtol=1e-6, atol=1e-6)
    assert len(backend._token_cache) == 3


def test_embed_allocates_its_result_without_hugepage_advice(monkeypatch):
    """The big result skips numpy's huge-page advice, and the setting is restored."""
    from sklearn_elmo.bilm import _model

    switch = _model._set_madvise_hugepage()
    assert switch is not None  # numpy 2 has it
    calls = []

    def recording(enabled):
        calls.append(enabled)
        return switch(enabled)

    monkeypatch.setattr(_model, "_set_madvise_hugepage", lambda: recording)
    before = switch(True)
    try:
        layers = _model.zeros_without_hugepages((3, 4), np.float32)
        assert calls == [False, True] and switch(True) is True
    finally:
        switch(before)
    assert layers.dtype == np.float32 and not layers.any()
