"""`make mutation`'s own logic: timeouts re-checked by plain pytest runs, and the score table."""

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import mutation  # noqa: E402

MUTANT_TESTS = '''import os, time

def test_f():
    mutant = os.environ["MUTANT_UNDER_TEST"]
    assert not mutant.endswith("_1")  # mutant 1 is caught
    if mutant.endswith("_3"):
        time.sleep(60)  # mutant 3 hangs
'''


def test_recheck_runs_each_mutant_in_a_plain_pytest_process(tmp_path, monkeypatch):
    (tmp_path / "src").mkdir()
    (tmp_path / "test_f.py").write_text(MUTANT_TESTS)
    (tmp_path / "mutmut-stats.json").write_text(json.dumps({
        "duration_by_test": {"test_f.py::test_f": 0.01},
        "tests_by_mangled_function_name": {"m.x_f": ["test_f.py::test_f"], "m.x_g": ["missing.py::test_g"]}}))
    monkeypatch.setattr(mutation, "RECHECK_LIMIT", (1.0, 5.0))
    names = [f"m.x_f__mutmut_{i}" for i in (1, 2, 3)] + ["m.x_g__mutmut_1"]  # g's test file does not exist
    assert mutation.recheck(names, tmp_path) == dict(zip(names, ["killed", "survived", "timeout", "error"]))


def test_the_report_scores_caught_over_scored_per_module():
    status = {"a.x_f__mutmut_1": "killed", "a.x_f__mutmut_2": "survived", "a.x_g__mutmut_1": "timeout",
              "a.x_g__mutmut_2": "killed", "b.xǁC.f__mutmut_1": "not checked"}
    table, survivors = mutation.report(status)
    assert "| `a` | 2 | 1 | 1 | 0 | 0.75 |" in table.splitlines()
    assert "| `b` | 0 | 0 | 0 | 1 | - |" in table.splitlines()
    assert survivors == ["a.x_f__mutmut_2"]


def test_scope_and_modules_read_from_mutant_names():
    assert mutation.in_scope("clipbook.evaluate.stats.x_mean_ci__mutmut_3")
    assert not mutation.in_scope("clipbook.training.loop.x_train__mutmut_1")
    assert mutation.module_of("clipbook.evaluate.stats.x_mean_ci__mutmut_3") == "clipbook.evaluate.stats"


def test_equivalence_arguments_are_one_per_line_and_every_line_has_one(tmp_path):
    path = tmp_path / "survivors.txt"
    path.write_text("# a comment\n\na.x_f__mutmut_1: the default equals the value passed\n")
    assert mutation.arguments(path) == {"a.x_f__mutmut_1": "the default equals the value passed"}
    path.write_text("a.x_f__mutmut_1:\n")
    try:
        mutation.arguments(path)
    except ValueError as err:
        assert "a line is `NAME: argument`" in str(err)
    else:
        raise AssertionError("an empty argument was accepted")
    assert all(name.startswith("clipbook.") for name in mutation.arguments())  # the book's own file reads
