"""The claims table decides, records and enforces what a chapter reports."""

import json
from pathlib import Path

import pytest

from clipbook.book.claims import RESULTS_ENV, ClaimSet, ClaimsNotAsReported
from clipbook.evaluate.stats import Interval, mean_ci


def _claims(*reproduced: bool) -> ClaimSet:
    claims = ClaimSet("demo")
    for claim_id, verdict in zip("abc", reproduced):
        claims.add(claim_id, "X beats Y.", "Paper, Fig. 1", "CI above 0", "0.1 [0.05, 0.15]", verdict)
    return claims


@pytest.fixture(autouse=True)
def results_file(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "r.json"))
    return tmp_path / "r.json"


def test_finish_writes_the_results_file(results_file):
    table = _claims(True).finish()
    record = json.loads(results_file.read_text())
    assert record["claims"][0]["verdict"] == "reproduced" and table.loc["a", "verdict"] == "reproduced"
    assert record["claims"][0]["expected"] is True and record["enforced"] is True
    assert {"python", "torch", "open_clip", "device"} <= set(record["environment"])


def test_a_verdict_that_differs_from_the_text_fails_an_enforced_run(results_file):
    with pytest.raises(ClaimsNotAsReported, match="not reproduced"):
        _claims(False).finish()
    assert json.loads(results_file.read_text())["claims"][0]["reproduced"] is False  # still recorded
    _claims(False, True).finish(not_reproduced=["a"])  # the text reports a as not reproduced: consistent
    with pytest.raises(ClaimsNotAsReported, match="b: reproduced"):
        _claims(True, True).finish(not_reproduced=["b"])


@pytest.mark.parametrize("verdicts", [(True, True, True), (False, False, False)])
def test_an_unenforced_run_reports_any_verdicts(verdicts, results_file):
    """A profile that does not enforce (paper, smoke) never fails on what it finds, whether
    every claim reproduces or none does, whatever the default run's text expects."""
    table = _claims(*verdicts).finish(enforce=False, not_reproduced=["a", "b"])
    assert list(table.verdict) == ["reproduced" if v else "not reproduced" for v in verdicts]
    assert json.loads(results_file.read_text())["enforced"] is False


def test_not_reproduced_must_name_stated_claims():
    with pytest.raises(ValueError, match="unknown claims"):
        _claims(True).finish(not_reproduced=["z"])


def test_book_claims_are_told_apart_from_the_paper_s():
    claims = _claims(True)
    claims.add("b", "A weight on the negatives interpolates.", "this book (after Paper, abstract)", "rho < 0",
               "-0.9", True, origin="book")
    assert list(claims.table()["claim of"]) == ["the paper", "this book"]
    with pytest.raises(ValueError, match="origin"):
        claims.add("c", "", "", "", "", True, origin="blog")


def test_claim_ids_are_unique():
    claims = _claims(True)
    with pytest.raises(ValueError, match="twice"):
        claims.add("a", "again", "", "", "", True)


def test_a_claim_on_statistics_that_are_not_numbers_is_undecided_and_fails_an_enforced_run(results_file):
    """One seed gives a NaN interval, and every comparison with NaN is False: without this, such a
    claim would come out "not reproduced", just what a chapter may report, and pass."""
    claims = ClaimSet("demo")
    one_seed = mean_ci([0.2])
    claims.add("a", "X beats Y.", "Paper", "CI above 0", f"{one_seed}", one_seed.lo > 0, evidence=[one_seed])
    claims.add("b", "Y is small.", "Paper", "value below 1", "nan", float("nan") < 1, evidence=[float("nan")])
    claims.add("c", "Z.", "Paper", "CI above 0", "ok", True, evidence=[mean_ci([0.1, 0.3]), 0.5])
    assert [c.verdict for c in claims.claims] == ["undecided", "undecided", "reproduced"]
    with pytest.raises(ClaimsNotAsReported, match="a: undecided .* not numbers, or its test could not decide at this budget"):
        claims.finish(not_reproduced=["a", "b"])
    assert claims.finish(enforce=False).loc["a", "verdict"] == "undecided"
    assert json.loads(results_file.read_text())["claims"][0]["reproduced"] is None


