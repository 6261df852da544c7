"""Parse and validate a bilm-tf ``options.json``."""

import json
from dataclasses import dataclass

from ._chars import MAX_CHARS

ACTIVATIONS = ("relu", "tanh")


@dataclass(frozen=True)
class BilmOptions:
    """The architecture of a biLM, as read from ``options.json``."""

    char_dim: int
    filters: tuple  # ((width, num), ...)
    n_highway: int
    activation: str
    n_characters: int
    lstm_dim: int
    projection_dim: int
    n_lstm_layers: int
    cell_clip: float | None
    proj_clip: float | None
    use_skip_connections: bool

    @property
    def n_filters(self):
        return sum(num for _, num in self.filters)

    @property
    def use_projection(self):
        # bilm-tf projects the CNN output only when its width differs.
        return self.n_filters != self.projection_dim

    @property
    def output_dim(self):
        return 2 * self.projection_dim

    def token_embedding_flops(self):
        """Multiply-adds x 2 of one token's char CNN, highway and projection."""
        macs = 0
        for width, num in self.filters:
            macs += (MAX_CHARS - width + 1) * width * self.char_dim * num
        macs += self.n_highway * 2 * self.n_filters**2
        if self.use_projection:
            macs += self.n_filters * self.projection_dim
        return 2 * macs

    def flops_per_token(self):
        """Multiply-adds x 2 of one token through the whole biLM (both directions)."""
        macs = self.token_embedding_flops() // 2
        per_cell = 2 * self.projection_dim * 4 * self.lstm_dim
        per_cell += self.lstm_dim * self.projection_dim
        macs += 2 * self.n_lstm_layers * per_cell
        return 2 * macs

    def to_dict(self):
        """The options in the bilm-tf ``options.json`` layout."""
        return {
            "lstm": {
                "dim": self.lstm_dim,
                "projection_dim": self.projection_dim,
                "n_layers": self.n_lstm_layers,
                "cell_clip": self.cell_clip,
                "proj_clip": self.proj_clip,
                "use_skip_connections": self.use_skip_connections,
            },
            "char_cnn": {
                "embedding": {"dim": self.char_dim},
                "filters": [list(f) for f in self.filters],
                "n_highway": self.n_highway,
                "activation": self.activation,
                "n_characters": self.n_characters,
                "max_characters_per_token": MAX_CHARS,
            },
        }


def _positive_int(value, where, path):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{path}: {where} must be a positive integer, got {value!r}")
    return value


def _clip(value, where, path):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ValueError(f"{path}: {where} must be a positive number, got {value!r}")
    return float(value)


def parse_options(options, path="options"):
    """Validate an options mapping and return a :class:`BilmOptions`.

    Parameters
    ----------
    options : dict
        The content of ``options.json``.
    path : str
        Where the options came from, for error messages.

    Raises
    ------
    ValueError
        Naming ``path`` and the offending key when anything is missing or wrong.
    """
    if not isinstance(options, dict):
        raise ValueError(
            f"{path}: expected a JSON object, got {type(options).__name__}"
        )
    try:
        lstm = options["lstm"]
        cnn = options["char_cnn"]
        char_dim = cnn["embedding"]["dim"]
        filters = cnn["filters"]
        n_highway = cnn["n_highway"]
        lstm_dim = lstm["dim"]
        projection_dim = lstm["projection_dim"]
        n_layers = lstm["n_layers"]
    except (KeyError, TypeError) as exc:
        raise ValueError(f"{path}: missing option {exc}") from None

    activation = cnn.get("activation", "relu")
    if activation not in ACTIVATIONS:
        raise ValueError(
            f"{path}: unknown char_cnn activation {activation!r}; "
            f"expected one of {ACTIVATIONS}"
        )
    n_characters = cnn.get("n_characters", 262)
    if n_characters not in (261, 262):
        raise ValueError(
            f"{path}: char_cnn.n_characters must be 262 (inference) or 261 "
            f"(training), got {n_characters!r}"
        )
    max_chars = cnn.get("max_characters_per_token", MAX_CHARS)
    if max_chars != MAX_CHARS:
        raise ValueError(
            f"{path}: char_cnn.max_characters_per_token must be {MAX_CHARS}, "
            f"got {max_chars!r}"
        )
    if not isinstance(filters, list) or not filters:
        raise ValueError(f"{path}: char_cnn.filters must be a non-empty list")
    parsed_filters = []
    for i, f in enumerate(filters):
        if not isinstance(f, (list, tuple)) or len(f) != 2:
            raise ValueError(f"{path}: char_cnn.filters[{i}] must be [width, num]")
        width = _positive_int(f[0], f"char_cnn.filters[{i}] width", path)
        num = _positive_int(f[1], f"char_cnn.filters[{i}] num", path)
        if width > MAX_CHARS:
            raise ValueError(
                f"{path}: char_cnn.filters[{i}] width {width} > {MAX_CHARS}"
            )
        parsed_filters.append((width, num))
    if isinstance(n_highway, bool) or not isinstance(n_highway, int) or n_highway < 0:
        raise ValueError(f"{path}: char_cnn.n_highway must be >= 0, got {n_highway!r}")
    skip = lstm.get("use_skip_connections", False)
    if not isinstance(skip, bool):
        raise ValueError(f"{path}: lstm.use_skip_connections must be true or false")
    return BilmOptions(
        char_dim=_positive_int(char_dim, "char_cnn.embedding.dim", path),
        filters=tuple(parsed_filters),
        n_highway=n_highway,
        activation=activation,
        n_characters=n_characters,
        lstm_dim=_positive_int(lstm_dim, "lstm.dim", path),
        projection_dim=_positive_int(projection_dim, "lstm.projection_dim", path),
        n_lstm_layers=_positive_int(n_layers, "lstm.n_layers", path),
        cell_clip=_clip(lstm.get("cell_clip"), "lstm.cell_clip", path),
        proj_clip=_clip(lstm.get("proj_clip"), "lstm.proj_clip", path),
        use_skip_connections=skip,
    )


def options_from_bytes(raw, where):
    """Parse and validate the bytes of an ``options.json``; ``where`` names it."""
    try:
        options = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ValueError(f"{where}: not a UTF-8 text file") from None
    except json.JSONDecodeError as exc:
        raise ValueError(f"{where}: not valid JSON ({exc})") from None
    return parse_options(options, str(where))


def read_options(path):
    """Read and validate ``options.json`` at ``path``."""
    with open(path, "rb") as fh:
        return options_from_bytes(fh.read(), path)
