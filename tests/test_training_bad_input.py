"""Every bad input to train_bilm / evaluate_perplexity: a clear error, before training."""

import json

import pytest

from sklearn_elmo import evaluate_perplexity, train_bilm
from sklearn_elmo.testing import make_random_bilm
from sklearn_elmo.training import api

TEXTS = ["the cat sat on the mat", "a dog sat on a log"] * 20
FAST = {"batch_size": 2, "unroll_steps": 3, "tokenizer": str.split, "verbose": 0}


@pytest.fixture(autouse=True)
def no_training(monkeypatch):
    """Fail any test that gets as far as starting TensorFlow training."""

    def started(**kwargs):
        raise AssertionError("training started despite bad input")

    import types

    fake = types.SimpleNamespace(run=started, perplexity=started)
    monkeypatch.setattr(api, "_load_runner", lambda: fake)


def _file(tmp_path, name, data):
    path = tmp_path / name
    path.write_bytes(data)
    return path


@pytest.mark.parametrize(
    "make_corpus, error, match",
    [
        (lambda d: str(d / "missing.txt"), ValueError, "missing.txt: no such file"),
        (
            lambda d: [str(d / "a.txt"), str(d / "nope.txt")],
            ValueError,
            "nope.txt: no such",
        ),
        (lambda d: d, ValueError, "is a directory"),
        (lambda d: _file(d, "empty.txt", b"\n  \n\n"), ValueError, "empty corpus"),
        (lambda d: _file(d, "bin.txt", b"\x00\x01\x02abc"), ValueError, "binary file"),
        (
            lambda d: _file(d, "latin.txt", b"caf\xe9 au lait\n"),
            ValueError,
            "line 1: not UTF-8",
        ),
        (
            lambda d: _file(d, "short.txt", b"one two three\n"),
            ValueError,
            "fewer than one batch",
        ),
        (lambda d: 42, TypeError, "corpus must be"),
        (lambda d: ["a text", 3], TypeError, r"corpus\[1\]"),
        (lambda d: [], ValueError, "corpus is empty"),
    ],
)
def test_bad_corpus(tmp_path, make_corpus, error, match):
    (tmp_path / "a.txt").write_text("some words here\n")
    with pytest.raises(error, match=match):
        train_bilm(make_corpus(tmp_path), tmp_path / "out", **FAST)


def test_tokenizer_must_return_lists_of_str(tmp_path):
    with pytest.raises(TypeError, match="tokenizer must return a list of str"):
        train_bilm(TEXTS, tmp_path / "out", **{**FAST, "tokenizer": str.upper})
    with pytest.raises(TypeError, match="tokenizer must be callable"):
        train_bilm(TEXTS, tmp_path / "out", **{**FAST, "tokenizer": "split"})


@pytest.mark.parametrize(
    "content, match",
    [
        (b"<S>\n</S>\n<UNK>\nthe 12\n", "line 4: expected one token per line"),
        (b"the\ncat\n", "must contain <S>, </S>, <UNK>"),
        (b"", "empty"),
    ],
)
def test_bad_vocabulary_file(tmp_path, content, match):
    vocab = _file(tmp_path, "vocab.txt", content)
    with pytest.raises(ValueError, match=match):
        train_bilm(TEXTS, tmp_path / "out", vocab=vocab, **FAST)


def test_missing_vocabulary_file(tmp_path):
    with pytest.raises(ValueError, match="vocab: .*nope.txt: no such file"):
        train_bilm(TEXTS, tmp_path / "out", vocab=tmp_path / "nope.txt", **FAST)


@pytest.mark.parametrize(
    "options, error, match",
    [
        ("huge", ValueError, "options must be one of"),
        ({"lstm": {"dim": 8}}, ValueError, "missing option"),
        (3, TypeError, "options must be a preset name"),
    ],
)
def test_bad_options(tmp_path, options, error, match):
    with pytest.raises(error, match=match):
        train_bilm(TEXTS, tmp_path / "out", options=options, **FAST)


