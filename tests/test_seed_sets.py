"""Verdicts across seed sets: the default run repeated at first_seed 0, 1000 and 2000, shown per claim."""

import json

import pytest

from clipbook.book import cli, records, runner, seed_sets, site


def _record(verdicts: dict[str, str]) -> dict:
    return {"claims": [{"id": k, "verdict": v} for k, v in verdicts.items()]}


def test_a_claim_s_verdicts_are_counted_over_the_seed_sets_that_have_a_record():
    records = {0: _record({"a": "reproduced", "b": "undecided"}), 1000: _record({"a": "undecided"}),
               2000: _record({"a": "reproduced", "b": "reproduced"})}
    assert seed_sets.across_seed_sets("a", records) == (
        "reproduced at 2 of 3 seed sets (first_seed 0: reproduced; 1000: undecided; 2000: reproduced)")
    assert seed_sets.across_seed_sets("b", records).startswith("reproduced at 1 of 3")
    assert "1000: not stated" in seed_sets.across_seed_sets("b", records)  # a claim a run did not state
    assert seed_sets.across_seed_sets("a", {}) == ""


def test_only_current_seed_set_runs_count(tmp_path, monkeypatch):
    monkeypatch.setattr(runner, "RUNS_OUT", tmp_path)
    chapter = runner.find_chapter("6")
    for s in seed_sets.SEED_SETS:
        out = seed_sets.seed_set_output(chapter, s)
        assert out.parent == tmp_path and out.name == f"06_imbalance.seeds-{s}.ipynb"
        out.write_text("{}")
        runner.results_path(out).write_text(json.dumps(_record({"a": "reproduced"}) | {"run": {"cache_key": "old"}}))
    seen = []
    monkeypatch.setattr(runner, "is_current", lambda chapter, output, parameters: seen.append(parameters)
                        or parameters["first_seed"] == 1000)
    assert list(seed_sets.seed_set_records(chapter)) == [1000]  # runs of older code are never shown
    assert seen[1] == chapter.resolve({"first_seed": 1000})  # the parameters the run itself was keyed with


def test_a_seed_set_run_is_recognised_as_current_by_the_key_it_was_run_with(tmp_path, monkeypatch):
    """The runner keys a run by its resolved parameters (enforce_claims off for every run but the
    default): a seed set checked against the bare override was never current."""
    chapter = runner.find_chapter("6")
    parameters = chapter.resolve({"first_seed": 0})
    assert parameters == {"first_seed": 0, "enforce_claims": False}
    assert runner.cache_key(chapter, parameters) != runner.cache_key(chapter, {"first_seed": 0})


def test_seed_sets_run_the_default_at_other_first_seeds(monkeypatch):
    calls, stored = [], []
    monkeypatch.setattr(runner, "run", lambda chapter, overrides, **kw: calls.append((overrides, kw["output"].name))
                        or kw["output"])
    monkeypatch.setattr(runner, "read_record", lambda notebook: {"from": notebook.name})
    monkeypatch.setattr(records, "store", lambda stem, s, record, commit: stored.append((s, record["from"])))
    seed_sets.run_seed_sets(runner.find_chapter("1"), 2)
    assert calls == [({"first_seed": 0}, "01_intra_class_contrasting.seeds-0.ipynb"),
                     ({"first_seed": 1000}, "01_intra_class_contrasting.seeds-1000.ipynb")]
    assert stored == [(0, "01_intra_class_contrasting.seeds-0.ipynb"),
                      (1000, "01_intra_class_contrasting.seeds-1000.ipynb")]  # each kept with the book


@pytest.mark.parametrize("argv", [["run", "1", "--seed-sets", "4"], ["run", "1", "--seed-sets", "2", "-p", "n_seeds", "3"],
                                  ["book", "--seed-sets", "9"]])
def test_a_seed_set_request_the_book_cannot_honour_is_refused_before_anything_runs(argv, monkeypatch, capsys):
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("nothing may run"))
    assert cli.main(argv) == 2 and "--seed-sets" in capsys.readouterr().err


def test_the_results_page_lists_each_claim_s_verdicts_at_other_seed_sets():
    claim = {"id": "a", "statement": "s", "origin": "paper", "verdict": "reproduced", "source": "src", "test": "t",
             "measured": "m", "power": 0.9}
    record = {"claims": [claim], "run": {"title": "T", "profile": "default"}, "stem": "01_x", "number": 1,
              "seed_sets": {0: _record({"a": "undecided"}), 1000: _record({"a": "reproduced"})}}
    page = site.results_page([record])
    assert "Also run at first_seed 0, 1000" in page
    assert "*Other seed sets:* reproduced at 1 of 2 seed sets (first_seed 0: undecided; 1000: reproduced)." in page
    assert "Other seed sets" not in site.results_page([record | {"seed_sets": {}}])
    stored = {0: _record({"a": "undecided"}) | {"commit": "abc1234"}}
    assert "Also run at first_seed 0 (stored records, made at commit abc1234)" in site.results_page(
        [record | {"seed_sets": stored}])


