"""The sklearn-elmo command line: every subcommand end to end on the tiny model."""

import csv
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import joblib
import numpy as np
import pytest

from sklearn_elmo import ElmoClassifier, ElmoVectorizer
from sklearn_elmo.cli import build_parser, main
from sklearn_elmo.datasets import load_topics
from sklearn_elmo.testing import make_random_bilm

PROJECT_ROOT = Path(__file__).resolve().parents[1]

COMMANDS = ["demo", "embed", "train", "predict", "export-hub", "make-random-model"]


@pytest.fixture(scope="module")
def data_csv(tmp_path_factory):
    """24 rows of the topics dataset (6 per topic) as a CSV with extra columns."""
    texts, labels = load_topics()
    path = tmp_path_factory.mktemp("data") / "topics.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["id", "text", "label", "score"])
        for i, (text, label) in enumerate(zip(texts[:24], labels[:24])):
            writer.writerow([i, text, label, len(text) / 10])
    return path


@pytest.fixture(scope="module")
def texts_txt(tmp_path_factory):
    path = tmp_path_factory.mktemp("texts") / "texts.txt"
    path.write_text(
        "The cat sat on the mat.\n\nIt rained all day , didn't it?\n", "utf-8"
    )
    return path


@pytest.fixture(scope="module")
def trained(tiny_model, data_csv, tmp_path_factory):
    """A classifier trained through the CLI, and its printed report."""
    out = tmp_path_factory.mktemp("model") / "clf.joblib"
    capture = io.StringIO()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sys, "stdout", capture)
        status = main(
            [
                "train",
                str(data_csv),
                "-o",
                str(out),
                "--model",
                str(tiny_model),
                "--epochs",
                "3",
                "--cv",
                "2",
            ]
        )
    assert status == 0
    return out, capture.getvalue()


def read_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def assert_one_line_error(status, capsys, *fragments):
    err = capsys.readouterr().err
    assert status == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("sklearn-elmo: error: ")
    for fragment in fragments:
        assert fragment in lines[0]


# -- help and usage -------------------------------------------------------------


@pytest.mark.parametrize("command", COMMANDS)
def test_help_of_each_command(command, capsys):
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: sklearn-elmo {command}")
    assert "options:" in out


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    for command in COMMANDS:
        assert command in out


def test_missing_command_or_bad_option_is_a_usage_error(capsys):
    for argv in ([], ["embed"], ["embed", "x.txt", "-o", "x.npy", "--layers", "x"]):
        with pytest.raises(SystemExit) as exc:
            main(argv)
        assert exc.value.code == 2
        assert "error:" in capsys.readouterr().err


def test_parser_defaults():
    args = build_parser().parse_args(["embed", "in.txt", "-o", "out.npy"])
    assert args.model == "https://tfhub.dev/google/elmo/3"
    assert (args.layers, args.pooling, args.batch_size, args.max_tokens) == (
        "all",
        "mean",
        256,
        256,
    )
    args = build_parser().parse_args(
        ["embed", "in.txt", "-o", "o.npy", "--layers", "0,-1", "--max-tokens", "none"]
    )
    assert args.layers == [0, -1] and args.max_tokens is None


# -- make-random-model and export-hub -----------------------------------------------


