"""The argument parser of ``sklearn-elmo``: one subcommand per module in COMMANDS."""

import argparse

from .._version import __version__
from . import (
    _demo,
    _embed,
    _export_hub,
    _make_random_model,
    _predict,
    _tagger,
    _train,
    _training,
)
from ._errors import PROG
from ._options import Formatter

#: The commands' registration functions, in the order ``--help`` lists them.
#: Each is called with ``command(name, help, description, epilog=None)``, which
#: returns a new subparser; it adds its options and ``set_defaults(func=run)``,
#: where ``run(args)`` returns the exit status.
COMMANDS = [
    _demo.add_parser,
    _embed.add_parser,
    _train.add_parser,
    _predict.add_parser,
    _export_hub.add_parser,
    _make_random_model.add_parser,
    _training.add_parser,
    _tagger.add_tagger_commands,
]


def build_parser():
    """The argument parser of ``sklearn-elmo``."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="ELMo contextual embeddings behind the scikit-learn API.",
        epilog=f"Run '{PROG} COMMAND --help' for the options of a command.",
        formatter_class=Formatter,
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
            formatter_class=Formatter,
        )

    for add_parser in COMMANDS:
        add_parser(command)
    return parser
