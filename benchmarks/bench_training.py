"""Training tokens/s of ``train_bilm`` against the matmul rate and simple_elmo.

Run: ``python benchmarks/bench_training.py [--sizes mini small] [--steps 30]
[--peer-python /work/bench-venv/bin/python]``

For each size, the same generated corpus (Zipf-distributed words, log-normal
sentence lengths: benchmarks/_common.py), the same vocabulary file, batch
64, unroll 20 and 4096 negatives go through

- ``train_bilm`` here: tokens/s, and the achieved training FLOP rate
  (forward + backward FLOPs actually executed: the char CNN on each batch's
  distinct tokens up to the longest one's characters, both LSTM stacks, the
  sampled softmax) as a ratio of the fp32 matmul rate measured in the same
  run just before;
- simple_elmo 0.9.2's trainer (bilm-tf's code on TF 2 through
  ``tf.compat.v1``) in its own process, from the Python given by
  ``--peer-python`` (a venv with ``simple_elmo`` and ``tf-keras``), run with
  ``TF_USE_LEGACY_KERAS=1`` and eager execution disabled. Its module is copied
  into a temporary directory and one line patched there
  (``train_perplexity += loss`` fails on current TensorFlow; it becomes
  ``train_perplexity = train_perplexity + loss``).

Both are timed the same way: a stamp as each step's batch is fetched (our
``Windows.batch``, simple_elmo's data generator), the first two steps
skipped (tracing, graph set-up); tokens/s is that of the median step, which
a machine shared with other jobs disturbs less than the mean, and tokens per
CPU-second is over all the timed steps.

Both run the same number of steps, ``--rounds`` times interleaved, and the
best of each is kept; the ratios are the figures to read.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import make_sentences, matmul_gflops

from sklearn_elmo import train_bilm
from sklearn_elmo.training.corpus import read_corpus
from sklearn_elmo.training.data import Windows, batch_chars, type_char_ids
from sklearn_elmo.training.presets import resolve_options
from sklearn_elmo.training.vocabulary import Vocabulary

BATCH, UNROLL, NEGATIVES = 64, 20, 4096

PEER_SCRIPT = r"""
import importlib.util, json, os, sys, time
config = json.loads(sys.argv[1])
spec = importlib.util.find_spec("simple_elmo.training")
source = open(spec.origin, encoding="utf-8").read()
old = "train_perplexity += loss"
if source.count(old) != 1:
    sys.exit(f"expected one {old!r} in {spec.origin}")
patched = os.path.join(config["tmp"], "simple_elmo_training_patched.py")
with open(patched, "w", encoding="utf-8") as fh:
    fh.write(source.replace(old, "train_perplexity = train_perplexity + loss"))
spec = importlib.util.spec_from_file_location("simple_elmo_training_patched", patched)
training = importlib.util.module_from_spec(spec)
spec.loader.exec_module(training)
import tensorflow as tf
from simple_elmo.data import BidirectionalLMDataset, UnicodeCharsVocabulary
tf.compat.v1.disable_eager_execution()
vocab = UnicodeCharsVocabulary(config["vocab"], 50)
data = BidirectionalLMDataset(config["corpus"], vocab, test=False, shuffle_on_load=True)
stamps = []

class Timed:
    def iter_batches(self, batch_size, num_steps):
        for batch in data.iter_batches(batch_size, num_steps):
            stamps.append((time.perf_counter(), time.process_time()))
            yield batch

