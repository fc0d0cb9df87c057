"""Claims: each chapter states its claims once and checks them against its numbers.

A chapter names its claims up front (:class:`ClaimSet`), then gives each one its statement, what it
rests on (a section of the paper, its abstract, or this book's own extension of the paper) and the
:class:`~clipbook.evaluate.rules.Decision` of its rule, a library object written before the
experiment ran (:mod:`clipbook.evaluate.rules`): reproduced, not reproduced (the data rule out the
smallest effect of interest), or undecided (with why: the seeds that would decide it, a statistic
that is not a number, or an instrument whose control failed). A rule changed after a result was
seen is recorded on its claim (:class:`~clipbook.evaluate.rules.RuleChange`) and shown with it. ``ClaimSet.finish`` shows
the "claim vs. reproduced" table and writes it to a JSON file for the book's Results page.

What the chapter's *prose* says about the verdicts is a statement about one run (the default
profile), not part of the experiment: the chapter passes the claims its text reports as not
reproduced and as undecided as data (its ``not_reproduced`` and ``undecided`` parameters), and an
enforced run fails when a verdict differs from the text. A claim that did not reproduce is kept and
reported, never made to pass by moving its threshold; other profiles (``smoke``, ``paper``) report
verdicts without enforcing them.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal, Mapping, Sequence

import pandas as pd
import yaml

from clipbook.device import describe_environment
from clipbook.evaluate.rules import NOT_REPRODUCED, Decision, RuleChange

RESULTS_ENV = "CLIPBOOK_RESULTS"
Origin = Literal["paper", "book"]
ORIGIN_LABELS = {"paper": "the paper", "book": "this book"}
VERDICTS = {True: "reproduced", False: "not reproduced", None: "undecided"}
SUMMARY = ["claim of", "measured", "power", "verdict", "why"]
"""The columns of the claims table a chapter shows (the Results page shows every column)."""


class ClaimsNotAsReported(AssertionError):
    """A verdict differs from what the chapter's text says about it."""


@dataclass(frozen=True)
class Claim:
    id: str
    statement: str  # the claim, in one sentence
    source: str  # what it rests on: a section of the paper, its abstract, or "this book"
    test: str  # the decision rule, with its threshold and smallest effect of interest
    measured: str  # the statistics, with their confidence intervals
    reproduced: bool | None  # None: undecided
    origin: Origin = "paper"  # "book": this book's extension of the paper, not the paper's claim
    power: float = float("nan")  # the design's power at the smallest effect of interest
    needed: int | None = None  # seeds that would give the target power at the observed spread
    unit: str = "seeds"
    why: str = ""  # an undecided claim's diagnosis
    diagnosis: str = ""  # the row's one line: why undecided, low power
    control: str = ""  # the instrument's control and its outcome
    evidence: tuple[dict, ...] = ()
    history: tuple[RuleChange, ...] = ()

    @property
    def verdict(self) -> str:
        return VERDICTS[self.reproduced]

    @property
    def label(self) -> str:
        """The verdict as the table shows it: an instrument's failure is named."""
        return "undecided (instrument)" if self.why.startswith("instrument") else self.verdict


def _power_text(claim: Claim) -> str:
    if not math.isfinite(claim.power):
        return "n/a"
    return f"{claim.power:.2f}" + (f" ({claim.needed} {claim.unit} for 0.8)" if claim.needed else "")


RULE_HISTORY = Path(__file__).with_name("rule_history.yaml")


def rule_history(chapter: str, path: Path = RULE_HISTORY) -> dict[str, list[RuleChange]]:
    """The rule changes made after a result was seen, of one chapter, by claim (:data:`RULE_HISTORY`)."""
    book = yaml.safe_load(path.read_text()) or {}
    return {claim: [RuleChange(**change) for change in changes] for claim, changes in (book.get(chapter) or {}).items()}


