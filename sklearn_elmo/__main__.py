"""``python -m sklearn_elmo``: embed a few sentences with a generated biLM.

A self-contained smoke run of the engine that needs no download: it writes a
random-weight biLM in the bilm-tf layout to a temporary directory, loads it,
and prints the shape and a summary of each layer. Random weights carry no
linguistic signal; pass ``--model PATH`` to use a real ELMo.
"""

import argparse
import tempfile

import numpy as np

from . import load_bilm
from .testing import make_random_bilm

SENTENCES = [
    ["The", "cat", "sat", "on", "the", "mat", "."],
    ["ELMo", "gives", "each", "word", "a", "vector", "that", "depends", "on", "context", "."],
    ["Hello", "!"],
]


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m sklearn_elmo", description=__doc__)
    parser.add_argument("--model", help="biLM source (default: a generated tiny model)")
    parser.add_argument("--initial-state", default="warm", choices=["warm", "zeros", "carry"])
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        source = args.model or make_random_bilm(tmp, size="small", seed=0)
        if not args.model:
            print("Using a generated 'small' biLM with random weights (no linguistic signal).")
        bilm = load_bilm(source, initial_state=args.initial_state)
        layers, mask = bilm.embed(SENTENCES)
    print(f"biLM: {source}\nfingerprint: {bilm.fingerprint}")
    print(f"layers: {layers.shape} (sentences, layers, tokens, dim); mask: {mask.shape}")
    for i, sentence in enumerate(SENTENCES):
        n = len(sentence)
        norms = np.linalg.norm(layers[i, :, :n], axis=-1).mean(axis=1)
        print(f"  {' '.join(sentence)!r}: mean vector norm per layer {np.round(norms, 3).tolist()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
