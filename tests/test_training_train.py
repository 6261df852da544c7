"""train_bilm end to end on tiny models: learning, written files, resume, adaptation."""

import json

import h5py
import numpy as np
import pytest

pytest.importorskip("tensorflow")

from _training_helpers import grammar_sentences, unigram_perplexity

from sklearn_elmo import evaluate_perplexity, load_bilm, train_bilm
from sklearn_elmo.bilm._options import parse_options
from sklearn_elmo.bilm._weights import expected_shapes
from sklearn_elmo.testing import make_random_bilm
from sklearn_elmo.training import _runner
from sklearn_elmo.training.checkpoint import load_checkpoint
from sklearn_elmo.training.data import Windows, type_char_ids
from sklearn_elmo.training.model import TrainableBilm

TRAIN = grammar_sentences(2000, seed=0)
HELDOUT = grammar_sentences(150, seed=1)
# The settings most tests share, so that their compiled step is reused.
SMALL = {
    "batch_size": 4,
    "unroll_steps": 5,
    "n_negative_samples": 8,
    "tokenizer": str.split,
    "verbose": 0,
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("trained")
    # Three calls, each extending the last, give three history records.
    for max_tokens in (3200, 8000, 16000):
        result = train_bilm(
            TRAIN,
            out_dir,
            max_tokens=max_tokens,
            batch_size=16,
            unroll_steps=10,
            tokenizer=str.split,
            validation=HELDOUT,
            verbose=0,
        )
    return out_dir, result


def test_loss_falls_and_heldout_perplexity_beats_unigram(trained):
    out_dir, result = trained
    history = result["history"]
    assert [h["tokens"] for h in history] == [3200, 8000, 16000]
    assert history[-1]["train_perplexity"] < 0.5 * history[0]["train_perplexity"]
    unigram = unigram_perplexity(TRAIN, HELDOUT)
    ppl = evaluate_perplexity(
        out_dir, HELDOUT, tokenizer=str.split, batch_size=16, unroll_steps=10
    )
    assert ppl == history[-1]["validation_perplexity"]
    assert set(ppl) == {"forward", "backward", "average"}
    assert ppl["average"] < 0.4 * unigram, (ppl, unigram)
    assert ppl["forward"] < 0.5 * unigram and ppl["backward"] < 0.5 * unigram
    first, last = (
        history[0]["validation_perplexity"],
        history[-1]["validation_perplexity"],
    )
    assert last["average"] < first["average"]
    on_disk = json.loads((out_dir / "history.json").read_text())
    assert on_disk == history


def test_written_files_have_the_bilm_tf_layout(trained):
    out_dir, _ = trained
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "checkpoint",
        "history.json",
        "options.json",
        "vocab.txt",
        "weights.hdf5",
    ]
    options = json.loads((out_dir / "options.json").read_text())
    assert options["char_cnn"]["n_characters"] == 262
    shapes = expected_shapes(parse_options(options))
    with h5py.File(out_dir / "weights.hdf5", "r") as fh:
        names = set()
        fh.visititems(
            lambda name, obj: names.add(name) if isinstance(obj, h5py.Dataset) else None
        )
        assert names == set(shapes)  # no softmax, nothing extra
        assert all(fh[name].shape == shape for name, shape in shapes.items())
    vocab = (out_dir / "vocab.txt").read_text().split("\n")
    assert vocab[:3] == ["<S>", "</S>", "<UNK>"]


def _own_layers(values, opts, sentence):
    """The trainer's forward pass over one sentence from a zero state."""
    import tensorflow as tf

    model = TrainableBilm(opts, values)
    tokens = ["<S>", *sentence, "</S>"]
    types = sorted(set(tokens))
    chars = type_char_ids(types).astype(np.int32)
    ids = np.array([types.index(t) for t in tokens], np.int32)
    index = np.stack([ids, ids[::-1]])[:, None, :]
    x, _ = model.inputs(chars, index)
    L, C, P = opts.n_lstm_layers, opts.lstm_dim, opts.projection_dim
    layers, _, _ = model.lstm(x, tf.zeros([L, 2, 1, C]), tf.zeros([L, 2, 1, P]))
    out = [np.concatenate([x[0, 1:-1, 0], x[0, 1:-1, 0]], -1)]
    for y in layers:
        both = np.concatenate([y[0, :, 0].numpy(), y[1, ::-1, 0].numpy()], -1)
        out.append(both[1:-1])
    return np.stack(out)


def test_load_bilm_reproduces_the_trainers_forward_pass(trained):
    out_dir, _ = trained
    meta, values, *_ = load_checkpoint(out_dir)
    opts = parse_options(meta["config"]["options"])
    bilm = load_bilm(out_dir, initial_state="zeros")
    sentence = ["the", "naïve", "Zoë", "sees", "a", "dog", "."]  # unseen tokens too
    layers, _ = bilm.embed([sentence])
    np.testing.assert_allclose(
        layers[0], _own_layers(values, opts, sentence), rtol=0, atol=1e-5
    )


def _final(out_dir):
    return load_checkpoint(out_dir)[1]


def _max_diff(a, b):
    return max(float(np.abs(a[k] - b[k]).max()) for k in a)


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    out_dir = tmp_path_factory.mktemp("uninterrupted")
    train_bilm(TRAIN[:300], out_dir, max_tokens=600, **SMALL)
    return out_dir


