"""Sphinx configuration of the skhp documentation.

The pictures in the guide are drawn by the code when the docs build
(``figures.py``), so they always show what the library does now.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import figures  # noqa: E402

project = "skhp"
author = "skhp developers"
copyright = "skhp developers"
extensions = ["sphinx.ext.autodoc", "sphinx.ext.autosummary", "numpydoc"]
exclude_patterns = ["_build"]
html_theme = "alabaster"
html_static_path = []
autosummary_generate = False
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
autodoc_default_options = {"members": False}
suppress_warnings = ["autosectionlabel.*"]


def setup(app):
    app.connect("builder-inited", lambda app: figures.generate(os.path.join(app.srcdir, "generated")))
