"""Corpus embedding on Dask against local ``transform``, at the same core count.

Run: ``python benchmarks/bench_dask.py [--size small] [--texts 1600] [--partitions 4]``

On a generated biLM (``--size``, default the published small model's
dimensions) and ``--texts`` generated texts (about 20 tokens each), it
measures the throughput of ``ElmoVectorizer.transform``:

- locally, in a fresh process with TensorFlow on 1 thread and on 2 threads
  (``SKLEARN_ELMO_NUM_THREADS``): all texts in one call, and in one call per
  partition (smaller calls batch less well, which is not Dask's doing);
- with ``sklearn_elmo.dask.apply_partitions`` on a ``distributed.LocalCluster``
  (loopback) of 1 and of 2 single-thread worker processes
  (``TensorFlowThreads`` plugin), texts in a Bag of ``--partitions``
  partitions, timed from submitting the graph to the gathered result.

Every timed pass runs after a warm-up pass over the same texts (biLM loaded,
XLA compiled for the batch shapes) and starts cold (``clear_cache()`` in each
process: no embedding or token cache). It prints texts/s, tokens/s and the
overhead of Dask at the same core count: (1 worker) / (local, 1 thread) and
(2 workers) / (local, 2 threads), as ratios of wall times, against both local
forms.
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


def _local(model, texts_file, repeat, partitions):
    """In a fresh process: best cold wall times, all texts at once and by partition."""
    import numpy as np

    import sklearn_elmo
    from sklearn_elmo import ElmoVectorizer

    texts = json.loads(Path(texts_file).read_text())
    parts = [list(p) for p in np.array_split(np.array(texts, dtype=object), partitions)]
    vec = ElmoVectorizer(model).fit(texts[:1])
    runs = {
        "whole": lambda: vec.transform(texts),
        "by partition": lambda: [vec.transform(p) for p in parts],
    }
    for run in runs.values():  # warm-up: biLM, XLA shapes
        run()
    best = dict.fromkeys(runs, float("inf"))
    for _ in range(repeat):
        for name, run in runs.items():
            sklearn_elmo.clear_cache()
            start = time.perf_counter()
            run()
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def local(model, texts_file, threads, repeat, partitions):
    env = {
        **os.environ,
        "SKLEARN_ELMO_NUM_THREADS": str(threads),
        "TF_CPP_MIN_LOG_LEVEL": "2",
        "PYTHONPATH": os.pathsep.join(
            filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])
        ),
    }
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--_local",
            model,
            texts_file,
            str(repeat),
            str(partitions),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-3000:])
    return json.loads(done.stdout.strip().splitlines()[-1])


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
        args = sys.argv[2:]
        print(json.dumps(_local(args[0], args[1], int(args[2]), int(args[3]))))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", help="make_random_bilm size")
    parser.add_argument("--texts", type=int, default=1600)
    parser.add_argument("--partitions", type=int, default=4)
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
        times = local(model, str(texts_file), threads, args.repeat, args.partitions)
        results[f"local, {threads} thread(s), all texts"] = times["whole"]
        results[f"local, {threads} thread(s), by partition"] = times["by partition"]
    for n_workers in (1, 2):
        results[f"dask, {n_workers} x 1-thread worker(s)"] = on_dask(
            model, texts, n_workers, args.partitions, args.repeat
        )
    print(f"{'configuration':<38} {'seconds':>8} {'texts/s':>9} {'tokens/s':>9}")
    for name, seconds in results.items():
        print(
            f"{name:<38} {seconds:8.2f} {len(texts) / seconds:9.1f} "
            f"{n_tokens / seconds:9.0f}"
        )
    r = results
    one, two = r["dask, 1 x 1-thread worker(s)"], r["dask, 2 x 1-thread worker(s)"]
    print("wall-time ratios (1.00 = no overhead):")
    print(
        f"  1 core:  dask 1 worker / local all texts   = "
        f"{one / r['local, 1 thread(s), all texts']:.2f}"
    )
    print(
        f"  1 core:  dask 1 worker / local by partition = "
        f"{one / r['local, 1 thread(s), by partition']:.2f}"
    )
    print(
        f"  2 cores: dask 2 workers / local all texts   = "
        f"{two / r['local, 2 thread(s), all texts']:.2f}"
    )
    print(
        f"  2 cores: dask 2 workers / local by partition = "
        f"{two / r['local, 2 thread(s), by partition']:.2f}"
    )
    print(f"  dask scaling: 2 workers vs 1 = {one / two:.2f}x")
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
