"""The ``train-tagger`` and ``tag`` commands on CoNLL-style files."""

import io
import sys

import joblib
import pytest
from tagging_tasks import context_task

from sklearn_elmo import ElmoTagger
from sklearn_elmo.cli import main
from sklearn_elmo.cli._tagger import read_conll

TRAIN_ARGS = ["--epochs", "20", "--set", "dropout=0", "--set", "learning_rate=0.1"]


def write_conll(path, sentences, tags=None, docstart=True):
    lines = ["-DOCSTART- -X- -X- O", ""] if docstart else []
    for i, sentence in enumerate(sentences):
        for j, token in enumerate(sentence):
            # CoNLL-2003's columns: token, POS, chunk, then the NER tag last.
            lines.append(f"{token} NN I-NP {tags[i][j]}" if tags else token)
        lines.append("")
    path.write_text("\n".join(lines), "utf-8")
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    folder = tmp_path_factory.mktemp("conll")
    X, y = context_task(60, seed=11)
    X_test, y_test = context_task(20, seed=12)
    return {
        "train": write_conll(folder / "train.conll", X, y),
        "test": write_conll(folder / "test.conll", X_test, y_test),
        "tokens": write_conll(folder / "tokens.txt", X_test, docstart=False),
        "X_test": X_test,
        "y_test": y_test,
    }


def run(argv, capsys):
    status = main(argv)
    captured = capsys.readouterr()
    return status, captured.out, captured.err


@pytest.fixture(scope="module")
def trained(tiny_model, data, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "tagger.joblib"
    capture = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "stdout", capture)
        argv = ["train-tagger", str(data["train"]), "-o", str(out)]
        status = main(argv + ["--model", str(tiny_model), "--cv", "2", *TRAIN_ARGS])
    assert status == 0
    return out, capture.getvalue()


def test_read_conll_skips_docstart_and_takes_the_last_field(data):
    sentences, tags = read_conll(data["train"])
    assert len(sentences) == 60 and all(
        len(s) == len(t) for s, t in zip(sentences, tags)
    )
    assert "-DOCSTART-" not in {t for s in sentences for t in s}
    assert {t for ts in tags for t in ts} == {"O", "B-PER"}
    tokens, no_tags = read_conll(data["tokens"], tags="optional")
    assert no_tags is None and tokens == data["X_test"]


def test_train_tagger_reports_cross_validated_entity_f1_and_saves(trained):
    out, report = trained
    assert "60 sentences" in report and "2 tags: B-PER O" in report
    assert "2-fold cross-validated entity F1:" in report
    tagger = joblib.load(out)
    assert isinstance(tagger, ElmoTagger) and tagger.n_iter_ == 20
    assert tagger.dropout == 0 and tagger.learning_rate == 0.1


def test_tag_writes_conll_and_scores_against_gold(trained, data, tmp_path, capsys):
    out = tmp_path / "predicted.conll"
    status, _, err = run(
        ["tag", str(trained[0]), str(data["test"]), "-o", str(out)], capsys
    )
    assert status == 0
    assert "token accuracy" in err and "entity F1" in err
    blocks = out.read_text("utf-8").strip().split("\n\n")
    assert len(blocks) == len(data["X_test"])
    first = [line.split() for line in blocks[0].splitlines()]
    assert [row[0] for row in first] == data["X_test"][0]
    assert [row[1] for row in first] == data["y_test"][0]  # gold, then predicted
    assert {
        row[2] for block in blocks for row in map(str.split, block.splitlines())
    } <= {
        "O",
        "B-PER",
    }


def test_tag_tokens_only_to_stdout(trained, data, capsys):
    status, out, err = run(["tag", str(trained[0]), str(data["tokens"])], capsys)
    assert status == 0 and "accuracy" not in err
    rows = [line.split() for line in out.splitlines() if line]
    assert len(rows) == sum(len(s) for s in data["X_test"])
    assert all(len(row) == 2 for row in rows)


def test_grid_search_on_the_command_line(tiny_model, data, tmp_path, capsys):
    argv = ["train-tagger", str(data["train"]), "-o", str(tmp_path / "t.joblib")]
    argv += ["--model", str(tiny_model), "--cv", "2", "--scoring", "accuracy"]
    argv += [*TRAIN_ARGS, "--grid", "mix_l2=0,0.01", "--epochs", "5"]
    status, out, _ = run(argv, capsys)
    assert status == 0, out
    assert "token accuracy per candidate" in out and "best: {'mix_l2'" in out


@pytest.mark.parametrize(
    "content, match",
    [
        ("a O\nb\n", "line 2: expected a token and its tag"),
        ("\n\n-DOCSTART- O\n\n", "no sentences"),
    ],
)
def test_train_tagger_bad_files(tiny_model, tmp_path, capsys, content, match):
    data = tmp_path / "bad.conll"
    data.write_text(content, "utf-8")
    argv = ["train-tagger", str(data), "-o", str(tmp_path / "m.joblib")]
    status, _, err = run(argv + ["--model", str(tiny_model)], capsys)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("sklearn-elmo: error: ") and match in err


def test_errors_are_one_line(trained, tiny_model, tmp_path, capsys):
    mixed = tmp_path / "mixed.conll"
    mixed.write_text("a O\nb\n", "utf-8")
    cases = [
        (["tag", str(trained[0]), str(mixed)], "line 2 has no tag but line 1 has one"),
        (["tag", str(trained[0]), str(tmp_path / "missing")], "No such file"),
        (["tag", str(tmp_path / "none.joblib"), str(mixed)], "No such file"),
        (
            [
                "train-tagger",
                str(mixed),
                "-o",
                str(tmp_path / "x.txt"),
                "--include-model",
            ],
            "needs an archive",
        ),
    ]
    for argv, match in cases:
        status, _, err = run(argv, capsys)
        assert status == 2 and len(err.strip().splitlines()) == 1, err
        assert match in err
    pos = tmp_path / "pos.conll"
    pos.write_text("a DT\nb NN\n\nc NN\nd VB\n", "utf-8")
    argv = ["train-tagger", str(pos), "-o", str(tmp_path / "p.joblib")]
    status, _, err = run(
        argv + ["--scoring", "entity_f1", "--model", str(tiny_model)], capsys
    )
    assert status == 2 and "needs BIO/BIOES tags" in err


@pytest.mark.parametrize("command", ["train-tagger", "tag"])
def test_help(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: sklearn-elmo {command}") and "CoNLL" in out
