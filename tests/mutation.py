"""`make mutation`: mutmut over the code that decides what the book tells its readers, its
timeouts re-checked by plain pytest runs, then a score per module and every surviving mutant by
name (``mutmut show NAME`` shows one).

The scope (issues 16 and 26): the metrics, statistics, decision rules, power and instrument controls
(``evaluate``), the claims table, the runner's cache key and run record, and each chapter's claim
statistics, rules and decisions. Training loops are left out: their
mutants are caught by slow runs, not by the fast suite that mutmut can afford to repeat.
"""
from __future__ import annotations

import fnmatch
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

_STATISTICS = {
    "intra_class": ["core_sweep", "contrast_sweep", "claim_statistics", "claim_rules", "decide"],
    "feature_sharing": ["sharing_results", "_gain_over_share", "caption_gains", "sharing_statistics", "claim_statistics",
                        "claim_rules", "sharing_decisions", "caption_decisions", "line_gap_decision"],
    "feature_sharing_images": ["common_id_accuracy", "claim_statistics"],
    "conditioning": ["summarize_trajectories", "readout_table", "claim_statistics", "_trend", "_clip", "switch_steps",
                     "switch_statistics", "claim_rules", "decide"],
    "diversity": ["is_baseline", "final", "with_effective_robustness", "model_names", "_models", "factor_effects",
                  "factor_intervals", "factor_table", "smallest_clip_accuracy", "size_control", "claim_rules", "decide",
                  "coverage_effects", "style_effective_robustness", "left_out_settings"],
    "diversity_real": ["effective_robustness", "no_effective_robustness"],
    "disentanglement": ["learned_text", "family_differences", "correlations", "positive", "family_gap",
                        "rise_over_training", "metric_gaps", "interval_text", "metric_controls", "claim_rules",
                        "family_difference_power", "_side_intervals", "decide"],
    "imbalance": ["scores", "gap", "trimmed_accuracy", "subsampling_effect", "scale_effect", "paired_change",
                  "claim_rules", "decide"],
}
_RUNNER = ["_module_file", "_clipbook_imports", "chapter_code", "environment_key", "cache_key",
           "results_path", "read_record", "is_current"]
_WORKSPACE = ["resolve_path", "input_digest", "check_published", "clear_stale_runs"]

SCOPE = (["clipbook.evaluate.*", "clipbook.book.claims.*", "clipbook.learners.imagenet_runs.x_id_ood__mutmut_*"]
         + [f"clipbook.book.runner.x_{f}__mutmut_*" for f in _RUNNER]
         + [f"clipbook.book.workspace.x_{f}__mutmut_*" for f in _WORKSPACE]
         + [f"clipbook.experiments.{m}.x_{f}__mutmut_*" for m, fs in _STATISTICS.items() for f in fs])
"""mutmut's mutant-name patterns (``module.x_function__mutmut_N``) of the code in scope."""

# mutmut's statuses that count as caught (a timeout only once a plain re-run confirms it, :func:`recheck`:
# a mutant that makes the tests run several times longer than they do is one a reader's run would notice).
_CAUGHT = {"killed", "timeout", "segfault"}
RECHECK_LIMIT = (6.0, 30.0)
"""A re-checked mutant's wall-clock limit: this many times its tests' measured seconds, plus this many."""


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


def statuses(codes: dict[str, int | None]) -> dict[str, str]:
    """mutmut's status of each mutant, a function no fast test runs counted as survived (nothing would catch it)."""
    from mutmut.stats import status_by_exit_code

    return {name: "survived" if status_by_exit_code[code] == "no tests" else status_by_exit_code[code]
            for name, code in codes.items()}


def recheck(names: list[str], mutants: Path, workers: int = 2) -> dict[str, str]:
    """Re-run mutants mutmut timed out on, outside its forked workers, whose timeouts are not
    reliable here (many pass their tests when re-run plainly): one plain pytest process per
    mutant, the mutant active, on the tests mutmut maps to its function, with a wall-clock limit
    of :data:`RECHECK_LIMIT`. Returns "killed" (a test failed), "survived", "timeout", or "error"
    (pytest itself failed: not scored, so that a broken environment never reads as kills)."""
    stats = json.loads((mutants / "mutmut-stats.json").read_text())
    times, tests_of = stats["duration_by_test"], stats["tests_by_mangled_function_name"]

    def run(name: str) -> str:
        tests = sorted(tests_of.get(name.split("__mutmut_")[0], []))
        limit = RECHECK_LIMIT[0] * sum(times.get(t, 0.0) for t in tests) + RECHECK_LIMIT[1]
        env = os.environ | {"PYTHONPATH": str(mutants / "src"), "MUTANT_UNDER_TEST": name, "OMP_NUM_THREADS": "1"}
        try:
            done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-x", "-m", "not slow", "-p", "no:cacheprovider",
                                   *tests], cwd=mutants, env=env, capture_output=True, timeout=limit)
        except subprocess.TimeoutExpired:
            return "timeout"
        return {0: "survived", 1: "killed"}.get(done.returncode, "error")

    with ThreadPoolExecutor(workers) as pool:
        return dict(zip(names, pool.map(run, names)))


def report(status: dict[str, str]) -> tuple[str, list[str]]:
    """A table of killed, timed out, survived and not scored mutants per module, the score
    (caught over scored), and the surviving mutants' names."""
    tally: dict[str, Counter] = defaultdict(Counter)
    for name, s in status.items():
        tally[module_of(name)][s if s in _CAUGHT | {"survived"} else "other"] += 1
    lines = ["| module | killed | timeout | survived | not scored | score |", "|---|---|---|---|---|---|"]
    for module, c in sorted(tally.items()):
        killed = c["killed"] + c["segfault"]
        scored = killed + c["timeout"] + c["survived"]
        score = f"{(killed + c['timeout']) / scored:.2f}" if scored else "-"
        lines.append(f"| `{module}` | {killed} | {c['timeout']} | {c['survived']} | {c['other']} | {score} |")
    return "\n".join(lines), sorted(name for name, s in status.items() if s == "survived")


def main(argv: list[str]) -> int:
    mutmut = Path(sys.executable).with_name("mutmut")
    patterns = argv or SCOPE
    subprocess.run([str(mutmut), "run", "--max-children", "2", *patterns], cwd=ROOT, check=True)
    status = statuses(results(ROOT / "mutants"))
    timeouts = [name for name, s in status.items() if s == "timeout"]
    print(f"re-checking {len(timeouts)} timeouts with plain pytest runs", flush=True)
    status |= recheck(timeouts, ROOT / "mutants")
    table, survivors = report(status)
    print(table)
    argued = arguments()
    unargued = [name for name in survivors if name not in argued]
    print(f"\n{len(survivors)} surviving mutants, {len(survivors) - len(unargued)} argued equivalent in "
          f"{SURVIVORS.name}; without an argument (kill each with a test, or argue it there):", *unargued,
          sep="\n  ")
    return 0


SURVIVORS = Path(__file__).with_name("mutation_survivors.txt")
"""One line per surviving mutant judged equivalent: ``NAME: why no test can tell it from the code``."""


def arguments(path: Path = SURVIVORS) -> dict[str, str]:
    """The equivalence arguments of :data:`SURVIVORS`, by mutant name (``#`` lines are comments)."""
    lines = [line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")]
    pairs = [line.split(": ", 1) for line in lines]
    bad = [line for line, pair in zip(lines, pairs) if len(pair) != 2 or not pair[1].strip()]
    if bad:
        raise ValueError(f"{path.name}: a line is `NAME: argument`; these are not: {bad}")
    return dict(pairs)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
