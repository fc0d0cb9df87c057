"""Figures as the website shows them: every figure of a chapter gets alt text.

A chapter's figure cell carries its caption in ``mystnb.figure.caption``; a screen reader reads
the image's ``alt`` instead, which myst-nb takes from ``mystnb.image.alt``. Where a cell does not
set one, the caption's first sentence is the alt text.
"""

from __future__ import annotations

import re

import nbformat


ABBREVIATIONS = ("vs.", "e.g.", "i.e.", "cf.", "al.", "Fig.", "Sec.")
"""Words ending in a full stop that do not end a sentence."""


def first_sentence(text: str) -> str:
    """The text up to and including the first full stop (or ! or ?) followed by a space, skipping
    the stops of :data:`ABBREVIATIONS`; all of it when there is none."""
    text = text.strip()
    for match in re.finditer(r"[.!?](?=\s|$)", text):
        words = text[:match.end()].split()
        if not words[-1].endswith(ABBREVIATIONS):
            return text[:match.end()]
    return text


def add_alt_text(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """Set ``mystnb.image.alt`` of every captioned figure cell that has none; returns the notebook."""
    for cell in notebook.cells:
        mystnb = cell.metadata.get("mystnb", {})
        caption = mystnb.get("figure", {}).get("caption")
        if caption and not mystnb.get("image", {}).get("alt"):
            mystnb.setdefault("image", {})["alt"] = first_sentence(caption)
    return notebook
