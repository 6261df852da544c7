"""Estimator parameters given as NAME=VALUE and NAME=V1,V2 options (--set, --grid)."""

import json

from ._errors import CliError


def split_values(text):
    """Split on commas outside brackets and quotes.

    Examples
    --------
    >>> from sklearn_elmo.cli._params import split_values
    >>> split_values("all, [0,2], 'a,b'")
    ['all', '[0,2]', "'a,b'"]
    """
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


def parse_value(text):
    """A parameter value: JSON if it parses (1, 0.5, [0, 2], true, null), else a str.

    Examples
    --------
    >>> from sklearn_elmo.cli._params import parse_value
    >>> parse_value("[0, 2]"), parse_value("true"), parse_value("mean_max")
    ([0, 2], True, 'mean_max')
    """
    try:
        return json.loads(text)
    except ValueError:
        return text


def name_value(text, option):
    """``(name, value)`` of a ``NAME=VALUE`` given to ``option``, stripped."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip() or not value.strip():
        raise CliError(f"{option} expects NAME=VALUE, got {text!r}")
    return name.strip(), value.strip()


def param_key(estimator, name):
    """``name`` as a parameter of ``estimator``; bare names reach a pipeline's steps.

    Examples
    --------
    >>> from sklearn.linear_model import LogisticRegression
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sklearn_elmo.cli._params import param_key
    >>> param_key(make_pipeline(StandardScaler(), LogisticRegression()), "C")
    'logisticregression__C'
    """
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
