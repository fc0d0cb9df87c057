"""Runner: parameters are checked before compute, writes are atomic, unchanged runs are cached."""

import json

import nbformat
import pytest

from clipbook.book import cli, runner

TOY = '''# %% [markdown]
# # A toy chapter

# %% tags=["parameters"]
n: int = 3  # how many
scale: float = 1.0  # a float
fail: bool = False  # raise in the second cell
names: list[str] = ["a"]  # a list

# %%
if fail:
    raise RuntimeError("asked to fail")
print(n * scale)
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    notebooks = tmp_path / "notebooks"
    (notebooks / "profiles").mkdir(parents=True)
    (notebooks / "90_toy_chapter.py").write_text(TOY)
    (notebooks / "profiles" / "90_toy_chapter.smoke.yaml").write_text("n: 1\n")
    monkeypatch.setattr(runner, "NOTEBOOKS", notebooks)
    return runner.Chapter(notebooks / "90_toy_chapter.py")


def test_parameters_cell_is_parsed_with_types_defaults_and_help(toy):
    params = toy.parameters
    assert [(p.name, p.type, p.default) for p in params.values()] == [
        ("n", "int", 3), ("scale", "float", 1.0), ("fail", "bool", False), ("names", "list[str]", ["a"])]
    assert params["n"].help == "how many"
    assert (toy.number, toy.slug, toy.title) == (90, "toy-chapter", "A toy chapter")


def test_only_the_default_run_enforces_the_verdicts_its_text_reports(toy):
    enforcing = runner.Chapter(toy.source.with_name("91_enforcing.py"))
    enforcing.source.write_text(TOY.replace("names: list[str]", "enforce_claims: bool = True  # fail on surprises\nnames: list[str]"))
    assert enforcing.resolve() == {}  # the default run: the cell's enforce_claims = True holds
    assert enforcing.resolve({"n": 5}) == {"n": 5, "enforce_claims": False}
    assert enforcing.resolve({"n": 5, "enforce_claims": True}) == {"n": 5, "enforce_claims": True}
    assert "enforce_claims" not in toy.resolve({"n": 5})  # a chapter without claims is left alone


def test_untyped_parameters_are_rejected():
    with pytest.raises(runner.ParameterError, match="name: type = value"):
        runner.parse_parameters("n = 3")


def test_overrides_are_checked_and_coerced(toy):
    assert toy.resolve({"scale": 2}) == {"scale": 2.0}
    assert toy.resolve(profile="smoke") == {"n": 1}
    assert toy.resolve({"n": 5}, profile="smoke") == {"n": 5}
    with pytest.raises(runner.ParameterError, match=r"(?s)unknown parameter\(s\) seeds.*n: int = 3  # how many"):
        toy.resolve({"seeds": 2})
    with pytest.raises(runner.ParameterError, match="n must be int"):
        toy.resolve({"n": 2.5})
    with pytest.raises(runner.ParameterError, match="n must be int"):
        toy.resolve({"n": True})
    with pytest.raises(runner.ParameterError, match="list of str"):
        toy.resolve({"names": "a"})
    with pytest.raises(runner.ParameterError, match="profiles of toy-chapter: default, smoke"):
        toy.resolve(profile="huge")


def test_run_writes_atomically_keeps_failures_beside_and_caches(toy, tmp_path, capfd):
    out = tmp_path / "out" / "toy.ipynb"
    runner.run(toy, {"n": 2}, output=out, progress=False)
    assert "Kernel is running over TCP" not in capfd.readouterr().err  # the kernel's own log stays quiet
    good = out.read_bytes()
    record = runner.read_record(out)
    assert record["run"]["parameters"]["n"] == 2 and record["run"]["duration_s"] > 0
    assert "2.0" in json.dumps(nbformat.read(out, as_version=4).cells[-1].outputs)

    with pytest.raises(runner.RunFailed, match="asked to fail"):
        runner.run(toy, {"n": 2, "fail": True}, output=out, progress=False)
    assert out.read_bytes() == good  # the good notebook survives
    assert out.with_suffix(".failed.ipynb").exists()
    assert not list(out.parent.glob(".90_toy_chapter-*"))  # no temporary folder left behind

    mtime = out.stat().st_mtime_ns
    runner.run(toy, {"n": 2}, output=out, progress=False)
    assert out.stat().st_mtime_ns == mtime  # unchanged source, parameters and library: cached
    assert not runner.is_current(toy, out, {"n": 3})


def test_cli_rejects_bad_parameters_before_any_compute(capsys):
    assert cli.main(["run", "intra-class-contrasting", "-p", "n_seeds", "three"]) == 2
    assert "n_seeds must be int" in capsys.readouterr().err
    assert cli.main(["run", "intra-class-contrasting", "-p", "sigma", "1"]) == 2
    err = capsys.readouterr().err
    assert "unknown parameter(s) sigma" in err and "core_stds: list[float]" in err
    assert cli.main(["run", "no-such-chapter"]) == 2
    assert "chapters: 1 intra-class-contrasting" in capsys.readouterr().err


def test_cli_list_shows_parameters(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "intra-class-contrasting" in out and "n_seeds: int = 5" in out and "smoke" in out
