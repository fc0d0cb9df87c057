"""The claims table records, enforces and explains what a chapter reports."""

import json
import re
from pathlib import Path

import pytest
import yaml

from clipbook.book.claims import (RESULTS_ENV, RULE_HISTORY, SUMMARY, ClaimSet, ClaimsNotAsReported, contradictions,
                                  rule_history, rules_out)
from clipbook.evaluate.rules import (NOT_REPRODUCED, REPRODUCED, UNDECIDED, Above, AtLeast, Control, Decision,
                                     RuleChange, Within, all_of, not_run)
from clipbook.evaluate.stats import Interval, mean_ci

RULE = Above(0.0, 0.05, "a stated value")
UP, DOWN, OPEN = Interval(0.1, 0.05, 0.15, 5), Interval(-0.1, -0.15, -0.05, 5), Interval(0.02, -0.01, 0.06, 5)


def _claims(*intervals: Interval) -> ClaimSet:
    claims = ClaimSet("demo", "abc"[:len(intervals)])
    for claim_id, interval in zip("abc", intervals):
        claims.add(claim_id, "X beats Y.", "Paper, Fig. 1", RULE.decide(interval))
    return claims


@pytest.fixture(autouse=True)
def results_file(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "r.json"))
    return tmp_path / "r.json"


def test_finish_writes_the_results_file(results_file):
    table = _claims(UP).finish()
    record = json.loads(results_file.read_text())
    assert record["claims"][0]["verdict"] == "reproduced" and table.loc["a", "verdict"] == "reproduced"
    assert record["claims"][0]["expected"] is True and record["enforced"] is True
    assert {"python", "torch", "open_clip", "device"} <= set(record["environment"])


def test_the_record_holds_the_interval_threshold_smallest_effect_and_power(results_file):
    _claims(OPEN).finish(undecided=["a"])
    claim = json.loads(results_file.read_text())["claims"][0]
    assert claim["evidence"] == [{"name": "CI", "mean": 0.02, "lo": -0.01, "hi": 0.06, "n": 5, "confidence": 0.95,
                                  "missing": 0, "side": "above", "threshold": 0.0, "smallest": 0.05}]
    assert claim["power"] == pytest.approx(RULE.power(OPEN)) and claim["needed"] == RULE.decide(OPEN).needed
    assert claim["verdict"] == "undecided" and "seeds would decide it" in claim["why"]
    assert "smallest effect of interest 0.05: a stated value" in claim["test"]


def test_a_verdict_that_differs_from_the_text_fails_an_enforced_run(results_file):
    with pytest.raises(ClaimsNotAsReported, match="not reproduced"):
        _claims(DOWN).finish()
    assert json.loads(results_file.read_text())["claims"][0]["reproduced"] is False  # still recorded
    _claims(DOWN, UP).finish(not_reproduced=["a"])  # the text reports a as not reproduced: consistent
    with pytest.raises(ClaimsNotAsReported, match="b: reproduced"):
        _claims(UP, UP).finish(not_reproduced=["b"])


@pytest.mark.parametrize("intervals", [(UP, UP, UP), (DOWN, DOWN, DOWN)])
def test_an_unenforced_run_reports_any_verdicts(intervals, results_file):
    """A profile that does not enforce (paper, smoke) never fails on what it finds."""
    table = _claims(*intervals).finish(enforce=False, not_reproduced=["a", "b"])
    assert list(table.verdict) == [RULE.decide(i).verdict for i in intervals]
    assert json.loads(results_file.read_text())["enforced"] is False


def test_not_reproduced_must_name_stated_claims():
    with pytest.raises(ValueError, match="unknown claims"):
        _claims(UP).finish(not_reproduced=["z"])


def test_claims_are_stated_up_front_and_none_can_go_missing():
    claims = ClaimSet("demo", "ab")
    claims.add("a", "X.", "Paper", RULE.decide(UP))
    with pytest.raises(ValueError, match=r"claims \['b'\] were stated but never decided"):
        claims.finish()
    with pytest.raises(ValueError, match="was not stated up front"):
        claims.add("z", "Z.", "Paper", RULE.decide(UP))
    claims.add("b", "Y.", "Paper", not_run("no such arm"))
    table = claims.finish(undecided=["b"])
    assert table.loc["b", "verdict"] == "undecided" and table.loc["b", "why"] == "not run: no such arm"
    with pytest.raises(ValueError, match="repeat"):
        ClaimSet("demo", "aa")


