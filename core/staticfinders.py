"""Serve plotly.js from the plotly Python package: the charts need no CDN and no copy in git.

:class:`PlotlyFinder` exposes exactly one static file, ``plotly/plotly.min.js``, read from the
installed ``plotly`` package (``package_data/plotly.min.js``), so the browser's plotly.js is
always the version the Python figures were built for. ``collectstatic`` copies it like any
other static file; in the demo WhiteNoise serves it through the finders.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).resolve().parent / "package_data"
PLOTLY_JS = "plotly/plotly.min.js"


class PlotlyFinder(BaseFinder):
    """Find ``plotly/plotly.min.js`` in the plotly package and nothing else."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.storage = FileSystemStorage(location=str(PLOTLY_DIR))
        self.storage.prefix = "plotly"  # type: ignore[attr-defined]

    def check(self, **kwargs: Any) -> list[Any]:
        return []

    def find(self, path: str, find_all: bool = False, **kwargs: Any) -> Any:
        if kwargs.get("all"):  # Django < 5.2 spelled it ``all``
            find_all = True
        if path != PLOTLY_JS:
            return []  # Django's own finders answer "none" with an empty list either way
        found = str(PLOTLY_DIR / "plotly.min.js")
        return [found] if find_all else found

    def list(self, ignore_patterns: Any) -> Iterator[tuple[str, FileSystemStorage]]:
        yield "plotly.min.js", self.storage
