"""Host-side plans of packed pure-mode batches (numpy only).

See :mod:`sklearn_elmo.bilm._packed` for the graph that runs them: at each time
step only the rows of sentences still running are computed, rows sorted by
decreasing length so that they are a prefix.
"""

import numpy as np


class PackedPlan:
    """Where each real position of a batch goes in the packed layout.

    Built on the host (numpy) from a batch's token rows and lengths.

    Parameters
    ----------
    index : ndarray of int, shape (B, T)
        Row of each position's token in the batch's embedding table (0 for
        padding, whose embedding is zeros).
    lengths : ndarray of int, shape (B,)
        Tokens per sentence, at most ``T``; the longest has ``T``.
    bucket : callable int -> int
        The row count to compute for ``n`` running rows (``>= n``).

    Attributes
    ----------
    counts : ndarray of int32, shape (T,)
        Rows computed at each step (the running sentences, rounded up).
    fw_rows, bw_rows : ndarray of int32, shape (N,)
        Table row each packed position reads, per direction.
    fw_out, bw_out : ndarray of int32, shape (B, T)
        1 + the packed position holding each output, per direction; 0 at
        padding (a zero row).
    tokens : ndarray of int32, shape (U,)
        The distinct table rows ``fw_rows`` reads (``bw_rows`` reads the same).
    fw_tokens, bw_tokens : ndarray of int32, shape (N,)
        Where each packed position's row is in ``tokens``: the first layer's
        input projection is a function of the token, computed once per
        distinct token of the batch.
    real, computed : int
        Real positions (the sum of ``lengths``) and computed positions ``N``.
    """

    def __init__(self, index, lengths, bucket):
        index = np.asarray(index)
        lengths = np.asarray(lengths, np.int64)
        n_rows, width = index.shape
        order = np.argsort(-lengths, kind="stable")
        rank = np.empty(n_rows, np.int64)
        rank[order] = np.arange(n_rows)
        steps = np.arange(width)
        counts = step_rows(lengths, bucket, width)
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        top = int(counts[0])  # the most rows of a step, padding rows included
        # Rows of empty sentences come last and may not be computed at all.
        kept = order[:top]
        sorted_index = np.zeros((top, width), np.int64)
        sorted_index[: len(kept)] = index[kept]
        sorted_lengths = np.zeros(top, np.int64)
        sorted_lengths[: len(kept)] = lengths[kept]
        computed = np.arange(top)[None, :] < counts[:, None]  # (T, top)
        # Step t of the backward direction reads position length - 1 - t.
        position = sorted_lengths[None, :] - 1 - steps[:, None]
        backward = np.where(
            position >= 0,
            sorted_index[np.arange(top)[None, :], np.maximum(position, 0)],
            0,
        )
        self.counts = counts.astype(np.int32)
        self.fw_rows = sorted_index.T[computed].astype(np.int32)
        self.bw_rows = backward[computed].astype(np.int32)
        real = steps[None, :] < lengths[:, None]
        self.fw_out = np.where(real, offsets[None, :] + rank[:, None] + 1, 0).astype(
            np.int32
        )
        step = np.maximum(lengths[:, None] - 1 - steps[None, :], 0)
        self.bw_out = np.where(real, offsets[step] + rank[:, None] + 1, 0).astype(
            np.int32
        )
        # Both directions read the same rows, in another order.
        tokens, fw_tokens = np.unique(self.fw_rows, return_inverse=True)
        self.tokens = tokens.astype(np.int32)
        self.fw_tokens = fw_tokens.astype(np.int32)
        self.bw_tokens = np.searchsorted(tokens, self.bw_rows).astype(np.int32)
        self.real = int(lengths.sum())
        self.computed = int(counts.sum())


def step_rows(lengths, bucket, width=None):
    """Rows computed at each of ``width`` steps (default: the longest length).

    The sentences still running (longer than the step), rounded up by
    ``bucket``; never a single row in a batch of several: one row goes
    through a matrix-vector kernel that rounds differently (~1e-6 on the
    original model) from the matrix kernels. Those differ in the last bits
    only (steps of 64+ rows run XLA's dot, smaller ones oneDNN's), so a
    sentence's outputs agree across batches to 1e-6, not bit for bit.
    """
    lengths = np.sort(np.asarray(lengths, np.int64))
    if width is None:
        width = int(lengths[-1]) if len(lengths) else 0
    running = len(lengths) - np.searchsorted(lengths, np.arange(width), side="right")
    floor = min(len(lengths), 2)
    return np.array([max(bucket(int(n)), floor) for n in running], np.int64)


def plan_batches(lengths, batch_size, max_tokens, round_batch, bucket):
    """Sort by length and cut into batches for packed runs, longest first.

    A batch holds at most ``batch_size`` sentences and computes at most
    ``max_tokens`` positions (its real tokens plus the rows ``bucket``
    rounds up to); its padded output, rows x longest, stays under
    ``2 * max_tokens`` positions (a few bytes per position, against the gate
    activations' 32 per token and LSTM unit). Every batch but the last has
    ``round_batch(n) == n`` rows, so that its steps with every sentence
    running compute no rounding rows. Cutting from the longest sentences
    leaves the ragged remainder to the shortest: its few rows then run
    few steps (cut from the shortest, a call of 1,333 sentences ended on
    64 rows of the longest, 61 steps at four fifths of a full batch's rate).

    Returns
    -------
    list of ndarray of int
        Positions in ``lengths`` of each batch's sentences, longest first.
    """
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    ordered = lengths[order]
    batches, start = [], 0
    while start < len(order):
        width = int(ordered[start])  # the longest of the batch: sorted
        stop, tokens = start + 1, width
        while stop < len(order) and stop - start < batch_size:
            if (
                tokens + int(ordered[stop]) > max_tokens
                or (stop - start + 1) * width > 2 * max_tokens
            ):
                break
            tokens += int(ordered[stop])
            stop += 1
        # Rounding adds rows to some steps: drop sentences until it all fits.
        while (
            stop - start > 1
            and step_rows(ordered[start:stop], bucket).sum() > max_tokens
        ):
            stop -= 1
        if stop < len(order):  # the last batch may be ragged
            stop = start + round_batch(stop - start)
        batches.append(order[start:stop])
        start = stop
    return batches
