"""The package's one cache root folder."""

import os
from pathlib import Path

HOME_VARIABLE = "SKLEARN_ELMO_HOME"


def cache_root():
    """Where sklearn-elmo keeps what it generates or unpacks.

    ``$SKLEARN_ELMO_HOME`` if set, else ``$XDG_CACHE_HOME/sklearn-elmo``, else
    ``~/.cache/sklearn-elmo``. The demo's models, unpacked archive bundles
    (``models/``) and benchmark data live under it.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import os
    >>> from sklearn_elmo._paths import cache_root
    >>> os.environ.get("SKLEARN_ELMO_HOME") is not None or cache_root().name == "sklearn-elmo"
    True
    """
    home = os.environ.get(HOME_VARIABLE)
    if home:
        return Path(home).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join("~", ".cache")
    return Path(cache).expanduser() / "sklearn-elmo"
