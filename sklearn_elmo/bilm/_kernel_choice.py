"""Which kernels run the packed engine's big matmuls, measured per process.

A step of the packed engine (:mod:`~sklearn_elmo.bilm._packed`) runs either
as one XLA call (recurrent matmul, cell and projection fused) or as oneDNN
matmuls around an XLA cell. From 64 to about 100 rows XLA is ahead on every
machine measured; above, it depends on the machine: on one 2-core Intel
machine oneDNN was 9% faster at 128 rows, on another XLA's matmul was 28%
faster there (110 against 86 GFLOP/s) and oneDNN ahead only from about 256
rows (docs/engine.md). The same goes for a layer's input projection over
thousands of packed positions: one oneDNN matmul beat XLA dots over blocks
of 256 rows on both Intel machines, but oneDNN fell to half of XLA's rate
above 64 rows on the first benchmark machine. So the first packed run with
many rows times the kernels on the model's own weights (steps at 128 and 256
rows, a projection of :data:`PROJECTION_ROWS`), once per loaded model and
process, and oneDNN takes over only where it wins by a clear margin:
machines where the two are close keep XLA, so the choice does not flip
between runs.
"""

import time

# (rows timed, the row count oneDNN takes over from if it wins there).
CALIBRATION_ROWS = ((128, 112), (256, 192))
# oneDNN must be at least this much faster (a fraction of XLA's time).
MARGIN = 0.05
# "XLA at every row count" (above any batch's rows).
NEVER = 2**30
# Rows of the input projection timed for the choice.
PROJECTION_ROWS = 1024


def choose_fused_max(timings, margin=MARGIN):
    """The row count from which steps run oneDNN, from measured ``timings``.

    Parameters
    ----------
    timings : iterable of (int, float, float)
        ``(rows, xla_seconds, onednn_seconds)`` for the rows of
        :data:`CALIBRATION_ROWS`.
    margin : float, default=MARGIN
        oneDNN is chosen only if it takes less than ``1 - margin`` of XLA's
        time.

    Returns
    -------
    int
        Steps of fewer rows (and at least ``FUSED_MIN_ROWS``) run fused in
        XLA; :data:`NEVER` if XLA won everywhere.

    Examples
    --------
    >>> choose_fused_max([(128, 1.0, 0.9), (256, 2.0, 1.8)])
    112
    >>> choose_fused_max([(128, 1.0, 1.2), (256, 2.0, 1.8)])
    192
    >>> choose_fused_max([(128, 1.0, 0.98), (256, 2.0, 1.97)]) == NEVER
    True
    """
    takes_over = dict(CALIBRATION_ROWS)
    for rows, xla, onednn in sorted(timings):
        if onednn < (1.0 - margin) * xla:
            return takes_over[rows]
    return NEVER


def choose_one_matmul(blocks_seconds, one_seconds, margin=MARGIN):
    """Whether big input projections run as one oneDNN matmul (else XLA blocks).

    Examples
    --------
    >>> choose_one_matmul(1.0, 0.8), choose_one_matmul(1.0, 0.97)
    (True, False)
    """
    return one_seconds < (1.0 - margin) * blocks_seconds


def _best_times(runs, repeat):
    """Least seconds of each zero-argument callable of ``runs``.

    Each runs once untimed (compiles, first touches), then ``repeat`` rounds
    in turn, so that a busy moment slows all of them alike.
    """
    for run in runs:
        run()
    best = [float("inf")] * len(runs)
    for _ in range(repeat):
        for i, run in enumerate(runs):
            start = time.perf_counter()
            run()
            best[i] = min(best[i], time.perf_counter() - start)
    return best


def time_projection_kernels(blocks, one, weights, x, repeat=2):
    """Seconds of ``blocks(x, w)`` and ``one(x, w)`` for each ``w`` of ``weights``.

    Best of ``repeat``, the kernels alternating.
    """

    def run(project):
        def once():
            for w in weights:
                out = project(x, w)
            out.numpy()

        return once

    return tuple(_best_times([run(blocks), run(one)], repeat))


def time_step_kernels(fused, small, weight_sets, make_inputs, repeat=2):
    """``(rows, xla_seconds, onednn_seconds)`` at each of :data:`CALIBRATION_ROWS`.

    ``fused`` and ``small`` are the two step functions, ``(x, h, c, w_h,
    bias, w_p) -> (c, h)``; ``weight_sets`` the ``(w_h, bias, w_p)`` of every
    layer and direction, all run in each timing (as in a real step, the
    weights are not all in cache); ``make_inputs(rows)`` gives ``(x, h, c)``.
    Best of ``repeat``, the kernels alternating.
    """

    def run(step, inputs):
        def once():
            for weights in weight_sets:
                out = step(*inputs, *weights)
            out[1].numpy()

        return once

    timings = []
    for rows, _ in CALIBRATION_ROWS:
        inputs = make_inputs(rows)
        xla, onednn = _best_times([run(fused, inputs), run(small, inputs)], repeat)
        timings.append((rows, xla, onednn))
    return timings
