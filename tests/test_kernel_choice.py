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


def test_every_kernel_choice_gives_the_same_layers(graph_and_bilm):
    graph, bilm = graph_and_bilm
    # Steps of 256 down to 2 rows; projections of thousands of rows.
    sentences = _sentences(300, 20)
    results = []
    for kernels in (
        (NEVER, False),
        (112, True),
        (192, False),
        (FUSED_MIN_ROWS, True),
    ):
        graph._kernels = kernels  # as if measured
        layers, _ = bilm.embed(sentences, batch_size=256)
        results.append(layers)
    assert np.abs(results[0]).max() > 0.1
    for layers in results[1:]:
        np.testing.assert_allclose(layers, results[0], atol=1e-6, rtol=0)


def test_kernels_are_timed_once_and_only_for_big_runs(graph_and_bilm, monkeypatch):
    graph, bilm = graph_and_bilm
    calls = []

    def timed():
        calls.append(1)
        return [(rows, 1.0, 0.5) for rows, _ in CALIBRATION_ROWS]

    monkeypatch.setattr(graph, "_time_step_kernels", timed)
    monkeypatch.setattr(graph, "_time_projection_kernels", lambda: (1.0, 2.0))
    bilm.embed(_sentences(10, 20))  # at most 16 rows and 200 positions
    assert calls == [] and graph._kernels is None
    bilm.embed(_sentences(200, 30, seed=1))
    bilm.embed(_sentences(200, 30, seed=2))
    assert calls == [1] and graph.kernel_choice() == (112, False)


def test_the_real_timings_measure_both_kernels(graph_and_bilm):
    graph, _ = graph_and_bilm
    timings = graph._time_step_kernels()
    assert [rows for rows, _, _ in timings] == [rows for rows, _ in CALIBRATION_ROWS]
    assert all(xla > 0 and onednn > 0 for _, xla, onednn in timings)
    blocks, one = graph._time_projection_kernels()
    assert blocks > 0 and one > 0
    fused_max, one_matmul = graph.kernel_choice()
    assert fused_max in {NEVER, *dict(CALIBRATION_ROWS).values()}
    assert isinstance(one_matmul, bool)


def test_a_run_with_many_positions_but_few_rows_measures_too(graph_and_bilm):
    graph, bilm = graph_and_bilm
    bilm.embed(_sentences(40, 60, seed=4))  # under 112 rows, over 256 positions
    assert graph._kernels is not None
