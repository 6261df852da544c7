"""Character-id encoding of tokens, as the ELMo biLM reads them.

A token becomes ``MAX_CHARS`` ids: begin-of-word, its UTF-8 bytes (cut to
48), end-of-word, then padding; every raw id is shifted by +1 so that id 0
is free to mark batch padding (a row of zeros is "no token").
"""

import numpy as np

MAX_CHARS = 50
MAX_TOKEN_BYTES = MAX_CHARS - 2

BOS_CHAR = 256  # begin of sentence
EOS_CHAR = 257  # end of sentence
BOW_CHAR = 258  # begin of word
EOW_CHAR = 259  # end of word
PAD_CHAR = 260  # padding inside a token
BOS_TOKEN = "<S>"
EOS_TOKEN = "</S>"


def _boundary_ids(char):
    ids = np.full(MAX_CHARS, PAD_CHAR, dtype=np.int32)
    ids[0], ids[1], ids[2] = BOW_CHAR, char, EOW_CHAR
    return ids + 1


BOS_IDS = _boundary_ids(BOS_CHAR)
EOS_IDS = _boundary_ids(EOS_CHAR)
_EMPTY_TOKEN = np.full(MAX_CHARS, PAD_CHAR, dtype=np.int32)


def token_to_ids(token):
    """Return the 50 (shifted) character ids of one token.

    Parameters
    ----------
    token : str
        The token. ``"<S>"`` and ``"</S>"`` map to the sentence-boundary
        tokens. Characters that UTF-8 cannot encode (lone surrogates) are
        encoded with the ``surrogatepass`` handler, so every ``str`` encodes.

    Returns
    -------
    ids : ndarray of shape (50,), dtype int32

    Examples
    --------
    >>> from sklearn_elmo.bilm._chars import token_to_ids
    >>> token_to_ids("Hi")[:5].tolist()
    [259, 73, 106, 260, 261]
    """
    if token == BOS_TOKEN:
        return BOS_IDS.copy()
    if token == EOS_TOKEN:
        return EOS_IDS.copy()
    raw = token.encode("utf-8", errors="surrogatepass")[:MAX_TOKEN_BYTES]
    ids = _EMPTY_TOKEN.copy()
    ids[0] = BOW_CHAR
    ids[1 : 1 + len(raw)] = np.frombuffer(raw, dtype=np.uint8)
    ids[1 + len(raw)] = EOW_CHAR
    return ids + 1


def batch_to_ids(sentences, width=None):
    """Encode sentences, wrapped in boundary tokens, as a padded id array.

    Parameters
    ----------
    sentences : sequence of sequence of str
        Tokenized sentences (an empty sentence is allowed).
    width : int, optional
        Number of token slots; defaults to the longest sentence + 2.

    Returns
    -------
    ids : ndarray of shape (n_sentences, width, 50), dtype int32
        Row i holds ``<S>``, the tokens, ``</S>``, then zero padding.
    lengths : ndarray of shape (n_sentences,), dtype int32
        Number of tokens of each sentence including the two boundaries.
    """
    lengths = np.array([len(s) + 2 for s in sentences], dtype=np.int32)
    if width is None:
        width = int(lengths.max()) if len(sentences) else 2
    ids = np.zeros((len(sentences), width, MAX_CHARS), dtype=np.int32)
    cache = {}
    for row, sentence in enumerate(sentences):
        ids[row, 0] = BOS_IDS
        for col, token in enumerate(sentence, start=1):
            encoded = cache.get(token)
            if encoded is None:
                encoded = cache[token] = token_to_ids(token)
            ids[row, col] = encoded
        ids[row, len(sentence) + 1] = EOS_IDS
    return ids, lengths


def batch_to_unique_ids(sentences):
    """Encode a batch as its distinct tokens plus an index into them.

    The character CNN then runs once per distinct token of the batch, which
    in ordinary text is a fraction of all positions.

    Returns
    -------
    unique_ids : ndarray of shape (n_unique, 50), dtype int32
        Row 0 is ``<S>``, row 1 ``</S>``, then each distinct token once.
    index : ndarray of shape (n_sentences, max_len + 2), dtype int32
        ``index[i, t]`` is 1 + the row of ``unique_ids`` at position t of
        sentence i (boundaries included), and 0 at padding.
    lengths : ndarray of shape (n_sentences,), dtype int32
        Lengths including the two boundary tokens.
    """
    lengths = np.array([len(s) + 2 for s in sentences], dtype=np.int32)
    width = int(lengths.max()) if len(sentences) else 2
    index = np.zeros((len(sentences), width), dtype=np.int32)
    rows = {BOS_TOKEN: 0, EOS_TOKEN: 1}
    for i, sentence in enumerate(sentences):
        index[i, 0] = 1
        for t, token in enumerate(sentence, start=1):
            row = rows.get(token)
            if row is None:
                row = rows[token] = len(rows)
            index[i, t] = row + 1
        index[i, len(sentence) + 1] = 2
    unique_ids = np.empty((len(rows), MAX_CHARS), dtype=np.int32)
    for token, row in rows.items():
        unique_ids[row] = token_to_ids(token)
    return unique_ids, index, lengths
