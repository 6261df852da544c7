"""The ``sklearn-elmo`` command line."""

from ._cli import build_parser, main

__all__ = ["build_parser", "main"]
