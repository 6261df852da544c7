"""Tokens per second of ``Bilm.embed`` against the machine's matmul rate.

Run: ``python benchmarks/bench_bilm.py [--sizes small original] [--sentences 2000]``

For each generated model size it prints the model's FLOPs per token, the
tokens per second of ``embed`` (initial_state="warm", the default), the
achieved GFLOP/s, and the ratio achieved / fp32 matmul GFLOP/s measured in the
same run. Only real tokens are counted (sentence boundaries and padding are
overhead the engine has to absorb).
"""

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import best_of, make_sentences, matmul_gflops  # noqa: E402

from sklearn_elmo import load_bilm  # noqa: E402
from sklearn_elmo._options import read_options  # noqa: E402
from sklearn_elmo.testing import make_random_bilm  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["small", "original"])
    parser.add_argument("--sentences", type=int, default=2000)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args(argv)

    sentences = make_sentences(args.sentences)
    n_tokens = sum(len(s) for s in sentences)
    print(f"{len(sentences)} sentences, {n_tokens} tokens (5-60 tokens each)")
    peak = matmul_gflops()
    print(f"fp32 matmul (2048x2048, TensorFlow): {peak:.1f} GFLOP/s")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            path = make_random_bilm(Path(tmp) / size, size=size)
            flops = read_options(path / "options.json").flops_per_token()
            bilm = load_bilm(path)
            bilm.embed(sentences[:50], batch_size=args.batch_size)  # trace, warm state
            seconds = best_of(
                lambda: bilm.embed(sentences, batch_size=args.batch_size), args.repeat
            )
            rate = n_tokens / seconds
            achieved = rate * flops / 1e9
            rows.append((size, flops / 1e6, rate, achieved, achieved / peak))
            print(
                f"{size:>9}: {flops / 1e6:7.1f} MFLOP/token  {rate:9.0f} tokens/s  "
                f"{achieved:6.1f} GFLOP/s  ratio {achieved / peak:.2f}",
                flush=True,
            )
    return rows


if __name__ == "__main__":
    main()
