"""Sphinx configuration: python -m sphinx -W -b html docs docs/_build/html

The guide is Markdown (MyST); the API reference comes from the numpydoc
docstrings; the gallery's pictures are rendered at build time by
_ext/gallery.py with ssimfast itself (the installed package)."""

import sys
from pathlib import Path

import ssimfast

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "ssimfast"
author = "ssimfast developers"
copyright = "2026, ssimfast developers"
release = ssimfast.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.extlinks",
    "numpydoc",
    "gallery",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "gallery/*.py"]
myst_enable_extensions = ["colon_fence"]
myst_heading_anchors = 3

# The public functions only, with the signatures the stub declares for them.
autodoc_typehints = "none"
numpydoc_show_class_members = False
numpydoc_validation_checks = set()

# The docstrings cite papers as :DOI:`...` (scikit-image's convention).
extlinks = {"DOI": ("https://doi.org/%s", "DOI: %s")}

html_theme = "alabaster"
html_theme_options = {"description": "Fast, exact SSIM", "fixed_sidebar": True}
