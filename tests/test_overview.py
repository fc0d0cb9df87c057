"""The box every chapter page opens with, from the run's own record."""

from pathlib import Path

import nbformat

from clipbook.book.overview import add_overview, overview_cell, profile_summary

RECORD = {"run": {"chapter": "toy", "profile": "default", "duration_s": 41.6},
          "environment": {"device": "cpu", "cpu_threads": 2, "python": "3.11.7", "torch": "2.14.1"}}


def test_profile_summary_is_the_first_sentence_of_the_leading_comment(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("# Bigger, as in Wen et al. 2024: more seeds.\n# Second line.\nn_seeds: 10\n# not this\n")
    assert profile_summary(path) == "Bigger, as in Wen et al. 2024: more seeds."
    assert profile_summary(tmp_path / "missing.yaml") == ""


def test_the_overview_names_the_key_figure_the_run_time_and_the_machine(tmp_path):
    paper = tmp_path / "paper.yaml"
    paper.write_text("# On a GPU.\nsteps: 5\n")
    text = overview_cell(RECORD, "fig-toy", paper).source
    assert "{numref}`fig-toy`" in text
    assert "42 s on a CPU with 2 threads" in text and "torch 2.14.1" in text
    assert "--profile paper`): On a GPU. It has not been run" in text
    gpu = overview_cell(RECORD | {"environment": {"device": "NVIDIA H200"}}, None, tmp_path / "none.yaml").source
    assert "on NVIDIA H200" in gpu and "numref" not in gpu and "paper" not in gpu.split("run:")[1]


def test_the_overview_goes_after_the_opening_cell(tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Title\n\nThe claim."),
                                                   nbformat.v4.new_code_cell("x = 1")]), path)
    add_overview(path, RECORD, "fig-toy", Path("nowhere.yaml"))
    cells = nbformat.read(path, as_version=4).cells
    assert [c.cell_type for c in cells] == ["markdown", "markdown", "code"]
    assert cells[1].source.startswith(":::{admonition} What you will see")


def test_the_overview_links_the_library_modules_the_chapter_imports(tmp_path):
    imported = {"clipbook", "clipbook.data", "clipbook.data.latent", "clipbook.plots", "clipbook.book.claims"}
    text = overview_cell(RECORD, None, tmp_path / "none.yaml", imported).source
    assert "**From the library**" in text and "{py:mod}`clipbook.data.latent`, {py:mod}`clipbook.plots`." in text
    assert "clipbook.book" not in text and "{py:mod}`clipbook.data`" not in text  # no machinery, no packages
    assert "From the library" not in overview_cell(RECORD, None, tmp_path / "none.yaml").source
