"""The end-to-end demo behind ``sklearn-elmo demo``.

:func:`run_demo` trains text classifiers on the bundled topics dataset
(:func:`sklearn_elmo.datasets.load_topics`) with scikit-learn's own tools:
a TF-IDF + logistic regression baseline, then ``GridSearchCV`` over a
``Pipeline`` of :class:`~sklearn_elmo.ElmoVectorizer` and
``LogisticRegression`` and over an :class:`~sklearn_elmo.ElmoClassifier`. It
prints cross-validated accuracies and the learned layer weights, saves the
best ELMo model with joblib, reloads it and classifies a few new sentences.

Without a ``model`` it uses a generated biLM with random weights (written
once to a work directory and found there on later runs). Random weights carry
no linguistic signal: the ELMo scores then only show what a trained head can
pick out of random character features. Pass any source :func:`load_bilm`
accepts (a bilm-tf / AllenNLP / NLPL weights directory, a TF Hub handle or
module directory) to run the same demo with a real ELMo.
"""

import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from ._paths import cache_root
from ._tf_logging import quiet_tensorflow

__all__ = ["NEW_TEXTS", "default_work_dir", "run_demo"]

#: Sentences the reloaded demo model classifies (not in the dataset).
NEW_TEXTS = [
    "Bake the bread until the crust is brown and crisp.",
    "The keeper dived to his left and saved the shot.",
    "Expect strong winds and heavy rain along the coast tomorrow.",
    "The laptop shows an error message after the latest update.",
]

_SIZE_NOTES = {
    "tiny": "test-sized: 3 layers of width 32",
    "small": "the published small ELMo's dimensions: LSTM 1024/128, 3 layers x 256",
}


def default_work_dir():
    """Where the demo keeps its generated biLM and saved model.

    ``$SKLEARN_ELMO_HOME`` if set, else ``$XDG_CACHE_HOME/sklearn-elmo``, else
    ``~/.cache/sklearn-elmo``.

    Returns
    -------
    path : pathlib.Path
    """
    return cache_root()


def random_model(work_dir, size="small", seed=0):
    """Find, or generate once, a random-weight biLM under ``work_dir``.

    Returns
    -------
    path : pathlib.Path
        Directory with ``options.json`` and ``weights.hdf5``.
    generated : bool
        Whether it was written by this call.
    """
    from .testing import make_random_bilm

    path = Path(work_dir) / f"random-{size}-seed{seed}"
    if (path / "options.json").is_file() and (path / "weights.hdf5").is_file():
        return path, False
    path.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{path.name}-", dir=path.parent))
    try:
        make_random_bilm(staging / "model", size=size, seed=seed)
        if path.exists():
            shutil.rmtree(path)  # a partial earlier attempt
        os.replace(staging / "model", path)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return path, True


def _provenance(source):
    """Lines describing a bundled biLM (data, size, perplexity), else []."""
    import json

    from .bilm._sources import BUNDLED_MODELS, bundled_model_dir

    if source not in BUNDLED_MODELS or Path(os.path.expanduser(source)).exists():
        return []
    card = json.loads((bundled_model_dir(source) / "provenance.json").read_text())
    ppl = card["heldout_perplexity"]
    return [
        "      shipped with sklearn-elmo (docs/model-card.md): trained on "
        f"{card['training']['tokens'] / 1e6:.1f}M tokens",
        "      of openly licensed English (Debian descriptions, WordNet, State of the",
        "      Union, Austen, Moby-Dick, WEB Bible, docs, dictionaries);",
        f"      {card['options'].split(':')[0]}: LSTM 2 x 512 cells -> 128, "
        f"held-out perplexity {ppl['average']:.0f}",
        f"      (forward {ppl['forward']:.0f}, backward {ppl['backward']:.0f}); far "
        "smaller than the published ELMo models.",
    ]


def _format_params(params):
    return ", ".join(f"{k.split('__')[-1]}={v!r}" for k, v in params.items())


def _print_search(search, out):
    results = search.cv_results_
    for i in np.argsort(results["rank_test_score"], kind="stable"):
        print(
            f"    {results['mean_test_score'][i]:.3f} +/- "
            f"{results['std_test_score'][i]:.3f}  "
            f"{_format_params(results['params'][i])}",
            file=out,
        )


def _layer_weights(estimator):
    weights = np.round(estimator.mix_weights_, 3).tolist()
    layers = estimator.layers_.tolist()
    return ", ".join(f"layer {j}: {w:.3f}" for j, w in zip(layers, weights)) + (
        f"; gamma {estimator.gamma_:.3f}"
    )


