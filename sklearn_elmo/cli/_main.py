"""``main``: parse the arguments, run the command, report errors in one line."""

import sys

from ._errors import EXIT_ERROR, PROG, one_line
from ._parser import build_parser


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
        print(f"{PROG}: error: {one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
