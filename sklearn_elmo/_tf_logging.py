"""TensorFlow's log noise hidden: the one silencer of the command line and the demo.

TensorFlow is imported only inside :func:`quiet_tensorflow`, so importing this
module costs nothing.
"""

import contextlib
import logging
import os
import sys

__all__ = ["quiet_tensorflow"]


@contextlib.contextmanager
def quiet_tensorflow():
    """Import TensorFlow quietly and keep its Python warnings to errors.

    TensorFlow logs CUDA probes and CPU-feature notes straight to file
    descriptor 2 while it is imported, whatever ``TF_CPP_MIN_LOG_LEVEL`` says:
    on entry TensorFlow is imported (if it is not yet) with that descriptor
    pointed at the null device, and ``TF_CPP_MIN_LOG_LEVEL`` defaults to 2.
    Inside the block TensorFlow's Python logger shows errors only (e.g. no
    tf.function retracing warnings); its level is restored on exit.

    Nothing is hidden when ``TF_CPP_MIN_LOG_LEVEL`` is set below 2: the user
    asked for TensorFlow's logs.

    Examples
    --------
    >>> import logging, os
    >>> from sklearn_elmo._tf_logging import quiet_tensorflow
    >>> logger = logging.getLogger("tensorflow")
    >>> before = logger.level
    >>> with quiet_tensorflow():  # TensorFlow is imported here
    ...     hidden = logger.level == logging.ERROR
    >>> asked = os.environ.get("TF_CPP_MIN_LOG_LEVEL") in ("0", "1")
    >>> hidden != asked, logger.level == before
    (True, True)
    """
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    if level is not None and level.strip() in ("0", "1"):
        yield
        return
    # TensorFlow reads it once, when it logs first: it stays set.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logger = logging.getLogger("tensorflow")
    saved_level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        _import_tensorflow_quietly()
        yield
    finally:
        logger.setLevel(saved_level)


def _import_tensorflow_quietly():
    if "tensorflow" in sys.modules:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real stderr (embedded interpreters)
        return
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 2)
        import tensorflow as tf

        tf.config.list_logical_devices()  # device set-up logs its CUDA probe now
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(null)
