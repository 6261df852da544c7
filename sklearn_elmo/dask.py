"""Scale-out on Dask: corpus embedding partition by partition, TensorFlow threads.

Needs the ``dask`` extra: ``pip install "sklearn-elmo[dask]"`` (dask with
dataframes, distributed and dask-ml). Dask's own engines do the rest:
``joblib.parallel_backend("dask")`` runs a ``GridSearchCV`` on a cluster, and
``dask_ml.wrappers.ParallelPostFit`` runs ``predict`` and ``predict_proba``
block-wise on a single-column dask array. This module adds what those do not
cover (docs/scale-out.md):

- :func:`apply_partitions`: a fitted estimator's ``transform`` (or
  ``predict``, ...) over a dask Bag, a dask DataFrame column or a dask array
  of texts, one task per partition, as a dask array whose chunks have the
  partitions' lengths and the output's full width, equal to the local call;
- :class:`TensorFlowThreads`: a worker plugin that sizes TensorFlow's thread
  pools on each worker to the worker's thread count.
"""

import sys

try:
    import dask
    import dask.array as da
    import dask.bag as db
    from distributed import WorkerPlugin
except ImportError as exc:  # pragma: no cover - exercised without the extra
    raise ImportError(
        "sklearn_elmo.dask needs Dask and distributed, which are not installed: "
        'pip install "sklearn-elmo[dask]"'
    ) from exc

import numpy as np

# Private parts of the package used here:
from ._threads import apply_thread_setting, set_thread_environment

__all__ = ["TensorFlowThreads", "apply_partitions"]

METHODS = (
    "transform",
    "predict",
    "predict_proba",
    "predict_log_proba",
    "decision_function",
)
_PROBE = ["."]


def _partitions(texts):
    """``(delayed partitions, known lengths or None)`` of a dask collection of texts."""
    if isinstance(texts, db.Bag):
        return list(texts.to_delayed()), None
    if isinstance(texts, da.Array):
        if texts.ndim == 2 and texts.shape[1] == 1 and texts.numblocks[1] == 1:
            blocks = texts.to_delayed()[:, 0]
        elif texts.ndim == 1:
            blocks = texts.to_delayed()
        else:
            raise ValueError(
                f"texts: a dask array of texts must be 1-D or a single column, got "
                f"shape {texts.shape} in {texts.numblocks} blocks"
            )
        lengths = texts.chunks[0]
        return list(blocks), None if any(np.isnan(lengths)) else list(lengths)
    if "dask.dataframe" in sys.modules or hasattr(texts, "npartitions"):
        import dask.dataframe as dd

        if isinstance(texts, dd.DataFrame):
            if len(texts.columns) != 1:
                raise ValueError(
                    f"texts: a dask DataFrame with columns {list(texts.columns)}; "
                    "pass the column of texts, e.g. frame['text']"
                )
            texts = texts[texts.columns[0]]
        if isinstance(texts, dd.Series):
            return list(texts.to_delayed()), None
    raise TypeError(
        "texts must be a dask Bag, a dask DataFrame column (Series) or a dask array "
        f"of str, got {type(texts).__module__}.{type(texts).__name__}; for local data "
        "call the estimator's method directly"
    )


def _length(part):
    return len(part) if hasattr(part, "__len__") else sum(1 for _ in part)


def _probe(estimator, method):
    out = np.asarray(getattr(estimator, method)(_PROBE))
    return out.shape[1:], out.dtype


def _output_dtype(dtype):
    # Labels of other lengths would not fit a probe's fixed-width str dtype.
    return np.dtype(object) if dtype.kind in "USO" else dtype


def _apply(part, estimator, method, tail, dtype, expected):
    if not hasattr(part, "__len__"):  # a Bag partition may be an iterator
        part = list(part)
    if len(part) == 0:
        return np.empty((0, *tail), dtype)
    out = np.asarray(getattr(estimator, method)(part))
    if out.shape[1:] != tuple(tail) or (expected is not None and len(out) != expected):
        raise ValueError(
            f"{type(estimator).__name__}.{method} returned shape {out.shape} for a "
            f"partition of {len(part)} texts; the dask array was built for "
            f"{(expected, *tail)} (is meta right?)"
        )
    return out.astype(dtype, copy=False)


