"""Named biLM sizes for training, and the checks on an options choice."""

import copy

from ..bilm._options import parse_options
from ..bilm._sizes import SIZES

# "mini": the size shipped pretrained. The small ELMo's filter widths with a
# quarter of its filters (512 in all), 512 LSTM cells projected to 128.
MINI = {
    "lstm": {
        "dim": 512,
        "projection_dim": 128,
        "n_layers": 2,
        "cell_clip": 3,
        "proj_clip": 3,
        "use_skip_connections": True,
    },
    "char_cnn": {
        "embedding": {"dim": 16},
        "filters": [[1, 32], [2, 32], [3, 64], [4, 128], [5, 256]],
        "n_highway": 2,
        "activation": "relu",
        "n_characters": 262,
        "max_characters_per_token": 50,
    },
}

PRESETS = {"tiny": SIZES["tiny"], "mini": MINI}
for _name in ("small", "medium", "original"):
    PRESETS[_name] = SIZES[_name]


def resolve_options(options):
    """Return ``(options_dict, BilmOptions)`` for a preset name or a dict.

    The dict is copied and written back with ``n_characters`` 262, the value
    inference readers expect.
    """
    if isinstance(options, str):
        if options not in PRESETS:
            raise ValueError(
                f"options must be one of {sorted(PRESETS)} or a bilm-tf options "
                f"dict, got {options!r}"
            )
        raw = copy.deepcopy(PRESETS[options])
        where = f"options={options!r}"
    elif isinstance(options, dict):
        raw = copy.deepcopy(options)
        where = "options"
    else:
        raise TypeError(
            f"options must be a preset name or an options dict, got "
            f"{type(options).__name__}"
        )
    opts = parse_options(raw, where)
    written = opts.to_dict()
    written["char_cnn"]["n_characters"] = 262
    return written, opts
