"""Corpus embedding on Dask against local ``transform``, at the same core count.

Run: ``python benchmarks/bench_dask.py [--size small] [--texts 800] [--repeat 2]``

On a generated biLM (``--size``, default the published small model's
dimensions) and ``--texts`` generated texts (about 20 tokens each), it
measures the throughput of ``ElmoVectorizer.transform``:

- locally, in a fresh process with TensorFlow on 1 thread and on 2 threads
  (``SKLEARN_ELMO_NUM_THREADS``);
- with ``sklearn_elmo.dask.apply_partitions`` on a ``distributed.LocalCluster``
  (loopback) of 1 and of 2 single-thread worker processes
  (``TensorFlowThreads`` plugin), texts in a Bag of ``--partitions``
  partitions, timed from submitting the graph to the gathered result.

Every timed pass runs after a warm-up pass over the same texts (biLM loaded,
XLA compiled for the batch shapes) and starts cold (``clear_cache()`` in each
process: no embedding or token cache). It prints texts/s, tokens/s and the
overhead of Dask at the same core count: (1 worker) / (local, 1 thread) and
(2 workers) / (local, 2 threads), as ratios of wall times.
"""

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import make_sentences

ROOT = Path(__file__).resolve().parents[1]


def _local(model, texts_file, repeat):
    """In a fresh process: best wall time of a cold local transform."""
    import sklearn_elmo
    from sklearn_elmo import ElmoVectorizer

    texts = json.loads(Path(texts_file).read_text())
    vec = ElmoVectorizer(model).fit(texts[:1])
    vec.transform(texts)  # warm-up: biLM, XLA shapes
    best = float("inf")
    for _ in range(repeat):
        sklearn_elmo.clear_cache()
        start = time.perf_counter()
        vec.transform(texts)
        best = min(best, time.perf_counter() - start)
    return best


def local(model, texts_file, threads, repeat):
    env = {
        **os.environ,
        "SKLEARN_ELMO_NUM_THREADS": str(threads),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    done = subprocess.run(
        [sys.executable, __file__, "--_local", model, texts_file, str(repeat)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return float(done.stdout.strip().splitlines()[-1])


def on_dask(model, texts, n_workers, partitions, repeat):
    import dask.bag as db
    import distributed
    import numpy as np

    import sklearn_elmo
    from sklearn_elmo import ElmoVectorizer
    from sklearn_elmo.dask import TensorFlowThreads, apply_partitions

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    cluster = distributed.LocalCluster(
        n_workers=n_workers,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
        lifetime="2 hours",
    )
    try:
        with distributed.Client(cluster) as client:
            client.register_plugin(TensorFlowThreads())
            vec = ElmoVectorizer(model).fit(texts[:1])
            meta = np.empty((0, len(vec.get_feature_names_out())), np.float32)
            bag = db.from_sequence(texts, npartitions=partitions)
            sizes = bag.map_partitions(lambda p: [len(p)]).compute()

            def run():
                X = apply_partitions(vec, bag, lengths=sizes, meta=meta)
                return client.compute(X).result(timeout=3600)

            # Warm up every worker on every partition's batch shapes.
            for _ in range(n_workers):
                client.run(sklearn_elmo.clear_cache)
                run()
            best = float("inf")
            for _ in range(repeat):
                client.run(sklearn_elmo.clear_cache)
                start = time.perf_counter()
                out = run()
                best = min(best, time.perf_counter() - start)
            assert out.shape == (len(texts), meta.shape[1])
    finally:
        cluster.close(timeout=60)
    return best


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--_local":
        print(_local(sys.argv[2], sys.argv[3], int(sys.argv[4])))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", help="make_random_bilm size")
    parser.add_argument("--texts", type=int, default=800)
    parser.add_argument("--partitions", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from sklearn_elmo.testing import make_random_bilm
    from sklearn_elmo.tokenize import default_tokenizer

    work = Path(tempfile.mkdtemp(prefix="bench-dask-"))
    model = str(make_random_bilm(work / "model", size=args.size))
    texts = [" ".join(s) for s in make_sentences(args.texts, seed=0)]
    n_tokens = sum(len(default_tokenizer(t)) for t in texts)
    texts_file = work / "texts.json"
    texts_file.write_text(json.dumps(texts))
    print(
        f"{len(texts)} texts, {n_tokens} tokens, generated '{args.size}' biLM, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}"
    )

    results = {}
    for threads in (1, 2):
        results[f"local, {threads} TF thread(s)"] = local(
            model, str(texts_file), threads, args.repeat
        )
    for n_workers in (1, 2):
        results[f"dask, {n_workers} x 1-thread worker(s)"] = on_dask(
            model, texts, n_workers, args.partitions, args.repeat
        )
    print(f"{'configuration':<34} {'seconds':>8} {'texts/s':>9} {'tokens/s':>9}")
    for name, seconds in results.items():
        print(
            f"{name:<34} {seconds:8.2f} {len(texts) / seconds:9.1f} "
            f"{n_tokens / seconds:9.0f}"
        )
    t = list(results.values())
    print(f"overhead at 1 core:  dask 1 worker / local 1 thread  = {t[2] / t[0]:.2f}")
    print(f"overhead at 2 cores: dask 2 workers / local 2 threads = {t[3] / t[1]:.2f}")
    print(f"dask scaling: 2 workers vs 1 = {t[2] / t[3]:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
