"""Sphinx configuration: Markdown pages (MyST) and the API from numpydoc docstrings.

Build: ``sphinx-build -W --keep-going -b html docs docs/_build/html`` (the
test suite runs this, warnings as errors, in tests/test_docs.py).
"""

import os
import sys

sys.path.insert(0, os.path.abspath(".."))

from sklearn_elmo import __version__  # imports no TensorFlow

project = "sklearn-elmo"
author = "sklearn-elmo developers"
copyright = "sklearn-elmo developers"
version = release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "myst_parser",
]

source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]

# Markdown: heading anchors for links such as [x](hub.md#offline-use).
myst_heading_anchors = 3
myst_enable_extensions = ["dollarmath"]

# API pages: the tables come from autosummary in api.rst, without stub files.
autosummary_generate = False
autodoc_default_options = {"members": False}
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

html_theme = "alabaster"
html_title = f"sklearn-elmo {release}"
html_static_path = []
