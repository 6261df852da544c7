"""Peak memory of ``ElmoVectorizer.transform`` over many short texts stays bounded.

Run: ``python benchmarks/bench_memory.py [--texts 100000]``

Each configuration runs in a fresh process on the generated ``tiny`` biLM:
generate the short texts (3-15 tokens), fit a vectorizer and warm it up,
empty the embedding cache, reset the process's peak RSS (Linux
``/proc/self/clear_refs``), then transform all the texts. It prints the
growth of the peak RSS over the RSS just before ``transform``, next to the
output array's size and the bytes the in-memory embedding cache holds.

``transform`` streams: texts go through the cache, the biLM and the
encoder in chunks of about 64 MiB of features, so apart from the output
array (and the cache, bounded by its budget, ``cache_memory``) its memory
does not grow with the number of texts. For contrast, ``at once`` rows run
the whole input through one features array, as ``transform`` did before.
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

MiB = 2**20


def short_texts(n, seed=0):
    """``n`` texts of 3-15 words with Zipf-distributed words (vectorized)."""
    import numpy as np
    from _common import _vocabulary

    rng = np.random.default_rng(seed)
    vocab = np.array(_vocabulary(30000, rng), dtype=object)
    rng.shuffle(vocab)
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    lengths = rng.integers(3, 16, n)
    words = rng.choice(vocab, size=int(lengths.sum()), p=weights / weights.sum())
    bounds = np.concatenate([[0], np.cumsum(lengths)])
    return [" ".join(words[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]


def _status_kib(field):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def worker(model, n, pooling, cache_memory, at_once):
    import gc

    import sklearn_elmo
    from sklearn_elmo import ElmoVectorizer

    sklearn_elmo.set_config(cache_memory=cache_memory)
    texts = short_texts(n)
    est = ElmoVectorizer(model, pooling=pooling).fit(texts[:100])
    est.transform(short_texts(3000, seed=1))  # traces and compiles
    sklearn_elmo.clear_cache()
    gc.collect()
    before = _status_kib("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")  # peak RSS := current RSS
    start = time.perf_counter()
    if at_once:  # one features array for every text
        out = est._network().encode(est._inference_features(texts))
    else:
        out = est.transform(texts)
    seconds = time.perf_counter() - start
    peak = _status_kib("VmHWM")
    return {
        "growth": (peak - before) * 1024,
        "before": before * 1024,
        "output": out.nbytes,
        "cache": sklearn_elmo.cache_info()["bytes"],
        "seconds": seconds,
        "tokens": int(est._inference_features(texts[:2000]).n_tokens.sum() * n / 2000),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=100_000)
    parser.add_argument("--worker", nargs=5, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        model, n, pooling, cache_memory, at_once = args.worker
        result = worker(model, int(n), pooling, cache_memory, at_once == "1")
        print("RESULT " + json.dumps(result))
        return result

    from sklearn_elmo.testing import make_random_bilm

    n = args.texts
    configs = [
        (n // 4, "mean", "1GiB", False),
        (n // 2, "mean", "1GiB", False),
        (n, "mean", "1GiB", False),
        (n, "mean", "0", False),
        (n, "mean", "0", True),
        (n, "max", "1GiB", False),
        (n, "max", "0", False),
        (n, "max", "0", True),
    ]
    print(
        f"{'texts':>7} {'pooling':>7} {'cache':>6} {'mode':>9} {'seconds':>7} "
        f"{'RSS before':>10} {'peak growth':>11} {'output':>7} {'cache held':>10}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        model = str(make_random_bilm(Path(tmp) / "tiny", size="tiny"))
        for count, pooling, cache_memory, at_once in configs:
            command = [
                sys.executable,
                __file__,
                "--worker",
                model,
                str(count),
                pooling,
                cache_memory,
                "1" if at_once else "0",
            ]
            done = subprocess.run(command, capture_output=True, text=True, check=True)
            line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
            result = json.loads(line[len("RESULT ") :])
            rows.append(((count, pooling, cache_memory, at_once), result))
            print(
                f"{count:>7} {pooling:>7} {cache_memory:>6} "
                f"{'at once' if at_once else 'streamed':>9} {result['seconds']:7.1f} "
                f"{result['before'] / MiB:7.0f} MiB {result['growth'] / MiB:7.1f} MiB "
                f"{result['output'] / MiB:3.0f} MiB {result['cache'] / MiB:6.1f} MiB",
                flush=True,
            )
    return rows


if __name__ == "__main__":
    main()
