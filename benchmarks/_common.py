"""Helpers shared by the benchmarks: realistic sentences and timing."""

import time

import numpy as np

from sklearn_elmo.bilm import warmup_sentences


_SYLLABLES = "ka ro mi te su na lo ve pri stan quel dor ish ment ing tion ble".split()


def _vocabulary(size, rng):
    """English words from the warm-up text, then made-up words up to ``size``."""
    words = sorted({w for s in warmup_sentences() for w in s})
    made_up = set()
    while len(words) + len(made_up) < size:
        k = rng.integers(1, 5)
        made_up.add("".join(rng.choice(_SYLLABLES, size=k)))
    return words + sorted(made_up)


def make_sentences(n, min_len=5, max_len=60, seed=0, vocab_size=30000):
    """``n`` sentences with realistic lengths and word frequencies.

    Lengths are log-normal around 20 tokens, clipped to [min_len, max_len];
    words follow a Zipf law over ``vocab_size`` forms, so repetition within a
    batch is like that of running text (not a small closed vocabulary).
    """
    rng = np.random.default_rng(seed)
    vocab = np.array(_vocabulary(vocab_size, rng), dtype=object)
    rng.shuffle(vocab)
    weights = 1.0 / np.arange(1, len(vocab) + 1)
    weights /= weights.sum()
    lengths = np.clip(rng.lognormal(np.log(20), 0.5, n).astype(int), min_len, max_len)
    return [list(rng.choice(vocab, size=k, p=weights)) for k in lengths]


def best_of(fn, repeat=3):
    """Smallest wall time of ``repeat`` calls of ``fn``."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_gflops(n=2048, repeat=5):
    """The machine's fp32 matrix-multiply rate through TensorFlow, in GFLOP/s."""
    import tensorflow as tf

    a = tf.random.normal((n, n))
    b = tf.random.normal((n, n))
    tf.matmul(a, b).numpy()
    seconds = best_of(lambda: tf.matmul(a, b).numpy(), repeat)
    return 2 * n**3 / seconds / 1e9
