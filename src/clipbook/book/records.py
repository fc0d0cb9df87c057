"""Stored records of seed-set runs, kept with the book (``book/records/``).

A chapter's default run repeated at other first seeds (:mod:`clipbook.book.seed_sets`) leaves a
small record here: its claims' verdicts, measured statistics and evidence, and the commit that
made it. A chapter's prose cites other seed sets from these records (:func:`stored`,
:func:`cited`), never from memory, and a clean clone has them without rerunning anything. They
are part of the default run's cache key (:func:`digest`), never of a seed-set run's, so storing
one never makes another seed set stale.
"""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from clipbook.book import prose
from clipbook.book.paths import RECORDS, ROOT
from clipbook.evaluate.stats import Interval

SEED_SETS = (0, 1000, 2000)
"""The first seeds of the extra seed sets, in the order they are run."""


def is_seed_set_run(chapter, parameters: dict) -> bool:
    """Whether ``parameters`` are those of one of the chapter's (a runner ``Chapter``) seed-set runs."""
    if "first_seed" not in chapter.parameters:
        return False
    return any(parameters == chapter.resolve({"first_seed": s}) for s in SEED_SETS)


def current_commit() -> str:
    """The commit the code was run at ("abc1234+" when the work tree had changes other than the
    stored records, which a seed-set run itself writes); "unknown" outside a git checkout."""
    try:
        git = ["git", "-C", str(ROOT)]
        head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        inside = RECORDS.resolve().is_relative_to(ROOT.resolve())
        records = [f":(exclude){RECORDS.resolve().relative_to(ROOT.resolve()).as_posix()}"] if inside else []
        dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no", "--", ".", *records],
                               capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def path(stem: str, first_seed: int, folder: Path | None = None) -> Path:
    return (folder or RECORDS) / f"{stem}.seeds-{first_seed}.json"


def store(stem: str, first_seed: int, record: dict, folder: Path | None = None, commit: str | None = None) -> Path:
    """Keep a seed-set run's claims with the book: verdicts, measured statistics and evidence, the
    run's cache key and finish time, and the commit that made it (``commit``, taken when the run
    started; the current one by default). The rest of the run record, its environment and
    parameters, stays beside the executed notebook."""
    keep = ("id", "verdict", "measured", "evidence", "reproduced", "why")
    run = record.get("run", {})
    stored_record = {"chapter": record["chapter"], "first_seed": first_seed, "commit": commit or current_commit(),
                     "finished": run.get("finished") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
                     "cache_key": run.get("cache_key", ""),
                     "claims": [{k: c[k] for k in keep if k in c} for c in record["claims"]]}
    out = path(stem, first_seed, folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(stored_record, indent=1) + "\n")
    return out


def stored(stem: str, folder: Path | None = None) -> dict[int, dict]:
    """The stored records of a chapter's seed sets, by first seed (those that were run)."""
    return {s: json.loads(p.read_text()) for s in SEED_SETS if (p := path(stem, s, folder)).exists()}


def digest(stem: str, folder: Path | None = None) -> str:
    """The stored records a chapter's prose cites, as one string for its cache key."""
    return json.dumps(stored(stem, folder), sort_keys=True)


def cited(records: dict[int, dict], claim_id: str, evidence: str | None = None, digits: int = 3) -> str:
    """One claim across the stored seed sets, for a chapter's prose: "0.131 [-0.043, 0.305] at
    first_seed 0 (undecided); ..." with the named statistic of its evidence (else the claim's
    whole measured text), each with its verdict; "nothing (no other seed set is recorded)" when
    none is."""
    parts = []
    for s, record in records.items():
        claim = next((c for c in record["claims"] if c["id"] == claim_id), None)
        if claim is None:
            parts.append(f"claim {claim_id} not stated at first_seed {s}")
            continue
        measured = claim["measured"]
        if evidence is not None:
            e = next((e for e in claim["evidence"] if e["name"] == evidence), None)
            if e is None:
                raise KeyError(f"claim {claim_id} at first_seed {s} has no statistic {evidence!r}; it has "
                               f"{[e['name'] for e in claim['evidence']]}")
            measured = prose.text(Interval(e["mean"], e["lo"], e["hi"], e.get("n", 0)), digits)
        parts.append(f"{measured} at first_seed {s} ({claim['verdict']})")
    return "; ".join(parts) if parts else "nothing (no other seed set is recorded)"


def recorded_at(records: dict[int, dict]) -> str:
    """Which commits made the stored records: "made at commit abc1234" (or "at commits abc1234 and
    def5678"); "none stored yet" when there are none."""
    commits = sorted({r["commit"] for r in records.values()})
    if not commits:
        return "none stored yet"
    return "made at " + ("commit " if len(commits) == 1 else "commits ") + " and ".join(commits)
