"""The train-bilm and perplexity commands."""

import json

import pytest

pytest.importorskip("tensorflow")

from _training_helpers import grammar_sentences

from sklearn_elmo.cli import main
from sklearn_elmo.testing import make_random_bilm


@pytest.fixture
def corpus(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(grammar_sentences(300, seed=0)) + "\n")
    heldout = tmp_path / "heldout.txt"
    heldout.write_text("\n".join(grammar_sentences(40, seed=1)) + "\n")
    return path, heldout


def test_train_bilm_then_perplexity(tmp_path, corpus, capsys):
    path, heldout = corpus
    out = tmp_path / "elmo"
    argv = ["train-bilm", str(path), "-o", str(out), "--batch-size", "4"]
    argv += ["--unroll-steps", "5", "--negatives", "8", "--max-tokens", "200"]
    assert main([*argv, "--pretokenized", "-q"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tokens"] == 200 and summary["train_perplexity"] > 1
    # Same command again: the run is already complete, nothing is redone.
    assert main([*argv, "--pretokenized", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["tokens"] == 200
    ppl_argv = ["perplexity", str(out), str(heldout), "--pretokenized"]
    assert main([*ppl_argv, "--batch-size", "16", "--unroll-steps", "10"]) == 0
    ppl = json.loads(capsys.readouterr().out)
    assert set(ppl) == {"forward", "backward", "average"}
    assert (
        main(
            ["embed", str(heldout), "-o", str(tmp_path / "x.npy"), "--model", str(out)]
        )
        == 0
    )


def test_progress_lines_on_stderr(tmp_path, corpus, capsys):
    path, _ = corpus
    argv = ["train-bilm", str(path), "-o", str(tmp_path / "e"), "--batch-size", "4"]
    argv += ["--unroll-steps", "5", "--negatives", "8", "--max-tokens", "100", "-v"]
    assert main([*argv, "--pretokenized"]) == 0
    err = capsys.readouterr().err
    assert "[train_bilm] 100/100 tokens" in err and "tokens/s" in err
    assert "train perplexity" in err


@pytest.mark.parametrize(
    "argv, match",
    [
        (["train-bilm", "/nonexistent.txt", "-o", "OUT"], "no such file"),
        (["train-bilm", "CORPUS", "-o", "OUT", "--options", "{bad"], "not valid JSON"),
        (["train-bilm", "CORPUS", "-o", "OUT", "--options", "huge"], "options must be"),
        (["perplexity", "MODEL", "CORPUS"], "no training checkpoint"),
    ],
)
def test_errors_are_one_line(tmp_path, corpus, capsys, argv, match):
    model = make_random_bilm(tmp_path / "m", size="tiny")
    subst = {"OUT": str(tmp_path / "o"), "CORPUS": str(corpus[0]), "MODEL": str(model)}
    assert main([subst.get(a, a) for a in argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("sklearn-elmo: error: ") and "\n" not in err
    assert match in err
