"""Where the book lives: the package, the checkout's root (``CLIPBOOK_ROOT`` moves it), the
chapters' sources, the website's pages, the executed chapters, other runs, and the stored records
of seed-set runs that the chapters' prose cites."""

from __future__ import annotations

import os
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the clipbook package
ROOT = Path(os.environ.get("CLIPBOOK_ROOT") or PACKAGE_DIR.parents[1])
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
CHAPTERS_OUT = BOOK / "chapters"
RUNS_OUT = ROOT / "runs"
RECORDS = BOOK / "records"
