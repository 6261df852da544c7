"""The published ELMo sizes (and a test-sized one) as bilm-tf options dicts."""

_PUBLISHED_FILTERS = [
    [1, 32],
    [2, 32],
    [3, 64],
    [4, 128],
    [5, 256],
    [6, 512],
    [7, 1024],
]


def _options(lstm_dim, projection_dim, n_highway, filters, char_dim):
    return {
        "lstm": {
            "dim": lstm_dim,
            "projection_dim": projection_dim,
            "n_layers": 2,
            "cell_clip": 3,
            "proj_clip": 3,
            "use_skip_connections": True,
        },
        "char_cnn": {
            "embedding": {"dim": char_dim},
            "filters": filters,
            "n_highway": n_highway,
            "activation": "relu",
            "n_characters": 262,
            "max_characters_per_token": 50,
        },
    }


SIZES = {
    "tiny": _options(32, 16, 1, [[1, 8], [2, 8], [3, 16]], 8),
    "small": _options(1024, 128, 1, _PUBLISHED_FILTERS, 16),
    "medium": _options(2048, 256, 1, _PUBLISHED_FILTERS, 16),
    "original": _options(4096, 512, 2, _PUBLISHED_FILTERS, 16),
}
