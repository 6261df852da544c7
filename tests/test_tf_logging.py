"""The one TensorFlow log silencer (the command line and the demo use it)."""

import logging
import os

import pytest

from sklearn_elmo._tf_logging import quiet_tensorflow


@pytest.fixture
def tf_logger():
    logger = logging.getLogger("tensorflow")
    saved = logger.level
    yield logger
    logger.setLevel(saved)


def test_python_warnings_are_errors_only_inside_the_block(tf_logger, monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    tf_logger.setLevel(logging.INFO)
    with quiet_tensorflow():
        assert tf_logger.level == logging.ERROR
        assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == "2"
    assert tf_logger.level == logging.INFO


def test_restored_when_the_block_raises(tf_logger, monkeypatch):
    monkeypatch.delenv("TF_CPP_MIN_LOG_LEVEL", raising=False)
    tf_logger.setLevel(logging.WARNING)
    with pytest.raises(KeyError), quiet_tensorflow():
        raise KeyError("inside")
    assert tf_logger.level == logging.WARNING


def test_a_user_asking_for_tensorflow_logs_gets_them(tf_logger, monkeypatch):
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", " 0")
    tf_logger.setLevel(logging.DEBUG)
    with quiet_tensorflow():
        assert tf_logger.level == logging.DEBUG
    assert os.environ["TF_CPP_MIN_LOG_LEVEL"] == " 0"
