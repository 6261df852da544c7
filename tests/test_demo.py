"""The demo: end to end on the tiny generated model with reduced sizes."""

import io

import joblib
import pytest

from sklearn_elmo import cli, demo
from sklearn_elmo.datasets import load_topics, topics_csv


def test_topics_dataset():
    texts, labels = load_topics()
    assert len(texts) == len(labels) == 300
    assert {label: labels.count(label) for label in set(labels)} == {
        "computing": 75,
        "cooking": 75,
        "sport": 75,
        "weather": 75,
    }
    assert len(set(texts)) == 300 and all(t.strip() == t and t for t in texts)
    assert topics_csv().is_file()


def test_demo_runs_end_to_end(tmp_path):
    out = io.StringIO()
    summary = demo.run_demo(
        None, size="tiny", work_dir=tmp_path, folds=2, epochs=1, n_texts=48, out=out
    )
    report = out.getvalue()
    # It says which biLM it used, and that random weights carry no signal.
    assert "generated 'tiny' model with RANDOM weights" in report
    assert "no linguistic signal" in report
    assert f"written to {tmp_path / 'random-tiny-seed0'}" in report
    for step in (
        "[1/4] TF-IDF",
        "[2/4] GridSearchCV: Pipeline",
        "[3/4] GridSearchCV: ElmoClassifier",
        "Layer weights",
        "[4/4] Saved",
    ):
        assert step in report
    assert set(summary["scores"]) == {"tfidf", "pipeline", "classifier"}
    assert all(0.0 <= s <= 1.0 for s in summary["scores"].values())
    assert summary["generated"] and summary["output"] == tmp_path / "demo-model.joblib"
    model = joblib.load(summary["output"])
    assert model.predict(demo.NEW_TEXTS).tolist() == summary["predictions"]
    for text, label in zip(demo.NEW_TEXTS, summary["predictions"]):
        assert f"{label:<10}" in report and text in report


def test_random_model_is_generated_once(tmp_path):
    path, generated = demo.random_model(tmp_path, "tiny")
    assert generated and sorted(p.name for p in path.iterdir()) == [
        "options.json",
        "weights.hdf5",
    ]
    assert demo.random_model(tmp_path, "tiny") == (path, False)
    (path / "weights.hdf5").unlink()  # an incomplete folder is written again
    assert demo.random_model(tmp_path, "tiny") == (path, True)
    assert [p.name for p in tmp_path.iterdir()] == ["random-tiny-seed0"]


def test_default_work_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("SKLEARN_ELMO_HOME", str(tmp_path / "home"))
    assert demo.default_work_dir() == tmp_path / "home"
    monkeypatch.delenv("SKLEARN_ELMO_HOME")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert demo.default_work_dir() == tmp_path / "cache" / "sklearn-elmo"


def test_demo_command_passes_its_options(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(demo, "run_demo", lambda *a, **k: calls.append((a, k)))
    argv = [
        "demo",
        "--random",
        "--size",
        "tiny",
        "--work-dir",
        str(tmp_path),
        "--folds",
        "2",
        "--epochs",
        "3",
        "--output",
        str(tmp_path / "m.joblib"),
    ]
    assert cli.main(argv) == 0
    ((args, kwargs),) = calls
    assert args == (None,)  # --random: a generated model
    calls.clear()
    assert cli.main(["demo"]) == 0
    assert calls[0][0] == ("en-mini",)  # the bundled biLM by default
    calls[:] = [(args, kwargs)]
    assert kwargs == {
        "size": "tiny",
        "initial_state": "auto",
        "work_dir": tmp_path,
        "output": tmp_path / "m.joblib",
        "folds": 2,
        "epochs": 3,
        "random_state": 0,
    }


def test_demo_with_an_unreachable_model_is_a_one_line_error(tmp_path, capsys):
    source = tmp_path / "nowhere"
    status = cli.main(["demo", "--model", str(source), "--work-dir", str(tmp_path)])
    assert status == 2
    captured = capsys.readouterr()
    assert captured.out.startswith(f"biLM: {source}\n")  # a given model: no generation
    assert (
        "RANDOM" not in captured.out and not (tmp_path / "random-small-seed0").exists()
    )
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("sklearn-elmo: error: ")


def test_demo_uses_the_bundled_en_mini_and_says_where_it_comes_from(tmp_path):
    out = io.StringIO()
    summary = demo.run_demo(work_dir=tmp_path, folds=2, epochs=1, n_texts=48, out=out)
    report = out.getvalue()
    assert "biLM: en-mini" in report and "RANDOM" not in report
    assert "held-out perplexity" in report and "openly licensed English" in report
    assert not summary["generated"]


@pytest.mark.parametrize("size", ["medium", "huge"])
def test_demo_rejects_other_sizes(size, tmp_path):
    with pytest.raises(ValueError, match="size must be one of"):
        demo.run_demo(None, size=size, work_dir=tmp_path, out=io.StringIO())