def run_demo(
    model="en-mini",
    *,
    size="small",
    initial_state="auto",
    work_dir=None,
    output=None,
    folds=3,
    epochs=20,
    n_texts=None,
    random_state=0,
    out=None,
):
    """Run the demo: baseline, two grid searches, save, reload, predict.

    TensorFlow's start-up messages and Python warnings are hidden while it
    runs, unless ``TF_CPP_MIN_LOG_LEVEL`` is set below 2.

    Parameters
    ----------
    model : str, path-like or None, default="en-mini"
        The biLM, as :func:`sklearn_elmo.load_bilm` accepts it; the default
        is the small English biLM shipped with the package. None generates
        (once) a random-weight model of ``size`` under ``work_dir``.
    size : {"small", "tiny"}, default="small"
        Size of the generated model when ``model`` is None.
    initial_state : {"auto", "warm", "zeros"}, default="auto"
        As for :func:`sklearn_elmo.load_bilm`: "auto" is "zeros" for TF Hub
        sources (the only state they support) and "warm" otherwise.
    work_dir : str, path-like or None, default=None
        Where the generated model and the saved classifier go; None for
        :func:`default_work_dir`.
    output : str, path-like or None, default=None
        Path of the saved model; None for ``work_dir / "demo-model.joblib"``.
    folds : int, default=3
        Cross-validation folds (stratified, shuffled).
    epochs : int, default=20
        Training epochs of the ELMo estimators.
    n_texts : int or None, default=None
        Use only the first ``n_texts`` rows of the dataset (they interleave
        the topics), for quick runs.
    random_state : int, default=0
        Seeds the folds and the training.
    out : file-like or None, default=None
        Where the report goes; None for ``sys.stdout``.

    Returns
    -------
    summary : dict
        ``"model"`` (the source used), ``"generated"`` (bool), ``"scores"``
        (mean cross-validated accuracy of ``"tfidf"``, ``"pipeline"`` and
        ``"classifier"``), ``"best"`` (which ELMo search won), ``"output"``
        (the saved model's path), ``"predictions"`` (labels of
        :data:`NEW_TEXTS` from the reloaded model) and ``"seconds"``.

    Examples
    --------
    A quick run on the tiny generated model (the command line uses "small");
    it fits 14 models, so it is not run as a doctest (tests/test_demo.py
    runs it):

    >>> import io, tempfile
    >>> from sklearn_elmo.demo import run_demo
    >>> summary = run_demo(size="tiny", work_dir=tempfile.mkdtemp(), folds=2,
    ...                    epochs=1, n_texts=48, out=io.StringIO())  # doctest: +SKIP
    >>> sorted(summary["scores"])  # doctest: +SKIP
    ['classifier', 'pipeline', 'tfidf']
    """
    if size not in _SIZE_NOTES:  # before TensorFlow's import
        raise ValueError(f"size must be one of {sorted(_SIZE_NOTES)}, got {size!r}")
    with quiet_tensorflow():
        return _run_demo(
            model,
            size=size,
            initial_state=initial_state,
            work_dir=work_dir,
            output=output,
            folds=folds,
            epochs=epochs,
            n_texts=n_texts,
            random_state=random_state,
            out=out,
        )


