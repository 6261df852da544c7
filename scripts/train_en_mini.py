#!/usr/bin/env python
"""Pretrain the ``en-mini`` biLM that ships with the package.

Reproduces ``sklearn_elmo/data/en-mini`` from the corpus that
``scripts/build_corpus.py`` builds (openly licensed English text from the
package registries). On 2 shared CPU cores it takes about an hour; see
docs/model-card.md for the run that produced the shipped files.

    python scripts/build_corpus.py                 # ~3 min, into the cache folder
    python scripts/train_en_mini.py OUT_DIR        # the training run (resumable)
    python scripts/train_en_mini.py OUT_DIR --evaluate-only

Stopping the run (Ctrl-C, a kill) leaves a checkpoint; running the same
command again resumes it where it stopped.
"""

import argparse
import json
import sys
import time
from pathlib import Path

CORPUS = Path("~/.cache/sklearn-elmo/corpus/en-mini").expanduser()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    parser.add_argument("--max-tokens", type=int, default=10_000_000)
    parser.add_argument("--max-vocab", type=int, default=100_000)
    parser.add_argument("--validation-lines", type=int, default=1500)
    parser.add_argument("--evaluate-only", action="store_true")
    args = parser.parse_args(argv)

    from sklearn_elmo import evaluate_perplexity, train_bilm

    train, heldout = args.corpus / "train.txt", args.corpus / "heldout.txt"
    # A slice of the held-out text for the periodic (full softmax) validation;
    # the whole held-out file is scored once at the end.
    lines = heldout.read_text(encoding="utf-8").splitlines()
    validation = [line for line in lines[: args.validation_lines] if line.strip()]
    start = time.perf_counter()
    if not args.evaluate_only:
        train_bilm(
            str(train),
            args.out_dir,
            options="mini",
            tokenizer=str.split,
            max_tokens=args.max_tokens,
            n_negative_samples=4096,
            max_vocab=args.max_vocab,
            validation=validation,
            random_state=0,
            verbose=1,
        )
    trained = time.perf_counter() - start
    ppl = evaluate_perplexity(args.out_dir, str(heldout), tokenizer=str.split)
    report = {
        "heldout_perplexity": ppl,
        "heldout_file": str(heldout),
        "train_seconds_this_invocation": round(trained, 1),
        "evaluate_seconds": round(time.perf_counter() - start - trained, 1),
    }
    (args.out_dir / "heldout.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
