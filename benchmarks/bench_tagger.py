"""ElmoTagger: fit and predict time per 1,000 sentences, and a grid search's cost.

Run: ``python benchmarks/bench_tagger.py [--sentences 2000] [--size small]``

On a generated biLM (``small``: the published small model's dimensions) and
generated sentences with realistic lengths and word frequencies, tagged
with BIO tags (a run of words starting with a vowel is an entity: the
answer is in the characters), in one process:

(a) one embedding pass: ``ElmoTokenVectorizer().fit_transform`` of all
    sentences with an empty cache, i.e. one biLM pass over them at token
    level (the floor of anything that trains on them);
(b) ``ElmoTagger.fit`` on all sentences: with an empty cache (the biLM
    pass plus training) and again with the cache filled (training only),
    for ``hidden="none"`` and ``hidden="bilstm"``;
(c) ``predict`` of unseen sentences (biLM pass plus the network) and again
    from the cache (network only);
(d) ``GridSearchCV`` over ElmoTagger (4 candidates x 3 folds + refit,
    ``hidden="none"``, entity-F1 scoring) with an empty cache; the ratio
    (d)/(a) is what a search costs in units of one biLM pass, with (a)
    measured before and again after the search and averaged.

Times per 1,000 sentences are the measured time scaled by 1,000 / n. The
biLM's one-off costs (warm-up state, compiles per batch shape) and the
network's build and trace are paid before any timing.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import make_sentences
from sklearn.model_selection import GridSearchCV, KFold

import sklearn_elmo
from sklearn_elmo import ElmoTagger, ElmoTokenVectorizer
from sklearn_elmo.metrics import entity_f1_score, entity_f1_scorer
from sklearn_elmo.testing import make_random_bilm

GRID = {"learning_rate": [1e-3, 3e-3], "mix_l2": [0.0, 1e-3]}
FOLDS = 3


def make_tagged(n, seed):
    """Sentences whose runs of words starting with a vowel are entities (BIO tags)."""
    sentences = make_sentences(n, seed=seed)
    tags = []
    for sentence in sentences:
        row, previous = [], "O"
        for word in sentence:
            if word[:1].lower() in "aeiou":
                row.append("I-ENT" if previous != "O" else "B-ENT")
            else:
                row.append("O")
            previous = row[-1]
        tags.append(row)
    return sentences, tags


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--hidden-size", type=int, default=64)
    args = parser.parse_args(argv)

    X, y = make_tagged(args.sentences, seed=0)
    X_new, y_new = make_tagged(args.sentences // 2, seed=1)
    n_tokens = sum(map(len, X))
    per_k = 1000 / len(X)
    entities = sum(t.startswith("B-") for tags in y for t in tags)
    with tempfile.TemporaryDirectory() as tmp:
        model = str(make_random_bilm(Path(tmp) / args.size, size=args.size))
        print(
            f"{args.size} biLM; {len(X)} sentences, {n_tokens} tokens "
            f"({n_tokens / len(X):.1f} per sentence), {entities} entities; "
            f"{args.epochs} epochs, batch 32",
            flush=True,
        )
        params = {"epochs": args.epochs, "random_state": 0}
        bilstm = {"hidden": "bilstm", "hidden_size": args.hidden_size}
        # One-off costs out of the way: warm state, the engine's compiles for
        # the batch shapes of these sentences, the networks' traces.
        ElmoTokenVectorizer(model).fit_transform(X)
        warm_X, warm_y = make_tagged(100, seed=2)
        for extra in ({}, bilstm):
            ElmoTagger(model, **params, **extra).fit(warm_X, warm_y).predict(warm_X)
        sklearn_elmo.clear_cache()

        floor, _ = timed(lambda: ElmoTokenVectorizer(model).fit_transform(X))
        print(
            f"(a) one embedding pass (ElmoTokenVectorizer):  {floor:7.1f} s  "
            f"({floor * per_k:.1f} s per 1,000 sentences, "
            f"{n_tokens / floor:,.0f} tokens/s)",
            flush=True,
        )
        results = {"floor": floor}
        for name, extra in (("none", {}), ("bilstm", bilstm)):
            sklearn_elmo.clear_cache()
            cold, tagger = timed(
                lambda e=extra: ElmoTagger(model, **params, **e).fit(X, y)
            )
            warm, _ = timed(lambda e=extra: ElmoTagger(model, **params, **e).fit(X, y))
            predict_cold, predicted = timed(lambda t=tagger: t.predict(X_new))
            predict_warm, _ = timed(lambda t=tagger: t.predict(X_new))
            f1 = entity_f1_score(y_new, predicted)
            per_new = 1000 / len(X_new)
            print(
                f"(b) fit, hidden={name!r}: {cold * per_k:6.1f} s per 1,000 sentences "
                f"with an empty cache, {warm * per_k:6.1f} s from the cache "
                f"(training only: {warm / args.epochs * per_k:.2f} s per epoch)\n"
                f"(c) predict, hidden={name!r}: {predict_cold * per_new:6.2f} s per "
                f"1,000 new sentences, {predict_warm * per_new:6.2f} s from the cache; "
                f"entity F1 on them {f1:.3f}",
                flush=True,
            )
            results[name] = (cold, warm, predict_cold, predict_warm, f1)

        sklearn_elmo.clear_cache()
        search = GridSearchCV(
            ElmoTagger(model, **params),
            GRID,
            cv=KFold(FOLDS, shuffle=True, random_state=0),
            scoring=entity_f1_scorer,
        )
        searched, _ = timed(lambda: search.fit(X, y))
        info = sklearn_elmo.cache_info()
        print(
            f"(d) GridSearchCV(ElmoTagger), 4 candidates x {FOLDS} folds + refit, "
            f"empty cache: {searched:.1f} s (biLM embedded {info['computed']} "
            f"sentences, {info['hits']} cache hits; best entity F1 "
            f"{search.best_score_:.3f})"
        )
        sklearn_elmo.clear_cache()
        floor_after, _ = timed(lambda: ElmoTokenVectorizer(model).fit_transform(X))
        mean_floor = (floor + floor_after) / 2
        print(
            f"(a) again, after the search: {floor_after:.1f} s; the ratio uses the "
            f"mean of both, {mean_floor:.1f} s (the shared machine's load drifts)"
        )
        print(
            f"(d)/(a) = {searched / mean_floor:.2f}   (13 fits of {args.epochs} epochs)"
        )
        results.update(search=searched, floor_after=floor_after)
    return results


if __name__ == "__main__":
    main()
