"""A chapter's verdicts on other seed sets: its default run repeated at ``first_seed`` 0, 1000 and
2000, each recorded under ``runs/``, so that the Results page can say at how many seed sets each
claim holds. A result that holds only at the default seeds is not a result.

Each seed-set run also leaves a small *stored record* in ``book/records/`` (its claims and the
commit that made it), which is kept with the book: the chapters' prose cites other seed sets from
these records (:func:`stored_records`, :func:`cited`), never from memory, and a clean clone has
them without rerunning anything."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timezone
from pathlib import Path

from clipbook.book import runner
from clipbook.book.parameters import ParameterError

SEED_SETS = (0, 1000, 2000)
"""The first seeds of the extra seed sets, in the order they are run."""


RECORDS = runner.BOOK / "records"
"""Where the stored records of seed-set runs are kept with the book."""


def seed_set_output(chapter: runner.Chapter, first_seed: int) -> Path:
    return runner.RUNS_OUT / f"{chapter.stem}.seeds-{first_seed}.ipynb"


def is_seed_set_run(chapter: runner.Chapter, parameters: dict) -> bool:
    """Whether ``parameters`` are those of one of the chapter's seed-set runs."""
    return any(parameters == chapter.resolve({"first_seed": s}) for s in SEED_SETS)


def check_count(n: int) -> None:
    """Refuse a number of seed sets the book does not define, before anything runs."""
    if not 1 <= n <= len(SEED_SETS):
        raise ParameterError(f"--seed-sets takes 1 to {len(SEED_SETS)} (first seeds {', '.join(map(str, SEED_SETS))}), "
                             f"got {n}")


def run_seed_sets(chapter: runner.Chapter, n: int, *, force: bool = False, progress: bool = True) -> list[Path]:
    """The chapter's default run at the first ``n`` of :data:`SEED_SETS` (each from the cache when
    current); returns the executed notebooks."""
    check_count(n)
    outs = []
    for s in SEED_SETS[:n]:
        outs.append(runner.run(chapter, {"first_seed": s}, output=seed_set_output(chapter, s), force=force,
                               progress=progress))
        store(chapter, s, runner.read_record(outs[-1]))
    return outs


def _commit() -> str:
    """The commit the code was run at ("abc1234+" when the work tree had changes); "unknown"
    outside a git checkout."""
    try:
        git = ["git", "-C", str(runner.ROOT)]
        head = subprocess.run(git + ["rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True)
        dirty = subprocess.run(git + ["status", "--porcelain", "--untracked-files=no"], capture_output=True,
                               text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head.stdout.strip() + ("+" if dirty.stdout.strip() else "")


def stored_path(stem: str, first_seed: int, folder: Path | None = None) -> Path:
    return (folder or RECORDS) / f"{stem}.seeds-{first_seed}.json"


def store(chapter: runner.Chapter, first_seed: int, record: dict, folder: Path | None = None) -> Path:
    """Keep a seed-set run's claims with the book: verdicts, measured statistics and evidence, the
    run's cache key and finish time, and the commit that made it (the rest of the record, its
    environment and parameters, stays in ``runs/``)."""
    keep = ("id", "verdict", "measured", "evidence", "reproduced", "why")
    stored = {"chapter": record["chapter"], "first_seed": first_seed, "commit": _commit(),
              "finished": record.get("run", {}).get("finished") or datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "cache_key": record.get("run", {}).get("cache_key", ""),
              "claims": [{k: c[k] for k in keep if k in c} for c in record["claims"]]}
    path = stored_path(chapter.stem, first_seed, folder)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(stored, indent=1) + "\n")
    return path


def stored_records(stem: str, folder: Path | None = None) -> dict[int, dict]:
    """The stored records of a chapter's seed sets, by first seed (those that were run)."""
    return {s: json.loads(p.read_text()) for s in SEED_SETS if (p := stored_path(stem, s, folder)).exists()}


def records_digest(stem: str, folder: Path | None = None) -> str:
    """The stored records a chapter's prose cites, as one string for its cache key: a new record
    makes the default run (which cites it) stale."""
    return json.dumps(stored_records(stem, folder), sort_keys=True)


def cited(records: dict[int, dict], claim_id: str, evidence: str | None = None, digits: int = 3) -> str:
    """One claim across the stored seed sets, for a chapter's prose: "0.131 [-0.043, 0.305] at
    first_seed 0 (undecided), ..." with the named statistic of its evidence (else the claim's
    whole measured text), each with its verdict; "nothing (no other seed set is recorded)" when none is."""
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
            measured = f"{e['mean']:.{digits}f} [{e['lo']:.{digits}f}, {e['hi']:.{digits}f}]"
        parts.append(f"{measured} at first_seed {s} ({claim['verdict']})")
    return "; ".join(parts) if parts else "nothing (no other seed set is recorded)"


def recorded_at(records: dict[int, dict]) -> str:
    """Which commits made the stored records: "made at commit abc1234" (or "at commits abc1234 and
    def5678"); "none stored yet" when there are none."""
    commits = sorted({r["commit"] for r in records.values()})
    if not commits:
        return "none stored yet"
    return "made at " + ("commit " if len(commits) == 1 else "commits ") + " and ".join(commits)


def seed_set_records(chapter: runner.Chapter) -> dict[int, dict]:
    """The record of every seed set run with the chapter's current code and parameters, by first
    seed; a stale run (older code) is left out, never shown as this chapter's."""
    return {s: runner.read_record(seed_set_output(chapter, s)) for s in SEED_SETS
            if runner.is_current(chapter, seed_set_output(chapter, s), chapter.resolve({"first_seed": s}))}


def across_seed_sets(claim_id: str, records: dict[int, dict]) -> str:
    """How one claim fared at each recorded seed set: 'reproduced at 2 of 3 seed sets (first_seed
    0: reproduced; 1000: undecided; 2000: reproduced)'; '' when none was run."""
    verdicts = {s: next((c["verdict"] for c in r["claims"] if c["id"] == claim_id), "not stated")
                for s, r in records.items()}
    if not verdicts:
        return ""
    held = sum(v == "reproduced" for v in verdicts.values())
    each = "; ".join(f"{s}: {v}" for s, v in verdicts.items())
    return f"reproduced at {held} of {len(verdicts)} seed sets (first_seed {each})"


def shown_seed_sets(chapter: runner.Chapter) -> dict[int, dict]:
    """The seed sets the Results page shows: this code's own runs where there are any, otherwise
    the stored records kept with the book (each says the commit that made it)."""
    return seed_set_records(chapter) or stored_records(chapter.stem)

