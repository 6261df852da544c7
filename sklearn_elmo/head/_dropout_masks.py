"""Keras' dropout masks, step by step, drawn in bulk.

A ``keras.layers.Dropout`` layer draws a new stateless seed from its
``SeedGenerator`` at every training call: the generator's state plus
``[0, k]`` at call ``k``, folded into int32 (Keras' ``_cast_seed``), and
keeps the entries whose ``tf.random.stateless_uniform`` draw is ``>= rate``,
scaled by ``1 / (1 - rate)``. A call on fewer rows draws the first rows of
the same stream. :class:`DropoutMasks` reproduces those masks for the NumPy
trainer of :mod:`~sklearn_elmo.head._pooled_training`, so it trains exactly
as the Keras model would, drawing many steps' masks per TensorFlow call.
"""

import collections
import functools
import threading

import numpy as np
import tensorflow as tf

# Steps per cached block of factors; most bytes of factors (float32) drawn by
# one call, and kept per process.
_BLOCK_STEPS = 64
_DRAW_BYTES = 32 * 2**20
_CACHE_BYTES = 64 * 2**20
_INT32_FOLD = np.iinfo(np.int32).max - 1


@functools.cache
def _draw():
    @tf.function(
        input_signature=[
            tf.TensorSpec([None, 2], tf.int32),
            tf.TensorSpec([2], tf.int32),
            tf.TensorSpec([], tf.float32),
        ],
        autograph=False,
    )
    def draw(seeds, shape, rate):
        return tf.map_fn(
            lambda seed: tf.random.stateless_uniform(shape, seed=seed) >= rate,
            seeds,
            fn_output_signature=tf.TensorSpec([None, None], tf.bool),
            parallel_iterations=16,
        )

    return draw


def step_seeds(state, start, stop):
    """The int32 seeds a Keras dropout layer at ``state`` uses for calls ``start:stop``."""
    state = np.asarray(state, np.int64)
    seeds = np.empty((stop - start, 2), np.int64)
    seeds[:, 0] = state[0]
    seeds[:, 1] = state[1] + np.arange(start, stop, dtype=np.int64)
    return np.mod(seeds, _INT32_FOLD).astype(np.int32)


def dropout_scale(rate):
    """The float32 factor Keras' dropout multiplies the kept entries by."""
    return np.float32(1.0 / (1.0 - rate))


def draw_masks(state, rate, rows, width, start, stop):
    """Keep masks ``(stop - start, rows, width)`` of training calls ``start:stop``.

    Entry ``k`` is True where the ``start + k``-th training call of a Keras
    ``Dropout(rate)`` whose generator state is ``state`` keeps an input
    entry of shape ``(rows, width)``: it outputs ``x * dropout_scale(rate)``
    there and 0 elsewhere.
    """
    masks = _draw()(
        tf.constant(step_seeds(state, start, stop)),
        tf.constant([rows, width], tf.int32),
        tf.constant(rate, tf.float32),
    )
    return masks.numpy()


class DropoutMasks:
    """The dropout factors of successive training steps of one fit.

    Drawing has a fixed cost per call (about 2 ms) and about 50 us per step
    of 32 x 256 entries, so :meth:`expect` tells how far the fit will read
    and one call draws that far (up to ``_DRAW_BYTES``). Blocks of
    ``_BLOCK_STEPS`` steps are kept per process (up to ``_CACHE_BYTES``,
    least recently used out): the fits of a grid search share their
    ``random_state``, hence their dropout seed, and read the same masks.

    Parameters
    ----------
    state : ndarray of shape (2,)
        The dropout layer's generator state at the first step.
    rate : float in (0, 1)
    rows, width : int
        The shape of a full batch's dropout input.
    """

    def __init__(self, state, rate, rows, width):
        state = np.asarray(state, np.int64)
        self._args = (state, float(rate), int(rows), int(width))
        self._key = (state.tobytes(), float(rate), int(rows), int(width))
        self._block_bytes = _BLOCK_STEPS * rows * width * 4
        self._until = 0
        self._index, self._block = None, None

    def expect(self, stop):
        """The fit will read steps up to ``stop`` (exclusive) next."""
        self._until = int(stop)

    def step(self, k):
        """Step ``k``'s dropout factors ``(rows, width)``, float32.

        ``dropout_scale(rate)`` where the Keras layer keeps an entry, 0 where
        it drops it: its output is the input times these.
        """
        index, offset = divmod(k, _BLOCK_STEPS)
        if index != self._index:
            self._block = _cache.get((*self._key, index))
            if self._block is None:
                self._block = self._draw_from(index)
            self._index = index
        return self._block[offset]

    def _draw_from(self, index):
        wanted = -(-(self._until - index * _BLOCK_STEPS) // _BLOCK_STEPS)
        n_blocks = max(1, min(wanted, _DRAW_BYTES // self._block_bytes))
        start = index * _BLOCK_STEPS
        keep = draw_masks(*self._args, start, start + n_blocks * _BLOCK_STEPS)
        factors = np.multiply(keep, dropout_scale(self._args[1]), dtype=np.float32)
        blocks = np.split(factors, n_blocks)
        for i, block in enumerate(blocks):
            _cache.put((*self._key, index + i), block, self._block_bytes)
        return blocks[0]


class _BlockCache:
    """Least recently used blocks of factors, bounded in bytes."""

    def __init__(self, max_bytes):
        self.max_bytes = max_bytes
        self._blocks = collections.OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key):
        with self._lock:
            block = self._blocks.get(key)
            if block is not None:
                self._blocks.move_to_end(key)
            return None if block is None else block[0]

    def put(self, key, block, n_bytes):
        block.setflags(write=False)
        with self._lock:
            if key in self._blocks or n_bytes > self.max_bytes:
                return
            self._blocks[key] = (block, n_bytes)
            self._bytes += n_bytes
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._blocks.popitem(last=False)
                self._bytes -= dropped


_cache = _BlockCache(_CACHE_BYTES)
