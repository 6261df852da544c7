"""``sklearn-elmo demo``: the end-to-end demo of :mod:`sklearn_elmo.demo`."""

from pathlib import Path

from ._options import positive_int

_HELP = """\
Cross-validate TF-IDF + LogisticRegression against GridSearchCV over a
Pipeline(ElmoVectorizer, LogisticRegression) and over an ElmoClassifier on the
bundled topics dataset (300 short texts, 4 topics); print the scores and the
learned layer weights; save the best ELMo model with joblib, reload it and
predict a few new texts.

By default it uses en-mini, the small English biLM shipped with the package
(offline). --random generates (once) a biLM with RANDOM weights instead, which
has no linguistic signal; --model uses any other ELMo.
"""

_EXAMPLES = """\
examples:
  sklearn-elmo demo
  sklearn-elmo demo --random --size tiny
  sklearn-elmo demo --model ~/elmo_small/
  sklearn-elmo demo --model https://tfhub.dev/google/elmo/3
"""


def add_parser(command):
    """Register ``demo`` through ``command(name, help, description, epilog)``."""
    p = command(
        "demo",
        "train and compare classifiers on a bundled dataset, end to end, offline",
        _HELP,
        _EXAMPLES,
    )
    p.add_argument(
        "--model",
        metavar="SOURCE",
        default="en-mini",
        help="biLM source (default: en-mini, shipped with the package)",
    )
    p.add_argument(
        "--random",
        action="store_true",
        help="use a generated biLM with random weights (of --size) instead",
    )
    p.add_argument(
        "--size",
        default="small",
        choices=["small", "tiny"],
        help="size of the generated random biLM (small: the published small "
        "ELMo's dimensions)",
    )
    p.add_argument(
        "--initial-state",
        default="auto",
        choices=["auto", "warm", "zeros"],
        help="LSTM initial state; auto: 'zeros' for TF Hub sources, else 'warm'",
    )
    p.add_argument(
        "--work-dir",
        type=Path,
        help="where the generated biLM and the model go (default: "
        "$SKLEARN_ELMO_HOME or ~/.cache/sklearn-elmo)",
    )
    p.add_argument("--output", type=Path, help="path of the saved model (.joblib)")
    p.add_argument(
        "--folds", type=positive_int, default=3, help="cross-validation folds"
    )
    p.add_argument("--epochs", type=positive_int, default=20, help="training epochs")
    p.add_argument("--random-state", type=int, default=0, help="seed")
    p.set_defaults(func=run)


def run(args):
    from ..demo import run_demo  # which hides TensorFlow's log noise itself

    run_demo(
        None if args.random else args.model,
        size=args.size,
        initial_state=args.initial_state,
        work_dir=args.work_dir,
        output=args.output,
        folds=args.folds,
        epochs=args.epochs,
        random_state=args.random_state,
    )
    return 0
