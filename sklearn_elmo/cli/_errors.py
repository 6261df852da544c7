"""The program name, the user error of the command line and its one-line report."""

PROG = "sklearn-elmo"
EXIT_ERROR = 2


class CliError(ValueError):
    """A user error the command line reports in one line."""


def one_line(exc):
    """``exc`` as one line of text, ``"<file>: <reason>"`` for file errors."""
    if isinstance(exc, OSError) and exc.filename is not None and exc.strerror:
        message = f"{exc.filename}: {exc.strerror}"
    else:
        message = str(exc) or type(exc).__name__
    return " ".join(message.split())