class ClaimSet:
    """A chapter's claims, named up front (``ids``) so that none can go missing: ``finish`` fails
    on a claim stated but never decided (one a run leaves untested is decided as
    :func:`~clipbook.evaluate.rules.not_run`, with why) and ``add`` on one never stated.
    ``history`` holds the rule changes made after a result was seen, by claim (by default the
    chapter's entries of :data:`RULE_HISTORY`)."""

    def __init__(self, chapter: str, ids: Sequence[str], history: Mapping[str, Sequence[RuleChange]] | None = None):
        self.chapter = chapter
        self.ids = list(ids)
        if len(set(self.ids)) != len(self.ids):
            raise ValueError(f"{chapter}: claim ids {self.ids} repeat")
        if history is None:  # the book's record: a claim this run does not state (an arm switched off) has none
            history = {k: v for k, v in rule_history(chapter).items() if k in self.ids}
        unknown = sorted(set(history) - set(self.ids))
        if unknown:
            raise ValueError(f"{chapter}: rule history names claims that are not stated: {unknown}")
        self.history = {k: tuple(v) for k, v in history.items()}
        self.claims: list[Claim] = []

    def add(self, id: str, statement: str, source: str, decision: Decision, *, origin: Origin = "paper") -> None:
        """Record a claim with the decision of its rule."""
        if id not in self.ids:
            raise ValueError(f"{self.chapter}: claim {id!r} was not stated up front (stated: {self.ids})")
        if any(c.id == id for c in self.claims):
            raise ValueError(f"claim {id!r} is stated twice")
        if origin not in ORIGIN_LABELS:
            raise ValueError(f"origin must be one of {tuple(ORIGIN_LABELS)}, got {origin!r}")
        if not isinstance(decision, Decision):
            raise TypeError(f"claim {id!r}: a verdict comes from a rule's Decision, not {type(decision).__name__}")
        self.claims.append(Claim(id, statement, source, decision.rule, decision.measured, decision.reproduced, origin,
                                 decision.power, decision.needed, decision.unit, decision.why, decision.diagnosis,
                                 decision.control, decision.evidence, self.history.get(id, ())))

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [{"claim": c.id, "statement": c.statement, "claim of": ORIGIN_LABELS[c.origin], "source": c.source,
              "test": c.test, "measured": c.measured, "power": _power_text(c), "verdict": c.label,
              "why": c.diagnosis} for c in self.claims]
        ).set_index("claim")

    def history_table(self) -> pd.DataFrame:
        """Every rule change made after a result was seen, one row each."""
        rows = [{"claim": c.id} | asdict(change) for c in self.claims for change in c.history]
        return pd.DataFrame(rows, columns=["claim", "was", "now", "why", "commit"])

    def results_path(self) -> Path:
        return Path(os.environ.get(RESULTS_ENV) or Path("results") / f"{self.chapter}.json")

    def finish(self, *, enforce: bool = True, not_reproduced: Sequence[str] = (),
               undecided: Sequence[str] = (), findings: Mapping | None = None) -> pd.DataFrame:
        """Write the results file and return the table.

        ``not_reproduced`` and ``undecided`` list the claims the chapter's text reports as not
        reproduced and as undecided; with ``enforce`` a verdict that differs from the text raises
        :class:`ClaimsNotAsReported` (after the results are written, so they can be read).
        ``findings`` (JSON-able) are kept in the record for pages that read more than the claims
        (Chapter 7's effects, which the answer table shows).
        """
        decided = [c.id for c in self.claims]
        missing = [i for i in self.ids if i not in decided]
        if missing:
            raise ValueError(f"{self.chapter}: claims {missing} were stated but never decided")
        for name, ids in (("not_reproduced", not_reproduced), ("undecided", undecided)):
            unknown = sorted(set(ids) - set(decided))
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
                  "environment": describe_environment()} | ({"findings": dict(findings)} if findings else {})
        path.write_text(json.dumps(record, indent=2))
        surprises = [c for c in self.claims if c.reproduced is not expected[c.id]]
        if enforce and surprises:
            lines = [f"  {c.id}: {c.verdict} (the chapter reports it as "
                     f"{VERDICTS[expected[c.id]]}); measured {c.measured}" + (f"; {c.why}" if c.why else "")
                     for c in surprises]
            raise ClaimsNotAsReported(f"{self.chapter}: verdicts differ from the text:\n" + "\n".join(lines))
        return self.table()


def rules_out(evidence: dict) -> bool:
    """Whether one recorded statistic rules out its smallest effect of interest (or, for an
    equivalence, lies wholly outside its margin): what a *not reproduced* needs."""
    lo, hi = evidence.get("lo", math.nan), evidence.get("hi", math.nan)
    if "margin" in evidence:
        return lo >= evidence["margin"] or hi <= -evidence["margin"]
    if "smallest" not in evidence:
        return False
    return hi < evidence["smallest"] if evidence["side"] == "above" else lo > evidence["smallest"]


def contradictions(record: dict) -> list[str]:
    """Claims of a run record reported *not reproduced* although their intervals do not rule out
    the smallest effect of interest (too few of them, for a rule over several statistics)."""
    out = []
    for claim in record["claims"]:
        if claim["verdict"] != NOT_REPRODUCED:
            continue
        evidence = claim["evidence"]
        needed = max([e.get("rule_out_needed", 1) for e in evidence], default=1)
        if sum(rules_out(e) for e in evidence) < needed:
            out.append(f"{record['chapter']} {claim['id']}: not reproduced, but its intervals do not rule out "
                       f"the smallest effect of interest ({claim['measured']})")
    return out
