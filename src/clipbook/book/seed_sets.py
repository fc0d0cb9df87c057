"""A chapter's verdicts on other seed sets: its default run repeated at ``first_seed`` 0, 1000 and
2000, each recorded under ``runs/``, so that the Results page can say at how many seed sets each
claim holds. A result that holds only at the default seeds is not a result. Each seed-set run
also leaves a stored record with the book (:mod:`clipbook.book.records`), which the chapters'
prose cites and a clean clone's Results page shows."""

from __future__ import annotations

from pathlib import Path

from clipbook.book import records, runner
from clipbook.book.parameters import ParameterError
from clipbook.book.records import SEED_SETS


def seed_set_output(chapter: runner.Chapter, first_seed: int) -> Path:
    return runner.RUNS_OUT / f"{chapter.stem}.seeds-{first_seed}.ipynb"


def check_count(n: int) -> None:
    """Refuse a number of seed sets the book does not define, before anything runs."""
    if not 1 <= n <= len(SEED_SETS):
        raise ParameterError(f"--seed-sets takes 1 to {len(SEED_SETS)} (first seeds {', '.join(map(str, SEED_SETS))}), "
                             f"got {n}")


def run_seed_sets(chapter: runner.Chapter, n: int, *, force: bool = False, progress: bool = True) -> list[Path]:
    """The chapter's default run at the first ``n`` of :data:`SEED_SETS` (each from the cache when
    current), each stored with the book; returns the executed notebooks."""
    check_count(n)
    outs = []
    for s in SEED_SETS[:n]:
        commit = records.current_commit()  # the code the run starts with, whatever is committed while it runs
        outs.append(runner.run(chapter, {"first_seed": s}, output=seed_set_output(chapter, s), force=force,
                               progress=progress))
        records.store(chapter.stem, s, runner.read_record(outs[-1]), commit=commit)
    return outs


def seed_set_records(chapter: runner.Chapter) -> dict[int, dict]:
    """The record of every seed set run with the chapter's current code and parameters, by first
    seed; a stale run (older code) is left out, never shown as this chapter's."""
    return {s: runner.read_record(seed_set_output(chapter, s)) for s in SEED_SETS
            if runner.is_current(chapter, seed_set_output(chapter, s), chapter.resolve({"first_seed": s}))}


def across_seed_sets(claim_id: str, by_seed: dict[int, dict]) -> str:
    """How one claim fared at each recorded seed set: 'reproduced at 2 of 3 seed sets (first_seed
    0: reproduced; 1000: undecided; 2000: reproduced)'; '' when none was run."""
    verdicts = {s: next((c["verdict"] for c in r["claims"] if c["id"] == claim_id), "not stated")
                for s, r in by_seed.items()}
    if not verdicts:
        return ""
    held = sum(v == "reproduced" for v in verdicts.values())
    each = "; ".join(f"{s}: {v}" for s, v in verdicts.items())
    return f"reproduced at {held} of {len(verdicts)} seed sets (first_seed {each})"


def shown_seed_sets(chapter: runner.Chapter) -> dict[int, dict]:
    """The seed sets the Results page shows: this code's own runs where there are any, otherwise
    the stored records kept with the book (each says the commit that made it)."""
    return seed_set_records(chapter) or records.stored(chapter.stem)