options = config["options"]
save = os.path.join(config["tmp"], "peer_save")
os.makedirs(save, exist_ok=True)
training.train(options, Timed(), 1, save, save)
print("PEER_RESULT " + json.dumps({"stamps": stamps}))
"""


def cnn_flops(opts, rows, width):
    """FLOPs of the char CNN, highway and projection on ``rows`` x ``width`` ids."""
    macs = sum((width - w + 1) * w * opts.char_dim * num for w, num in opts.filters)
    macs += opts.n_highway * 2 * opts.n_filters**2
    if opts.use_projection:
        macs += opts.n_filters * opts.projection_dim
    return 2 * rows * macs


def training_flops(opts, n_vocab, cnn):
    """FLOPs one training step executes (forward x 3 for forward + backward).

    ``cnn`` is the mean char CNN forward FLOPs per step (its input shape
    varies with the batch's distinct tokens).
    """
    positions = BATCH * UNROLL
    P, C = opts.projection_dim, opts.lstm_dim
    lstm = 2 * opts.n_lstm_layers * positions * 2 * (2 * P * 4 * C + C * P)
    sampled = min(NEGATIVES, n_vocab)
    softmax = 2 * positions * 2 * (sampled + 1) * P
    return 3 * (lstm + softmax + cnn)


def step_rates(stamps):
    """Tokens/s of the median step and tokens per CPU-second, from the stamps
    taken as each step's batch is fetched (the first two steps skipped)."""
    stamps = np.asarray(stamps[2:])
    wall = np.diff(stamps[:, 0])
    cpu = stamps[-1, 1] - stamps[0, 1]
    return BATCH * UNROLL / float(np.median(wall)), len(wall) * BATCH * UNROLL / cpu


def run_ours(size, corpus_path, vocab_path, steps, tmp):
    stamps = []
    batch = Windows.batch

    def timed(self, step):
        stamps.append((time.perf_counter(), time.process_time()))
        return batch(self, step)

    Windows.batch = timed
    try:
        train_bilm(
            corpus_path,
            Path(tmp) / f"ours-{size}",
            options=size,
            vocab=vocab_path,
            tokenizer=str.split,
            max_tokens=steps * BATCH * UNROLL,
            n_negative_samples=NEGATIVES,
            verbose=0,
            checkpoint_every=1e9,
            resume=False,
        )
    finally:
        Windows.batch = batch
    return step_rates(stamps)


def run_peer(python, size, corpus_path, vocab_path, n_vocab, steps, tmp):
    options, _ = resolve_options(size)
    options = json.loads(json.dumps(options))
    options["char_cnn"]["n_characters"] = 261
    options.update(
        bidirectional=True,
        dropout=0.1,
        all_clip_norm_val=10.0,
        n_epochs=1,
        n_train_tokens=steps * BATCH * UNROLL,
        batch_size=BATCH,
        n_tokens_vocab=n_vocab,
        unroll_steps=UNROLL,
        n_negative_samples_batch=NEGATIVES,
    )
    config = {
        "tmp": tmp,
        "vocab": vocab_path,
        "corpus": corpus_path,
        "options": options,
    }
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [python, "-c", PEER_SCRIPT, json.dumps(config)],
        capture_output=True,
        check=False,
        text=True,
        env=env,
        cwd=tmp,
    )
    for line in proc.stdout.splitlines():
        if line.startswith("PEER_RESULT "):
            return step_rates(json.loads(line[len("PEER_RESULT ") :])["stamps"])
    raise RuntimeError(f"simple_elmo run failed:\n{proc.stderr[-3000:]}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["mini", "small"])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--sentences", type=int, default=20000)
    parser.add_argument("--peer-python", default="/work/bench-venv/bin/python")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-peer", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        sentences = make_sentences(args.sentences, seed=0)
        corpus_path = str(Path(tmp) / "corpus.txt")
        with open(corpus_path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(" ".join(s) for s in sentences) + "\n")
        corpus = read_corpus(corpus_path, str.split)
        vocab = Vocabulary.from_counts(dict(zip(corpus.types, corpus.counts.tolist())))
        vocab_path = str(Path(tmp) / "vocab.txt")
        vocab.write(vocab_path)
        targets = np.array([vocab.id(t) for t in corpus.types], np.int32)
        windows = Windows(corpus, targets, BATCH, UNROLL, 0)
        char_ids = type_char_ids(corpus.types)

        def cnn_inputs(max_width):
            """The char CNN's input shape at each timed step."""
            return [
                batch_chars(char_ids[windows.batch(step)[0]], max_width).shape
                for step in range(1, args.steps)
            ]

        shapes = cnn_inputs(7)
        print(
            f"corpus: {corpus.n_words:,} words, vocabulary {len(vocab):,}; batch {BATCH}, "
            f"unroll {UNROLL}, {NEGATIVES} negatives, {args.steps} steps; "
            f"char CNN on {np.mean([r for r, _ in shapes]):.0f} distinct tokens per step "
            f"(of {2 * BATCH * UNROLL} inputs), {np.mean([w for _, w in shapes]):.0f} "
            "character positions of 50 (widest filter 7)"
        )
        print(
            f"{'size':8} {'ours tok/s':>10} {'per CPU-s':>9} {'GFLOP/s':>8} {'matmul':>7} "
            f"{'ratio':>6} {'simple_elmo tok/s':>17} {'per CPU-s':>9} {'speed-up':>8} "
            f"{'per CPU-s':>9}"
        )
        for size in args.sizes:
            _, opts = resolve_options(size)
            max_width = max(w for w, _ in opts.filters)
            cnn = np.mean([cnn_flops(opts, r, w) for r, w in cnn_inputs(max_width)])
            flops = training_flops(opts, len(vocab), cnn) / (BATCH * UNROLL)
            ours, peer, peaks = [], [], []
            for _ in range(args.rounds):  # interleaved; best of each
                peaks.append(matmul_gflops())
                ours.append(run_ours(size, corpus_path, vocab_path, args.steps, tmp))
                if not args.no_peer:
                    peer.append(
                        run_peer(
                            args.peer_python,
                            size,
                            corpus_path,
                            vocab_path,
                            len(vocab),
                            args.steps,
                            tmp,
                        )
                    )
            wall = max(o[0] for o in ours)
            cpu = max(o[1] for o in ours)
            peak = max(peaks)
            achieved = wall * flops / 1e9
            line = (
                f"{size:8} {wall:10,.0f} {cpu:9,.0f} {achieved:8.1f} {peak:7.1f} "
                f"{achieved / peak:6.2f}"
            )
            if peer:
                peer_wall = max(p[0] for p in peer)
                peer_cpu = max(p[1] for p in peer)
                line += (
                    f" {peer_wall:17,.0f} {peer_cpu:9,.0f} {wall / peer_wall:7.2f}x "
                    f"{cpu / peer_cpu:8.2f}x"
                )
            print(line, flush=True)


if __name__ == "__main__":
    main()