def test_make_random_model(tmp_path, capsys):
    out = tmp_path / "bilm"
    assert main(["make-random-model", str(out), "--seed", "3"]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["options.json", "weights.hdf5"]
    assert "random weights" in capsys.readouterr().out
    status = main(["make-random-model", str(out)])
    assert_one_line_error(status, capsys, "not an empty directory")


def test_export_hub(tiny_model, tmp_path, capsys):
    out = tmp_path / "module"
    assert main(["export-hub", str(tiny_model), str(out)]) == 0
    assert (out / "tfhub_module.pb").is_file() and (out / "saved_model.pb").is_file()
    assert str(out) in capsys.readouterr().out
    status = main(["export-hub", str(tiny_model), str(out)])  # not empty any more
    assert_one_line_error(status, capsys, "not an empty directory")


# -- embed -------------------------------------------------------------------------


def test_embed_text_file_matches_the_vectorizer(
    tiny_model, texts_txt, tmp_path, capsys
):
    out = tmp_path / "features.npy"
    assert (
        main(["embed", str(texts_txt), "-o", str(out), "--model", str(tiny_model)]) == 0
    )
    features = np.load(out)
    texts = texts_txt.read_text("utf-8").splitlines()
    assert features.shape == (3, 32) and features.dtype == np.float32
    assert not features[1].any()  # the blank line is an empty text
    expected = ElmoVectorizer(tiny_model, mix="average").fit(texts).transform(texts)
    np.testing.assert_allclose(features, expected, rtol=1e-6, atol=1e-7)
    err = capsys.readouterr().err
    assert "[sklearn-elmo] 3/3 texts" in err
    assert f"wrote 3 x 32 float32 features to {out}" in err


class _Terminal(io.StringIO):
    def isatty(self):
        return True


def test_embed_progress_on_a_terminal_is_the_package_reporter(
    tiny_model, texts_txt, tmp_path, monkeypatch
):
    monkeypatch.setattr(sys, "stderr", _Terminal())
    out = tmp_path / "features.npy"
    argv = ["embed", str(texts_txt), "-o", str(out), "--model", str(tiny_model)]
    assert main(argv) == 0
    progress, summary = sys.stderr.getvalue().split("\n", 1)
    # Redrawn in place with a carriage return, finished with a newline.
    assert progress.startswith("\r[sklearn-elmo] 3/3 texts [") and progress.endswith(
        " elapsed"
    )
    assert summary.startswith("sklearn-elmo: wrote 3 x 32 float32 features")


def test_embed_csv_column_with_layers_and_pooling(
    tiny_model, data_csv, tmp_path, capsys
):
    out = tmp_path / "features.npy"
    argv = [
        "embed",
        str(data_csv),
        "--column",
        "text",
        "-o",
        str(out),
        "--model",
        str(tiny_model),
        "--layers",
        "0,2",
        "--pooling",
        "mean_max",
        "--batch-size",
        "5",
        "--quiet",
    ]
    assert main(argv) == 0
    assert np.load(out).shape == (24, 64)
    assert capsys.readouterr().err == ""


def test_embed_reads_stdin(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("one text\nanother one\n"))
    out = tmp_path / "features.npy"
    argv = [
        "embed",
        "-",
        "-o",
        str(out),
        "--model",
        str(tiny_model),
        "--layers",
        "top",
        "-q",
    ]
    assert main(argv) == 0
    assert np.load(out).shape == (2, 32)


# -- train and predict ---------------------------------------------------------


def test_train_prints_cv_scores_and_saves_a_joblib_model(trained, tiny_model):
    path, report = trained
    assert "24 texts" in report
    assert "2-fold cross-validated score:" in report
    assert f"saved the model to {path}" in report
    model = joblib.load(path)
    assert isinstance(model, ElmoClassifier)
    assert model.epochs == 3 and model.model == str(tiny_model)
    assert sorted(model.classes_) == ["computing", "cooking", "sport", "weather"]


def test_predict_writes_labels_and_probabilities(trained, texts_txt, capsys):
    path, _ = trained
    assert main(["predict", str(path), str(texts_txt)]) == 0
    rows = read_csv(capsys.readouterr().out)
    assert len(rows) == 3
    assert list(rows[0]) == [
        "text",
        "label",
        "proba_computing",
        "proba_cooking",
        "proba_sport",
        "proba_weather",
    ]
    assert rows[0]["text"] == "The cat sat on the mat."
    model = joblib.load(path)
    texts = texts_txt.read_text("utf-8").splitlines()
    assert [r["label"] for r in rows] == model.predict(texts).tolist()
    for row in rows:
        total = sum(float(row[k]) for k in row if k.startswith("proba_"))
        assert total == pytest.approx(1.0, abs=1e-4)


def test_predict_csv_to_file_without_probabilities(trained, data_csv, tmp_path, capsys):
    path, _ = trained
    out = tmp_path / "predictions.csv"
    argv = ["predict", str(path), str(data_csv), "--no-proba", "-o", str(out)]
    assert main(argv) == 0
    rows = read_csv(out.read_text("utf-8"))
    assert len(rows) == 24 and list(rows[0]) == ["text", "label"]
    assert f"wrote 24 predictions to {out}" in capsys.readouterr().err


def test_predict_with_a_moved_bilm(trained, tiny_model, texts_txt, tmp_path, capsys):
    path, _ = trained
    moved = shutil.copytree(tiny_model, tmp_path / "moved")
    assert main(["predict", str(path), str(texts_txt), "--bilm", str(moved)]) == 0
    assert len(read_csv(capsys.readouterr().out)) == 3
    other = make_random_bilm(tmp_path / "other", size="tiny", seed=1)
    status = main(["predict", str(path), str(texts_txt), "--bilm", str(other)])
    assert_one_line_error(status, capsys, "fingerprint")


def test_train_grid_over_a_pipeline_into_an_archive(
    tiny_model, data_csv, tmp_path, capsys
):
    out = tmp_path / "pipe.zip"
    argv = [
        "train",
        str(data_csv),
        "-o",
        str(out),
        "--model",
        str(tiny_model),
        "--estimator",
        "pipeline",
        "--epochs",
        "2",
        "--cv",
        "2",
        "--grid",
        "C=0.5,2",
        "--grid",
        "layers=all,[0,2]",
        "--set",
        "elmo__learning_rate=0.01",
        "--include-model",
    ]
    assert main(argv) == 0
    report = capsys.readouterr().out
    assert "2-fold cross-validated score per candidate:" in report
    candidates = [line for line in report.splitlines() if line.startswith("  ")]
    assert len(candidates) == 4 and all("'elmo__layers'" in c for c in candidates)
    assert "best: {" in report
    assert main(["predict", str(out), str(data_csv), "--no-proba"]) == 0
    assert len(read_csv(capsys.readouterr().out)) == 24


def test_train_regressor(tiny_model, data_csv, tmp_path, capsys):
    out = tmp_path / "reg.joblib"
    argv = [
        "train",
        str(data_csv),
        "-o",
        str(out),
        "--model",
        str(tiny_model),
        "--estimator",
        "regressor",
        "--label-column",
        "score",
        "--epochs",
        "2",
        "--cv",
        "0",
    ]
    assert main(argv) == 0
    assert "cross-validated" not in capsys.readouterr().out
    assert main(["predict", str(out), str(data_csv)]) == 0
    rows = read_csv(capsys.readouterr().out)
    assert list(rows[0]) == ["text", "prediction"]
    float(rows[0]["prediction"])


# -- errors: one line, exit status 2 -------------------------------------------


@pytest.mark.parametrize(
    "argv, fragments",
    [
        (
            ["embed", "{tmp}/missing.txt", "-o", "{tmp}/x.npy"],
            ["missing.txt", "No such file"],
        ),
        (["embed", "{texts}", "-o", "{tmp}/x.txt"], ["must end with .npy"]),
        (["embed", "{texts}", "-o", "{tmp}/no/dir/x.npy"], ["no such directory"]),
        (
            ["embed", "{csv}", "--column", "body", "-o", "{tmp}/x.npy"],
            ["no column 'body'"],
        ),
        (
            ["embed", "{texts}", "-o", "{tmp}/x.npy", "--model", "{tmp}/nowhere"],
            ["nowhere"],
        ),
        (
            [
                "embed",
                "{texts}",
                "-o",
                "{tmp}/x.npy",
                "--model",
                "{model}",
                "--layers",
                "5",
            ],
            ["out of range"],
        ),
        (
            [
                "embed",
                "{texts}",
                "-o",
                "{tmp}/x.npy",
                "--model",
                "{model}",
                "--initial-state",
                "zeros",
                "--pooling",
                "mean",
            ],
            None,
        ),
        (["train", "{texts}", "-o", "{tmp}/m.joblib"], ["no column 'text'"]),
        (
            ["train", "{csv}", "-o", "{tmp}/m.joblib", "--label-column", "y"],
            ["no column 'y'"],
        ),
        (
            [
                "train",
                "{csv}",
                "-o",
                "{tmp}/m.joblib",
                "--model",
                "{model}",
                "--grid",
                "foo=1,2",
            ],
            ["unknown parameter 'foo'"],
        ),
        (["train", "{csv}", "-o", "{tmp}/m.joblib", "--set", "epochs"], ["NAME=VALUE"]),
        (["train", "{csv}", "-o", "{tmp}/m.joblib", "--include-model"], [".zip"]),
        (
            ["train", "{csv}", "-o", "{tmp}/m.joblib", "--estimator", "regressor"],
            ["must hold numbers"],
        ),
        (
            [
                "train",
                "{csv}",
                "-o",
                "{tmp}/m.joblib",
                "--model",
                "{model}",
                "--set",
                "epochs=-1",
                "--cv",
                "0",
            ],
            ["epochs"],
        ),
        (["predict", "{tmp}/none.joblib", "{texts}"], ["none.joblib", "No such file"]),
        (["predict", "{csv}", "{texts}"], ["not a model saved by"]),
    ],
)
def test_errors_are_one_line(
    argv, fragments, tiny_model, data_csv, texts_txt, tmp_path, capsys
):
    names = {"tmp": tmp_path, "texts": texts_txt, "csv": data_csv, "model": tiny_model}
    argv = [a.format(**names) for a in argv]
    status = main(argv)
    if fragments is None:  # a control: the same command succeeds
        assert status == 0
        return
    assert_one_line_error(status, capsys, *fragments)


# -- python -m sklearn_elmo ----------------------------------------------------


def run_module(*args):
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(PROJECT_ROOT), env.get("PYTHONPATH", "")])
    env.pop(
        "TF_CPP_MIN_LOG_LEVEL", None
    )  # the CLI hides TensorFlow's start-up logs itself
    return subprocess.run(  # noqa: PLW1510 (the tests check the status)
        [sys.executable, "-m", "sklearn_elmo", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def test_python_m_embed_in_a_subprocess(tiny_model, texts_txt, tmp_path):
    out = tmp_path / "features.npy"
    result = run_module(
        "embed", str(texts_txt), "-o", str(out), "--model", str(tiny_model)
    )
    assert result.returncode == 0, result.stderr
    assert np.load(out).shape == (3, 32)
    assert result.stdout == ""
    # Only our own lines (progress and summary): TensorFlow's C++ start-up
    # chatter is hidden.
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("[sklearn-elmo] 3/3 texts"), result.stderr
    assert lines[1:] and all(line.startswith("sklearn-elmo: ") for line in lines[1:]), (
        result.stderr
    )


def test_python_m_error_exit_status(tmp_path):
    result = run_module("predict", str(tmp_path / "missing.joblib"), "x.txt")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"sklearn-elmo: error: {tmp_path / 'missing.joblib'}: No such file or directory"
    ]
    assert "Traceback" not in result.stderr
