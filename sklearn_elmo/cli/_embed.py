"""``sklearn-elmo embed``: texts -> one ELMo vector per text in a .npy file."""

import sys
import time

from .._progress import Progress
from .._tf_logging import quiet_tensorflow
from ._errors import PROG
from ._io import check_output, read_texts
from ._options import (
    add_bilm_options,
    add_layer_options,
    parse_max_tokens,
    positive_int,
)

_HELP = """\
Embed texts with a biLM and save one vector per text as a float32 .npy array
of shape (n_texts, dim), or (n_texts, 2 x dim) with --pooling mean_max. The
vector is the pooled plain average of the selected layers (ElmoVectorizer
with mix='average').

INPUT is a text file with one text per line (a blank line is an empty text,
with a zero vector), a CSV file (a .csv name, or any file with --column), or
- for stdin.
"""

_EXAMPLES = """\
examples:
  sklearn-elmo embed reviews.txt -o reviews.npy --model ~/elmo_small/
  sklearn-elmo embed data.csv --column review -o X.npy --layers top --pooling mean_max
"""


def add_parser(command):
    """Register ``embed`` through ``command(name, help, description, epilog)``."""
    p = command("embed", "texts -> ELMo features (.npy)", _HELP, _EXAMPLES)
    p.add_argument("input", metavar="INPUT", help="text file, CSV file, or -")
    p.add_argument("-o", "--output", required=True, help="output .npy file")
    p.add_argument("--column", help="CSV column holding the texts (default: text)")
    add_bilm_options(p)
    add_layer_options(p)
    p.add_argument(
        "--batch-size",
        type=positive_int,
        default=256,
        help="most sentences per biLM batch",
    )
    p.add_argument(
        "--max-tokens",
        type=parse_max_tokens,
        default=256,
        help="longer texts are embedded in windows of at most this many tokens "
        "and pooled together ('none': embed whole)",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar or summary"
    )
    p.set_defaults(func=run)


def run(args):
    import numpy as np

    output = check_output(args.output, ".npy")
    texts, _ = read_texts(args.input, args.column)
    with quiet_tensorflow():
        start = time.perf_counter()  # the time after TensorFlow's import
        vectorizer, parts = _embed(texts, args)
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


def _embed(texts, args):
    """The fitted vectorizer and the features of ``texts``, chunk by chunk."""
    from ..estimators import ElmoVectorizer

    vectorizer = ElmoVectorizer(
        args.model,
        initial_state=args.initial_state,
        layers=args.layers,
        pooling=args.pooling,
        mix="average",
        max_tokens=args.max_tokens,
        embed_batch_size=args.batch_size,
    )
    vectorizer.fit(texts[:1])  # loads the biLM and checks the layers; embeds nothing
    chunk = max(256, 4 * args.batch_size)
    progress = Progress(
        len(texts), not args.quiet, PROG, unit="texts", stream=sys.stderr
    )
    parts = []
    for begin in range(0, len(texts), chunk):
        parts.append(vectorizer.transform(texts[begin : begin + chunk]))
        progress.update(min(begin + chunk, len(texts)))
    return vectorizer, parts