def apply_partitions(estimator, texts, method="transform", *, lengths=True, meta=None):
    """A fitted estimator's method over a dask collection of texts, lazily.

    Each partition becomes one task calling ``getattr(estimator, method)`` on
    its texts; the results form a dask array equal to the method applied to
    all texts at once. The estimator (a few KB) travels once to each worker;
    each worker process loads the biLM once and keeps it for later tasks (the
    per-process cache), and a ``cache_dir`` on shared storage lets workers
    reuse each other's embeddings. A worker lost mid-task is replaced and
    its tasks rerun by Dask.

    Parameters
    ----------
    estimator : fitted estimator
        An ElmoVectorizer, ElmoClassifier or ElmoRegressor, or a Pipeline or
        other estimator taking texts.
    texts : dask Bag, dask DataFrame Series or dask Array of str
        A Bag of str, a DataFrame column (or a one-column DataFrame), or a
        1-D or single-column array.
    method : {"transform", "predict", "predict_proba", "predict_log_proba", \
"decision_function"}, default="transform"
        The method to apply.
    lengths : bool or sequence of int, default=True
        Row counts of the partitions, which Bags and DataFrames do not know:
        True counts them now (one pass over the input, reading only the
        texts), False leaves them unknown (chunk sizes NaN, as in
        ``Series.to_dask_array()``), a sequence gives them. A dask array's
        known chunks are always used.
    meta : ndarray or None, default=None
        An empty array with the output's dtype and trailing shape, e.g.
        ``np.empty((0, 1024), np.float32)``. None runs ``method`` on one short
        text as a task now (on the cluster, with the lengths) to find them;
        text labels come back as ``object``.

    Returns
    -------
    dask.array.Array
        Of shape ``(n_texts, ...)``; chunks are ``(partition lengths, width)``.

    Raises
    ------
    TypeError
        If ``texts`` is no dask collection of texts, or ``method`` unknown.
    ValueError
        If ``texts`` has no partition, several columns, or ``lengths`` does
        not match the partitions.

    Examples
    --------
    >>> import tempfile
    >>> import dask
    >>> import dask.bag as db
    >>> from sklearn_elmo import ElmoVectorizer
    >>> from sklearn_elmo.dask import apply_partitions
    >>> from sklearn_elmo.testing import make_random_bilm
    >>> vec = ElmoVectorizer(make_random_bilm(tempfile.mkdtemp())).fit(["Hello ."])
    >>> texts = db.from_sequence(["Hello world .", "Bye !", "See you ."], npartitions=2)
    >>> with dask.config.set(scheduler="sync"):
    ...     X = apply_partitions(vec, texts)
    ...     X.chunks, X.compute().shape
    (((2, 1), (32,)), (3, 32))
    """
    if method not in METHODS:
        raise TypeError(f"method must be one of {METHODS}, got {method!r}")
    if not hasattr(estimator, method):
        raise TypeError(f"{type(estimator).__name__} has no method {method!r}")
    parts, known = _partitions(texts)
    if not parts:
        raise ValueError("texts has no partitions")
    est = dask.delayed(estimator, pure=True)
    pending = {}
    if meta is None:
        pending["probe"] = dask.delayed(_probe, pure=True)(est, method)
    if known is None and lengths is True:
        pending["lengths"] = [dask.delayed(_length, pure=True)(p) for p in parts]
    computed = dict(zip(pending, dask.compute(*pending.values()))) if pending else {}
    if meta is None:
        tail, dtype = computed["probe"]
    else:
        meta = np.asarray(meta)
        tail, dtype = meta.shape[1:], meta.dtype
    dtype = _output_dtype(np.dtype(dtype))
    if known is not None:
        sizes = known
    elif lengths is True:
        sizes = list(computed["lengths"])
    elif lengths is False or lengths is None:
        sizes = [None] * len(parts)
    else:
        sizes = [int(n) for n in lengths]
        if len(sizes) != len(parts) or any(n < 0 for n in sizes):
            raise ValueError(
                f"lengths: {len(sizes)} counts for {len(parts)} partitions "
                f"(all >= 0 needed): {list(lengths)!r}"
            )
    arrays = [
        da.from_delayed(
            dask.delayed(_apply, pure=True)(part, est, method, tail, dtype, n),
            shape=(np.nan if n is None else n, *tail),
            dtype=dtype,
            meta=np.empty((0, *tail), dtype),
        )
        for part, n in zip(parts, sizes)
    ]
    return da.concatenate(arrays, axis=0)


class TensorFlowThreads(WorkerPlugin):
    """Dask worker plugin: TensorFlow's thread pools as wide as the worker.

    On each worker (present, later and restarted ones) it sets
    ``SKLEARN_ELMO_NUM_THREADS`` and TensorFlow's ``TF_NUM_INTRAOP_THREADS``
    and ``TF_NUM_INTEROP_THREADS`` to ``n_threads``, or to the worker's
    thread count, before any task runs; the first biLM load there then sizes
    TensorFlow's pools to it. So a worker with ``nthreads=1`` runs the biLM on
    one thread and processes do not oversubscribe cores. Register it before
    the first task: TensorFlow's pools cannot be resized once it has run.

    Parameters
    ----------
    n_threads : int or None, default=None
        Threads per pool; None uses each worker's ``nthreads``.

    Examples
    --------
    >>> from sklearn_elmo.dask import TensorFlowThreads
    >>> plugin = TensorFlowThreads()
    >>> # client.register_plugin(plugin)   # with a distributed.Client
    >>> plugin.name
    'sklearn-elmo-tensorflow-threads'
    """

    name = "sklearn-elmo-tensorflow-threads"

    def __init__(self, n_threads=None):
        if n_threads is not None and (
            isinstance(n_threads, bool)
            or not isinstance(n_threads, int)
            or n_threads < 1
        ):
            raise ValueError(
                f"n_threads must be an int >= 1 or None, got {n_threads!r}"
            )
        self.n_threads = n_threads

    def setup(self, worker):
        n = self.n_threads or worker.state.nthreads
        set_thread_environment(n)
        if "tensorflow" in sys.modules:  # started by something else: apply now
            apply_thread_setting()