def test_a_verdict_comes_from_a_rule_never_a_bare_value():
    claims = ClaimSet("demo", "a")
    for value in (True, float("nan"), None):
        with pytest.raises(TypeError, match="Decision"):
            claims.add("a", "X.", "Paper", value)


def test_book_claims_are_told_apart_from_the_paper_s():
    claims = ClaimSet("demo", "abc")
    claims.add("a", "X beats Y.", "Paper", RULE.decide(UP))
    claims.add("b", "A weight on the negatives interpolates.", "this book", RULE.decide(UP), origin="book")
    assert list(claims.table()["claim of"]) == ["the paper", "this book"]
    with pytest.raises(ValueError, match="origin"):
        claims.add("c", "", "", RULE.decide(UP), origin="blog")


def test_claim_ids_are_unique():
    claims = _claims(UP)
    with pytest.raises(ValueError, match="twice"):
        claims.add("a", "again", "", RULE.decide(UP))


def test_statistics_that_are_not_numbers_give_undecided_which_fails_an_enforced_run_that_says_otherwise(results_file):
    """One seed gives a NaN interval: undecided, never 'not reproduced' (what a chapter may report) nor reproduced."""
    claims = _claims(mean_ci([0.2]), Interval(float("nan"), 0.1, 0.2, 3), mean_ci([0.2, 0.21, 0.19]))
    assert [c.verdict for c in claims.claims] == ["undecided", "undecided", "reproduced"]
    with pytest.raises(ClaimsNotAsReported, match="a: undecided .*fewer than two values"):
        claims.finish(not_reproduced=["a", "b"])
    assert claims.finish(enforce=False).loc["a", "verdict"] == "undecided"
    assert json.loads(results_file.read_text())["claims"][0]["reproduced"] is None


def test_the_table_and_the_summary_carry_every_field_as_stated():
    claims = ClaimSet("demo", "ab")
    claims.add("a", "X beats Y.", "Paper, Fig. 1", RULE.decide(UP))
    claims.add("b", "Z helps.", "this book", RULE.decide(DOWN), origin="book")
    table = claims.table()
    assert list(table.columns) == ["statement", "claim of", "source", "test", "measured", "power", "verdict", "why"]
    assert set(SUMMARY) <= set(table.columns)
    assert table.loc["a", "measured"] == "0.100 [0.050, 0.150]" and table.loc["b", "verdict"] == "not reproduced"
    assert table.loc["a", "power"].startswith(f"{RULE.power(UP):.2f}")
    assert table.loc["a", "test"] == RULE.text()


def test_an_instrument_failure_is_named_in_the_table():
    claims = ClaimSet("demo", "a")
    claims.add("a", "X.", "Paper", RULE.decide(UP, control=Control("planted effect", False, "0.0")))
    assert claims.table().loc["a", "verdict"] == "undecided (instrument)"
    assert claims.claims[0].verdict == "undecided"


def test_low_power_is_said_in_the_row():
    claims = _claims(Interval(0.0, -0.3, 0.3, 5))
    assert "low power" in claims.table().loc["a", "why"]


def test_the_results_file_defaults_to_results_and_its_folder_is_made(tmp_path, monkeypatch):
    monkeypatch.delenv(RESULTS_ENV)
    monkeypatch.chdir(tmp_path)
    assert ClaimSet("demo", "a").results_path() == Path("results") / "demo.json"
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "deep" / "er" / "r.json"))
    _claims(UP).finish()
    assert (tmp_path / "deep" / "er" / "r.json").exists()


def test_the_failure_message_names_each_surprise_and_what_the_text_says():
    claims = _claims(DOWN, UP, OPEN)
    with pytest.raises(ClaimsNotAsReported) as err:
        claims.finish(not_reproduced=["b"])
    lines = str(err.value).splitlines()
    assert lines[:3] == [
        "demo: verdicts differ from the text:",
        "  a: not reproduced (the chapter reports it as reproduced); measured -0.100 [-0.150, -0.050]",
        "  b: reproduced (the chapter reports it as not reproduced); measured 0.100 [0.050, 0.150]"]
    assert lines[3].startswith("  c: undecided (the chapter reports it as reproduced); measured 0.020 [-0.010, 0.060]; "
                               "the interval reaches 0 and 0.05: about ")


