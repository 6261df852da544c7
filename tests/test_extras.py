"""The optional extras fail clearly when they are not installed."""

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def test_sklearn_elmo_dask_without_dask_names_the_extra():
    script = (
        "import sys\n"
        "sys.modules['dask'] = None  # as if dask were not installed\n"
        "try:\n"
        "    import sklearn_elmo.dask\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
        "    print('tensorflow' in sys.modules)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    message, tensorflow_imported = done.stdout.strip().splitlines()
    assert 'pip install "sklearn-elmo[dask]"' in message
    assert tensorflow_imported == "False"  # failing costs no TensorFlow import
