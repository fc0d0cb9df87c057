"""The third round of bad input (issue 32): nothing stale, nothing misplaced, nothing late.

Each test names its case. What a reader gets is a clear message before any compute, or a run
that does what the value asks; never a stale result, a silently substituted file or an internal
error after minutes of training.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from clipbook.book import cli, runner, site, workspace
from clipbook.book.parameters import ParameterError, load_parameter_file
from clipbook.data.frequencies import load_frequency_file
from clipbook.data.imbalance import ImbalanceWorld
from clipbook.data.joint import JointWorld
from clipbook.experiments import imbalance

TOY = '''# %% [markdown]
# # A toy chapter

# %% tags=["parameters"]
n: int = 3  # how many {min 1, max 10}
table: str = ""  # a file or folder the chapter reads {input}
out: str = "runs/toy"  # a folder it writes {output}

# %%
print(n, table)
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    notebooks = tmp_path / "repo" / "notebooks"
    (notebooks / "profiles").mkdir(parents=True)
    (notebooks / "90_toy_chapter.py").write_text(TOY)
    (notebooks / "profiles" / "90_toy_chapter.smoke.yaml").write_text("n: 1\n")
    monkeypatch.setattr(runner, "NOTEBOOKS", notebooks)
    monkeypatch.setattr(runner, "CHAPTERS_OUT", tmp_path / "repo" / "book" / "chapters")
    return runner.Chapter(notebooks / "90_toy_chapter.py")


# ---------------------------------------------------------------- wrong results served or published

def test_case_1_an_edited_input_file_changes_the_cache_key(toy, tmp_path):
    table = tmp_path / "f.tsv"
    table.write_text("a\t1\n")
    parameters = toy.resolve({"table": str(table)})
    before = runner.cache_key(toy, parameters)
    table.write_text("a\t2\n")
    assert runner.cache_key(toy, parameters) != before
    assert runner.cache_key(toy, toy.resolve({"table": str(table)})) == runner.cache_key(toy, parameters)


def test_case_1_a_folder_is_keyed_by_its_files_sizes_and_times(toy, tmp_path):
    data = tmp_path / "data"
    (data / "val").mkdir(parents=True)
    (data / "val" / "a.jpg").write_bytes(b"x")
    parameters = toy.resolve({"table": str(data)})
    keys = [runner.cache_key(toy, parameters)]
    (data / "val" / "b.jpg").write_bytes(b"y")  # a file added
    keys.append(runner.cache_key(toy, parameters))
    (data / "val" / "a.jpg").write_bytes(b"xx")  # a file changed in size
    keys.append(runner.cache_key(toy, parameters))
    stamp = time.time() + 10
    os.utime(data / "val" / "b.jpg", (stamp, stamp))  # a file touched
    keys.append(runner.cache_key(toy, parameters))
    assert len(set(keys)) == 4
    assert workspace.input_digest(str(tmp_path / "nothing")) == "missing"


def test_case_1_an_output_folder_is_not_keyed_by_what_the_run_writes_into_it(toy, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    parameters = toy.resolve({"out": str(out)})
    before = runner.cache_key(toy, parameters)
    (out / "checkpoint.pt").write_bytes(b"1")
    assert runner.cache_key(toy, parameters) == before


def test_case_2_relative_paths_resolve_against_the_folder_the_command_ran_in(toy, tmp_path, monkeypatch):
    repo_copy = runner.ROOT / "ff" / "good.tsv"
    assert not repo_copy.exists()  # the case is a same-named file in the repository; the rule reads no repository file
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "ff").mkdir(parents=True)
    monkeypatch.chdir(elsewhere)
    assert toy.resolve({"table": "ff/good.tsv"})["table"] == str(elsewhere / "ff" / "good.tsv")  # even if missing
    (elsewhere / "ff" / "good.tsv").write_text("a\t1\n")
    (elsewhere / "here.tsv").write_text("a\t1\n")
    assert toy.resolve({"table": "here.tsv"})["table"] == str(elsewhere / "here.tsv")
    assert toy.resolve({"table": "./missing.tsv"})["table"] == str(elsewhere / "missing.tsv")
    assert toy.resolve({"table": "laionet_thresh0.7_ori"})["table"] == "laionet_thresh0.7_ori"  # a shipped name
    assert toy.resolve({"table": ""})["table"] == ""
    assert toy.resolve({"out": "runs/mine"})["out"] == str(elsewhere / "runs" / "mine")


def test_case_3_an_output_in_the_published_folder_other_than_the_chapter_s_own_default_is_refused(toy, tmp_path):
    published = runner.CHAPTERS_OUT
    with pytest.raises(ParameterError, match="published chapters' folder"):
        runner.run(toy, profile="smoke", output=published / "06_imbalance.ipynb", progress=False)
    with pytest.raises(ParameterError, match="only the default run"):
        runner.run(toy, {"n": 2}, output=published / "90_toy_chapter.ipynb", progress=False)
    assert not published.exists() or not any(published.iterdir())
    workspace.check_published("toy-chapter", "90_toy_chapter", published / "90_toy_chapter.ipynb", {}, published)


# ---------------------------------------------------------------- refused late, or not at all

@pytest.mark.parametrize("chapter, name, value, message", [
    ("6", "n_adjectives", 1000, "at most 50"),
    ("6", "n_nouns", 1000, "at most 50"),
    ("6", "alpha", 0, "above 0"),
    ("6", "weightings", [], "must not be empty"),
    ("5", "coverages", [1.0], "below 1"),
    ("5", "reference_coverage", 1.0, "below 1"),
    ("1", "lr", float("inf"), "finite"),
    ("1", "lr", float("nan"), "finite"),
    ("1", "first_seed", 99999999999999999999, "at most 1_000_000_000"),
    ("1", "n_seeds", 100000, "at most 1000"),
    ("7", "negative_weight", 1.0, "below 1"),
    ("7", "coverages", [0.0, 0.5], "above 0"),
    ("7", "detail_share", 1.5, "at most 1"),
])
def test_cases_4_and_5_values_no_run_can_hold_are_refused_before_the_kernel_starts(chapter, name, value, message):
    with pytest.raises(ParameterError, match=message):
        runner.find_chapter(chapter).resolve({name: value})


def test_every_size_of_every_chapter_has_an_upper_bound():
    sizes = ("n_", "dim", "steps", "batch", "seeds", "epochs", "every", "layers", "trees", "workers", "gpus", "warmup",
             "trim_tail", "tail_cap", "open_adjectives", "first_seed")
    for chapter in runner.chapters():
        for p in chapter.parameters.values():
            if p.type in ("int", "list[int]") and any(s in p.name for s in sizes):
                assert any(b.startswith(("max", "below")) for b in p.bounds), (chapter.slug, p.name)


def _world(**kw):
    return ImbalanceWorld(n_adjectives=10, n_nouns=10, **kw)


SETTINGS = dict(n_train=20000, seed=0, vocab_sizes=[10, 50], weightings=["uniform"], data_fractions=[0.03125, 0.5],
                trim_tail=20, tail_cap=1, open_adjectives=10)


@pytest.mark.parametrize("change, message", [
    ({"vocab_sizes": [1000]}, r"vocab_sizes \[1000\] subsample nothing"),
    ({"weightings": ["zipf"]}, "weightings must name"),
    ({"weightings": []}, "weightings must name"),
    ({"trim_tail": 500}, "trim_tail must cut some but not all"),
    ({"data_fractions": [0.5, 0.00001]}, "the data-scale sweep cannot draw its training set"),
])
def test_case_5_chapter_6_checks_its_sweeps_up_front(change, message):
    imbalance.check_settings(_world(), **SETTINGS)  # the defaults pass
    with pytest.raises(ValueError, match=message):
        imbalance.check_settings(_world(), **SETTINGS | change)


def _frequency_file(tmp_path, counts, name="f.tsv"):
    path = tmp_path / name
    path.write_text("".join(f"class{i}\t{c}\n" for i, c in enumerate(counts)))
    return str(path)


def test_case_5_a_frequency_file_too_short_for_the_open_world_fails_before_training(tmp_path):
    short = _frequency_file(tmp_path, np.arange(150, 0, -1))  # enough for 100 classes, not for the 200 of the open world
    with pytest.raises(ValueError, match="the open-world sweep cannot draw its training set: .*150 classes"):
        imbalance.check_settings(_world(profile=short), **SETTINGS)
    thirty = _frequency_file(tmp_path, np.arange(30, 0, -1), "thirty.tsv")
    with pytest.raises(ValueError, match="the main sweep cannot draw its training set: .*30 classes, fewer than 100"):
        imbalance.check_settings(_world(profile=thirty), **SETTINGS)


@pytest.mark.parametrize("counts", [[5] * 300, [0] * 299 + [100]])
def test_case_6_a_balanced_or_single_class_frequency_file_is_refused_before_training(tmp_path, counts):
    with pytest.raises(ValueError, match="balanced profile has no frequency to correlate with"):
        imbalance.check_settings(_world(profile=_frequency_file(tmp_path, counts)), **SETTINGS)


# ---------------------------------------------------------------- damaged caches and files

def _a_run(toy, tmp_path):
    out = tmp_path / "run.ipynb"
    key = runner.cache_key(toy, {})
    out.write_text(json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    runner.results_path(out).write_text(json.dumps({"claims": [], "run": {"cache_key": key}}))
    return out


def test_case_7_a_notebook_or_record_of_the_wrong_shape_is_a_cache_miss_with_a_warning(toy, tmp_path):
    out = _a_run(toy, tmp_path)
    assert runner.is_current(toy, out, {})
    out.write_text("{}")
    with pytest.warns(UserWarning, match="its notebook does not read"):
        assert not runner.is_current(toy, out, {})
    out = _a_run(toy, tmp_path)
    for damaged in ("[]", '{"claims": 3}', '{"claims": [], "run": []}', "7"):
        runner.results_path(out).write_text(damaged)
        with pytest.warns(UserWarning, match="not a run record"):
            assert runner.read_record(out) is None and not runner.is_current(toy, out, {})


def test_case_8_a_parameter_file_that_is_a_folder_binary_or_repeats_a_key_is_refused(tmp_path):
    with pytest.raises(ParameterError, match="is a folder"):
        load_parameter_file(tmp_path)
    binary = tmp_path / "b.yaml"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(ParameterError, match="not a text file"):
        load_parameter_file(binary)
    twice = tmp_path / "t.yaml"
    twice.write_text("n_seeds: 3\nlr: 0.1\nn_seeds: 5\n")
    with pytest.raises(ParameterError, match=r"line 3.*'n_seeds' is given twice \(lines 1 and 3\)"):
        load_parameter_file(twice)


@pytest.mark.parametrize("content, message", [
    ("a\t1\nb\t\u00b2\n".encode(), "line 2: expected 'classname<TAB>count'"),
    ("a\t1\nb\t2\n".encode("utf-16"), "line 1: not UTF-8 text"),
    ("a\t1\n\u00e9t\u00e9\t2\n".encode("latin-1"), "line 2: not UTF-8 text"),
])
def test_case_8_a_frequency_file_names_its_bad_line(tmp_path, content, message):
    path = tmp_path / "f.tsv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"f.tsv, {message}"):
        load_frequency_file(path)


def test_case_10_a_killed_run_s_work_folder_is_cleared_by_the_next_run(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale, live, old = (tmp_path / f".01_intra_class_contrasting-{x}" for x in ("stale", "live", "old"))
    for folder, pid in ((stale, dead.pid), (live, os.getpid())):
        folder.mkdir()
        (folder / workspace.STALE).write_text(str(pid))
        (folder / "kernel.json").write_text("{}")  # the kernel's connection file lives in the work folder
    old.mkdir()  # no process named: cleared once it is an hour old
    assert workspace.clear_stale_runs(tmp_path) == [stale]
    os.utime(old, (time.time() - 7200, time.time() - 7200))
    assert workspace.clear_stale_runs(tmp_path) == [old]
    assert live.exists() and not stale.exists() and not old.exists()


def test_case_11_a_failed_site_build_is_one_line_naming_the_page(monkeypatch, capsys):
    log = "Running Sphinx\nreading sources...\n/x/book/chapters/03.ipynb:12: WARNING: undefined label: 'fig-x'\nbuild failed"
    assert site.first_problem(log) == "/x/book/chapters/03.ipynb:12: WARNING: undefined label: 'fig-x'"
    assert site.first_problem("one\nlast line\n") == "last line"

    def failing():
        raise site.SiteBuildFailed(f"the site build failed: {site.first_problem(log)} (the whole log: x.log)")

    monkeypatch.setattr(site, "build_site", failing)
    monkeypatch.setattr(runner, "chapters", lambda: [])
    assert cli.main(["book"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["error: the site build failed: /x/book/chapters/03.ipynb:12: WARNING: undefined label: 'fig-x' "
                   "(the whole log: x.log)"]


def test_case_11_list_names_a_chapter_whose_parameters_cell_does_not_parse_and_lists_the_others(toy, monkeypatch,
                                                                                               capsys):
    broken = toy.source.with_name("91_broken.py")
    broken.write_text(TOY.replace("n: int = 3", "n: int = = 3"))
    monkeypatch.setattr(runner, "chapters", lambda: [runner.Chapter(broken), toy])
    assert cli.main(["list"]) == 1
    out = capsys.readouterr().out
    assert "error: 91_broken.py, line 1 of its parameters cell: invalid syntax" in out
    assert "n: int = 3" in out  # the other chapter is still listed


def test_case_12_a_profile_with_changed_values_is_named_and_recorded_as_custom(toy):
    smoke = toy.resolve(profile="smoke")
    changed = toy.resolve({"n": 2}, profile="smoke")
    assert toy.profile_name(smoke, "smoke") == "smoke" and toy.profile_name(changed, "smoke") == "custom"
    assert toy.profile_name({}, None) == "default"
    assert ".smoke-" in toy.default_output(smoke, "smoke").name
    assert ".custom-" in toy.default_output(changed, "smoke").name


def test_case_5_chapter_5_needs_a_family_besides_the_reference():
    from clipbook.experiments import disentanglement

    with pytest.raises(ValueError, match="leave only the reference family"):
        disentanglement.settings(0.75, [], [], [], [])
    assert len(disentanglement.settings(0.75, [0.5], [], [], [])) == 2


def test_case_10_a_process_that_cannot_be_signalled_is_alive_and_the_hour_is_strict(tmp_path, monkeypatch):
    def refused(pid, signal):
        raise PermissionError

    monkeypatch.setattr(workspace.os, "kill", refused)
    assert workspace._alive(1)
    monkeypatch.undo()
    old = tmp_path / ".01_intra_class_contrasting-old"
    old.mkdir()
    stamp = time.time() - 3600.5
    os.utime(old, (stamp, stamp))
    assert workspace.clear_stale_runs(tmp_path) == [old]


def test_a_record_is_written_through_a_temporary_file_beside_it(tmp_path, monkeypatch):
    moves = []
    real = os.replace
    monkeypatch.setattr(workspace.os, "replace", lambda a, b: moves.append((Path(a), Path(b))) or real(a, b))
    target = tmp_path / "r.json"
    workspace._atomic_write_text(target, "{}")
    (source, destination), = moves
    assert source.parent == tmp_path and source.name.startswith(".r.json.") and destination == target
    assert target.read_text() == "{}"


def test_case_2_a_name_that_starts_with_a_tilde_but_names_no_home_is_a_relative_path(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert workspace.resolve_path("~no-such-user-here") == str(tmp_path / "~no-such-user-here")


@pytest.mark.parametrize("change, message", [
    ({"coverages": (0.75, 0.5)}, "low < high"),
    ({"coverages": (0.5, 0.6, 0.75)}, "two levels"),
    ({"coverages": (0.05, 0.5)}, "leaves no training partner"),
    ({"unseen_styles": ("photo",)}, "no training distribution holds"),
])
def test_chapter_7_refuses_levels_its_world_cannot_hold(change, message):
    with pytest.raises(ValueError, match=message):
        JointWorld(**change)
