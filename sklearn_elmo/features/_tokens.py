"""Per-token biLM features of sentences, their checks, and token stacking helpers.

Token-level estimators (:class:`~sklearn_elmo.ElmoTagger`,
:class:`~sklearn_elmo.ElmoTokenVectorizer`) read sentences as token tuples.
They go through the shared embedding cache
(:func:`~sklearn_elmo.features.cached_embed_texts`) as "texts" that are token
tuples, split by :func:`pretokenized`, a pass-through tokenizer: the cache keys
an entry by (biLM fingerprint, tokenizer identity, ``max_tokens``, text), so
a token tuple under this tokenizer's identity is a key of its own, stable
across processes (the persistent cache writes it as a JSON list), and never
equal to a str text's key. Each distinct sentence goes through the biLM once
per process, as texts do.

:func:`embed_sentences` returns :class:`~sklearn_elmo.features.LayerFeatures`
with every token's vectors, stored per sentence back to back (no padding):
float16 when the cache keeps float16 (the default; those values are
float16-rounded already, so nothing is lost), else float32. Batches are
padded only when the network reads them.
"""

from collections.abc import Iterator
from numbers import Integral

import numpy as np

from .._config import get_config
from .._validation import check_tokens
from ._cached import cached_embed_texts, stream_chunk_size
from ._embedding import LayerFeatures
from ._entries import to_storage

__all__ = ["stack_tokens", "unstack_tokens"]

_SENTENCES_HELP = (
    "a list (tuple, iterator, numpy array or pandas Series) of sentences, each a "
    "list of str tokens"
)


def pretokenized(tokens):
    """The tokenizer of already tokenized sentences: a token tuple as a list."""
    return list(tokens)


def _describe(value):
    return type(value).__name__


def _as_list(X, input_name, what):
    """A container of sentences (or label sequences) as a list."""
    if isinstance(X, (str, bytes)):
        raise TypeError(
            f"{input_name} must be {what}; got a single {_describe(X)}. Wrap it in a "
            "list."
        )
    if isinstance(X, Iterator):
        return list(X)
    if isinstance(X, (list, tuple)):
        return list(X)
    if hasattr(X, "iloc") and hasattr(X, "tolist"):  # pandas Series
        return X.tolist()
    if isinstance(X, np.ndarray):
        if X.ndim == 2:  # equal-length sentences as rows
            return [list(row) for row in X]
        if X.ndim == 1:
            return list(X)
        raise ValueError(f"{input_name}: expected 1-D or 2-D, got shape {X.shape}.")
    raise TypeError(f"{input_name} must be {what}; got {_describe(X)}.")


def check_sentences(X, *, input_name="X", tokenizer=None, allow_texts=False):
    """Validate sentences; return them as a list of tuples of str.

    Parameters
    ----------
    X : list, tuple, iterator, ndarray or pandas Series
        Each element a list, tuple or 1-D array of str tokens; with
        ``allow_texts`` also a str, split by ``tokenizer``. An empty sentence
        is allowed.
    input_name : str
        Name used in error messages.
    tokenizer : callable or None
        str -> list of str for texts; None uses the default tokenizer.
    allow_texts : bool
        Whether str elements (texts) are accepted.

    Raises
    ------
    TypeError
        If X or an element is not of a supported type, or a token is not a
        str (the message names ``X[i][j]``).
    ValueError
        If X is empty or a token is the empty string.
    """
    values = _as_list(X, input_name, _SENTENCES_HELP)
    if not values:
        raise ValueError(f"{input_name} is empty: at least one sentence is required.")
    if allow_texts:
        from ..tokenize import default_tokenizer

        tokenize = default_tokenizer if tokenizer is None else tokenizer
    sentences = []
    for i, sentence in enumerate(values):
        if isinstance(sentence, str):
            if not allow_texts:
                raise TypeError(
                    f"{input_name}[{i}] is a str ({sentence!r:.40}); sentences must "
                    "be lists of tokens (for example text.split())."
                )
            sentences.append(tuple(check_tokens(tokenize(sentence), i)))
            continue
        if not isinstance(sentence, (list, tuple, np.ndarray)) or (
            isinstance(sentence, np.ndarray) and sentence.ndim != 1
        ):
            raise TypeError(
                f"{input_name}[{i}] must be a list of str tokens"
                f"{' or a text' if allow_texts else ''}, got {_describe(sentence)}."
            )
        tokens = []
        for j, token in enumerate(sentence):
            if not isinstance(token, str):
                raise TypeError(
                    f"{input_name}[{i}][{j}] must be a str token, got "
                    f"{_describe(token)} ({token!r:.40})."
                )
            if not token:
                raise ValueError(f"{input_name}[{i}][{j}] is an empty token.")
            tokens.append(str(token))  # numpy.str_ -> str
        sentences.append(tuple(tokens))
    return sentences


