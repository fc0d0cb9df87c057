"""Claims: each chapter states the paper's claims once and checks them against its numbers.

A claim carries the paper's statement, where the paper makes it, the decision rule (written
before the experiment is run, from the paper's claim), the measured statistic and the verdict.
``ClaimSet.finish`` shows the "paper vs. reproduced" table, writes it to a JSON file for the
book's Results page, and fails the run when a verdict differs from what the chapter's text
reports (``expected``): a claim that did not reproduce is kept, reported and marked
``expected=False`` in the chapter, never made to pass by moving its threshold.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from clipbook.device import describe_environment

RESULTS_ENV = "CLIPBOOK_RESULTS"


class ClaimsNotAsReported(AssertionError):
    """A verdict differs from what the chapter's text says about it."""


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str  # the paper's claim, in one sentence
    source: str  # where the paper makes it
    test: str  # the decision rule
    measured: str  # the statistic, with its confidence interval
    reproduced: bool
    expected: bool = True  # the verdict the chapter's text reports

    @property
    def verdict(self) -> str:
        return "reproduced" if self.reproduced else "not reproduced"


@dataclass
class ClaimSet:
    chapter: str
    claims: list[Claim] = field(default_factory=list)

    def add(self, id: str, statement: str, source: str, test: str, measured: str, reproduced: bool,
            *, expected: bool = True) -> None:
        if any(c.id == id for c in self.claims):
            raise ValueError(f"claim {id!r} is stated twice")
        self.claims.append(Claim(id, statement, source, test, measured, bool(reproduced), expected))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"claim": c.id, "paper": c.statement, "source": c.source, "test": c.test,
              "measured": c.measured, "verdict": c.verdict} for c in self.claims]
        ).set_index("claim")

    def results_path(self) -> Path:
        return Path(os.environ.get(RESULTS_ENV) or Path("results") / f"{self.chapter}.json")

    def finish(self, *, enforce: bool = True) -> pd.DataFrame:
        """Write the results file and return the table; raise if a verdict is not as reported."""
        path = self.results_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {"chapter": self.chapter, "claims": [asdict(c) | {"verdict": c.verdict} for c in self.claims],
                  "environment": describe_environment()}
        path.write_text(json.dumps(record, indent=2))
        surprises = [c for c in self.claims if c.reproduced != c.expected]
        if enforce and surprises:
            lines = [f"  {c.id}: {c.verdict} (the chapter reports it as "
                     f"{'reproduced' if c.expected else 'not reproduced'}); measured {c.measured}" for c in surprises]
            raise ClaimsNotAsReported(f"{self.chapter}: verdicts differ from the text:\n" + "\n".join(lines))
        return self.table()
