"""Tokens per second of the TF Hub backend against the native engine.

Run: ``python benchmarks/bench_hub.py [--size small] [--sentences 300]``

Generates a biLM (``make_random_bilm``, published ``small`` dimensions by
default), exports it with ``export_hub_module``, and embeds the same
sentences (5-60 tokens, Zipfian words) through ``load_bilm`` on the weight
files (native engine) and on the module (hub backend), both with
``initial_state="zeros"``, in the same process. Prints both rates (real
tokens only) and the ratio hub / native. The outputs are checked to agree.
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import best_of, make_sentences

from sklearn_elmo import export_hub_module, load_bilm
from sklearn_elmo.testing import make_random_bilm


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small")
    parser.add_argument("--sentences", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)

    sentences = make_sentences(args.sentences)
    n_tokens = sum(len(s) for s in sentences)
    print(f"{len(sentences)} sentences, {n_tokens} tokens (5-60 tokens each)")
    with tempfile.TemporaryDirectory() as tmp:
        weights = make_random_bilm(Path(tmp) / "bilm", size=args.size)
        start = time.perf_counter()
        module = export_hub_module(weights, Path(tmp) / "module")
        print(f"export_hub_module ({args.size}): {time.perf_counter() - start:.1f} s")
        bilms = {
            "native": load_bilm(weights, initial_state="zeros"),
            "hub": load_bilm(module, initial_state="zeros"),
        }
        outputs, rates = {}, {}
        for name, bilm in bilms.items():
            outputs[name] = bilm.embed(sentences, batch_size=args.batch_size)  # + trace
        best = dict.fromkeys(bilms, np.inf)
        for _ in range(args.repeat):  # interleaved: load from others hits both
            for name, bilm in bilms.items():
                seconds = best_of(
                    lambda bilm=bilm: bilm.embed(sentences, batch_size=args.batch_size),
                    1,
                )
                best[name] = min(best[name], seconds)
        for name, seconds in best.items():
            rates[name] = n_tokens / seconds
            print(f"{name:>7}: {rates[name]:9.0f} tokens/s", flush=True)
    diff = float(np.max(np.abs(outputs["hub"][0] - outputs["native"][0])))
    ratio = rates["hub"] / rates["native"]
    print(f"ratio hub / native: {ratio:.2f}   (max abs diff of layers: {diff:.1e})")
    return rates, ratio, diff


if __name__ == "__main__":
    main()
