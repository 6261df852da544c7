"""TensorFlow imported with its start-up messages hidden."""

import logging
import os
import sys


def quiet_tensorflow():
    """Import TensorFlow with its C++ start-up messages hidden.

    TensorFlow logs CUDA probes and CPU-feature notes straight to file
    descriptor 2 while it is imported, whatever ``TF_CPP_MIN_LOG_LEVEL`` says.
    They are hidden unless ``TF_CPP_MIN_LOG_LEVEL`` is set below 2, and
    TensorFlow's Python warnings are limited to errors.
    """
    level = os.environ.get("TF_CPP_MIN_LOG_LEVEL")
    if level is not None and level.strip() in ("0", "1"):
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
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
