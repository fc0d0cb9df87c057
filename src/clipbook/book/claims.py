"""Claims: each chapter states its claims once and checks them against its numbers.

A claim carries its statement, what it rests on (a section of the paper, its abstract, or this
book's own extension of the paper), the decision rule (written before the experiment is run,
from the claim), the measured statistic and the verdict: reproduced, not reproduced, or
undecided when a statistic the rule reads is not a number (too few seeds, a NaN). ``ClaimSet.finish`` shows the
"claim vs. reproduced" table and writes it to a JSON file for the book's Results page.

What the chapter's *prose* says about the verdicts is a statement about one run (the default
profile), not part of the experiment: the chapter passes the claims its text reports as not
reproduced as data (its ``not_reproduced`` parameter), and an enforced run fails when a verdict
differs from the text. A claim that did not reproduce is kept and reported, never made to pass by
moving its threshold; other profiles (``smoke``, ``paper``) report verdicts without enforcing them.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Sequence

import pandas as pd

from clipbook.device import describe_environment
from clipbook.evaluate.stats import Interval

RESULTS_ENV = "CLIPBOOK_RESULTS"
Origin = Literal["paper", "book"]
ORIGIN_LABELS = {"paper": "the paper", "book": "this book"}
VERDICTS = {True: "reproduced", False: "not reproduced", None: "undecided"}


def _decidable(statistic: Interval | float) -> bool:
    """A number, or a confidence interval over at least two values with finite bounds."""
    if isinstance(statistic, Interval):
        return statistic.n >= 2 and all(math.isfinite(v) for v in (statistic.mean, statistic.lo, statistic.hi))
    return math.isfinite(float(statistic))


class ClaimsNotAsReported(AssertionError):
    """A verdict differs from what the chapter's text says about it."""


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str  # the claim, in one sentence
    source: str  # what it rests on: a section of the paper, its abstract, or "this book"
    test: str  # the decision rule
    measured: str  # the statistic, with its confidence interval
    reproduced: bool | None  # None: undecided (the statistics it rests on are not numbers)
    origin: Origin = "paper"  # "book": this book's extension of the paper, not the paper's claim

    @property
    def verdict(self) -> str:
        return VERDICTS[self.reproduced]


@dataclass
class ClaimSet:
    chapter: str
    claims: list[Claim] = field(default_factory=list)

    def add(self, id: str, statement: str, source: str, test: str, measured: str, reproduced: bool | None,
            *, origin: Origin = "paper", evidence: Sequence[Interval | float] = ()) -> None:
        """State a claim and its verdict. ``reproduced`` is None when the rule itself decides
        nothing (an equivalence test whose interval straddles its margin: too little power).
        ``evidence`` lists the statistics the rule read: if any is not a number (an interval
        over fewer than two seeds, a NaN), the claim is undecided whatever ``reproduced`` says,
        since every comparison with NaN is False."""
        if any(c.id == id for c in self.claims):
            raise ValueError(f"claim {id!r} is stated twice")
        if origin not in ORIGIN_LABELS:
            raise ValueError(f"origin must be one of {tuple(ORIGIN_LABELS)}, got {origin!r}")
        decided = all(_decidable(e) for e in evidence)
        verdict = None if reproduced is None or not decided else bool(reproduced)
        self.claims.append(Claim(id, statement, source, test, measured, verdict, origin))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"claim": c.id, "statement": c.statement, "claim of": ORIGIN_LABELS[c.origin], "source": c.source,
              "test": c.test, "measured": c.measured, "verdict": c.verdict} for c in self.claims]
        ).set_index("claim")

    def results_path(self) -> Path:
        return Path(os.environ.get(RESULTS_ENV) or Path("results") / f"{self.chapter}.json")

    def finish(self, *, enforce: bool = True, not_reproduced: Sequence[str] = (),
               undecided: Sequence[str] = ()) -> pd.DataFrame:
        """Write the results file and return the table.

        ``not_reproduced`` and ``undecided`` list the claims the chapter's text reports as not
        reproduced and as undecided; with ``enforce`` a verdict that differs from the text raises
        :class:`ClaimsNotAsReported` (after the results are written, so they can be read).
        """
        for name, ids in (("not_reproduced", not_reproduced), ("undecided", undecided)):
            unknown = sorted(set(ids) - {c.id for c in self.claims})
            if unknown:
                raise ValueError(f"{self.chapter}: {name} names unknown claims {unknown}")
        if set(not_reproduced) & set(undecided):
            raise ValueError(f"{self.chapter}: claims {sorted(set(not_reproduced) & set(undecided))} are listed "
                             "as both not reproduced and undecided")
        expected = {c.id: None if c.id in undecided else c.id not in not_reproduced for c in self.claims}
        path = self.results_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"chapter": self.chapter, "enforced": enforce,
                  "claims": [asdict(c) | {"verdict": c.verdict, "expected": expected[c.id]} for c in self.claims],
                  "environment": describe_environment()}
        path.write_text(json.dumps(record, indent=2))
        surprises = [c for c in self.claims if c.reproduced is not expected[c.id]]
        if enforce and surprises:
            lines = [f"  {c.id}: {c.verdict} (the chapter reports it as "
                     f"{VERDICTS[expected[c.id]]}); measured {c.measured}"
                     + ("; its statistics are not numbers, or its test could not decide at this budget "
                        "(more seeds?)" if c.reproduced is None else "")
                     for c in surprises]
            raise ClaimsNotAsReported(f"{self.chapter}: verdicts differ from the text:\n" + "\n".join(lines))
        return self.table()
