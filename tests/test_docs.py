"""The documentation builds without warnings; README and CI run the same commands."""

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DOCS = PROJECT_ROOT / "docs"


def test_docs_build_with_warnings_as_errors(tmp_path):
    if importlib.util.find_spec("sphinx") is None:
        pytest.skip(
            'Sphinx is not installed: pip install -e ".[docs]" to build the docs'
        )
    result = subprocess.run(  # noqa: PLW1510 (the status is asserted)
        [
            sys.executable,
            "-m",
            "sphinx",
            "-W",
            "--keep-going",
            "-b",
            "html",
            "-d",
            str(tmp_path / "doctrees"),
            str(DOCS),
            str(tmp_path / "html"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=PROJECT_ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    assert (tmp_path / "html" / "api.html").is_file()


def test_every_docs_page_is_listed_in_the_index():
    index = (DOCS / "index.md").read_text("utf-8")
    listed = set(re.findall(r"(?m)^([\w-]+)$", index))
    pages = {p.stem for p in DOCS.glob("*.md")} | {p.stem for p in DOCS.glob("*.rst")}
    assert pages - {"index"} <= listed, f"not in docs/index.md: {pages - listed}"


def test_readme_test_command_is_what_ci_runs():
    readme = (PROJECT_ROOT / "README.md").read_text("utf-8")
    ci = (PROJECT_ROOT / ".ci" / "run").read_text("utf-8")
    command = ci.strip().splitlines()[-1]
    assert command.startswith("python3 -m venv .venv && ")
    assert f"\n{command}\n" in readme
    assert '".[test,docs]"' in command  # the docs build is part of the test run


def test_readme_first_command_runs_the_demo():
    readme = (PROJECT_ROOT / "README.md").read_text("utf-8")
    first = re.search(r"```bash\n(.*?)\n```", readme, re.DOTALL).group(1)
    assert first.endswith("sklearn-elmo demo")
