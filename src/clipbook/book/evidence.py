"""The book's answer so far: per mechanism, what its chapter's claims and seed sets support.

Built from the executed chapters' run records (and the seed-set records the Results page shows),
never typed by hand, so it changes whenever a chapter is rerun. The introduction includes it under
"The answer, so far"; each sentence is chosen by the verdicts of the paper's claims, by rules
stated here.
"""

from __future__ import annotations

import pandas as pd

from clipbook.evaluate.rules import LOW_POWER
from clipbook.evaluate.stats import fixed

VERDICTS = ("reproduced", "not reproduced", "undecided")
WEAK = f"power below {LOW_POWER:g}"
COUNTS = "the paper's claims: reproduced / not / undecided"


def paper_of(record: dict) -> str:
    """The paper a chapter reproduces: its first paper claim's source up to the first comma."""
    sources = [c["source"] for c in record["claims"] if c["origin"] == "paper"]
    return sources[0].split(",")[0] if sources else "this book"


def _ids(claims: list[dict], verdict: str) -> list[str]:
    return [c["id"] for c in claims if c["verdict"] == verdict]


def _named(ids: list[str], singular: str, plural: str) -> str:
    """"claim a reproduces" / "claims a, b reproduce"."""
    return f"claim {ids[0]} {singular}" if len(ids) == 1 else f"claims {', '.join(ids)} {plural}"


def low_power(claims: list[dict]) -> str:
    """Which claims' designs had power below :data:`~clipbook.evaluate.rules.LOW_POWER` at their
    smallest effect of interest (a verdict of such a design says little), or "none"."""
    weak = [c["id"] for c in claims if c.get("power") is not None and c["power"] == c["power"] and c["power"] < LOW_POWER]
    return ", ".join(weak) if weak else "none"


def seed_set_agreement(claims: list[dict], seed_sets: dict[int, dict]) -> str:
    """How many of ``claims`` keep their verdict at every stored seed set, and which do not."""
    if not seed_sets:
        return "no other seed set recorded"
    changed = sorted({c["id"] for c in claims for record in seed_sets.values()
                      if next((o["verdict"] for o in record["claims"] if o["id"] == c["id"]), None) != c["verdict"]})
    kept = len(claims) - len(changed)
    firsts = ", ".join(str(s) for s in seed_sets)
    other = f"; {_named(changed, 'differs', 'differ')} at one or more" if changed else ""
    return f"{kept} of {len(claims)} the same at first_seed {firsts}{other}"


def supports(claims: list[dict]) -> str:
    """One sentence on what the paper's claims in their chapter support, by these rules: all
    reproduced, the mechanism as the paper states it; any not reproduced, evidence against those
    claims beside support for the rest; otherwise, support as far as the reproduced claims go,
    with the undecided ones named as open."""
    ids = {v: _ids(claims, v) for v in VERDICTS}
    if not claims:
        return "The chapter tests no claim of the paper."
    if len(ids["reproduced"]) == len(claims):
        return "Supported in its controlled world: every claim of the paper tested here reproduces."
    parts = []
    if ids["reproduced"]:
        parts.append(f"supported where {_named(ids['reproduced'], 'reproduces', 'reproduce')}")
    if ids["not reproduced"]:
        parts.append(f"evidence against {_named(ids['not reproduced'], '', '').strip()}")
    if ids["undecided"]:
        parts.append(f"open where {_named(ids['undecided'], 'is undecided', 'are undecided')}")
    if not ids["reproduced"] and not ids["not reproduced"]:
        return "Not settled: no claim of the paper is decided either way."
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + "."


JOINT = "In the joint world (Chapter 7)"
SHORT = {"er": "ER", "c_ood": "C-OoD", "rho_predictions": "bias"}
"""The outcomes' short names in the joint-world column: effective robustness, accuracy on unseen
compositions, frequency bias of predictions."""


def joint_effects(findings: dict, chapter: int) -> str:
    """The joint world's knob for ``chapter`` (Chapter 7's record): the verdict of the claim that
    carries the chapter there, and the knob's main effects on every outcome with their intervals;
    "no knob" where the joint world has none for it."""
    knobs = {k: v for k, v in findings["knobs"].items() if v["chapter"] == chapter}
    if not knobs:
        return "no knob"

    def effects(knob: str) -> str:
        return ", ".join(f"{SHORT.get(f['outcome'], f['outcome'])} {fixed(f['effect'])} [{fixed(f['lo'])}, "
                         f"{fixed(f['hi'])}]" for f in findings["main_effects"] if f["term"] == knob)

    return "; ".join(f"{knob} (claim {v['claim']}, {v['verdict']}): {effects(knob)}" for knob, v in knobs.items())


def evidence_table(records: list[dict], findings: dict | None = None, *, links: bool = True) -> pd.DataFrame:
    """One row per executed mechanism chapter: the mechanism (linked) and its paper, the paper's
    claims by verdict, and what the evidence supports, followed by which claims rest on a design of
    low power and whether the verdicts hold at the stored seed sets; where Chapter 7 has run (a
    record with ``findings``, or ``findings`` given: a run's own), the mechanism's main effects in
    its joint world. Three columns: narrow enough to read. Without ``links`` the mechanism is plain text (a
    table shown inside a chapter, where the site's relative links would not resolve)."""
    joint = findings or next((r["findings"] for r in records if r.get("findings")), None)
    rows = []
    for r in (r for r in records if not r.get("findings")):
        claims = [c for c in r["claims"] if c["origin"] == "paper"]
        title = f"{r['number']}. {r['run']['title']}"
        linked = f"[{title}](chapters/{r['stem']}.ipynb)" if links else title
        rows.append({"mechanism": f"{linked} ({paper_of(r)})",
                     COUNTS: " / ".join(str(len(_ids(claims, v))) for v in VERDICTS),
                     "what the evidence supports": f"{supports(claims)} *{WEAK.capitalize()}:* {low_power(claims)}. "
                                                   f"*Other seed sets:* {seed_set_agreement(claims, r.get('seed_sets') or {})}."
                                                   + (f" *{JOINT}:* {joint_effects(joint, r['number'])}."
                                                      if joint else "")})
    return pd.DataFrame(rows, columns=["mechanism", COUNTS, "what the evidence supports"])
