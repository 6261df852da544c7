"""``sklearn-elmo predict``: a saved model and texts -> predictions as CSV."""

import csv
import sys

from .._tf_logging import quiet_tensorflow
from ._errors import PROG, CliError
from ._io import check_output, elmo_steps, load_model_file, read_texts

_HELP = """\
Predict with a model saved by 'train': a joblib file, an archive from
sklearn_elmo.save (a bundled biLM is unpacked on first use), or a .skops file
(loaded without running code; only trusted types). Any joblib-saved
scikit-learn estimator taking texts works too. Writes a CSV with the text, the
predicted label (or value) and, for classifiers, one probability column per
class. INPUT is read as by 'embed'.
"""

_EXAMPLES = """\
examples:
  sklearn-elmo predict model.joblib new.txt
  sklearn-elmo predict model.zip new.csv --column review -o predictions.csv
  sklearn-elmo predict model.skops new.txt
"""


def add_parser(command):
    """Register ``predict`` through ``command(name, help, description, epilog)``."""
    p = command(
        "predict",
        "a saved model and texts -> labels (and probabilities) as CSV",
        _HELP,
        _EXAMPLES,
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
    p.set_defaults(func=run)


def run(args):
    import numpy as np

    to_stdout = args.output in (None, "-")
    output = None if to_stdout else check_output(args.output)
    model = load_model_file(args.model_file)
    texts, _ = read_texts(args.input, args.column)
    if args.bilm is not None:
        steps = elmo_steps(model)
        if not steps:
            raise CliError(
                f"{args.model_file}: the model has no ELMo step to give --bilm to"
            )
        for step in steps:
            step.set_params(model=args.bilm)
    with quiet_tensorflow():
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
