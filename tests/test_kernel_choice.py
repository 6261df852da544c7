"""The per-process choice between XLA and oneDNN for packed steps of many rows."""

import numpy as np
import pytest

from sklearn_elmo import load_bilm
from sklearn_elmo.bilm._kernel_choice import (
    CALIBRATION_ROWS,
    NEVER,
    choose_fused_max,
)
from sklearn_elmo.bilm._packed import FUSED_MIN_ROWS
from sklearn_elmo.testing import make_random_bilm


def _sentences(n, longest, seed=0):
    rng = np.random.default_rng(seed)
    words = [f"w{i}" for i in range(300)]
    return [
        list(rng.choice(words, size=int(rng.integers(1, longest + 1))))
        for _ in range(n)
    ]


@pytest.mark.parametrize(
    ("timings", "expected"),
    [
        ([(128, 1.0, 0.94), (256, 2.0, 2.1)], 112),  # oneDNN wins at 128
        ([(256, 2.0, 1.8), (128, 1.0, 1.3)], 192),  # order does not matter
        ([(128, 1.0, 0.96), (256, 2.0, 1.91)], NEVER),  # within the margin
        ([(128, 1.0, 1.5), (256, 2.0, 2.5)], NEVER),
    ],
)
def test_onednn_takes_over_only_where_it_wins_by_the_margin(timings, expected):
    assert choose_fused_max(timings) == expected


@pytest.fixture
def graph_and_bilm(tmp_path):
    bilm = load_bilm(make_random_bilm(tmp_path, size="tiny", seed=3))
    return bilm._backend.graph, bilm


def test_steps_of_many_rows_agree_across_the_two_kernels(graph_and_bilm):
    graph, bilm = graph_and_bilm
    sentences = _sentences(300, 20)  # steps of 256 down to 2 rows
    results = []
    for fused_max in (NEVER, 112, 192, FUSED_MIN_ROWS):
        graph._fused_max = fused_max  # as if measured
        layers, _ = bilm.embed(sentences, batch_size=256)
        results.append(layers)
    assert np.abs(results[0]).max() > 0.1
    for layers in results[1:]:
        np.testing.assert_allclose(layers, results[0], atol=1e-6, rtol=0)


def test_kernels_are_timed_once_and_only_for_many_rows(graph_and_bilm, monkeypatch):
    graph, bilm = graph_and_bilm
    calls = []

    def timed():
        calls.append(1)
        return [(rows, 1.0, 0.5) for rows, _ in CALIBRATION_ROWS]

    monkeypatch.setattr(graph, "_time_step_kernels", timed)
    bilm.embed(_sentences(90, 30))  # at most 96 rows a step: no timing
    assert calls == [] and graph._fused_max is None
    bilm.embed(_sentences(200, 30, seed=1))
    bilm.embed(_sentences(200, 30, seed=2))
    assert calls == [1] and graph.fused_max_rows() == 112


def test_the_real_timing_measures_both_kernels(graph_and_bilm):
    graph, _ = graph_and_bilm
    timings = graph._time_step_kernels()
    assert [rows for rows, _, _ in timings] == [rows for rows, _ in CALIBRATION_ROWS]
    assert all(xla > 0 and onednn > 0 for _, xla, onednn in timings)
    assert choose_fused_max(timings) in {NEVER, *dict(CALIBRATION_ROWS).values()}