def test_the_text_cannot_report_a_claim_twice_or_an_unknown_one_as_undecided():
    claims = _claims(UP)
    with pytest.raises(ValueError, match="both not reproduced and undecided"):
        claims.finish(not_reproduced=["a"], undecided=["a"])
    with pytest.raises(ValueError, match="undecided names unknown claims \\['z'\\]"):
        claims.finish(undecided=["z"])


def test_rule_changes_are_recorded_and_shown_with_their_claim(results_file):
    change = RuleChange("p < 0.01", "p < 0.05", "out of reach at five seeds", "3ce9542")
    claims = ClaimSet("demo", "ab", history={"a": [change]})
    claims.add("a", "X.", "Paper", RULE.decide(UP))
    claims.add("b", "Y.", "Paper", RULE.decide(UP))
    claims.finish()
    record = json.loads(results_file.read_text())
    assert record["claims"][0]["history"] == [{"was": "p < 0.01", "now": "p < 0.05", "why": "out of reach at five seeds",
                                               "commit": "3ce9542"}]
    assert record["claims"][1]["history"] == []
    assert claims.history_table().to_dict("records") == [{"claim": "a", "was": "p < 0.01", "now": "p < 0.05",
                                                          "why": "out of reach at five seeds", "commit": "3ce9542"}]
    with pytest.raises(ValueError, match="not stated"):
        ClaimSet("demo", "a", history={"z": [change]})


def _record(*decisions: Decision) -> dict:
    claims = [{"id": str(i), "verdict": d.verdict, "measured": d.measured, "evidence": list(d.evidence)}
              for i, d in enumerate(decisions)]
    return {"chapter": "demo", "claims": claims}


def test_a_not_reproduced_verdict_must_rule_out_the_smallest_effect():
    assert contradictions(_record(RULE.decide(DOWN), RULE.decide(UP), RULE.decide(OPEN))) == []
    forged = Decision(NOT_REPRODUCED, "r", "0.02 [-0.01, 0.06]", evidence=RULE.decide(OPEN).evidence)
    assert contradictions(_record(forged)) == ["demo 0: not reproduced, but its intervals do not rule out the smallest "
                                               "effect of interest (0.02 [-0.01, 0.06])"]
    assert contradictions(_record(Decision(NOT_REPRODUCED, "r", "m"))) != []  # no evidence at all
    within = Within(0.05, "stated")
    assert contradictions(_record(within.decide(Interval(0.2, 0.1, 0.3, 5, 0.9)))) == []
    assert rules_out({"lo": 0.05, "hi": 0.1, "margin": 0.05}) and not rules_out({"lo": 0.0, "hi": 0.1, "margin": 0.05})
    assert rules_out({"lo": 0.06, "hi": 0.1, "side": "below", "smallest": 0.05})


def test_a_rule_over_several_statistics_needs_enough_of_them_ruled_out():
    mixed = all_of({"x": RULE.decide(UP), "y": RULE.decide(DOWN)})
    assert mixed.verdict == NOT_REPRODUCED and contradictions(_record(mixed)) == []
    three = AtLeast(3, RULE).decide(dict(zip("abcde", [UP, UP, DOWN, DOWN, DOWN])))
    assert three.verdict == NOT_REPRODUCED and contradictions(_record(three)) == []
    forged = Decision(NOT_REPRODUCED, "r", "m", evidence=AtLeast(3, RULE).decide(
        dict(zip("abcde", [UP, UP, DOWN, DOWN, OPEN]))).evidence)
    assert contradictions(_record(forged)) != []  # only two of the five rule out: three could still hold
    assert REPRODUCED and UNDECIDED  # the verdict names are exported


