"""Every chapter end to end: smoke profile, nbval re-executing the smoke notebooks (a run
reproduces its checked outputs), the default profile run once with its claims enforced, and the
built website as a reader's browser shows it."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from site_check import chromium_path, inspect_pages
from table_check import notebook_problems

from clipbook.book import runner
from clipbook.book.claims import contradictions
from clipbook.book.api_pages import api_pages
from clipbook.book.prose import glued, prose_problems
from clipbook.book.site import build_site

CHAPTERS = runner.chapters()
IDS = [c.slug for c in CHAPTERS]


@pytest.fixture(scope="session")
def smoke_runs(tmp_path_factory):
    """Every chapter at its smoke profile (seconds each)."""
    folder = tmp_path_factory.mktemp("smoke")
    return {c.slug: runner.run(c, profile="smoke", output=folder / f"{c.stem}.ipynb", progress=False) for c in CHAPTERS}


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_smoke_profile_runs_every_code_path(chapter, smoke_runs):
    record = runner.read_record(smoke_runs[chapter.slug])
    assert record["claims"], "the claims cell must record its claims"
    assert record["run"]["profile"] == "smoke"


@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_every_number_the_prose_cites_is_glued_by_the_run(chapter, smoke_runs):
    """A glue reference the run never glued would show as a warning where the number belongs."""
    assert prose_problems(json.loads(smoke_runs[chapter.slug].read_text()), numbers=False) == []


def test_smoke_notebooks_pass_nbval(smoke_runs, tmp_path):
    """nbval re-executes each executed smoke notebook and compares the checked outputs (the claims
    tables): a chapter whose numbers change from one execution to the next fails here. The
    default runs are executed once, by the runner, and decided by their claims."""
    env = os.environ | {"CLIPBOOK_RESULTS": str(tmp_path / "nbval.json"), "CLIPBOOK_PROGRESS": "0"}
    cmd = [sys.executable, "-m", "pytest", "--nbval-lax", "-q", "-p", "no:cacheprovider",
           "--sanitize-with", str(Path(__file__).with_name("nbval_sanitize.cfg")), *map(str, smoke_runs.values())]
    done = subprocess.run(cmd, cwd=runner.ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]


def test_first_seed_draws_other_seeds(tmp_path):
    """A reader checks a result on fresh seeds with one parameter, not by editing the notebook."""
    chapter = runner.find_chapter("1")
    measured, prose = {}, {}
    for first_seed in (0, 1000):
        out = runner.run(chapter, {"first_seed": first_seed}, profile="smoke", output=tmp_path / f"{first_seed}.ipynb",
                         progress=False)
        measured[first_seed] = [c["measured"] for c in runner.read_record(out)["claims"]]
        prose[first_seed] = glued(json.loads(out.read_text()))
    assert prose[0].keys() == prose[1000].keys() and prose[0] != prose[1000]  # the prose's numbers follow the run
    assert len(measured[0]) == len(measured[1000]) > 0
    # a rank correlation over the smoke profile's two-point sweeps can only be +-1 at any seed
    perfect_rank = re.compile(r"^-?1\.000 \[-?1\.000, -?1\.000\]$")
    assert all(a != b or perfect_rank.match(a) for a, b in zip(measured[0], measured[1000])), measured
    assert sum(a != b for a, b in zip(measured[0], measured[1000])) >= len(measured[0]) - 1, measured


@pytest.fixture(scope="session")
def default_runs():
    """Every chapter at its default profile (taken from the cache when unchanged); a verdict
    that differs from the chapter's text fails the run, and so this fixture."""
    return {c.slug: runner.run(c, progress=False) for c in CHAPTERS}


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS, ids=IDS)
def test_default_profile_claims_are_as_reported(chapter, default_runs):
    record = runner.read_record(default_runs[chapter.slug])
    assert record["run"]["cache_key"] == runner.cache_key(chapter, {})
    for claim in record["claims"]:
        assert claim["reproduced"] == claim["expected"], claim
        assert claim["test"] and (claim["evidence"] or claim["why"].startswith("not run")), claim
    assert contradictions(record) == []  # no "not reproduced" whose interval still reaches its smallest effect
    assert notebook_problems(default_runs[chapter.slug]) == []  # no NaN interval, none outside its quantity's bounds
    assert prose_problems(json.loads(default_runs[chapter.slug].read_text())) == []  # every prose number glued, a number


@pytest.fixture(scope="session")
def site(default_runs):
    return build_site()


@pytest.mark.slow
@pytest.mark.skipif(chromium_path() is None, reason="Chromium is installed by `make test` (make chromium)")
def test_site_pages_show_figures_and_no_errors(site, tmp_path_factory):
    pages = [f"chapters/{c.stem}.html" for c in CHAPTERS]
    shots = tmp_path_factory.mktemp("screenshots")
    for width in (390, 1280):  # a phone and a laptop; the browser reaches nothing but the local server
        reference = [f"api/{name.removesuffix('.md')}.html" for name in api_pages()]
        every = inspect_pages(site, pages + ["intro.html", "deciding.html", "results.html", "reproducibility.html",
                                             *reference], shots, width)
        for page, seen in every.items():
            assert seen["raw_tex"] == 0 and seen["rendered_math"] == seen["math"], (page, width, seen["raw_tex"])
            assert not seen["overflowing_tables"], (page, width, seen["overflowing_tables"])
            assert width < 1280 or not seen["clipped"], (page, seen["clipped"])  # a laptop sees every cell whole
            assert not seen["images_without_alt"], (page, seen["images_without_alt"])
    report = every
    assert sum(report[p]["math"] for p in pages) > 0  # the math check has math to check
    for page in pages:
        seen = report[page]
        assert seen["figures"] >= 1 and len(seen["captions"]) == seen["figures"], page
        assert all(c.startswith("Fig.") for c in seen["captions"]), seen["captions"]
        assert seen["images"] >= seen["figures"] and not seen["broken_images"], seen["broken_images"]
        assert seen["error_outputs"] == 0 and not seen["stderr_outputs"] and not seen["warning_text"], seen
        assert "What you will see" in seen["text"] and "The figure to look at: Fig." in seen["text"], page
        assert "From the library" in seen["text"], page  # linked to the library reference
    assert report["results.html"]["text"].index("paper: reproduced") < report["results.html"]["text"].index("Chapter 1:")
    results, repro = report["results.html"]["text"], report["reproducibility.html"]["text"]
    for chapter in CHAPTERS:
        assert chapter.title in results and chapter.title in repro
    results = results.replace("\u2019", "'")  # Sphinx sets apostrophes typographically
    assert "reproduced" in results and "this book's own claims" in results and "claim of" in results
    assert "torch" in repro and "open_clip" in repro and "run time (s)" in repro
    rules = report["api/clipbook_evaluate.html"]["text"]  # the reference shows the docstrings, not their source
    assert "class clipbook.evaluate.rules.Above" in rules and "smallest effect of interest" in rules