def test_options_that_do_not_fit_init(tmp_path):
    source = make_random_bilm(tmp_path / "src", size="tiny")
    with pytest.raises(ValueError, match="options do not fit init's weights"):
        train_bilm(TEXTS, tmp_path / "out", init=source, options="mini", **FAST)


@pytest.mark.parametrize(
    "init, match",
    [
        ("https://tfhub.dev/google/elmo/3", "TF Hub modules cannot be trained"),
        ("/nonexistent/elmo", "no such file or directory"),
    ],
)
def test_bad_init(tmp_path, init, match):
    with pytest.raises(ValueError, match=match):
        train_bilm(TEXTS, tmp_path / "out", init=init, **FAST)


def test_init_with_broken_weights_fails_before_training(tmp_path):
    source = make_random_bilm(tmp_path / "src", size="tiny")
    (source / "weights.hdf5").write_bytes(b"not hdf5")
    with pytest.raises(ValueError, match="cannot read the weights file"):
        train_bilm(TEXTS, tmp_path / "out", init=source, **FAST)


def test_out_dir_with_foreign_files_or_a_file(tmp_path):
    model = make_random_bilm(tmp_path / "model", size="tiny")
    with pytest.raises(ValueError, match="no training checkpoint; choose an empty"):
        train_bilm(TEXTS, model, **FAST)
    target = _file(tmp_path, "file.txt", b"x")
    with pytest.raises(ValueError, match="exists and is not a directory"):
        train_bilm(TEXTS, target, **FAST)


@pytest.mark.parametrize(
    "param, value, error, match",
    [
        ("batch_size", 0, ValueError, "batch_size must be >= 1"),
        ("unroll_steps", 2.5, TypeError, "unroll_steps must be an int"),
        ("epochs", True, TypeError, "epochs must be an int"),
        ("max_tokens", -5, ValueError, "max_tokens must be >= 1"),
        ("n_negative_samples", 0, ValueError, "n_negative_samples"),
        ("learning_rate", 0.0, ValueError, "learning_rate must be in"),
        ("dropout", 1.5, ValueError, "dropout must be in"),
        ("random_state", -1, ValueError, "random_state"),
        ("resume", "yes", TypeError, "resume must be True or False"),
        ("max_vocab", 2, ValueError, "max_vocab must be >= 4"),
        ("min_count", 0, ValueError, "min_count"),
        ("softmax_only_tokens", 10, ValueError, "softmax_only_tokens needs init"),
        ("checkpoint_every", float("nan"), ValueError, "checkpoint_every"),
    ],
)
def test_bad_parameters(tmp_path, param, value, error, match):
    with pytest.raises(error, match=match):
        train_bilm(TEXTS, tmp_path / "out", **{**FAST, param: value})


def test_perplexity_needs_a_training_checkpoint(tmp_path):
    model = make_random_bilm(tmp_path / "model", size="tiny")
    with pytest.raises(ValueError, match="no training checkpoint.*softmax"):
        evaluate_perplexity(model, TEXTS)
    with pytest.raises(ValueError, match="no such directory"):
        evaluate_perplexity(tmp_path / "nope", TEXTS)


def test_perplexity_with_missing_heldout(tmp_path):
    out = tmp_path / "run" / "checkpoint"
    out.mkdir(parents=True)
    (out / "state.npz").write_bytes(b"")
    with pytest.raises(ValueError, match="heldout: .*nope.txt: no such file"):
        evaluate_perplexity(tmp_path / "run", str(tmp_path / "nope.txt"))


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
    out = tmp_path / "run" / "checkpoint"
    out.mkdir(parents=True)
    (out / "state.npz").write_bytes(json.dumps({"x": 1}).encode())
    with pytest.raises(ValueError, match="cannot read the training checkpoint"):
        train_bilm(TEXTS, tmp_path / "run", **FAST)