def test_the_book_s_rule_history_is_well_formed_and_attached_by_default():
    book = yaml.safe_load(RULE_HISTORY.read_text())
    for chapter, claims in book.items():
        for claim, changes in claims.items():
            for change in changes:
                assert set(change) == {"was", "now", "why", "commit"} and all(change.values()), (chapter, claim)
                assert re.fullmatch(r"[0-9a-f]{7,40}", change["commit"]), (chapter, claim, change["commit"])
    history = rule_history("disentanglement")
    assert history["a"][0].was.endswith("p < 0.01; reference CI above chance")
    claims = ClaimSet("disentanglement", "ab")
    claims.add("a", "X.", "Paper", RULE.decide(UP))
    assert claims.claims[0].history == tuple(history["a"])
    assert ClaimSet("diversity", "b").history.keys() == {"b"}  # a claim this run does not state has none


def test_the_record_keeps_every_field_the_reader_sees(results_file):
    claims = ClaimSet("demo", "ab")
    decision = Above(0.0, 0.3, "x", unit="models").decide(UP, control=Control("planted", True, "seen"))
    claims.add("a", "X beats Y.", "Paper, Fig. 1", decision)
    claims.add("b", "Z.", "this book", not_run("no arm"), origin="book")
    claims.finish(undecided=["b"])
    text = results_file.read_text()
    record = json.loads(text)
    assert text == json.dumps(record, indent=2)  # readable on the Results page's source
    assert record["chapter"] == "demo"
    a, b = record["claims"]
    assert (a["statement"], a["source"], a["unit"], a["control"], a["origin"]) == (
        "X beats Y.", "Paper, Fig. 1", "models", "planted: passed (seen)", "paper")
    assert (b["test"], b["measured"], b["power"] != b["power"], b["needed"], b["why"]) == (
        "not run", "", True, None, "not run: no arm")
    table = claims.table()
    assert table.loc["b", "power"] == "n/a" and table.loc["a", "power"] == f"{decision.power:.2f} (3 models for 0.8)"
    no_search = ClaimSet("demo", "a")
    no_search.add("a", "X.", "Paper", Decision(REPRODUCED, "r", "m", power=0.91))
    assert no_search.table().loc["a", "power"] == "0.91"  # no seeds figure without one
    assert claims.history_table().columns.tolist() == ["claim", "was", "now", "why", "commit"]


def test_the_text_cannot_list_one_claim_twice_and_the_message_names_only_it():
    claims = _claims(UP, UP)
    with pytest.raises(ValueError, match=r"^demo: claims \['a'\] are listed as both not reproduced and undecided$"):
        claims.finish(not_reproduced=["a"], undecided=["a", "b"])
    with pytest.raises(ValueError, match=r"^demo: not_reproduced names unknown claims \['z'\]$"):
        claims.finish(not_reproduced=["z"])


def test_every_claim_of_a_record_is_checked_for_contradictions():
    ok, forged = RULE.decide(UP), Decision(NOT_REPRODUCED, "r", "m", evidence=RULE.decide(OPEN).evidence)
    assert len(contradictions(_record(ok, forged, ok))) == 1  # a claim after a sound one is still read


def test_ruling_out_is_strict_where_the_rule_is():
    m = 0.05
    assert rules_out({"lo": -0.2, "hi": -0.05, "margin": m}) and not rules_out({"lo": -0.2, "hi": -0.049, "margin": m})
    assert not rules_out({"lo": -0.1, "hi": 0.0, "margin": m})  # inside the margin on the upper side
    assert not rules_out({"lo": -0.2, "hi": 0.1, "name": "p", "p": 0.01})  # a difference test rules nothing out
    assert not rules_out({"lo": 0.0, "hi": 0.05, "side": "above", "smallest": 0.05})
    assert rules_out({"lo": 0.0, "hi": 0.0499, "side": "above", "smallest": 0.05})
    assert not rules_out({"lo": 0.05, "hi": 0.1, "side": "below", "smallest": 0.05})
    assert not rules_out({"side": "above", "smallest": 0.05}) and not rules_out({"margin": 0.05})


def test_a_bare_value_is_named_in_the_refusal():
    with pytest.raises(TypeError, match="a verdict comes from a rule's Decision, not bool"):
        ClaimSet("demo", "a").add("a", "X.", "Paper", True)
