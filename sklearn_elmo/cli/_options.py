"""The help formatter, the option types and the option groups commands share."""

import argparse

from ..bilm._sources import DEFAULT_HANDLE


class Formatter(argparse.HelpFormatter):
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


def parse_layers(value):
    """``--layers``: "all", "top", or comma-separated ints ("0,2", "-1").

    Examples
    --------
    >>> from sklearn_elmo.cli._options import parse_layers
    >>> parse_layers("top"), parse_layers("-1"), parse_layers("0,2")
    ('top', -1, [0, 2])
    """
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


def parse_max_tokens(value):
    """``--max-tokens``: a positive int, or "none" for None."""
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


def positive_int(value):
    """An int of at least 1, for counts such as ``--epochs``."""
    try:
        number = int(value)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"expected a positive int, got {value!r}")
    return number


def add_bilm_options(parser, default=DEFAULT_HANDLE):
    """``--model`` (the biLM source) and ``--initial-state``."""
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
        "sources (the only one they support), 'warm' otherwise (as load_bilm)",
    )


def add_layer_options(parser):
    """``--layers`` and ``--pooling``."""
    parser.add_argument(
        "--layers",
        type=parse_layers,
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
