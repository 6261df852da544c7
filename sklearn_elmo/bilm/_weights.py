"""Read and validate biLM weights stored in the bilm-tf HDF5 layout."""

import h5py
import numpy as np

from ._options import options_from_bytes


def lstm_prefix(direction, layer):
    """HDF5 group of one LSTM cell: direction 0 forward, 1 backward."""
    return f"RNN_{direction}/RNN/MultiRNNCell/Cell{layer}/LSTMCell"


def expected_shapes(opts):
    """Map every dataset name the weights must hold to its shape."""
    n_filters = opts.n_filters
    shapes = {"char_embed": (261, opts.char_dim)}
    for i, (width, num) in enumerate(opts.filters):
        shapes[f"CNN/W_cnn_{i}"] = (1, width, opts.char_dim, num)
        shapes[f"CNN/b_cnn_{i}"] = (num,)
    for k in range(opts.n_highway):
        for kind in ("carry", "transform"):
            shapes[f"CNN_high_{k}/W_{kind}"] = (n_filters, n_filters)
            shapes[f"CNN_high_{k}/b_{kind}"] = (n_filters,)
    if opts.use_projection:
        shapes["CNN_proj/W_proj"] = (n_filters, opts.projection_dim)
        shapes["CNN_proj/b_proj"] = (opts.projection_dim,)
    P, C = opts.projection_dim, opts.lstm_dim
    for d in range(2):
        for layer in range(opts.n_lstm_layers):
            prefix = lstm_prefix(d, layer)
            shapes[f"{prefix}/W_0"] = (2 * P, 4 * C)
            shapes[f"{prefix}/B"] = (4 * C,)
            shapes[f"{prefix}/W_P_0"] = (C, P)
    return shapes


def read_weight_files(files):
    """The options and weights of a :class:`~sklearn_elmo.bilm._sources.WeightFiles`.

    Returns
    -------
    opts : BilmOptions
    weights : dict of str to float32 ndarray
    """
    opts = options_from_bytes(files.read_options_text(), files.describe("options"))
    return opts, read_weights(files.open_weights(), opts, files.describe("weights"))


def read_weights(path, opts, where=None):
    """Load every weight the options call for, checking names and shapes.

    ``path`` is a file path or an open binary buffer; ``where`` names it in
    messages (default: ``path``).

    Returns
    -------
    weights : dict of str to float32 ndarray

    Raises
    ------
    ValueError
        If the file is not HDF5, is truncated, lacks a dataset, or holds one
        whose shape disagrees with the options; the message names the file.
    """
    if where is None:
        where = path
    try:
        fh = h5py.File(path, "r")
    except OSError as exc:
        raise ValueError(
            f"{where}: cannot read the weights file (not HDF5, truncated or corrupt: {exc})"
        ) from None
    weights = {}
    with fh:
        for name, shape in expected_shapes(opts).items():
            if name not in fh or not isinstance(fh[name], h5py.Dataset):
                raise ValueError(f"{where}: missing dataset {name!r}")
            dataset = fh[name]
            if dataset.shape != shape:
                raise ValueError(
                    f"{where}: dataset {name!r} has shape {dataset.shape}, "
                    f"but options.json implies {shape}"
                )
            try:
                values = np.asarray(dataset[...], dtype=np.float32)
            except (OSError, TypeError, ValueError) as exc:
                raise ValueError(
                    f"{where}: cannot read dataset {name!r} ({exc})"
                ) from None
            if not np.all(np.isfinite(values)):
                raise ValueError(
                    f"{where}: dataset {name!r} holds NaN or infinite values"
                )
            weights[name] = values
    return weights
