"""Alt text for every captioned figure, from the caption's first sentence."""

import nbformat

from clipbook.book.figures import add_alt_text, first_sentence
from clipbook.book.runner import chapters


def test_first_sentence():
    assert first_sentence("Top: seen. Bottom: unseen.") == "Top: seen."
    assert first_sentence("ID vs. OOD accuracy, e.g. 0.5 (Fang et al. 2022). More.") == \
        "ID vs. OOD accuracy, e.g. 0.5 (Fang et al. 2022)."
    assert first_sentence("No full stop") == "No full stop"


def test_captioned_cells_get_alt_text_and_given_alt_text_is_kept():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("plot()", metadata={"mystnb": {"figure": {"caption": "A line. Look up."}}}),
        nbformat.v4.new_code_cell("plot()", metadata={"mystnb": {"figure": {"caption": "B."}, "image": {"alt": "mine"}}}),
        nbformat.v4.new_code_cell("x = 1"),
    ])
    add_alt_text(nb)
    assert nb.cells[0].metadata["mystnb"]["image"]["alt"] == "A line."
    assert nb.cells[1].metadata["mystnb"]["image"]["alt"] == "mine"
    assert "mystnb" not in nb.cells[2].metadata


def test_every_chapter_figure_has_alt_text():
    for chapter in chapters():
        figures = [c for c in chapter.notebook.cells if "figure" in c.metadata.get("mystnb", {})]
        assert figures, chapter.stem
        assert all(c.metadata["mystnb"]["image"]["alt"] for c in figures), chapter.stem