def test_the_results_page_shows_stored_records_where_this_code_has_no_seed_set_runs(tmp_path, monkeypatch):
    chapter = runner.find_chapter("6")
    monkeypatch.setattr(records, "RECORDS", tmp_path)
    monkeypatch.setattr(seed_sets, "seed_set_records", lambda chapter: {})
    assert seed_sets.shown_seed_sets(chapter) == {}
    records.store(chapter.stem, 1000, _run_record(1000))
    assert list(seed_sets.shown_seed_sets(chapter)) == [1000]
    monkeypatch.setattr(seed_sets, "seed_set_records", lambda chapter: {0: {"claims": []}})
    assert list(seed_sets.shown_seed_sets(chapter)) == [0]  # this code's own runs first


def _run_record(first_seed: int) -> dict:
    evidence = [{"name": "CI of the gap", "mean": 0.05 + first_seed / 1e5, "lo": 0.01, "hi": 0.09, "n": 5}]
    return {"chapter": "imbalance", "claims": [{"id": "g", "verdict": "reproduced", "measured": "0.050 [0.010, 0.090]",
                                                "evidence": evidence, "reproduced": True, "why": "", "power": 0.5}],
            "run": {"finished": "2026-12-06T12:00:00+00:00", "cache_key": "abc"}, "environment": {"python": "3.11"}}


def test_a_seed_set_run_stores_its_claims_with_the_book_and_the_prose_cites_them(tmp_path):
    chapter = runner.find_chapter("6")
    for s in (0, 1000):
        path = records.store(chapter.stem, s, _run_record(s), folder=tmp_path)
        assert path == tmp_path / f"06_imbalance.seeds-{s}.json"
    stored = records.stored("06_imbalance", folder=tmp_path)
    assert list(stored) == [0, 1000] and "environment" not in stored[0] and "power" not in stored[0]["claims"][0]
    assert stored[0]["commit"] and stored[0]["finished"].startswith("2026-12-06") and stored[0]["cache_key"] == "abc"
    assert records.cited(stored, "g", "CI of the gap") == (
        "0.050 [0.010, 0.090] at first_seed 0 (reproduced); 0.060 [0.010, 0.090] at first_seed 1000 (reproduced)")
    assert records.cited(stored, "g").startswith("0.050 [0.010, 0.090] at first_seed 0")  # the measured text
    assert records.cited(stored, "x") == "claim x not stated at first_seed 0; claim x not stated at first_seed 1000"
    assert records.cited({}, "g") == "nothing (no other seed set is recorded)"
    near_zero = {0: {"claims": [{"id": "h", "verdict": "not reproduced", "measured": "",
                                 "evidence": [{"name": "gap", "mean": -0.0002, "lo": -0.012, "hi": 0.012}]}]}}
    assert records.cited(near_zero, "h", "gap") == "0.000 [-0.012, 0.012] at first_seed 0 (not reproduced)"
    with pytest.raises(KeyError, match="CI of the gap"):
        records.cited(stored, "g", "another statistic")
    assert records.recorded_at(stored) == f"made at commit {stored[0]['commit']}"
    assert records.recorded_at({}) == "none stored yet"
    given = records.store("06_imbalance", 2000, _run_record(2000), folder=tmp_path, commit="abc1234")
    assert json.loads(given.read_text())["commit"] == "abc1234"  # the commit the run started at


def test_a_new_stored_record_makes_the_default_run_stale_but_never_a_seed_set_run(tmp_path, monkeypatch):
    """The default run's prose cites the stored records, so a new one reruns it; a seed-set run
    does not cite itself, so storing one never makes another seed set stale."""
    monkeypatch.setattr(records, "RECORDS", tmp_path)
    chapter = runner.find_chapter("6")
    seed_set = chapter.resolve({"first_seed": 1000})
    assert records.is_seed_set_run(chapter, seed_set) and not records.is_seed_set_run(chapter, {})
    assert not records.is_seed_set_run(chapter, chapter.resolve({"first_seed": 7}))
    before = runner.cache_key(chapter, {}), runner.cache_key(chapter, seed_set)
    records.store(chapter.stem, 0, _run_record(0))
    assert runner.cache_key(chapter, {}) != before[0]
    assert runner.cache_key(chapter, seed_set) == before[1]


def test_a_stored_record_does_not_make_the_code_look_changed(tmp_path, monkeypatch):
    """A seed-set run writes its record into the tree; the next seed set's commit must stay clean."""
    import subprocess

    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    (tmp_path / "book" / "records").mkdir(parents=True)
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "book" / "records" / "c.seeds-0.json").write_text("{}\n")
    for args in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "start"]):
        subprocess.run(git + args, check=True)
    monkeypatch.setattr(records, "ROOT", tmp_path)
    monkeypatch.setattr(records, "RECORDS", tmp_path / "book" / "records")
    clean = records.current_commit()
    assert clean and not clean.endswith("+")
    (tmp_path / "book" / "records" / "c.seeds-0.json").write_text('{"changed": 1}\n')
    assert records.current_commit() == clean
    (tmp_path / "code.py").write_text("x = 2\n")
    assert records.current_commit() == clean + "+"