def test_killed_run_resumes_to_identical_weights(tmp_path, monkeypatch, uninterrupted):
    batch = Windows.batch

    def killed_at_step_17(self, step):
        if step == 17:
            raise RuntimeError("killed")
        return batch(self, step)

    monkeypatch.setattr(Windows, "batch", killed_at_step_17)
    with pytest.raises(RuntimeError, match="killed"):
        train_bilm(TRAIN[:300], tmp_path, max_tokens=600, checkpoint_every=0.0, **SMALL)
    monkeypatch.setattr(Windows, "batch", batch)
    meta = load_checkpoint(tmp_path)[0]
    assert meta["step"] == 17  # the last periodic checkpoint before the kill
    result = train_bilm(TRAIN[:300], tmp_path, max_tokens=600, **SMALL)
    assert result["tokens"] == 600
    assert _max_diff(_final(tmp_path), _final(uninterrupted)) <= 1e-5


def test_interrupt_writes_a_checkpoint_and_resume_matches(
    tmp_path, monkeypatch, uninterrupted
):
    batch = Windows.batch

    def interrupted(self, step):
        if step == 9:
            raise KeyboardInterrupt
        return batch(self, step)

    monkeypatch.setattr(Windows, "batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train_bilm(TRAIN[:300], tmp_path, max_tokens=600, **SMALL)
    monkeypatch.setattr(Windows, "batch", batch)
    assert load_checkpoint(tmp_path)[0]["step"] == 9
    load_bilm(tmp_path)  # the published files are usable at every checkpoint
    train_bilm(TRAIN[:300], tmp_path, max_tokens=600, **SMALL)
    assert _max_diff(_final(tmp_path), _final(uninterrupted)) <= 1e-5


def test_finished_run_extends_with_a_larger_budget(tmp_path, uninterrupted):
    first = train_bilm(TRAIN[:300], tmp_path, max_tokens=200, **SMALL)
    assert first["tokens"] == 200
    again = train_bilm(TRAIN[:300], tmp_path, max_tokens=200, **SMALL)
    assert again["steps"] == first["steps"]  # nothing left to do
    longer = train_bilm(TRAIN[:300], tmp_path, max_tokens=600, **SMALL)
    assert longer["tokens"] == 600
    assert [h["tokens"] for h in longer["history"]] == [200, 600]
    assert _max_diff(_final(tmp_path), _final(uninterrupted)) <= 1e-5


def test_other_run_in_out_dir_is_refused_and_resume_false_replaces(
    tmp_path, uninterrupted
):
    with pytest.raises(ValueError, match="holds another run.*random_state"):
        train_bilm(TRAIN[:300], uninterrupted, max_tokens=600, random_state=5, **SMALL)
    with pytest.raises(ValueError, match="holds another run.*corpus"):
        train_bilm(TRAIN[:200], uninterrupted, max_tokens=600, **SMALL)
    out = tmp_path / "run"
    train_bilm(TRAIN[:300], out, max_tokens=100, **SMALL)
    replaced = train_bilm(TRAIN[:250], out, max_tokens=100, resume=False, **SMALL)
    assert replaced["history"][0]["tokens"] == 100 and len(replaced["history"]) == 1


def test_domain_adaptation_from_a_published_model(tmp_path):
    source = make_random_bilm(tmp_path / "source", size="tiny", seed=3)
    with h5py.File(source / "weights.hdf5", "r") as fh:
        start = {name: fh[name][...] for name in ("char_embed", "CNN/W_cnn_0")}
        start_lstm = fh["RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0"][...]
    frozen = tmp_path / "frozen"
    # The first phase trains the new softmax alone: the biLM stays as loaded.
    train_bilm(
        TRAIN[:300],
        frozen,
        init=source,
        max_tokens=100,
        softmax_only_tokens=100,
        **SMALL,
    )
    with h5py.File(frozen / "weights.hdf5", "r") as fh:
        assert np.array_equal(fh["char_embed"][...], start["char_embed"])
        assert np.array_equal(
            fh["RNN_1/RNN/MultiRNNCell/Cell1/LSTMCell/W_0"][...], start_lstm
        )
    meta, values, *_ = load_checkpoint(frozen)
    assert values["softmax/W"].shape[0] == len(
        (frozen / "vocab.txt").read_text().split()
    )
    assert meta["config"]["init"].endswith("weights.hdf5")
    # Then the whole biLM moves on from the source's weights.
    train_bilm(
        TRAIN[:300],
        frozen,
        init=source,
        max_tokens=300,
        softmax_only_tokens=100,
        **SMALL,
    )
    with h5py.File(frozen / "weights.hdf5", "r") as fh:
        moved = fh["CNN/W_cnn_0"][...]
    assert not np.array_equal(moved, start["CNN/W_cnn_0"])
    assert np.abs(moved - start["CNN/W_cnn_0"]).max() < 1.0  # adapted, not restarted
    assert json.loads((frozen / "options.json").read_text())["lstm"]["dim"] == 32


def test_compiled_steps_are_reused_within_a_process(uninterrupted):
    assert any(key[0] == "train" for key in _runner._COMPILED)


def test_tiny_corpus_defaults_to_one_epoch(tmp_path):
    result = train_bilm(TRAIN[:300], tmp_path, **SMALL)
    meta = load_checkpoint(tmp_path)[0]
    pairs = sum(len(s.split()) + 1 for s in TRAIN[:300])
    per_step = SMALL["batch_size"] * SMALL["unroll_steps"]
    assert (
        result["tokens"]
        == (pairs // SMALL["batch_size"]) // SMALL["unroll_steps"] * per_step
    )
    assert meta["step"] == result["steps"]
