"""TensorFlow's thread pools sized by ``SKLEARN_ELMO_NUM_THREADS``.

TensorFlow runs each op on an intra-op pool and independent ops on an
inter-op pool, both as wide as the machine by default. Several processes on
one machine (Dask workers, joblib workers) then each start a pool per core
and oversubscribe it. With ``SKLEARN_ELMO_NUM_THREADS=n`` set, the first biLM
load of the process sizes both pools to ``n`` through
``tf.config.threading``, which works only before TensorFlow runs its first
op; :class:`sklearn_elmo.dask.TensorFlowThreads` sets the variable on Dask
workers from their thread count. See docs/scale-out.md.
"""

import os
import threading
import warnings

NUM_THREADS_VARIABLE = "SKLEARN_ELMO_NUM_THREADS"
# TensorFlow's own variables, read when its runtime starts: set as well, so
# code that starts TensorFlow before the first biLM load gets the same size.
TF_VARIABLES = ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS")

_lock = threading.Lock()
_applied = None  # the value applied in this process, or None


def parse_num_threads(raw, name=NUM_THREADS_VARIABLE):
    """A thread count from a string: an int >= 1, or None for an empty string.

    Examples
    --------
    >>> from sklearn_elmo._threads import parse_num_threads
    >>> parse_num_threads("2"), parse_num_threads(" ")
    (2, None)
    """
    raw = raw.strip()
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"{name} must be a whole number of threads >= 1, got {raw!r}")
    return value


def num_threads_from_environment():
    """``SKLEARN_ELMO_NUM_THREADS`` as an int >= 1, or None when unset or empty."""
    return parse_num_threads(os.environ.get(NUM_THREADS_VARIABLE, ""))


def set_thread_environment(n_threads):
    """Set ``SKLEARN_ELMO_NUM_THREADS`` and TensorFlow's variables to ``n_threads``."""
    for name in (NUM_THREADS_VARIABLE, *TF_VARIABLES):
        os.environ[name] = str(int(n_threads))


def apply_thread_setting():
    """Size TensorFlow's pools from the environment, once per process.

    Does nothing (and imports nothing) when the variable is unset. Warns if
    TensorFlow already started with other pool sizes, which then stay.
    """
    global _applied
    n = num_threads_from_environment()
    if n is None or n == _applied:
        return
    with _lock:
        if n == _applied:
            return
        import tensorflow as tf

        threading_config = tf.config.threading
        current = (
            threading_config.get_intra_op_parallelism_threads(),
            threading_config.get_inter_op_parallelism_threads(),
        )
        if current != (n, n):
            try:
                threading_config.set_intra_op_parallelism_threads(n)
                threading_config.set_inter_op_parallelism_threads(n)
            except RuntimeError:  # TensorFlow's runtime has started
                warnings.warn(
                    f"{NUM_THREADS_VARIABLE}={n} came too late: TensorFlow had "
                    "already started in this process with its thread pools sized "
                    f"{current[0] or 'by the machine'}/{current[1] or 'by the machine'}"
                    f" (intra/inter-op). Set the variable (or "
                    f"{', '.join(TF_VARIABLES)}) before TensorFlow runs, e.g. when "
                    "starting the worker.",
                    RuntimeWarning,
                    stacklevel=3,
                )
        _applied = n
