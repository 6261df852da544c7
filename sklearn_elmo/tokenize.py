"""Default tokenizer: raw text to the kind of tokens ELMo was trained on.

The released ELMo models were trained on the 1 Billion Word Benchmark, a
news corpus tokenized in the Penn-Treebank/Moses tradition: punctuation is
split from words, clitics are separate tokens (``do n't``, ``it 's``), and
numbers, abbreviations and hyphenated words stay whole. Case is kept: the
biLM reads characters and case carries information.
"""

import re

__all__ = ["default_tokenizer"]

_APOSTROPHES = "'\u2019"

# Order matters: earlier alternatives win at the same position.
_TOKEN_RE = re.compile(
    r"""
    (?:[^\W\d_]\.){2,}                  # abbreviations with inner dots: U.S., e.g.
    | \d+(?:[.,:/]\d+)*(?![^\W_])       # numbers: 3.14, 1,000, 10:30, 1/2
    | [^\W_]+(?:[-'\u2019][^\W_]+)*      # words, possibly hyphenated / with apostrophes
    | \.{3}                             # ellipsis
    | -{2,}                             # dashes written as --
    | \S                                # any other single visible character
    """,
    re.VERBOSE,
)

# Clitics split off as in the Penn Treebank: "don't" -> "do" "n't".
_NEGATION_RE = re.compile(r"^(.+)([nN][" + _APOSTROPHES + r"][tT])$")
_CLITIC_RE = re.compile(
    r"^(.+?)([" + _APOSTROPHES + r"](?:[sSmMdD]|[lL][lL]|[rR][eE]|[vV][eE]))$"
)


def _split_clitics(word):
    match = _NEGATION_RE.match(word)
    if match:
        return [match.group(1), match.group(2)]
    match = _CLITIC_RE.match(word)
    if match:
        return [match.group(1), match.group(2)]
    return [word]


def default_tokenizer(text):
    """Split a text into ELMo-style tokens.

    Punctuation is separated from words, English clitics become their own
    tokens (``"don't"`` gives ``["do", "n't"]``), while numbers
    (``"3.14"``, ``"1,000"``), abbreviations (``"U.S."``) and hyphenated
    words stay whole. Case is preserved. No characters are dropped except
    whitespace: joining the tokens gives back the text without its spaces.

    Parameters
    ----------
    text : str
        The text to tokenize.

    Returns
    -------
    tokens : list of str
        The tokens, in order; an empty list for a blank text.

    Examples
    --------
    >>> from sklearn_elmo.tokenize import default_tokenizer
    >>> default_tokenizer("The U.S. economy didn't grow 2.5% (yet).")
    ['The', 'U.S.', 'economy', 'did', "n't", 'grow', '2.5', '%', '(', 'yet', ')', '.']
    """
    if not isinstance(text, str):
        raise TypeError(f"default_tokenizer expects a str, got {type(text).__name__}.")
    tokens = []
    for match in _TOKEN_RE.finditer(text):
        token = match.group(0)
        if any(a in token for a in _APOSTROPHES):
            tokens.extend(_split_clitics(token))
        else:
            tokens.append(token)
    return tokens
