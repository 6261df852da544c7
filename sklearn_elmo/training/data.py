"""Stateful training windows: the data position is a pure function of the step.

Epoch ``e`` shuffles the sentences with a generator seeded by
``(random_state, e)`` and lays them end to end as ``(input, target)`` pairs:
a sentence ``<S> w1 .. wn </S>`` gives the forward pairs
``(<S>, w1) .. (wn, </S>)`` and, reversed, the backward pairs
``(</S>, wn) .. (w1, <S>)``. The epoch's pairs are cut into ``batch_size``
equal rows (row k of one batch continues in row k of the next, the LSTM
state carried), each read ``unroll_steps`` pairs at a time. Any step's batch
can therefore be rebuilt from the step number alone, which is what makes a
resumed run identical to an uninterrupted one.
"""

import numpy as np

from ..bilm._chars import token_to_ids

BOW, EOW, PAD = 258, 259, 260  # training ids (no +1 shift)


def batch_chars(chars, max_width, row_bucket=128, column_bucket=8):
    """The char CNN's input for a batch's distinct tokens ``(U, 50)``.

    Rows are padded to a multiple of ``row_bucket`` (with unused padding
    tokens) so the step sees few shapes. Columns are cut after the longest
    token's end-of-word plus ``max_width - 1``, rounded up to
    ``column_bucket``: every convolution window that is all padding has the
    same value, so the model adds that value once instead of computing it
    at every position (model.py); ordinary text has no token near 48 bytes,
    which halves the convolutions.
    """
    lengths = np.argmax(chars == EOW, axis=1) + 1
    width = int(lengths.max()) + max_width - 1 if len(chars) else max_width
    width = min(chars.shape[1], -(-width // column_bucket) * column_bucket)
    rows = -(-len(chars) // row_bucket) * row_bucket
    out = np.full((rows, width), PAD, np.int32)
    out[: len(chars)] = chars[:, :width]
    out[len(chars) :, 0] = BOW
    out[len(chars) :, 1] = EOW
    return out


def type_char_ids(types):
    """Character ids of each token type, as training reads them (0..260)."""
    ids = np.empty((len(types), 50), np.int16)
    for i, token in enumerate(types):
        ids[i] = token_to_ids(token) - 1  # training has no padding id
    return ids


class Windows:
    """Batches of a corpus for training.

    Parameters
    ----------
    corpus : Corpus
    target_of_type : ndarray of int32
        Vocabulary id of every token type (``<UNK>`` for those outside).
    batch_size, unroll_steps : int
    seed : int
        Shuffling seed; ``None`` keeps the corpus order (evaluation).
    """

    def __init__(self, corpus, target_of_type, batch_size, unroll_steps, seed):
        self.corpus = corpus
        self.target_of_type = np.asarray(target_of_type, np.int32)
        self.batch_size = batch_size
        self.unroll_steps = unroll_steps
        self.seed = seed
        self.pairs = np.diff(np.append(corpus.starts, len(corpus.flat))) - 1
        self.row_length = int(self.pairs.sum()) // batch_size
        self.steps_per_epoch = self.row_length // unroll_steps
        self._epoch = None

    @property
    def tokens_per_step(self):
        return self.batch_size * self.unroll_steps

    @property
    def tokens_per_epoch(self):
        return self.steps_per_epoch * self.tokens_per_step

    def _order(self, epoch):
        if self._epoch is not None and self._epoch[0] == epoch:
            return self._epoch[1:]
        n = self.corpus.n_sentences
        if self.seed is None:
            perm = np.arange(n)
        else:
            perm = np.random.default_rng([self.seed, epoch]).permutation(n)
        ends = np.cumsum(self.pairs[perm])
        self._epoch = (epoch, perm, ends)
        return perm, ends

    def positions(self, step):
        """Indices in ``corpus.flat`` of the forward and backward inputs of ``step``.

        Returns two ``(batch_size, unroll_steps)`` int64 arrays.
        """
        epoch, j = divmod(step, self.steps_per_epoch)
        perm, ends = self._order(epoch)
        rows = np.arange(self.batch_size)[:, None] * self.row_length
        q = rows + j * self.unroll_steps + np.arange(self.unroll_steps)[None, :]
        k = np.searchsorted(ends, q, side="right")
        sentence = perm[k]
        offset = q - (ends[k] - self.pairs[sentence])
        start = self.corpus.starts[sentence]
        forward = start + offset
        backward = start + self.pairs[sentence] - offset  # from </S> down to w1
        return forward, backward

    def batch(self, step):
        """The arrays one training step reads.

        Returns
        -------
        types : ndarray of int32
            Distinct token types of the batch (the char CNN runs once per type).
        index : ndarray of int32, shape (2, batch_size, unroll_steps)
            Row of ``types`` at each input position, forward then backward.
        targets : ndarray of int32, shape (2, batch_size, unroll_steps)
            Vocabulary id to predict at each position.
        """
        flat = self.corpus.flat
        forward, backward = self.positions(step)
        inputs = np.stack([flat[forward], flat[backward]])
        targets = self.target_of_type[np.stack([flat[forward + 1], flat[backward - 1]])]
        types, index = np.unique(inputs, return_inverse=True)
        return (
            types.astype(np.int32),
            index.reshape(inputs.shape).astype(np.int32),
            targets,
        )
