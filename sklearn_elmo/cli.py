"""The ``sklearn-elmo`` command line (also ``python -m sklearn_elmo``).

Subcommands: ``demo``, ``embed``, ``train``, ``predict``, ``export-hub`` and
``make-random-model``; ``sklearn-elmo COMMAND --help`` describes each. Errors
in the input (missing files, bad columns, malformed models or parameters)
print one line, ``sklearn-elmo: error: <message>``, to stderr and exit with
status 2, like argparse's usage errors.
"""

import argparse
import contextlib
import csv
import errno
import io
import json
import logging
import os
import sys
import time
from pathlib import Path

from ._version import __version__

PROG = "sklearn-elmo"
EXIT_ERROR = 2
DEFAULT_MODEL = "https://tfhub.dev/google/elmo/3"

__all__ = ["main"]


class CliError(ValueError):
    """A user error the command line reports in one line."""


# -- helpers ------------------------------------------------------------------


def _one_line(exc):
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        message = f"{exc.filename}: {exc.strerror}"
    else:
        message = str(exc) or type(exc).__name__
    return " ".join(message.split())


def _quiet_tensorflow():
    """Import TensorFlow with its C++ start-up messages hidden.

    TensorFlow logs CUDA probes and CPU-feature notes straight to file
    descriptor 2 while it is imported, whatever ``TF_CPP_MIN_LOG_LEVEL`` says.
    They are hidden unless ``TF_CPP_MIN_LOG_LEVEL`` is set below 2, and
    TensorFlow's Python warnings are limited to errors.
    """
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    if level is not None and level.strip() in ("0", "1"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    if "tensorflow" in sys.modules:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreters)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow as tf

        tf.config.list_logical_devices()  # device set-up logs its CUDA probe now
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)


def _parse_layers(value):
    """ "all", "top", or comma-separated ints ("0,2", "-1")."""
    value = value.strip()
    if value in ("all", "top"):
        return value
    try:
        layers = [int(v) for v in value.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected 'all', 'top' or comma-separated layer indices, got {value!r}"
        ) from None
    return layers[0] if len(layers) == 1 else layers


def _parse_max_tokens(value):
    if value.strip().lower() == "none":
        return None
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(
            f"expected a positive int or 'none', got {value!r}"
        )
    return number


def _positive_int(value):
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {value!r}")
    return number


