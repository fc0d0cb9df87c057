"""`make mutation`: mutmut over the code that decides what the book tells its readers, then a
score per module and every surviving mutant by name (``mutmut show NAME`` shows one).

The scope (issue 16): the metrics and statistics (``evaluate``), the claims table, the runner's
cache key and run record, and each chapter's claim statistics. Training loops are left out: their
mutants are caught by slow runs, not by the fast suite that mutmut can afford to repeat.
"""
from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_STATISTICS = {
    "intra_class": ["core_sweep", "contrast_sweep", "claim_statistics"],
    "feature_sharing": ["sharing_results", "_gain_over_share", "caption_gains", "sharing_statistics", "claim_statistics"],
    "feature_sharing_images": ["common_id_accuracy", "claim_statistics"],
    "conditioning": ["summarize_trajectories", "readout_table", "claim_statistics", "_trend", "_clip", "switch_steps",
                     "switch_statistics"],
    "diversity": ["is_baseline", "final", "with_effective_robustness", "model_names",
                  "shift_effective_robustness", "factor_effects", "factor_intervals", "factor_table"],
    "diversity_real": ["effective_robustness"],
    "disentanglement": ["learned_text", "family_differences", "correlations", "positive", "family_gap",
                        "rise_over_training", "metric_gaps", "interval_text"],
    "imbalance": ["scores", "gap", "trimmed_accuracy", "subsampling_effect", "scale_effect", "paired_change"],
}
_RUNNER = ["_module_file", "_clipbook_imports", "chapter_code", "environment_key", "cache_key",
           "results_path", "read_record", "is_current"]

SCOPE = (["clipbook.evaluate.*", "clipbook.book.claims.*", "clipbook.learners.imagenet_runs.x_id_ood__mutmut_*"]
         + [f"clipbook.book.runner.x_{f}__mutmut_*" for f in _RUNNER]
         + [f"clipbook.experiments.{m}.x_{f}__mutmut_*" for m, fs in _STATISTICS.items() for f in fs])
"""mutmut's mutant-name patterns (``module.x_function__mutmut_N``) of the code in scope."""

# mutmut's statuses that count as caught (its own score counts a timeout as caught: a mutant that
# makes the tests run several times longer than they do is one a reader's run would notice).
_CAUGHT = {"killed", "timeout", "segfault"}


def in_scope(name: str) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in SCOPE)


def module_of(name: str) -> str:
    """``clipbook.evaluate.stats.x_mean_ci__mutmut_3`` -> ``clipbook.evaluate.stats``."""
    return name.split(".x_")[0].split(".xǁ")[0]


def results(mutants: Path) -> dict[str, int | None]:
    """Every mutant in scope with its exit code (None: not run) from mutmut's ``.meta`` files."""
    codes = {}
    for meta in mutants.rglob("*.meta"):
        codes |= json.loads(meta.read_text())["exit_code_by_key"]
    return {name: code for name, code in codes.items() if in_scope(name)}


def report(codes: dict[str, int | None]) -> tuple[str, list[str]]:
    """A table of killed, timed out, survived (with the mutants no test runs) and not scored per
    module, the score (caught over scored, mutmut's: a timeout is caught), the score that counts
    only mutants a test failed on, and the surviving mutants' names. Re-checked outside mutmut's
    forked workers, some timeouts pass their tests: "killed only" is the score to trust."""
    from mutmut.stats import status_by_exit_code

    tally: dict[str, Counter] = defaultdict(Counter)
    survivors = []
    for name, code in sorted(codes.items()):
        status = status_by_exit_code[code]
        if status == "no tests":  # a function in scope that no fast test runs: nothing would catch it
            status = "survived"
        tally[module_of(name)][status if status in _CAUGHT | {"survived"} else "other"] += 1
        if status == "survived":
            survivors.append(name)
    lines = ["| module | killed | timeout | survived | not scored | score | killed only |",
             "|---|---|---|---|---|---|---|"]
    for module, c in sorted(tally.items()):
        killed = c["killed"] + c["segfault"]
        scored = killed + c["timeout"] + c["survived"]
        score, strict = (f"{(killed + c['timeout']) / scored:.2f}", f"{killed / scored:.2f}") if scored else ("-", "-")
        lines.append(f"| `{module}` | {killed} | {c['timeout']} | {c['survived']} | {c['other']} | {score} | {strict} |")
    return "\n".join(lines), survivors


def main(argv: list[str]) -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    patterns = argv or SCOPE
    subprocess.run([str(mutmut), "run", "--max-children", "2", *patterns], cwd=ROOT, check=True)
    table, survivors = report(results(ROOT / "mutants"))
    print(table)
    print(f"\n{len(survivors)} surviving mutants:", *survivors, sep="\n  ")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
