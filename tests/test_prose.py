"""Prose numbers glued from the run (clipbook.book.prose): how values read, which names a chapter
may glue, and the check that every number its markdown cites was glued by the run."""

import json

import nbformat
import pandas as pd
import pytest

from clipbook.book import prose
from clipbook.evaluate.rules import Above, all_of, not_run
from clipbook.evaluate.stats import Interval


def test_values_read_as_prose_says_them():
    assert prose.text(Interval(0.0031, -0.0072, 0.0094, 5)) == "0.003 [-0.007, 0.009]"
    assert prose.text(0.56789, digits=2) == "0.57" and prose.text(7) == "7" and prose.text("1/32") == "1/32"
    assert prose.text(float("nan")) == "n/a"  # never a float's internals
    assert prose.text(-0.0004) == "0.000"  # nor a negative zero
    assert prose.interval(Interval(0.1, 0.05, 0.15, 3)) == "[0.050, 0.150]"
    assert prose.seed_range(5000, 5) == "5000 to 5004"
    with pytest.raises(TypeError):
        prose.text(True)  # a flag is not a number of the run
    with pytest.raises(ValueError, match="glue names"):
        prose.texts({"a gap": 0.1})


def test_means_name_each_group_and_column_and_a_missing_group_reads_no_number():
    frame = pd.DataFrame({"method": ["CLIP", "CLIP", "SL"], "rho": [0.2, 0.4, 0.5], "accuracy": [0.7, 0.9, 0.8]})
    assert prose.means(frame, "method", ["rho"], {"CLIP": "clip", "SL": "sl"}, "main") == pytest.approx(
        {"main_clip_rho": 0.3, "main_sl_rho": 0.5})
    assert set(prose.means(frame, "method", ["rho", "accuracy"], {"SL": "sl"})) == {"sl_rho", "sl_accuracy"}
    missing = prose.means(frame, "method", ["rho"], {"SimCLR": "simclr"})  # an arm a reader's parameters left out
    assert prose.texts(missing) == {"simclr_rho": "n/a"}


def test_evidence_is_the_statistic_the_rule_recorded():
    decision = Above(0.0, 0.02, "two points", what="CI of the gap").decide(Interval(0.05, 0.01, 0.09, 5))
    assert prose.evidence(decision) == prose.evidence(decision, "CI of the gap")
    assert prose.text(prose.evidence(decision)) == "0.050 [0.010, 0.090]"
    with pytest.raises(KeyError, match="CI of the gap"):
        prose.evidence(decision, "another statistic")
    assert prose.text(prose.evidence(not_run("no such arm"))) == "n/a [n/a, n/a]"  # a claim the run left untested
    both = all_of({"one": decision, "two": Above(0.0, 0.02, "two points", what="CI of the gap").decide(
        Interval(0.03, 0.02, 0.04, 5))})
    assert [prose.evidence(both, i).mean for i in (0, 1)] == [0.05, 0.03]  # parts that read statistics of one name
    with pytest.raises(KeyError):
        prose.evidence(both)
    with pytest.raises(KeyError):
        prose.evidence(both, 2)


def _executed(tmp_path, markdown: str, code: str) -> dict:
    """A notebook as papermill leaves it, executed by a real kernel, read back from disk."""
    import papermill

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code), nbformat.v4.new_markdown_cell(markdown)])
    nb.metadata.kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    papermill.execute_notebook(tmp_path / "in.ipynb", tmp_path / "out.ipynb", progress_bar=False, log_output=False)
    return json.loads((tmp_path / "out.ipynb").read_text())


def test_a_run_glues_what_its_prose_cites_and_the_check_finds_what_it_does_not(tmp_path):
    nb = _executed(tmp_path, "gap {glue:text}`gap`, share {glue:text}`share:.1f`, lost {glue:text}`lost`, "
                             "missing {glue:text}`nothing`",
                   "from clipbook.book import prose\nprose.say(gap=0.0312, share=0.25, lost=float('nan'))")
    assert prose.glued(nb) == {"gap": "0.031", "share": "0.250", "lost": "n/a"}
    assert prose.references(nb) == ["gap", "share", "lost", "nothing"]
    assert prose.prose_problems(nb) == ["nothing: cited, never glued", "lost: 'n/a'"]
    assert prose.prose_problems(nb, numbers=False) == ["nothing: cited, never glued"]
    assert not any(out.get("output_type") == "execute_result" for out in nb["cells"][0]["outputs"])  # shows nothing
