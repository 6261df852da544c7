"""set_config / get_config / config_context and the environment variables."""

import threading

import pytest

import sklearn_elmo
from sklearn_elmo import _config
from sklearn_elmo._config import DEFAULT_CACHE_MEMORY, parse_memory


@pytest.fixture(autouse=True)
def fresh_config(monkeypatch):
    """No explicit settings and no environment variables; restored afterwards."""
    saved = dict(_config._settings)
    _config._settings.clear()
    for name in (_config.MEMORY_VARIABLE, _config.TOKEN_DTYPE_VARIABLE):
        monkeypatch.delenv(name, raising=False)
    yield
    _config._settings.clear()
    _config._settings.update(saved)


def test_defaults():
    assert sklearn_elmo.get_config() == {
        "cache_memory": DEFAULT_CACHE_MEMORY,
        "cache_token_dtype": "float16",
    }
    assert DEFAULT_CACHE_MEMORY == 2**30


@pytest.mark.parametrize(
    "value, expected",
    [
        (0, 0),
        (123, 123),
        ("123", 123),
        ("500MB", 500 * 10**6),
        ("500 mb", 500 * 10**6),
        ("1.5GB", 1_500_000_000),
        ("2GiB", 2 * 2**30),
        ("64KiB", 65536),
        ("10k", 10_000),
        ("3M", 3 * 10**6),
        (".5G", 500 * 10**6),
        (2.5e6, 2_500_000),
    ],
)
def test_parse_memory(value, expected):
    assert parse_memory(value) == expected


@pytest.mark.parametrize(
    "value, error, match",
    [
        (-1, ValueError, ">= 0"),
        ("lots", ValueError, "cannot read 'lots' as a size"),
        ("5 parsecs", ValueError, "cannot read"),
        ("-5MB", ValueError, "cannot read"),
        (float("nan"), ValueError, "finite"),
        (True, TypeError, "number of bytes"),
        ([1], TypeError, "got list"),
    ],
)
def test_parse_memory_errors(value, error, match):
    with pytest.raises(error, match=match):
        parse_memory(value)


def test_environment_variables(monkeypatch):
    monkeypatch.setenv("SKLEARN_ELMO_CACHE_MEMORY", "250MB")
    monkeypatch.setenv("SKLEARN_ELMO_CACHE_TOKEN_DTYPE", "float32")
    assert sklearn_elmo.get_config() == {
        "cache_memory": 250 * 10**6,
        "cache_token_dtype": "float32",
    }
    # An explicit setting wins over the environment.
    sklearn_elmo.set_config(cache_memory=0)
    assert sklearn_elmo.get_config()["cache_memory"] == 0


def test_bad_environment_variables_name_the_variable(monkeypatch):
    monkeypatch.setenv("SKLEARN_ELMO_CACHE_MEMORY", "a lot")
    with pytest.raises(ValueError, match="SKLEARN_ELMO_CACHE_MEMORY: cannot read"):
        sklearn_elmo.get_config()
    monkeypatch.delenv("SKLEARN_ELMO_CACHE_MEMORY")
    monkeypatch.setenv("SKLEARN_ELMO_CACHE_TOKEN_DTYPE", "bfloat16")
    with pytest.raises(ValueError, match="SKLEARN_ELMO_CACHE_TOKEN_DTYPE must be one"):
        sklearn_elmo.get_config()


def test_set_config_validates_and_none_leaves_unchanged():
    sklearn_elmo.set_config(cache_memory="1MiB", cache_token_dtype="float32")
    sklearn_elmo.set_config()
    assert sklearn_elmo.get_config() == {
        "cache_memory": 2**20,
        "cache_token_dtype": "float32",
    }
    with pytest.raises(ValueError, match="cache_token_dtype must be one of"):
        sklearn_elmo.set_config(cache_token_dtype="int8")
    with pytest.raises(TypeError, match="cache_memory must be a number of bytes"):
        sklearn_elmo.set_config(cache_memory=object())
    assert sklearn_elmo.get_config()["cache_memory"] == 2**20  # unchanged by errors


def test_config_context_restores_even_after_an_error():
    sklearn_elmo.set_config(cache_memory=1000)
    with sklearn_elmo.config_context(cache_memory="2kB", cache_token_dtype="float32"):
        assert sklearn_elmo.get_config() == {
            "cache_memory": 2000,
            "cache_token_dtype": "float32",
        }
    assert sklearn_elmo.get_config() == {
        "cache_memory": 1000,
        "cache_token_dtype": "float16",
    }
    with pytest.raises(RuntimeError), sklearn_elmo.config_context(cache_memory=5):
        raise RuntimeError
    assert sklearn_elmo.get_config()["cache_memory"] == 1000
    assert "cache_token_dtype" not in _config._settings  # still from the environment


def test_settings_are_process_wide():
    sklearn_elmo.set_config(cache_memory=777)
    seen = []
    thread = threading.Thread(target=lambda: seen.append(sklearn_elmo.get_config()))
    thread.start()
    thread.join()
    assert seen[0]["cache_memory"] == 777
