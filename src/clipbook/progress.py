"""Progress bars for loops a reader waits on.

Interactive readers get tqdm (a widget in Jupyter when ipywidgets is installed, text
otherwise). When the runner executes a chapter for the book it sets ``CLIPBOOK_PROGRESS=0``:
papermill shows cell-level progress in the terminal, and no bar leaks into the published page.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import threading
from contextlib import contextmanager

from tqdm import std


def _tqdm_class():
    in_kernel = "ipykernel" in sys.modules
    if in_kernel and importlib.util.find_spec("ipywidgets") is not None:
        from tqdm.notebook import tqdm

        return tqdm
    return std.tqdm


_silenced = threading.local()


@contextmanager
def quiet():
    """Silence the bars this thread opens inside the block (jobs run side by side, whose bars
    would overwrite each other: :func:`clipbook.parallel.map_jobs` shows one bar over them)."""
    saved = getattr(_silenced, "on", False)
    _silenced.on = True
    try:
        yield
    finally:
        _silenced.on = saved


def progress(iterable=None, **kwargs):
    """``tqdm(iterable, **kwargs)``, silenced when ``CLIPBOOK_PROGRESS=0`` or inside :func:`quiet`."""
    if os.environ.get("CLIPBOOK_PROGRESS", "1") == "0" or getattr(_silenced, "on", False):
        kwargs["disable"] = True
    return _tqdm_class()(iterable, **kwargs)
