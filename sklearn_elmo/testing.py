"""Generated biLMs for tests, benchmarks and demos.

:func:`make_random_bilm` writes seeded random weights in the exact bilm-tf
file layout, at test size or at the published English models' sizes, so that
every loading and inference path runs without downloading anything.
"""

import copy
import json
from pathlib import Path

import h5py
import numpy as np

from .bilm._options import parse_options
from .bilm._sizes import SIZES
from .bilm._weights import expected_shapes


def _random_weight(rng, name, shape):
    if name == "char_embed":
        return rng.uniform(-1.0, 1.0, shape)
    if name.endswith("b_carry"):
        return np.full(shape, -2.0)  # bilm-tf starts highways mostly carrying
    if len(shape) == 1:
        return rng.normal(0.0, 0.1, shape)
    fan_in = int(np.prod(shape[:-1]))
    return rng.normal(0.0, 1.0 / np.sqrt(fan_in), shape)


def make_random_bilm(directory, size="tiny", seed=0):
    """Write a biLM with seeded random weights in the bilm-tf layout.

    Parameters
    ----------
    directory : str or path-like
        Created if needed; receives ``options.json`` and ``weights.hdf5``.
    size : {"tiny", "small", "medium", "original"} or dict, default="tiny"
        "tiny" is test-sized (32-wide layers); the others have the published
        English models' dimensions, with skip connections. A dict is used as
        the options themselves (validated as ``options.json`` would be).
    seed : int, default=0
        Same seed and size give byte-identical weights.

    Returns
    -------
    directory : pathlib.Path

    Examples
    --------
    >>> import tempfile
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> path = make_random_bilm(tempfile.mkdtemp(), size="tiny", seed=1)
    >>> sorted(p.name for p in path.iterdir())
    ['options.json', 'weights.hdf5']
    """
    if isinstance(size, dict):
        options = copy.deepcopy(size)
    elif size in SIZES:
        options = copy.deepcopy(SIZES[size])
    else:
        raise ValueError(
            f"size must be one of {sorted(SIZES)} or an options dict, got {size!r}"
        )
    opts = parse_options(options, "options")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    with h5py.File(directory / "weights.hdf5", "w") as fh:
        for name, shape in expected_shapes(opts).items():
            fh.create_dataset(
                name, data=_random_weight(rng, name, shape).astype(np.float32)
            )
    with open(directory / "options.json", "w", encoding="utf-8") as fh:
        json.dump(options, fh, indent=2)
    return directory
