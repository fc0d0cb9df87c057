"""The claims table decides, records and enforces what a chapter reports."""

import json

import pytest

from clipbook.claims import RESULTS_ENV, ClaimSet, ClaimsNotAsReported


def _claims(reproduced: bool, expected: bool = True) -> ClaimSet:
    claims = ClaimSet("demo")
    claims.add("a", "X beats Y.", "Paper, Fig. 1", "CI above 0", "0.1 [0.05, 0.15]", reproduced, expected=expected)
    return claims


def test_finish_writes_the_results_file(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "r.json"))
    table = _claims(True).finish()
    record = json.loads((tmp_path / "r.json").read_text())
    assert record["claims"][0]["verdict"] == "reproduced" and table.loc["a", "verdict"] == "reproduced"
    assert {"python", "torch", "open_clip", "device"} <= set(record["environment"])


def test_a_verdict_that_differs_from_the_text_fails_the_run(tmp_path, monkeypatch):
    monkeypatch.setenv(RESULTS_ENV, str(tmp_path / "r.json"))
    with pytest.raises(ClaimsNotAsReported, match="not reproduced"):
        _claims(False).finish()
    assert json.loads((tmp_path / "r.json").read_text())["claims"][0]["reproduced"] is False  # still recorded
    _claims(False).finish(enforce=False)
    _claims(False, expected=False).finish()  # reported as not reproduced: consistent
    with pytest.raises(ClaimsNotAsReported):
        _claims(True, expected=False).finish()


def test_claim_ids_are_unique():
    claims = _claims(True)
    with pytest.raises(ValueError, match="twice"):
        claims.add("a", "again", "", "", "", True)
