"""Dropout masks drawn in bulk are those of a Keras Dropout layer's calls."""

import keras
import numpy as np
import pytest

from sklearn_elmo.head import _dropout_masks
from sklearn_elmo.head._dropout_masks import (
    DropoutMasks,
    draw_masks,
    dropout_scale,
    step_seeds,
)


def _keras_masks(seed, rate, shapes):
    layer = keras.layers.Dropout(rate, seed=seed)
    return [
        layer(np.ones(shape, np.float32), training=True).numpy() for shape in shapes
    ]


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.9])
def test_masks_are_those_of_successive_keras_calls(rate):
    expected = _keras_masks(11, rate, [(8, 5)] * 4)
    state = keras.random.SeedGenerator(11).state.numpy()
    got = draw_masks(state, rate, 8, 5, 0, 4)
    assert got.shape == (4, 8, 5) and got.dtype == bool
    scale = dropout_scale(rate)
    np.testing.assert_array_equal(np.float32(1) * scale * got, np.stack(expected))
    # Later calls on their own, and a call on fewer rows reads the first rows.
    np.testing.assert_array_equal(draw_masks(state, rate, 8, 5, 2, 4), got[2:])
    fewer = _keras_masks(11, rate, [(8, 5), (3, 5)])[1]
    np.testing.assert_array_equal(fewer > 0, got[1][:3])


def test_seeds_fold_into_int32_as_keras_does():
    seeds = step_seeds(np.array([2**40 + 3, 2**31]), 0, 3)
    assert seeds.dtype == np.int32
    fold = np.iinfo(np.int32).max - 1
    np.testing.assert_array_equal(seeds[:, 0], (2**40 + 3) % fold)
    np.testing.assert_array_equal(seeds[:, 1], (2**31 + np.arange(3)) % fold)


def test_steps_read_across_draws_and_cached_blocks(monkeypatch):
    # Blocks of 2 steps, draws of at most 3 blocks: 14 steps take three draws.
    monkeypatch.setattr(_dropout_masks, "_BLOCK_STEPS", 2)
    monkeypatch.setattr(_dropout_masks, "_DRAW_BYTES", 3 * 2 * 4 * 6 * 4)
    monkeypatch.setattr(_dropout_masks, "_cache", _dropout_masks._BlockCache(2**20))
    draws = []
    monkeypatch.setattr(
        _dropout_masks,
        "draw_masks",
        lambda *args: draws.append(args[-2:]) or draw_masks(*args),
    )
    state = keras.random.SeedGenerator(5).state.numpy()
    expected = np.stack(_keras_masks(5, 0.5, [(4, 6)] * 14))
    masks = DropoutMasks(state, 0.5, 4, 6)
    masks.expect(14)
    got = np.stack([masks.step(k) for k in range(14)])
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)
    assert draws == [(0, 6), (6, 12), (12, 14)]
    # Another fit with the same seed reads the kept blocks; another seed draws.
    again = DropoutMasks(state, 0.5, 4, 6)
    again.expect(14)
    np.testing.assert_array_equal(
        np.stack([again.step(k) for k in range(14)]), expected
    )
    assert len(draws) == 3
    other = DropoutMasks(keras.random.SeedGenerator(6).state.numpy(), 0.5, 4, 6)
    other.expect(1)
    other.step(0)
    assert draws[3:] == [(0, 2)]


def test_the_block_cache_keeps_the_most_recent_blocks_within_its_bytes():
    cache = _dropout_masks._BlockCache(100)
    for i in range(4):
        cache.put(i, np.full(3, i, np.float32), 40)
    assert cache.get(0) is None and cache.get(1) is None
    np.testing.assert_array_equal(cache.get(3), [3, 3, 3])
    cache.put("big", np.zeros(1, np.float32), 101)
    assert cache.get("big") is None