def _run_demo(
    model,
    *,
    size,
    initial_state,
    work_dir,
    output,
    folds,
    epochs,
    n_texts,
    random_state,
    out,
):
    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
    from sklearn.pipeline import Pipeline, make_pipeline

    from .bilm import load_bilm
    from .datasets import load_topics
    from .estimators import ElmoClassifier, ElmoVectorizer

    out = sys.stdout if out is None else out
    start = time.perf_counter()
    work_dir = default_work_dir() if work_dir is None else Path(work_dir)
    output = work_dir / "demo-model.joblib" if output is None else Path(output)

    def say(*lines):
        for line in lines:
            print(line, file=out)
        out.flush()

    def seconds(t):
        return f"({time.perf_counter() - t:.1f} s)"

    # -- the biLM -----------------------------------------------------------
    generated = model is None
    if generated:
        source, fresh = random_model(work_dir, size)
        say(
            f"biLM: a generated '{size}' model with RANDOM weights",
            f"      ({_SIZE_NOTES[size]}),",
            f"      {'written to' if fresh else 'found in'} {source}",
            "      Random weights carry no linguistic signal: the ELMo scores below",
            "      only show what a trained head picks out of random character",
            "      features. Run `sklearn-elmo demo` (the bundled en-mini) or",
            "      `--model SOURCE` with a real ELMo to see real ELMo features.",
        )
    else:
        source = model
        say(f"biLM: {source}")
        provenance = _provenance(source)
        if provenance:
            say(*provenance)
    bilm = load_bilm(source, initial_state=initial_state)
    initial_state = bilm.initial_state  # resolved: what the estimators record
    say(
        f"      {bilm.n_layers} layers of width {bilm.dim}, initial_state="
        f"{initial_state!r}, fingerprint {bilm.fingerprint[:16]}"
    )

    # -- the data -----------------------------------------------------------
    texts, labels = load_topics()
    if n_texts is not None:
        texts, labels = texts[:n_texts], labels[:n_texts]
    classes, counts = np.unique(labels, return_counts=True)
    cv = StratifiedKFold(folds, shuffle=True, random_state=random_state)
    say(
        "",
        f"data: {len(texts)} short texts in {len(classes)} topics "
        f"({', '.join(classes)}), bundled with the package;",
        f"      accuracy by {folds}-fold stratified cross-validation; chance (largest "
        f"class) = {counts.max() / len(texts):.3f}",
    )

    # -- baseline -----------------------------------------------------------
    t = time.perf_counter()
    tfidf = make_pipeline(TfidfVectorizer(), LogisticRegression(C=10.0, max_iter=1000))
    tfidf_scores = cross_val_score(tfidf, texts, labels, cv=cv)
    say(
        "",
        f"[1/4] TF-IDF + LogisticRegression baseline: {tfidf_scores.mean():.3f} +/- "
        f"{tfidf_scores.std():.3f} {seconds(t)}",
    )

    elmo_args = {
        "model": source,
        "initial_state": initial_state,
        "epochs": epochs,
        "learning_rate": 1e-2,
        "random_state": random_state,
    }

    # -- GridSearchCV over a Pipeline ----------------------------------------
    t = time.perf_counter()
    pipeline = Pipeline(
        [
            ("elmo", ElmoVectorizer(**elmo_args)),
            ("clf", LogisticRegression(max_iter=1000)),
        ]
    )
    pipe_grid = {"elmo__pooling": ["mean", "mean_max"], "clf__C": [1.0, 10.0]}
    pipe_search = GridSearchCV(pipeline, pipe_grid, cv=cv, error_score="raise")
    say(
        "",
        "[2/4] GridSearchCV: Pipeline(ElmoVectorizer, LogisticRegression), grid "
        f"{pipe_grid}",
    )
    pipe_search.fit(texts, labels)
    _print_search(pipe_search, out)
    say(f"    best: {_format_params(pipe_search.best_params_)} {seconds(t)}")

    # -- GridSearchCV over an ElmoClassifier ---------------------------------
    t = time.perf_counter()
    clf_grid = {"layer_norm": [False, True]}
    clf_search = GridSearchCV(
        ElmoClassifier(pooling="mean_max", **elmo_args),
        clf_grid,
        cv=cv,
        error_score="raise",
    )
    say("", f"[3/4] GridSearchCV: ElmoClassifier(pooling='mean_max'), grid {clf_grid}")
    clf_search.fit(texts, labels)
    _print_search(clf_search, out)
    say(f"    best: {_format_params(clf_search.best_params_)} {seconds(t)}")

    # -- summary ------------------------------------------------------------
    scores = {
        "tfidf": float(tfidf_scores.mean()),
        "pipeline": float(pipe_search.best_score_),
        "classifier": float(clf_search.best_score_),
    }
    say(
        "",
        f"Cross-validated accuracy ({folds} folds):",
        f"    TF-IDF + LogisticRegression           {scores['tfidf']:.3f}",
        f"    ElmoVectorizer + LogisticRegression   {scores['pipeline']:.3f}",
        f"    ElmoClassifier                        {scores['classifier']:.3f}",
        f"    chance                                {counts.max() / len(texts):.3f}",
    )
    if generated:
        say("    (random-weight biLM: no real linguistic signal in the ELMo rows)")
    vectorizer = pipe_search.best_estimator_.named_steps["elmo"]
    say(
        "",
        "Layer weights of the best models (softmax-normalised; layer 0 is the token",
        "embedding, the others the biLSTM layers):",
        f"    ElmoVectorizer (mix learned from y): {_layer_weights(vectorizer)}",
        f"    ElmoClassifier: {_layer_weights(clf_search.best_estimator_)}",
    )

    # -- save, reload, predict ------------------------------------------------
    t = time.perf_counter()
    if scores["pipeline"] >= scores["classifier"]:
        best, best_name = pipe_search.best_estimator_, "pipeline"
    else:
        best, best_name = clf_search.best_estimator_, "classifier"
    output.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(best, output)
    reloaded = joblib.load(output)
    proba = reloaded.predict_proba(NEW_TEXTS)
    predictions = reloaded.classes_[np.argmax(proba, axis=1)]
    label = (
        "ElmoVectorizer + LogisticRegression"
        if best_name == "pipeline"
        else "ElmoClassifier"
    )
    say(
        "",
        f"[4/4] Saved the best ELMo model ({label}) with joblib to {output}",
        f"      ({output.stat().st_size / 1024:.0f} KiB; it refers to the biLM by "
        "path), reloaded it and predicted:",
    )
    for text, predicted, p in zip(NEW_TEXTS, predictions, proba.max(axis=1)):
        say(f"    {predicted:<10} p={p:.2f}  {text}")
    say(f"    {seconds(t)}", "", f"Try: sklearn-elmo predict {output} your_texts.txt")
    total = time.perf_counter() - start
    say(f"Demo finished in {total:.1f} s.")
    return {
        "model": str(source),
        "generated": generated,
        "scores": scores,
        "best": best_name,
        "output": output,
        "predictions": [str(p) for p in predictions],
        "seconds": total,
    }
