"""The box a chapter page opens with: what the reader will see, and what it cost to compute.

The runner adds it to every executed notebook, after the chapter's opening cell (the claim),
from the run's own record: the chapter's key figure (``clipbook.key_figure`` in the source's
Jupytext header), this run's time and machine, what the ``paper`` profile is, and the library
modules the chapter uses, linked to the library reference.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterable
from pathlib import Path

import nbformat

from clipbook.book.figures import first_sentence


def profile_summary(path: Path) -> str:
    """The first sentence of a profile file's leading comment (what the profile is)."""
    if not path.exists():
        return ""
    lines = []
    for line in path.read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("# ").strip())
    return first_sentence(" ".join(lines)) if lines else ""


def library_modules(imported: Iterable[str]) -> list[str]:
    """The library modules among a chapter's imports: no packages, and not the book's machinery."""
    return sorted(m for m in imported if not m.startswith("clipbook.book")
                  and importlib.util.find_spec(m).submodule_search_locations is None)


def overview_cell(record: dict, key_figure: str | None, paper_profile: Path,
                  imported: Iterable[str] = ()) -> nbformat.NotebookNode:
    """A tip box: the key figure, the run time and machine of this run, the ``paper`` profile, and
    the library modules the chapter imports (``imported``), each linked to its reference."""
    run, env = record["run"], record.get("environment", {})
    device = env.get("device", "cpu")
    machine = (f"a CPU with {env.get('cpu_threads', '?')} threads" if device == "cpu" else device)
    lines = [":::{admonition} What you will see", ":class: tip", ""]
    if key_figure:
        lines.append(f"- **The figure to look at:** {{numref}}`{key_figure}`; the claims table and what it means "
                     "close the chapter.")
    lines.append(f"- **This page** is the `{run['profile']}` run: {run['duration_s']:.0f} s on {machine} "
                 f"(Python {env.get('python', '?')}, torch {env.get('torch', '?')}).")
    summary = profile_summary(paper_profile)
    if summary:
        lines.append(f"- **The `paper` profile** (`python -m clipbook run {run['chapter']} --profile paper`): "
                     f"{summary} It has not been run for this website.")
    modules = library_modules(imported)
    if modules:
        lines.append("- **From the library** (the code behind every number here): "
                     + ", ".join(f"{{py:mod}}`{m}`" for m in modules) + ".")
    lines.append(":::")
    return nbformat.v4.new_markdown_cell("\n".join(lines))


def add_overview(path: Path, record: dict, key_figure: str | None, paper_profile: Path,
                 imported: Iterable[str] = ()) -> None:
    """Insert the overview after the notebook's first cell (its title and claim), in place."""
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.insert(1, overview_cell(record, key_figure, paper_profile, imported))
    nbformat.write(notebook, path)