def check_tag_sequences(y, lengths, estimator_name, *, input_name="y"):
    """Validate one label sequence per sentence; return a list of lists.

    ``lengths[i]`` is the token count of sentence i. Labels are str or int
    (not a mix of both).

    Raises
    ------
    ValueError
        If y is None, has another number of sequences than there are
        sentences, or a sequence's length differs from its sentence's (the
        message names the sentence index).
    TypeError
        If y or a sequence is not a list of labels, or a label is neither a
        str nor an int.
    """
    if y is None:
        raise ValueError(
            f"{estimator_name} requires y, one list of labels per sentence; y is None."
        )
    what = "a list with one sequence of labels per sentence"
    sequences = _as_list(y, input_name, what)
    if len(sequences) != len(lengths):
        raise ValueError(
            f"X and {input_name} have inconsistent numbers of sentences: "
            f"{len(lengths)} sentences and {len(sequences)} label sequences."
        )
    kinds = set()
    checked = []
    for i, (sequence, length) in enumerate(zip(sequences, lengths, strict=True)):
        if isinstance(sequence, (str, bytes)) or not isinstance(
            sequence, (list, tuple, np.ndarray)
        ):
            raise TypeError(
                f"{input_name}[{i}] must be the list of labels of sentence X[{i}], got "
                f"{_describe(sequence)} ({sequence!r:.40}). {input_name} must be "
                f"{what}."
            )
        labels = (
            list(sequence)
            if not isinstance(sequence, np.ndarray)
            else sequence.tolist()
        )
        if len(labels) != length:
            raise ValueError(
                f"{input_name}[{i}] has {len(labels)} labels but sentence X[{i}] has "
                f"{length} tokens; every sentence needs one label per token."
            )
        for j, label in enumerate(labels):
            if isinstance(label, str):
                kinds.add("str")
            elif isinstance(label, Integral) and not isinstance(
                label, (bool, np.bool_)
            ):
                kinds.add("int")
                labels[j] = int(label)
            else:
                raise TypeError(
                    f"{input_name}[{i}][{j}] must be a str or int label, got "
                    f"{_describe(label)} ({label!r:.40})."
                )
        checked.append(labels)
    if len(kinds) > 1:
        raise TypeError(f"The labels in {input_name} mix str and int; use one type.")
    return checked


def embed_sentences(
    sentences,
    bilm,
    *,
    layers,
    max_tokens,
    batch_size,
    layer_norm=False,
    verbose=0,
    label="sklearn_elmo",
    cache_dir=None,
):
    """Token vectors of the selected layers for token-tuple sentences.

    Through the embedding cache, in chunks of about 64 MiB of float32 outputs
    so the result's compact storage bounds the memory.

    Returns
    -------
    LayerFeatures
        With ``tokens`` of shape ``(total_tokens, len(layers), dim)``, float16
        when the cache stores float16 and the values fit, else float32.
    """
    chunk = stream_chunk_size(len(layers), bilm.dim, True)
    # Cached token vectors are float16-rounded already (by default), so
    # keeping them in float16 is exact; carry mode bypasses the cache and
    # layer normalisation makes new values, so those stay float32.
    compact = (
        get_config()["cache_token_dtype"] == "float16"
        and bilm.initial_state != "carry"
        and not layer_norm
    )
    parts = []
    for start in range(0, len(sentences), chunk):
        features = cached_embed_texts(
            sentences[start : start + chunk],
            bilm,
            tokenizer=pretokenized,
            max_tokens=max_tokens,
            batch_size=batch_size,
            layers=layers,
            token_level=True,
            verbose=verbose,
            label=label,
            cache_dir=cache_dir,
        )
        if layer_norm:
            features = features.layer_normalized()
        if compact:
            features.tokens = to_storage(features.tokens, "float16")
        parts.append(features)
    if len(parts) == 1:
        return parts[0]
    tokens = [p.tokens for p in parts]
    if len({t.dtype for t in tokens}) > 1:
        tokens = [t.astype(np.float32) for t in tokens]
    return LayerFeatures(
        np.concatenate([p.n_tokens for p in parts]),
        np.concatenate([p.means for p in parts]),
        np.concatenate([p.sq_means for p in parts]),
        np.concatenate(tokens),
    )


# -- stacking ---------------------------------------------------------------------


