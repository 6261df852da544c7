"""The bundled warm-up text that defines the "warm" initial state."""

from importlib import resources


def warmup_sentences():
    """The bundled warm-up text: tokenized English sentences, one per line."""
    text = (
        resources.files("sklearn_elmo").joinpath("data/warmup.txt").read_text("utf-8")
    )
    return [line.split(" ") for line in text.splitlines() if line.strip()]
