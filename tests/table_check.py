"""Read the intervals that executed chapters show in their tables and say which a reader could not trust."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

NUMBER = r"-?(?:\d+(?:\.\d*)?|nan|inf)"
INTERVAL = re.compile(rf"({NUMBER}) \[({NUMBER}), ({NUMBER})\]")
"""A cell ``mean [lo, hi]`` as :func:`clipbook.evaluate.stats.ci_table` and the claims table write it."""

BOUNDS = {r"accuracy|share|\bNMI\b|^(composition|attribute|object)$": (0.0, 1.0), r"\brho\b|correlation": (-1.0, 1.0)}
"""Headers that name a bounded quantity, and its bounds: an interval under one stays within them."""


class _Tables(HTMLParser):
    """Every ``<table>`` of an HTML output as (header rows, body rows) of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[list[list[str]], list[list[str]]]] = []
        self._head = False
        self._cell: list[str] | None = None

    def handle_starttag(self, tag, attrs) -> None:
        if tag == "table":
            self.tables.append(([], []))
        elif tag == "thead":
            self._head = True
        elif tag == "tr" and self.tables:
            self.tables[-1][0 if self._head else 1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag) -> None:
        if tag == "thead":
            self._head = False
        elif tag in ("td", "th") and self._cell is not None and self.tables:
            rows = self.tables[-1][0 if self._head else 1]
            if rows:
                rows[-1].append("".join(self._cell).strip())
            self._cell = None

    def handle_data(self, data) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _bounds(header: str) -> tuple[float, float] | None:
    return next((b for pattern, b in BOUNDS.items() if re.search(pattern, header)), None)


def cell_problems(cell: str, header: str = "") -> list[str]:
    """What is wrong with the intervals in one cell: a NaN or infinite end, a mean outside its own
    interval, or (under a header naming a bounded quantity) an end outside the bounds."""
    problems = []
    for mean, lo, hi in ((float(m), float(a), float(b)) for m, a, b in INTERVAL.findall(cell)):
        where = f"{header!r}: {mean} [{lo}, {hi}]"
        if not all(map(lambda v: abs(v) < float("inf"), (lo, hi))):
            problems.append(f"{where} has no finite ends")
        elif not lo <= mean <= hi:
            problems.append(f"{where} leaves out its own mean")
        elif (bounds := _bounds(header)) and not (bounds[0] <= lo and hi <= bounds[1]):
            problems.append(f"{where} leaves {bounds}")
    return problems


def table_problems(html: str) -> list[str]:
    """:func:`cell_problems` of every cell of every table, each read under its column's header (a
    pandas table's header rows merged by position: the column names and the index's name)."""
    parser = _Tables()
    parser.feed(html)
    problems = []
    for head, body in parser.tables:
        width = max(map(len, head + body), default=0)
        header = [" ".join(row[i] for row in head if i < len(row) and row[i]) for i in range(width)]
        for row in body:
            problems += [p for i, cell in enumerate(row) for p in cell_problems(cell, header[i])]
    return problems


def notebook_problems(path: Path) -> list[str]:
    """Every untrustworthy interval an executed notebook shows, in a table or in printed text."""
    problems = []
    for cell in json.loads(path.read_text())["cells"]:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if "text/html" in data:
                problems += table_problems("".join(data["text/html"]))
            else:
                problems += cell_problems("".join(data.get("text/plain", output.get("text", ""))))
    return [f"{path.name}: {p}" for p in problems]
