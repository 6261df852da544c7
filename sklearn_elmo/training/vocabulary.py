"""The softmax vocabulary: read, build from counts, and write.

The file format is bilm-tf's: one token per line, ``<S>``, ``</S>`` and
``<UNK>`` present (first, when we build it), the others sorted by descending
frequency, which the log-uniform negative sampler assumes.
"""

import hashlib
from collections import Counter

from ..bilm._chars import BOS_TOKEN, EOS_TOKEN

UNK_TOKEN = "<UNK>"
SPECIALS = (BOS_TOKEN, EOS_TOKEN, UNK_TOKEN)


class Vocabulary:
    """Tokens of the softmax, in id order.

    Parameters
    ----------
    tokens : list of str
        Must hold ``<S>``, ``</S>`` and ``<UNK>`` once each.

    Examples
    --------
    >>> from sklearn_elmo.training.vocabulary import Vocabulary
    >>> vocab = Vocabulary.from_counts({"the": 3, "cat": 1})
    >>> vocab.tokens
    ['<S>', '</S>', '<UNK>', 'the', 'cat']
    >>> vocab.id("dog") == vocab.unk_id
    True
    """

    def __init__(self, tokens, where="vocabulary"):
        self.tokens = list(tokens)
        self.index = {}
        for i, token in enumerate(self.tokens):
            if token in self.index:
                raise ValueError(f"{where}: token {token!r} appears twice")
            self.index[token] = i
        missing = [s for s in SPECIALS if s not in self.index]
        if missing:
            raise ValueError(
                f"{where}: the vocabulary must contain {', '.join(SPECIALS)}; "
                f"missing {', '.join(missing)}"
            )
        self.bos_id = self.index[BOS_TOKEN]
        self.eos_id = self.index[EOS_TOKEN]
        self.unk_id = self.index[UNK_TOKEN]

    def __len__(self):
        return len(self.tokens)

    def id(self, token):
        return self.index.get(token, self.unk_id)

    def digest(self):
        return hashlib.sha256("\n".join(self.tokens).encode("utf-8")).hexdigest()

    @classmethod
    def from_counts(cls, counts, max_vocab=None, min_count=1):
        """The specials, then tokens seen ``min_count`` times or more by frequency.

        Ties are broken by the token's text so the result is deterministic.
        ``max_vocab`` counts the three specials.
        """
        counts = Counter(counts)
        for special in SPECIALS:
            counts.pop(special, None)
        kept = sorted(
            (t for t, n in counts.items() if n >= min_count),
            key=lambda t: (-counts[t], t),
        )
        if max_vocab is not None:
            kept = kept[: max_vocab - len(SPECIALS)]
        return cls(list(SPECIALS) + kept)

    @classmethod
    def read(cls, path):
        """Read a vocabulary file in the bilm-tf format, checking it line by line."""
        try:
            with open(path, "rb") as fh:
                raw = fh.read()
        except FileNotFoundError:
            raise ValueError(f"vocab: {path}: no such file") from None
        except IsADirectoryError:
            raise ValueError(
                f"vocab: {path}: is a directory, not a vocabulary file"
            ) from None
        if b"\0" in raw:
            raise ValueError(f"vocab: {path}: binary file, not a vocabulary")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"vocab: {path}: not UTF-8 text ({exc.reason})") from None
        lines = text.splitlines()
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            raise ValueError(f"vocab: {path}: the file is empty")
        tokens = []
        for number, line in enumerate(lines, start=1):
            token = line.strip()
            if not token:
                raise ValueError(f"vocab: {path}, line {number}: empty line")
            if len(token.split()) != 1:
                raise ValueError(
                    f"vocab: {path}, line {number}: expected one token per line, "
                    f"got {line.strip()!r} (counts or several tokens are not "
                    "part of the format)"
                )
            tokens.append(token)
        return cls(tokens, where=f"vocab: {path}")

    def write(self, path):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\n".join(self.tokens) + "\n")
