"""The ``train-bilm`` and ``perplexity`` commands of ``sklearn-elmo``.

:func:`add_training_commands` registers them on the command line's
subparsers (see ``_parser.COMMANDS``); their handlers call
:func:`sklearn_elmo.train_bilm` and :func:`sklearn_elmo.evaluate_perplexity`.
"""

import json

from .._tf_logging import quiet_tensorflow
from ._options import positive_int

_TRAIN_BILM_HELP = """\
Train an ELMo biLM with the original recipe (bilm-tf's: stateful windows,
sampled softmax, Adagrad) on text files with one sentence per line, or adapt
a released biLM to a domain with --init. OUT_DIR receives options.json +
weights.hdf5 (usable as --model SOURCE by every other command), vocab.txt,
history.json and a checkpoint: run the same command again to resume after an
interruption, or with a larger --max-tokens to train further.
"""

_TRAIN_BILM_EXAMPLES = """\
examples:
  sklearn-elmo train-bilm corpus.txt -o elmo-mini/ --options mini --max-tokens 20000000
  sklearn-elmo train-bilm shard-*.txt -o elmo-mini/ --options mini --pretokenized \\
      --validation heldout.txt --max-vocab 100000
  sklearn-elmo train-bilm legal.txt -o elmo-legal/ --init ~/elmo_small/ \\
      --softmax-only-tokens 200000 --max-tokens 5000000
"""

_PERPLEXITY_HELP = """\
Print the forward, backward and average perplexity of a biLM trained by
train-bilm on held-out text (one sentence per line), with the full softmax
kept in its checkpoint, as JSON.
"""


def _options(value):
    if value.lstrip().startswith("{"):
        try:
            return json.loads(value)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--options: not valid JSON ({exc})") from None
    if value.endswith(".json"):
        try:
            with open(value, encoding="utf-8") as fh:
                return json.load(fh)
        except json.JSONDecodeError as exc:
            raise ValueError(f"--options {value}: not valid JSON ({exc})") from None
    return value


def cmd_train_bilm(args):
    from ..training import train_bilm

    quiet_tensorflow().__enter__()  # for the rest of the command
    result = train_bilm(
        args.corpus,
        args.out_dir,
        options=None if args.options is None else _options(args.options),
        vocab=args.vocab,
        init=args.init,
        max_tokens=args.max_tokens,
        epochs=args.epochs,
        batch_size=args.batch_size,
        unroll_steps=args.unroll_steps,
        n_negative_samples=args.negatives,
        learning_rate=args.learning_rate,
        dropout=args.dropout,
        tokenizer=str.split if args.pretokenized else None,
        validation=args.validation,
        random_state=args.random_state,
        resume=not args.restart,
        verbose=0 if args.quiet else 1 + args.verbose,
        max_vocab=args.max_vocab,
        min_count=args.min_count,
        softmax_only_tokens=args.softmax_only_tokens,
        checkpoint_every=args.checkpoint_every,
    )
    last = result["history"][-1] if result["history"] else {}
    summary = {
        "out_dir": result["out_dir"],
        "tokens": result["tokens"],
        "train_perplexity": last.get("train_perplexity"),
        "validation_perplexity": last.get("validation_perplexity"),
    }
    print(json.dumps(summary))
    return 0


def cmd_perplexity(args):
    from ..training import evaluate_perplexity

    quiet_tensorflow().__enter__()  # for the rest of the command
    result = evaluate_perplexity(
        args.out_dir,
        args.heldout,
        tokenizer=str.split if args.pretokenized else None,
        batch_size=args.batch_size,
        unroll_steps=args.unroll_steps,
    )
    print(json.dumps(result))
    return 0


def add_training_commands(command, positive_int):
    """Add ``train-bilm`` and ``perplexity`` through cli.py's ``command`` factory."""
    p = command(
        "train-bilm",
        "train (or domain-adapt) an ELMo biLM on text files",
        _TRAIN_BILM_HELP,
        _TRAIN_BILM_EXAMPLES,
    )
    p.add_argument("corpus", nargs="+", metavar="CORPUS", help="text files (.gz ok)")
    p.add_argument(
        "-o", "--out-dir", required=True, metavar="DIR", help="output directory"
    )
    p.add_argument(
        "--options",
        metavar="SIZE|JSON",
        help="tiny, mini, small, medium, original, a bilm-tf options .json file or "
        "inline JSON (default: tiny; with --init: the source's options)",
    )
    p.add_argument("--init", metavar="SOURCE", help="start from this biLM's weights")
    p.add_argument("--vocab", metavar="FILE", help="vocabulary file (bilm-tf format)")
    p.add_argument("--max-tokens", type=positive_int, metavar="N", help="token budget")
    p.add_argument(
        "--epochs", type=positive_int, default=1, help="passes over the corpus"
    )
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--unroll-steps", type=positive_int, default=20)
    p.add_argument(
        "--negatives",
        type=positive_int,
        metavar="N",
        help="sampled softmax negatives (8192)",
    )
    p.add_argument("--learning-rate", type=float, default=0.2)
    p.add_argument("--dropout", type=float, default=0.1)
    p.add_argument("--max-vocab", type=positive_int, metavar="N")
    p.add_argument("--min-count", type=positive_int, default=1)
    p.add_argument("--softmax-only-tokens", type=int, default=0, metavar="N")
    p.add_argument(
        "--validation", nargs="+", metavar="FILE", help="held-out text files"
    )
    p.add_argument("--random-state", type=int, default=0)
    p.add_argument("--checkpoint-every", type=float, default=600.0, metavar="SECONDS")
    p.add_argument(
        "--pretokenized", action="store_true", help="split lines on whitespace only"
    )
    p.add_argument(
        "--restart",
        action="store_true",
        help="replace the run in DIR instead of resuming",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    p.add_argument("-v", "--verbose", action="count", default=0, help="a line per step")
    p.set_defaults(func=cmd_train_bilm)

    p = command(
        "perplexity",
        "held-out perplexity of a biLM trained by train-bilm",
        _PERPLEXITY_HELP,
        "example:\n  sklearn-elmo perplexity elmo-mini/ heldout.txt\n",
    )
    p.add_argument("out_dir", metavar="DIR", help="a train-bilm output directory")
    p.add_argument("heldout", nargs="+", metavar="HELDOUT", help="text files")
    p.add_argument(
        "--pretokenized", action="store_true", help="split on whitespace only"
    )
    p.add_argument("--batch-size", type=positive_int, default=64)
    p.add_argument("--unroll-steps", type=positive_int, default=20)
    p.set_defaults(func=cmd_perplexity)


def add_parser(command):
    """Registration for ``_parser.COMMANDS``."""
    add_training_commands(command, positive_int)