def test_the_table_and_the_record_carry_every_field_as_stated(results_file):
    claims = ClaimSet("demo")
    claims.add("a", "X beats Y.", "Paper, Fig. 1", "CI above 0", "0.1 [0.05, 0.15]", True)
    claims.add("b", "Z helps.", "this book", "CI above 0", "-0.2 [-0.3, -0.1]", False, origin="book")
    expected_rows = [
        {"claim": "a", "statement": "X beats Y.", "claim of": "the paper", "source": "Paper, Fig. 1",
         "test": "CI above 0", "measured": "0.1 [0.05, 0.15]", "verdict": "reproduced"},
        {"claim": "b", "statement": "Z helps.", "claim of": "this book", "source": "this book",
         "test": "CI above 0", "measured": "-0.2 [-0.3, -0.1]", "verdict": "not reproduced"}]
    assert claims.table().reset_index().to_dict("records") == expected_rows
    claims.finish(not_reproduced=["b"])
    text = results_file.read_text()
    record = json.loads(text)
    assert text == json.dumps(record, indent=2)  # readable on the Results page's source
    assert record["chapter"] == "demo" and record["enforced"] is True
    assert [{k: c[k] for k in ("id", "statement", "source", "test", "measured", "reproduced", "origin", "verdict",
                               "expected")} for c in record["claims"]] == [
        {"id": "a", "statement": "X beats Y.", "source": "Paper, Fig. 1", "test": "CI above 0",
         "measured": "0.1 [0.05, 0.15]", "reproduced": True, "origin": "paper", "verdict": "reproduced",
         "expected": True},
        {"id": "b", "statement": "Z helps.", "source": "this book", "test": "CI above 0",
         "measured": "-0.2 [-0.3, -0.1]", "reproduced": False, "origin": "book", "verdict": "not reproduced",
         "expected": False}]


def test_the_results_file_defaults_to_results_and_its_folder_is_made(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_ENV)
    monkeypatch.chdir(tmp_path)
    assert ClaimSet("demo").results_path() == Path("results") / "demo.json"
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "deep" / "er" / "r.json"))
    _claims(True).finish()
    assert (tmp_path / "deep" / "er" / "r.json").exists()


def test_the_failure_message_names_each_surprise_and_what_the_text_says(results_file):
    claims = _claims(False, True)
    claims.add("c", "W.", "Paper", "CI above 0", "nan", False, evidence=[float("nan")])
    with pytest.raises(ClaimsNotAsReported) as err:
        claims.finish(not_reproduced=["b"])
    assert str(err.value).splitlines() == [
        "demo: verdicts differ from the text:",
        "  a: not reproduced (the chapter reports it as reproduced); measured 0.1 [0.05, 0.15]",
        "  b: reproduced (the chapter reports it as not reproduced); measured 0.1 [0.05, 0.15]",
        "  c: undecided (the chapter reports it as reproduced); measured nan; its statistics are not numbers, or its "
        "test could not decide at this budget (more seeds?)"]


def test_an_interval_over_one_value_is_undecided_even_with_finite_bounds():
    claims = ClaimSet("demo")
    claims.add("a", "X.", "Paper", "CI above 0", "", True, evidence=[Interval(0.5, 0.4, 0.6, 1)])
    claims.add("b", "Y.", "Paper", "CI above 0", "", True, evidence=[Interval(0.5, 0.4, float("inf"), 3)])
    claims.add("c", "Z.", "Paper", "CI above 0", "", True, evidence=[Interval(0.5, 0.4, 0.6, 2)])
    assert [c.verdict for c in claims.claims] == ["undecided", "undecided", "reproduced"]


def test_a_rule_that_decides_nothing_gives_undecided_which_the_text_can_report(results_file):
    """An equivalence test whose interval straddles its margin neither confirms nor refutes."""
    claims = _claims(True)
    claims.add("b", "Y is small.", "Paper", "90% CI within +/- 0.05", "0.04 [-0.01, 0.09]", None,
               evidence=[mean_ci([0.0, 0.08])])
    assert claims.claims[-1].verdict == "undecided"
    with pytest.raises(ClaimsNotAsReported, match="b: undecided \\(the chapter reports it as reproduced\\)"):
        claims.finish()
    claims.finish(undecided=["b"])
    assert [c["expected"] for c in json.loads(results_file.read_text())["claims"]] == [True, None]
    with pytest.raises(ClaimsNotAsReported, match="b: undecided \\(the chapter reports it as not reproduced\\)"):
        claims.finish(not_reproduced=["b"])


def test_the_text_cannot_report_a_claim_twice_or_an_unknown_one_as_undecided(results_file):
    claims = _claims(True)
    with pytest.raises(ValueError, match="both not reproduced and undecided"):
        claims.finish(not_reproduced=["a"], undecided=["a"])
    with pytest.raises(ValueError, match="undecided names unknown claims \\['z'\\]"):
        claims.finish(undecided=["z"])
