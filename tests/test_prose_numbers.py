"""No chapter's markdown holds a hand-typed result number: every number its prose reports about a
run is glued from that run (:mod:`clipbook.book.prose`), so a rerun at other parameters rewrites it.

A decimal number, a numeric interval or a percentage in a markdown cell fails this test unless it
is one of the constants below, each with where it comes from (a paper's reported figure, a rule's
threshold or a design constant written before the run). Inline code (commands, parameter values,
glue references) is not prose and is not scanned."""

from __future__ import annotations

import re
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("[0-9][0-9]_*.py"))

NUMBER = re.compile(r"\[\s*[-−]?\d*\.?\d+\s*,\s*[-−]?\d*\.?\d+\s*\]"  # a numeric interval
                    r"|(?<![\w.])[-−+]?\d*\.\d+%?"  # a decimal number
                    r"|(?<![\w.])\d+\s?%")  # a percentage
NOT_PROSE = re.compile(r"`[^`]*`|\]\([^)]*\)"  # inline code (commands, glue references), link targets
                       r"|\b(?:Secs?|Figs?|Tabs?|Apps?|Thms?|Eqs?)\.\s*[A-Z]?\d+(?:\.\d+)*")  # "Sec. 4.1"

CONSTANTS: dict[str, dict[str, str]] = {
    "*": {"95%": "the confidence level of the book's intervals (the Deciding page)",
          "90%": "the confidence level of an equivalence test at 5% (two one-sided tests); in Chapter 2 the "
                 "first world's design (the attribute in 90% of its class), in Chapter 3 claim d's rule"},
    "01_intra_class_contrasting": {"0.5": "a spurious share above 0.5 outvotes the core (its definition); the "
                                          "smallest trend of interest, a rank correlation of 0.5 (the rules)"},
    "03_pair_conditioning": {"0.1": "claim e's rule: the switched run falls by at most 0.1 in log10",
                             "20%": "the same tolerance as a ratio (10^0.1 is about 1.26)",
                             "-0.5": "claim c's threshold: halfway between chance and a steady fall"},
    "04_diversity": {"5%": "the level of the two one-sided tests", "0.8": "the target power of every design",
                     "0.008": "the smallest spread of the two pilot seeds, measured before the design (Power)",
                     "0.065": "the largest spread of the two pilot seeds, measured before the design (Power)"},
    "05_disentanglement": {"0.3": "the rules' moderate rank correlation (the paper reports none)",
                           "0.05": "the Kruskal-Wallis level of claim a", "0.1": "the metrics' control separation"},
    "07_synthesis": {"0.18": "the pilot (seed 424242, before the design's first run) that chose the tower: tiny-vit's "
                                      "zero-shot ID accuracy", "0.41": "the same pilot: tiny-rn's"},
    "06_imbalance": {"0.13": "the spread of claim g's paired change on the earlier seed sets (its rule history)",
                     "0.3": "the power of five seeds at that spread, which motivated the open-world design",
                     "0.9": "the power of twenty seeds at that spread", "0.1": "the smallest change of interest"},
}
"""Numbers a chapter's markdown may hold, by chapter stem ("*": every chapter), with their source."""


def prose_numbers(source: str) -> list[str]:
    """The decimal numbers, numeric intervals and percentages of a markdown text, outside inline code."""
    return [m.group().replace(" ", "") for m in NUMBER.finditer(NOT_PROSE.sub("", source))]


def test_the_scanner_finds_typed_numbers_and_ignores_glue_and_code():
    text = ("a gap of 0.003, interval [-0.007, 0.009], 8% of the time, .5 of it; glued {glue:text}`h_gap`; "
            "run `-p p_spurious 0.9`; see [the page](../a/0.5.html); five seeds, 2 points; Sec. 4.1, App. C.4")
    assert prose_numbers(text) == ["0.003", "[-0.007,0.009]", "8%", ".5"]


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_no_chapter_prose_holds_a_hand_typed_result_number(notebook):
    allowed = CONSTANTS["*"] | CONSTANTS.get(notebook.stem, {})
    found = [(i, n) for i, cell in enumerate(jupytext.read(notebook).cells) if cell.cell_type == "markdown"
             for n in prose_numbers(cell.source) if n not in allowed]
    assert not found, (f"{notebook.name}: numbers typed into the prose (glue them from the run with "
                       f"clipbook.book.prose.say, or list a constant with its source): {found}")
