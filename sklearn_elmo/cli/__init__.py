"""The ``sklearn-elmo`` command line (also ``python -m sklearn_elmo``).

Subcommands: ``demo``, ``embed``, ``train``, ``predict``, ``export-hub`` and
``make-random-model``; ``sklearn-elmo COMMAND --help`` describes each. Errors
in the input (missing files, bad columns, malformed models or parameters)
print one line, ``sklearn-elmo: error: <message>``, to stderr and exit with
status 2, like argparse's usage errors.

Each command is a module (``_embed``, ``_train``, ...) with
``add_parser(command)`` and ``run(args)``, listed in ``_parser.COMMANDS``;
the helpers they share are in ``_options`` (option types and groups), ``_io``
(texts, output names, saved models), ``_params`` (``--set`` / ``--grid``
values) and ``_errors``.
"""

from ._main import main
from ._parser import build_parser

__all__ = ["build_parser", "main"]