def stack_tokens(sequences):
    """Stack per-sentence token rows into one array, with sentence offsets.

    Turns the per-sentence output of
    :meth:`ElmoTokenVectorizer.transform <sklearn_elmo.ElmoTokenVectorizer.transform>`
    (one ``(n_tokens, width)`` array per sentence) into one
    ``(total_tokens, width)`` matrix for any scikit-learn estimator, and the
    label sequences of the same sentences into the matching 1-D target.
    :func:`unstack_tokens` undoes it.

    Parameters
    ----------
    sequences : list of array-like
        Per sentence, a 2-D array of token rows (all of one width), or a
        sequence of per-token values (labels). Empty sentences are allowed.

    Returns
    -------
    stacked : ndarray
        ``(total_tokens, width)`` for 2-D inputs, ``(total_tokens,)`` for 1-D.
    offsets : ndarray of shape (n_sentences + 1,), int64
        Sentence ``i`` is ``stacked[offsets[i]:offsets[i + 1]]``.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn_elmo import stack_tokens, unstack_tokens
    >>> X, offsets = stack_tokens([np.ones((2, 4)), np.zeros((0, 4)), np.ones((3, 4))])
    >>> X.shape, offsets.tolist()
    ((5, 4), [0, 2, 2, 5])
    >>> y, _ = stack_tokens([["B-PER", "O"], [], ["O", "O", "B-LOC"]])
    >>> y.tolist()
    ['B-PER', 'O', 'O', 'O', 'B-LOC']
    >>> [part.tolist() for part in unstack_tokens(y, offsets)]
    [['B-PER', 'O'], [], ['O', 'O', 'B-LOC']]
    """
    values = _as_list(sequences, "sequences", "a list of per-sentence sequences")
    if not values:
        raise ValueError("sequences is empty: at least one sentence is required.")
    arrays = []
    for i, value in enumerate(values):
        if isinstance(value, (str, bytes)):
            raise TypeError(
                f"sequences[{i}] is a str; each element must hold one value (or row) "
                "per token."
            )
        array = np.asarray(value) if isinstance(value, np.ndarray) else None
        if array is None:
            items = list(value)
            dtype = object if items and isinstance(items[0], str) else None
            array = np.asarray(items, dtype=dtype)
        arrays.append(array)
    ndims = {a.ndim for a in arrays if a.size} or {arrays[0].ndim}
    if len(ndims) > 1 or ndims.pop() not in (1, 2):
        raise ValueError(
            "sequences must hold, per sentence, a 1-D sequence of values or a 2-D "
            "array of token rows, all of the same kind."
        )
    two_d = any(a.ndim == 2 for a in arrays)
    if two_d:
        widths = {a.shape[1] for a in arrays if a.ndim == 2}
        if len(widths) > 1:
            raise ValueError(
                f"The sentences' token rows differ in width: {sorted(widths)}."
            )
        width = widths.pop()
        arrays = [a.reshape(0, width) if a.size == 0 else a for a in arrays]
    else:
        arrays = [a.reshape(0) if a.size == 0 else a for a in arrays]
    lengths = np.array([len(a) for a in arrays], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    non_empty = [a for a in arrays if len(a)]
    if non_empty:
        dtypes = {a.dtype for a in non_empty}
        dtype = dtypes.pop() if len(dtypes) == 1 else None
        stacked = np.concatenate(non_empty).astype(dtype, copy=False)
    else:
        stacked = np.concatenate(arrays)
    return stacked, offsets


def unstack_tokens(stacked, offsets):
    """Split stacked token rows back into one array per sentence.

    Parameters
    ----------
    stacked : array-like of shape (total_tokens, ...)
        For example a classifier's ``predict`` or ``predict_proba`` on the
        matrix from :func:`stack_tokens`.
    offsets : array-like of shape (n_sentences + 1,)
        As returned by :func:`stack_tokens`.

    Returns
    -------
    parts : list of ndarray
        ``stacked[offsets[i]:offsets[i + 1]]`` for each sentence (views).

    Examples
    --------
    >>> from sklearn_elmo import unstack_tokens
    >>> [p.tolist() for p in unstack_tokens([1, 2, 3], [0, 1, 1, 3])]
    [[1], [], [2, 3]]
    """
    stacked = np.asarray(stacked)
    offsets = np.asarray(offsets)
    if (
        offsets.ndim != 1
        or len(offsets) < 1
        or not np.issubdtype(offsets.dtype, np.integer)
        or offsets[0] != 0
        or np.any(np.diff(offsets) < 0)
    ):
        raise ValueError(
            "offsets must be the non-decreasing int offsets from stack_tokens, "
            "starting at 0."
        )
    if stacked.ndim == 0 or len(stacked) != offsets[-1]:
        raise ValueError(
            f"stacked has {len(stacked) if stacked.ndim else 0} rows but the offsets "
            f"end at {int(offsets[-1])}."
        )
    return [stacked[offsets[i] : offsets[i + 1]] for i in range(len(offsets) - 1)]
