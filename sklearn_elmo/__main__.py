"""``python -m sklearn_elmo``: the ``sklearn-elmo`` command line."""

from .cli import main

if __name__ == "__main__":
    raise SystemExit(main())
