"""Numbers in a chapter's prose come from its run.

A code cell computes the numbers its "What it means" section talks about and hands them to
:func:`say`, which glues each under a name (myst-nb's ``glue``, with nothing displayed); the
markdown cites them as ``{glue:text}`name```, so rerunning a chapter at other parameters rewrites
its prose, and a hand-typed result number cannot drift from its run (``tests/test_prose_numbers.py``
refuses one). Numbers of other seed sets come from their stored records
(:func:`clipbook.book.records.stored`), never from memory.
"""

from __future__ import annotations

import ast
import math
import re
from numbers import Integral, Real

from typing import Mapping, Sequence

import pandas as pd

from clipbook.evaluate.stats import UNDECIDED, Interval, fixed

DIGITS = 3
"""Decimals of a glued number unless the chapter formats it itself (a string is glued as given)."""


def text(value: object, digits: int = DIGITS) -> str:
    """How a value reads in prose: an interval as ``0.003 [-0.007, 0.009]``, a real number with
    ``digits`` decimals, an integer as is, a string as given. A number that is not one (NaN) reads
    "n/a" rather than "nan", so that a sentence never shows a float's internals."""
    if isinstance(value, str):
        return value
    if isinstance(value, Interval):
        return " ".join([text(value.mean, digits), interval(value, digits)])
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"a prose number is a string, an integer, a real number or an Interval, not "
                        f"{type(value).__name__}")
    if isinstance(value, Integral):
        return str(int(value))
    return "n/a" if not math.isfinite(value) else fixed(value, digits)


def interval(value: Interval, digits: int = DIGITS) -> str:
    """Only the bounds of an interval, ``[-0.007, 0.009]`` (for "the 90% interval [..]")."""
    return f"[{text(value.lo, digits)}, {text(value.hi, digits)}]"


def evidence(decision: object, name: str | int | None = None) -> Interval:
    """The statistic ``name`` that a claim's rule recorded (``decision.evidence``: a
    :class:`~clipbook.evaluate.rules.Decision`), as an :class:`Interval`: the number the verdict
    rests on, not a recomputation that could differ from it. Without a name, the decision must
    rest on one statistic; an integer picks the statistic by position (for a claim whose parts
    read statistics of the same name); a claim the run did not test reads as no number ("n/a")."""
    names = [e.get("name") for e in decision.evidence]
    if not names:  # a claim this run did not test (not run): its numbers read "n/a"
        return UNDECIDED
    if isinstance(name, int):
        found = list(decision.evidence[name:name + 1]) if -len(names) <= name < len(names) else []
    else:
        found = [e for e in decision.evidence if name is None or e.get("name") == name]
    if len(found) != 1:
        raise KeyError(f"no single statistic {name!r} in this decision; it has {names}")
    e = found[0]
    return Interval(e["mean"], e["lo"], e["hi"], e.get("n", 0), e.get("confidence", 0.95), e.get("missing", 0))


def means(frame: pd.DataFrame, by: str, columns: Sequence[str], names: Mapping[object, str],
          prefix: str = "") -> dict[str, float]:
    """The mean of each of ``columns`` over the rows of each group ``by`` that ``names`` names,
    under ``{prefix}_{name}_{column}`` (``{name}_{column}`` without a prefix): the numbers a
    sentence compares ("SL's rho 0.49, CLIP's 0.27"). A group the run did not train (a reader's
    parameters left it out) reads NaN, "n/a" in the prose, rather than stopping the chapter."""
    table = frame.groupby(by)[list(columns)].mean()
    head = f"{prefix}_" if prefix else ""
    return {f"{head}{name}_{column}": float(table.at[group, column]) if group in table.index else math.nan
            for group, name in names.items() for column in columns}


def seed_range(first_seed: int, n_seeds: int) -> str:
    """The seeds of a run as prose says them: "5000 to 5004"."""
    return f"{first_seed} to {first_seed + n_seeds - 1}"


def texts(values: dict[str, object], digits: int = DIGITS) -> dict[str, str]:
    """The prose text of every value, by name (see :func:`text`)."""
    bad = [name for name in values if not name.replace("_", "").isalnum()]
    if bad:
        raise ValueError(f"glue names are letters, digits and underscores: {bad}")
    return {name: text(value, digits) for name, value in values.items()}


def say(digits: int = DIGITS, **values: object) -> None:
    """Glue each value under its name for the chapter's markdown, shown nowhere in the code cell."""
    from myst_nb import glue  # jupyter-book's own; imported here so the library loads without it

    out = texts(values, digits)
    for name, value in out.items():
        glue(name, value, display=False)


REFERENCE = re.compile(r"\{glue:text\}`([^`:]+)(?::[^`]*)?`")
"""A glue reference in markdown: ``{glue:text}`name``` or ``{glue:text}`name:.2f```."""
RECORD = "application/papermill.record/text/plain"


def glued(notebook: dict) -> dict[str, str]:
    """Every value an executed notebook glued, by name, as its prose will show it."""
    out = {}
    for cell in notebook["cells"]:
        for output in cell.get("outputs", []):
            name = output.get("metadata", {}).get("scrapbook", {}).get("name")
            if name is not None and RECORD in output.get("data", {}):
                out[name] = ast.literal_eval(output["data"][RECORD])
    return out


def references(notebook: dict) -> list[str]:
    """The glue names the notebook's markdown cites, in order of first citation."""
    found = [m.group(1) for cell in notebook["cells"] if cell["cell_type"] == "markdown"
             for m in REFERENCE.finditer("".join(cell["source"]))]
    return list(dict.fromkeys(found))


def prose_problems(notebook: dict, numbers: bool = True) -> list[str]:
    """What a reader of the executed notebook's prose would trip over: a cited name that the run
    never glued (the site would show a warning in its place), and with ``numbers`` a glued value
    that is not a number ("n/a", "nan": a smoke run's two seeds may give one; a default run may not)."""
    values = glued(notebook)
    problems = [f"{name}: cited, never glued" for name in references(notebook) if name not in values]
    return problems + [f"{name}: {values[name]!r}" for name in references(notebook) if numbers and name in values
                       and re.search(r"\bn/a\b|\bnan\b", values[name])]

