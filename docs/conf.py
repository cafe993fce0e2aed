"""Sphinx configuration of the series' website (`make site`): the README and every notebook with its stored outputs.

The source directory is the repository itself (`sphinx-build -c docs . build/site`), so the notebooks' own relative
links (`01-client-and-connecting.ipynb`, `solutions/...`, `../img/...`) resolve exactly as they do in JupyterLab.
Notebooks are never executed here: the site shows the outputs nbval checks. Nothing is fetched from the internet at
build time or by the pages: the widget manager that renders notebook 00's panel is served from `_static/widgets/`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parent.parent

project = "MQTT Client Study"
author = "the MQTT Client Study contributors"
copyright = "the MQTT Client Study contributors"
root_doc = "README"
extensions = ["myst_nb"]

# Only these are pages; everything else in the repository (code, tests, .venv) is not a source file.
include_patterns = ["README.md", "notebooks/*.ipynb", "notebooks/solutions/*.ipynb"]
exclude_patterns = ["build", "docs", ".venv*", ".git", "**/.ipynb_checkpoints"]

# The stored outputs, as committed (never re-executed): the site shows what nbval checks.
nb_execution_mode = "off"
nb_merge_streams = True
myst_heading_anchors = 3  # the README's in-page links (#for-teachers) become anchors

# ipywidgets' HTML manager (@jupyter-widgets/html-manager 1.0.15, `dist/embed.js`, BSD-3-Clause, with its licence
# file and the icon fonts it loads), vendored so that the pages render the notebooks' stored widget state without a
# CDN; `embed.js` needs no RequireJS. `docs/vendor_widgets.sh` says where it comes from and refreshes it.
html_static_path = ["_static"]
nb_ipywidgets_js: dict[str, dict[str, str]] = {"widgets/html-manager-1.0.15-embed.js": {}}

html_theme = "sphinx_book_theme"
html_title = "MQTT Client Study"
html_favicon = "_static/favicon.svg"  # without one, browsers ask the server's root for /favicon.ico (a 404)
html_context = {"default_mode": "light"}  # without it the theme logs "Got invalid theme mode" on every page
html_theme_options: dict[str, Any] = {
    "show_toc_level": 2,
    "home_page_in_toc": True,
    "use_download_button": True,  # each page offers its .ipynb to download and run
}
html_show_sourcelink = False  # the download button (above) offers the same _sources/ files

# The table of contents is the series in order: every numbered lesson (a new notebooks/13-*.ipynb joins by itself),
# then the worked solutions, then the teacher's notebook. It is added to the README only when Sphinx reads it, so the
# README stays plain Markdown on the code host.
SOLUTIONS = sorted((ROOT / "notebooks" / "solutions").glob("[0-9][0-9]-*.ipynb"))
TOC_LESSONS = "```{toctree}\n:caption: Lessons\n:hidden:\n:glob:\n\nnotebooks/[0-9][0-9]-*\n```\n"
SOLUTION_ENTRIES = "\n".join(f"{path.name[:2]} · solutions <notebooks/solutions/{path.stem}>" for path in SOLUTIONS)
TOC_SOLUTIONS = "```{toctree}\n:caption: Worked solutions\n:hidden:\n\n" + SOLUTION_ENTRIES + "\n```\n"
TOC_TEACHERS = "```{toctree}\n:caption: For teachers\n:hidden:\n\nnotebooks/classroom-dashboard\n```\n"
# A link to a folder (the README's `notebooks/solutions/`) is no page: on the site it leads to the folder's first one.
FOLDER_LINK = re.compile(r"\]\(notebooks/solutions/\)")


def add_toctrees(app: Sphinx, docname: str, source: list[str]) -> None:
    if docname == root_doc:
        first = f"](notebooks/solutions/{SOLUTIONS[0].name})"
        source[0] = "\n\n".join([FOLDER_LINK.sub(first, source[0]), TOC_LESSONS, TOC_SOLUTIONS, TOC_TEACHERS])


def write_index(app: Sphinx, exception: Exception | None) -> None:
    """`index.html` for the site's address (GitHub Pages serves it at https://OWNER.github.io/REPO/)."""
    if exception is None and app.builder.format == "html":
        target = f"{root_doc}.html"
        Path(app.outdir, "index.html").write_text(
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>MQTT Client Study</title>'
            f'<link rel="icon" href="_static/favicon.svg"><meta http-equiv="refresh" content="0; url={target}">'
            f'<link rel="canonical" href="{target}"></head><body><p><a href="{target}">MQTT Client Study</a></p>'
            "</body></html>\n",
            encoding="utf-8",
        )
        Path(app.outdir, ".nojekyll").touch()  # Pages must serve _static/ and _images/ as they are


def setup(app: Sphinx) -> None:
    app.connect("source-read", add_toctrees)
    app.connect("build-finished", write_index)