def _split_values(text):
    """Split on commas outside brackets and quotes: "[0,1],all" -> ["[0,1]", "all"]."""
    parts, depth, quote, current = [], 0, None, []
    for char in text:
        if quote:
            quote = None if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[(":
            depth += 1
        elif char in "])":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append("".join(current))
            current = []
            continue
        current.append(char)
    parts.append("".join(current))
    return [p.strip() for p in parts]


def _parse_value(text):
    """A parameter value: JSON if it parses (1, 0.5, [0, 2], true, null), else a str."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def _name_value(text, option):
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise CliError(f"{option} expects NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def read_texts(path, column=None):
    """Texts from a text file (one per line), a CSV column, or "-" for stdin.

    A path ending in ``.csv`` (or any path when ``column`` is given) is read as
    CSV with a header row: the texts are ``column`` (default "text", or the
    only column). Otherwise every line is one text, blank lines included, so
    output rows match input lines.

    Returns
    -------
    texts : list of str
    rows : list of dict or None
        The CSV rows, for CSV input.
    """
    if path == "-":
        content = sys.stdin.read()
        name = "<stdin>"
    else:
        name = str(path)
        if Path(path).is_dir():
            raise CliError(f"{name}: is a directory, expected a text or CSV file")
        with open(path, encoding="utf-8", newline="") as fh:
            content = fh.read()
    if column is not None or name.lower().endswith(".csv"):
        rows = list(csv.DictReader(io.StringIO(content)))
        columns = [c for c in rows[0] if c is not None] if rows else []
        if not rows:
            raise CliError(f"{name}: no rows after the CSV header")
        if column is None:
            column = "text" if "text" in columns or len(columns) != 1 else columns[0]
        if column not in columns:
            raise CliError(
                f"{name}: no column {column!r}; the columns are {columns} "
                "(choose one with --column)"
            )
        texts = []
        for i, row in enumerate(rows):
            value = row[column]
            if value is None:
                raise CliError(f"{name}: row {i + 2} has no value in column {column!r}")
            texts.append(value)
        return texts, rows
    texts = content.splitlines()
    if not texts:
        raise CliError(f"{name}: no texts (the file is empty)")
    return texts, None


def _check_output(path, suffix=None):
    path = Path(path)
    if path.is_dir():
        raise CliError(f"{path}: is a directory, expected a file name")
    if not path.parent.is_dir():
        raise CliError(f"{path.parent}: no such directory")
    if suffix and path.suffix != suffix:
        raise CliError(f"{path}: the output file name must end with {suffix}")
    return path


def _initial_state(args):
    if args.initial_state != "auto":
        return args.initial_state
    from .demo import initial_state_for

    return initial_state_for(args.model)


class _Progress:
    """Progress of a long loop on stderr, so stdout stays clean.

    Keras' progress bar on a terminal; otherwise a plain line every tenth.
    """

    def __init__(self, total, enabled, label="texts"):
        self.total, self.label, self.enabled = total, label, enabled
        self.bar = None
        self.start = time.perf_counter()
        self.next_line = 0.1
        if enabled and hasattr(sys.stderr, "isatty") and sys.stderr.isatty():
            import keras

            with contextlib.redirect_stdout(sys.stderr):
                self.bar = keras.utils.Progbar(total, unit_name=label.rstrip("s"))

    def update(self, done):
        if self.bar is not None:
            with contextlib.redirect_stdout(sys.stderr):
                self.bar.update(done)
        elif self.enabled and (
            done >= self.total or done / self.total >= self.next_line
        ):
            self.next_line = done / self.total + 0.1
            print(
                f"{PROG}: {done}/{self.total} {self.label} "
                f"({100 * done / self.total:.0f}%, "
                f"{time.perf_counter() - self.start:.1f} s)",
                file=sys.stderr,
            )


def _load_model_file(path):
    """A model from ``sklearn_elmo.save`` (an archive or a ``.skops`` file) or joblib."""
    import zipfile

    import joblib

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path))
    if zipfile.is_zipfile(path) or path.suffix == ".skops":  # .skops: never unpickled
        from .persistence import load

        try:
            model = load(path)
        except ImportError as exc:  # a .skops file without skops installed
            raise CliError(_one_line(exc)) from None
    else:
        try:
            model = joblib.load(path)
        except Exception as exc:  # noqa: BLE001 (unpickling raises many types)
            raise CliError(
                f"{path}: not a model saved by 'sklearn-elmo train' or joblib "
                f"({type(exc).__name__}: {_one_line(exc)})"
            ) from None
    if not hasattr(model, "predict"):
        raise CliError(f"{path}: holds a {type(model).__name__}, which cannot predict")
    return model


def _elmo_steps(model):
    from ._base import ElmoBase

    if isinstance(model, ElmoBase):
        return [model]
    steps = getattr(model, "steps", None) or []
    return [step for _, step in steps if isinstance(step, ElmoBase)]


# -- subcommands --------------------------------------------------------------


def cmd_demo(args):
    from .demo import run_demo

    _quiet_tensorflow()
    run_demo(
        args.model,
        size=args.size,
        initial_state=None if args.initial_state == "auto" else args.initial_state,
        work_dir=args.work_dir,
        output=args.output,
        folds=args.folds,
        epochs=args.epochs,
        random_state=args.random_state,
    )
    return 0


def cmd_embed(args):
    import numpy as np

    output = _check_output(args.output, ".npy")
    texts, _ = read_texts(args.input, args.column)
    _quiet_tensorflow()
    from .estimators import ElmoVectorizer

    start = time.perf_counter()
    vectorizer = ElmoVectorizer(
        args.model,
        initial_state=_initial_state(args),
        layers=args.layers,
        pooling=args.pooling,
        mix="average",
        max_tokens=args.max_tokens,
        embed_batch_size=args.batch_size,
    )
    vectorizer.fit(texts[:1])  # loads the biLM and checks the layers; embeds nothing
    chunk = max(256, 4 * args.batch_size)
    progress = _Progress(len(texts), not args.quiet)
    parts = []
    for begin in range(0, len(texts), chunk):
        parts.append(vectorizer.transform(texts[begin : begin + chunk]))
        progress.update(min(begin + chunk, len(texts)))
    features = np.concatenate(parts).astype(np.float32, copy=False)
    np.save(output, features)
    if not args.quiet:
        print(
            f"{PROG}: wrote {features.shape[0]} x {features.shape[1]} float32 features "
            f"to {output} (layers {vectorizer.layers_.tolist()}, pooling "
            f"{args.pooling!r}, mean of the layers; biLM {args.model}, fingerprint "
            f"{vectorizer.bilm_fingerprint_[:16]}) in "
            f"{time.perf_counter() - start:.1f} s",
            file=sys.stderr,
        )
    return 0


_ESTIMATORS = ("classifier", "pipeline", "regressor")


def _build_estimator(args):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    from .estimators import ElmoClassifier, ElmoRegressor, ElmoVectorizer

    elmo_params = {
        "initial_state": _initial_state(args),
        "layers": args.layers,
        "pooling": args.pooling,
        "epochs": args.epochs,
        "learning_rate": args.learning_rate,
        "random_state": args.random_state,
        "verbose": args.verbose,
    }
    if args.estimator == "classifier":
        estimator = ElmoClassifier(args.model, **elmo_params)
    elif args.estimator == "regressor":
        estimator = ElmoRegressor(args.model, **elmo_params)
    else:
        estimator = Pipeline(
            [
                ("elmo", ElmoVectorizer(args.model, **elmo_params)),
                ("clf", LogisticRegression(max_iter=1000)),
            ]
        )
    params = {}
    for text in args.set:
        name, value = _name_value(text, "--set")
        params[_param_key(estimator, name)] = _parse_value(value)
    estimator.set_params(**params)
    grid = {}
    for text in args.grid:
        name, values = _name_value(text, "--grid")
        grid[_param_key(estimator, name)] = [
            _parse_value(v) for v in _split_values(values)
        ]
    return estimator, grid


def _param_key(estimator, name):
    """``name`` as a parameter of ``estimator``; bare names reach a pipeline's steps."""
    valid = [k for k in estimator.get_params(deep=True) if k != "steps"]
    if name in valid:
        return name
    matches = [k for k in valid if k.endswith(f"__{name}")]
    if len(matches) == 1:
        return matches[0]
    if len(matches) > 1:
        raise CliError(f"parameter {name!r} is ambiguous: use one of {matches}")
    raise CliError(
        f"unknown parameter {name!r}; valid parameters: {', '.join(sorted(valid))}"
    )


def cmd_train(args):
    import joblib
    import numpy as np

    output = _check_output(args.output)
    if args.include_model and output.suffix != ".zip":
        raise CliError(
            "--include-model needs an archive: an output name ending in .zip"
        )
    texts, rows = read_texts(args.data, args.text_column)
    if rows is None:
        raise CliError(f"{args.data}: train reads a CSV file with a header row")
    if args.label_column not in rows[0]:
        raise CliError(
            f"{args.data}: no column {args.label_column!r}; the columns are "
            f"{list(rows[0])} (choose one with --label-column)"
        )
    labels = [row[args.label_column] for row in rows]
    if args.estimator == "regressor":
        try:
            y = np.array([float(v) for v in labels])
        except (TypeError, ValueError):
            raise CliError(
                f"{args.data}: column {args.label_column!r} must hold numbers for the "
                "regressor"
            ) from None
    else:
        y = np.asarray(labels, dtype=object)
    _quiet_tensorflow()
    estimator, grid = _build_estimator(args)

    from sklearn.model_selection import (
        GridSearchCV,
        KFold,
        StratifiedKFold,
        cross_validate,
    )

    cv_class = KFold if args.estimator == "regressor" else StratifiedKFold
    start = time.perf_counter()
    print(f"{len(texts)} texts from {args.data}; estimator: {args.estimator}")
    if grid:
        if args.cv < 2:
            raise CliError("--grid needs --cv of at least 2")
        cv = cv_class(args.cv, shuffle=True, random_state=args.random_state)
        search = GridSearchCV(
            estimator, grid, cv=cv, scoring=args.scoring, error_score="raise"
        )
        search.fit(texts, y)
        results = search.cv_results_
        print(
            f"{args.cv}-fold cross-validated {args.scoring or 'score'} per candidate:"
        )
        for i in np.argsort(results["rank_test_score"], kind="stable"):
            print(
                f"  {results['mean_test_score'][i]:.4f} +/- "
                f"{results['std_test_score'][i]:.4f}  {results['params'][i]}"
            )
        print(f"best: {search.best_params_} (refitted on all {len(texts)} texts)")
        model = search.best_estimator_
    else:
        if args.cv >= 2:
            cv = cv_class(args.cv, shuffle=True, random_state=args.random_state)
            scores = cross_validate(
                estimator, texts, y, cv=cv, scoring=args.scoring, error_score="raise"
            )["test_score"]
            print(
                f"{args.cv}-fold cross-validated {args.scoring or 'score'}: "
                f"{scores.mean():.4f} +/- {scores.std():.4f} "
                f"(folds: {', '.join(f'{s:.4f}' for s in scores)})"
            )
        model = estimator.fit(texts, y)
    if output.suffix in (".zip", ".skops"):
        from .persistence import save

        save(model, output, include_model=args.include_model)
    else:
        joblib.dump(model, output)
    print(f"saved the model to {output} in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_predict(args):
    import numpy as np

    to_stdout = args.output in (None, "-")
    output = None if to_stdout else _check_output(args.output)
    model = _load_model_file(args.model_file)
    texts, _ = read_texts(args.input, args.column)
    if args.bilm is not None:
        steps = _elmo_steps(model)
        if not steps:
            raise CliError(
                f"{args.model_file}: the model has no ELMo step to give --bilm to"
            )
        for step in steps:
            step.set_params(model=args.bilm)
    _quiet_tensorflow()
    predictions = np.asarray(model.predict(texts))
    proba = None
    if args.proba and hasattr(model, "predict_proba") and predictions.ndim == 1:
        proba = np.asarray(model.predict_proba(texts))
    header = ["text"]
    if predictions.ndim == 1:
        header.append("label" if hasattr(model, "classes_") else "prediction")
    else:
        header.extend(f"output_{j}" for j in range(predictions.shape[1]))
    if proba is not None:
        header.extend(f"proba_{c}" for c in model.classes_)

    def fmt(value):
        if isinstance(value, (float, np.floating)):
            return f"{value:.6g}"
        return str(value)

    def write(fh):
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(header)
        for i, text in enumerate(texts):
            row = [text, *(fmt(v) for v in np.atleast_1d(predictions[i]))]
            if proba is not None:
                row.extend(fmt(p) for p in proba[i])
            writer.writerow(row)

    if to_stdout:
        write(sys.stdout)
    else:
        with open(output, "w", encoding="utf-8", newline="") as fh:
            write(fh)
        print(f"{PROG}: wrote {len(texts)} predictions to {output}", file=sys.stderr)
    return 0


def cmd_export_hub(args):
    _quiet_tensorflow()
    from ._hub_export import export_hub_module

    start = time.perf_counter()
    path = export_hub_module(args.source, args.out_dir)
    print(f"wrote a TF Hub module to {path} in {time.perf_counter() - start:.1f} s")
    return 0


def cmd_make_random_model(args):
    from .testing import make_random_bilm

    out = Path(args.out_dir)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise CliError(f"{out}: exists and is not an empty directory")
    path = make_random_bilm(out, size=args.size, seed=args.seed)
    print(
        f"wrote a '{args.size}' biLM with random weights (seed {args.seed}) to {path}; "
        "it has no linguistic signal (for tests, benchmarks and demos)"
    )
    return 0


# -- the parser ---------------------------------------------------------------


class _Formatter(argparse.HelpFormatter):
    """Wraps each paragraph of a description, keeps indented lines (examples)
    as written, and shows defaults that say something."""

    def _fill_text(self, text, width, indent):
        blocks = []
        for block in text.split("\n\n"):
            if block.startswith(" ") or "\n " in block:
                blocks.append("\n".join(indent + line for line in block.splitlines()))
            else:
                blocks.append(super()._fill_text(block, width, indent))
        return "\n\n".join(blocks)

    def _get_help_string(self, action):
        text = action.help or ""
        if (
            action.option_strings
            and not any(action.default is v for v in (None, False, argparse.SUPPRESS))
            and action.default != []
            and "default" not in text
        ):
            text += " (default: %(default)s)"
        return text


def _add_bilm_options(parser, default=DEFAULT_MODEL):
    parser.add_argument(
        "--model",
        default=default,
        metavar="SOURCE",
        help="the biLM: a bilm-tf / AllenNLP / NLPL weights directory (options.json + "
        "a .hdf5), its options file, a TF Hub handle or a TF Hub module directory",
    )
    parser.add_argument(
        "--initial-state",
        default="auto",
        choices=["auto", "warm", "zeros"],
        help="LSTM state each sentence starts from; auto: 'zeros' for TF Hub "
        "sources (the only one they support), 'warm' otherwise",
    )


def _add_layer_options(parser):
    parser.add_argument(
        "--layers",
        type=_parse_layers,
        default="all",
        help="biLM layers to mix: all, top, or comma-separated indices (0 is the "
        "token embedding; negative indices count from the top)",
    )
    parser.add_argument(
        "--pooling",
        default="mean",
        choices=["mean", "max", "mean_max"],
        help="pooling of the token vectors of a text",
    )


_DEMO_HELP = """\
Cross-validate TF-IDF + LogisticRegression against GridSearchCV over a
Pipeline(ElmoVectorizer, LogisticRegression) and over an ElmoClassifier on the
bundled topics dataset (300 short texts, 4 topics); print the scores and the
learned layer weights; save the best ELMo model with joblib, reload it and
predict a few new texts.

Without --model it generates (once) a biLM with RANDOM weights, which has no
linguistic signal; pass --model to use a real ELMo.
"""

_DEMO_EXAMPLES = """\
examples:
  sklearn-elmo demo
  sklearn-elmo demo --model ~/elmo_small/
  sklearn-elmo demo --model https://tfhub.dev/google/elmo/3
"""

_EMBED_HELP = """\
Embed texts with a biLM and save one vector per text as a float32 .npy array
of shape (n_texts, dim), or (n_texts, 2 x dim) with --pooling mean_max. The
vector is the pooled plain average of the selected layers (ElmoVectorizer
with mix='average').

INPUT is a text file with one text per line (a blank line is an empty text,
with a zero vector), a CSV file (a .csv name, or any file with --column), or
- for stdin.
"""

_EMBED_EXAMPLES = """\
examples:
  sklearn-elmo embed reviews.txt -o reviews.npy --model ~/elmo_small/
  sklearn-elmo embed data.csv --column review -o X.npy --layers top --pooling mean_max
"""

_TRAIN_HELP = """\
Train an ELMo model on a CSV file with a header row, print its cross-validated
score (or, with --grid, a GridSearchCV over the given values) and save the
model refitted on all rows.

Estimators: classifier (ElmoClassifier), pipeline (ElmoVectorizer +
LogisticRegression; bare parameter names reach either step, e.g. C or
pooling) and regressor (ElmoRegressor, numeric labels). --set and --grid take
estimator parameters; values are read as JSON when they parse (1, 0.01, true,
[0, 2]) and as text otherwise.
"""

_TRAIN_EXAMPLES = """\
examples:
  sklearn-elmo train data.csv -o model.joblib --model ~/elmo_small/
  sklearn-elmo train data.csv -o model.joblib --model ~/elmo_small/ \\
      --estimator pipeline --grid C=0.1,1,10 --grid pooling=mean,mean_max
  sklearn-elmo train data.csv -o model.zip --include-model --model ~/elmo_small/ \\
      --set hidden_layer_sizes=[64] --grid layers=all,top,[1,2]
"""

_PREDICT_HELP = """\
Predict with a model saved by 'train': a joblib file, an archive from
sklearn_elmo.save (a bundled biLM is unpacked on first use), or a .skops file
(loaded without running code; only trusted types). Any joblib-saved
scikit-learn estimator taking texts works too. Writes a CSV with the text, the
predicted label (or value) and, for classifiers, one probability column per
class. INPUT is read as by 'embed'.
"""

_PREDICT_EXAMPLES = """\
examples:
  sklearn-elmo predict model.joblib new.txt
  sklearn-elmo predict model.zip new.csv --column review -o predictions.csv
  sklearn-elmo predict model.skops new.txt
"""


def build_parser():
    """The argument parser of ``sklearn-elmo``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="ELMo contextual embeddings behind the scikit-learn API.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
        formatter_class=_Formatter,
    )
    parser.add_argument(
        "--version", action="version", version=f"%(prog)s {__version__}"
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def command(name, help, description, epilog=None):
        return commands.add_parser(
            name,
            help=help,
            description=description,
            epilog=epilog,
            formatter_class=_Formatter,
        )

    p = command(
        "demo",
        "train and compare classifiers on a bundled dataset, end to end, offline",
        _DEMO_HELP,
        _DEMO_EXAMPLES,
    )
    p.add_argument("--model", metavar="SOURCE", help="biLM source (default: generated)")
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
        "--folds", type=_positive_int, default=3, help="cross-validation folds"
    )
    p.add_argument("--epochs", type=_positive_int, default=20, help="training epochs")
    p.add_argument("--random-state", type=int, default=0, help="seed")
    p.set_defaults(func=cmd_demo)

    p = command("embed", "texts -> ELMo features (.npy)", _EMBED_HELP, _EMBED_EXAMPLES)
    p.add_argument("input", metavar="INPUT", help="text file, CSV file, or -")
    p.add_argument("-o", "--output", required=True, help="output .npy file")
    p.add_argument("--column", help="CSV column holding the texts (default: text)")
    _add_bilm_options(p)
    _add_layer_options(p)
    p.add_argument(
        "--batch-size",
        type=_positive_int,
        default=256,
        help="most sentences per biLM batch",
    )
    p.add_argument(
        "--max-tokens",
        type=_parse_max_tokens,
        default=256,
        help="longer texts are embedded in windows of at most this many tokens "
        "and pooled together ('none': embed whole)",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar or summary"
    )
    p.set_defaults(func=cmd_embed)

    p = command(
        "train",
        "a CSV of texts and labels -> a saved model, with cross-validated scores",
        _TRAIN_HELP,
        _TRAIN_EXAMPLES,
    )
    p.add_argument("data", metavar="DATA", help="CSV file with a header row")
    p.add_argument(
        "-o",
        "--output",
        required=True,
        help="where to save the model: a .zip name writes an sklearn_elmo.save "
        "archive, a .skops name a skops file (loads without running code), any "
        "other name a joblib.dump file",
    )
    p.add_argument(
        "--include-model",
        action="store_true",
        help="bundle the biLM's files in the .zip archive (for machines without "
        "the model source)",
    )
    p.add_argument("--text-column", default="text", help="column of the texts")
    p.add_argument("--label-column", default="label", help="column of the labels")
    p.add_argument(
        "--estimator",
        default="classifier",
        choices=_ESTIMATORS,
        help="classifier: ElmoClassifier; pipeline: ElmoVectorizer + "
        "LogisticRegression; regressor: ElmoRegressor",
    )
    _add_bilm_options(p)
    _add_layer_options(p)
    p.add_argument("--epochs", type=_positive_int, default=50, help="training epochs")
    p.add_argument(
        "--learning-rate", type=float, default=1e-3, help="Adam's learning rate"
    )
    p.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="set any estimator parameter (repeatable)",
    )
    p.add_argument(
        "--grid",
        action="append",
        default=[],
        metavar="NAME=V1,V2",
        help="grid-search a parameter over values (repeatable)",
    )
    p.add_argument(
        "--cv",
        type=int,
        default=3,
        help="cross-validation folds (0: no cross-validation)",
    )
    p.add_argument(
        "--scoring", help="scikit-learn scorer name (default: the estimator's score)"
    )
    p.add_argument(
        "--random-state", type=int, default=0, help="seed of folds and training"
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="count",
        default=0,
        help="embedding and epoch progress",
    )
    p.set_defaults(func=cmd_train)

    p = command(
        "predict",
        "a saved model and texts -> labels (and probabilities) as CSV",
        _PREDICT_HELP,
        _PREDICT_EXAMPLES,
    )
    p.add_argument(
        "model_file",
        metavar="MODEL",
        help="a joblib file, a .zip archive or a .skops file",
    )
    p.add_argument("input", metavar="INPUT", help="text file, CSV file, or -")
    p.add_argument("-o", "--output", help="output CSV file (default: stdout)")
    p.add_argument("--column", help="CSV column holding the texts (default: text)")
    p.add_argument(
        "--no-proba", dest="proba", action="store_false", help="omit the probabilities"
    )
    p.add_argument(
        "--bilm",
        metavar="SOURCE",
        help="where the model's biLM is now, if it moved (must be the same biLM)",
    )
    p.set_defaults(func=cmd_predict)

    p = command(
        "export-hub",
        "write a weight-file biLM as a TF Hub module",
        "Write a biLM in bilm-tf weight files as a TF1 Hub format module with "
        "google/elmo/3's signatures ('default' on text, 'tokens' on tokens).",
        "example:\n  sklearn-elmo export-hub ~/elmo_small/ ~/elmo_small_hub/\n",
    )
    p.add_argument("source", metavar="SOURCE", help="weights directory or options file")
    p.add_argument("out_dir", metavar="OUT_DIR", help="new or empty directory")
    p.set_defaults(func=cmd_export_hub)

    p = command(
        "make-random-model",
        "write a biLM with random weights (for tests and demos)",
        "Write a biLM with seeded random weights in the bilm-tf layout "
        "(options.json + weights.hdf5). Random weights carry no linguistic signal.",
        "example:\n  sklearn-elmo make-random-model /tmp/elmo-tiny --size tiny\n",
    )
    p.add_argument("out_dir", metavar="OUT_DIR", help="new or empty directory")
    p.add_argument(
        "--size",
        default="tiny",
        choices=["tiny", "small", "medium", "original"],
        help="tiny: 32-wide test model; others: the published models' dimensions",
    )
    p.add_argument("--seed", type=int, default=0, help="same seed, same weights")
    p.set_defaults(func=cmd_make_random_model)
    return parser


def main(argv=None):
    """Run the command line; return the exit status.

    Parameters
    ----------
    argv : list of str or None, default=None
        Arguments without the program name; None reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 2 on an error (reported in one line on stderr).
        Usage errors exit through ``SystemExit(2)`` as argparse does.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elmo.cli import main
    >>> main(["make-random-model", tempfile.mkdtemp() + "/m"])  # doctest: +ELLIPSIS
    wrote a 'tiny' biLM with random weights (seed 0) to .../m; ...
    0
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, OSError) as exc:
        print(f"{PROG}: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
