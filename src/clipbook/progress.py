"""Progress bars for loops a reader waits on.

Interactive readers get tqdm (a widget in Jupyter when ipywidgets is installed, text
otherwise). When the runner executes a chapter for the book it sets ``CLIPBOOK_PROGRESS=0``:
papermill shows cell-level progress in the terminal, and no bar leaks into the published page.
"""

from __future__ import annotations

import importlib.util
import os
import sys

from tqdm import std


def _tqdm_class():
    in_kernel = "ipykernel" in sys.modules
    if in_kernel and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm

        return tqdm
    return std.tqdm


def progress(iterable=None, **kwargs):
    """``tqdm(iterable, **kwargs)``, silenced when ``CLIPBOOK_PROGRESS=0``."""
    if os.environ.get("CLIPBOOK_PROGRESS", "1") == "0":
        kwargs["disable"] = True
    return _tqdm_class()(iterable, **kwargs)
