"""Runner: parameters are checked before compute, writes are atomic, unchanged runs are cached."""

import asyncio
import gc
import json
import tempfile
from pathlib import Path

import nbformat
import pytest

from clipbook.book import cli, runner

TOY = '''# %% [markdown]
# # A toy chapter

# %% tags=["parameters"]
n: int = 3  # how many {min 1}
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
    err = capfd.readouterr().err
    assert "Kernel is running over TCP" not in err  # the kernel's own log stays quiet
    assert "Unable to parse" not in err  # papermill reads the parameters cell, bounds included
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

    runner.run(toy, {"n": 3}, output=out, progress=False)  # a success clears the failure kept beside it
    assert not out.with_suffix(".failed.ipynb").exists()
    assert not runner.results_path(out.with_suffix(".failed.ipynb")).exists()


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


def test_a_record_is_written_last_and_vouches_only_for_a_whole_run(toy, tmp_path, monkeypatch):
    out = tmp_path / "toy.ipynb"
    runner.run(toy, {"n": 2}, output=out, progress=False)
    real_replace = runner.os.replace

    def failing_replace(src, dst):
        if str(dst).endswith(".ipynb"):
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(runner.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        runner.run(toy, {"n": 2}, output=out, force=True, progress=False)
    assert not runner.is_current(toy, out, {"n": 2})  # the next run runs again rather than trust a half-written one


@pytest.mark.parametrize("damage", ["record", "notebook"])
def test_a_damaged_cache_entry_is_a_miss_with_a_warning(toy, tmp_path, damage):
    out = tmp_path / "toy.ipynb"
    runner.run(toy, {"n": 2}, output=out, progress=False)
    (runner.results_path(out) if damage == "record" else out).write_text('{"cells": [')  # truncated
    with pytest.warns(UserWarning, match=r"damaged run record .* \(JSONDecodeError\)" if damage == "record"
                      else "damaged run"):
        assert not runner.is_current(toy, out, {"n": 2})
    with pytest.warns(UserWarning):
        runner.run(toy, {"n": 2}, output=out, progress=False)
    assert runner.read_record(out)["run"]["parameters"]["n"] == 2  # run again, whole


def test_concurrent_writers_of_one_record_never_collide(tmp_path):
    import threading

    errors, path = [], tmp_path / "r.json"

    def write(tag):
        try:
            for i in range(300):
                runner._atomic_write_text(path, f"{tag}{i}")
        except OSError as err:
            errors.append(err)

    threads = [threading.Thread(target=write, args=(t,)) for t in "ab"]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and path.read_text() in {"a299", "b299"}
    assert path.stat().st_mode & 0o644 == 0o644  # readable like any file the user writes, not 0600
    assert not list(tmp_path.glob(".r.json.*"))  # no temporary file left behind


@pytest.mark.parametrize("output, message", [("out.py", "must be a .ipynb file"), ("folder.ipynb/", "must be a .ipynb"),
                                             ("file.txt/out.ipynb", "cannot create the output folder")])
def test_a_bad_output_path_is_refused_before_any_compute(toy, tmp_path, output, message):
    (tmp_path / "folder.ipynb").mkdir()
    (tmp_path / "file.txt").write_text("")
    with pytest.raises(runner.ParameterError, match=message):
        runner.run(toy, {"n": 2}, output=tmp_path / output, progress=False)


def test_a_chapter_source_is_never_an_output(toy):
    with pytest.raises(runner.ParameterError, match="source folder"):
        runner.check_output(toy.source.with_suffix(".ipynb"))
    with pytest.raises(runner.ParameterError, match="must be a .ipynb"):
        runner.check_output(toy.source)


def test_a_cached_run_says_so(toy, tmp_path, capsys):
    out = tmp_path / "toy.ipynb"
    runner.run(toy, {"n": 2}, output=out, progress=False)
    capsys.readouterr()
    runner.run(toy, {"n": 2}, output=out, progress=True)
    assert "taken from the cache" in capsys.readouterr().out


def test_the_tasks_an_interrupt_leaves_are_ended_and_their_errors_read(caplog):
    loop = asyncio.new_event_loop()

    async def died():
        raise RuntimeError("Kernel died")

    failed, waiting = loop.create_task(died()), loop.create_task(asyncio.sleep(3600))
    loop.run_until_complete(asyncio.sleep(0))  # the first has failed, and no one has read its error
    runner.retire_tasks(loop, {failed, waiting})
    assert failed.done() and waiting.cancelled()
    del failed, waiting
    gc.collect()
    loop.close()
    assert "never retrieved" not in caplog.text and "destroyed but it is pending" not in caplog.text


def test_sigterm_discards_the_unfinished_run_in_one_line(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    out = tmp_path / "ch1.ipynb"
    connection_files = _connection_files()
    proc = subprocess.Popen([sys.executable, "-m", "clipbook", "run", "1", "--profile", "smoke", "-o", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=runner.ROOT)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".01_intra_class_contrasting-*")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(3)  # the kernel is up and running cells
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=120)[1]
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted: the unfinished run was discarded" in err and "Traceback" not in err, err[-2000:]
    assert not out.exists() and not list(tmp_path.glob(".01_intra_class_contrasting-*"))
    assert _connection_files() <= connection_files  # the kernel's connection file is gone too


def _connection_files() -> set:
    """Kernel connection files wherever a kernel manager may write them."""
    from jupyter_core.paths import jupyter_runtime_dir

    return {*Path(jupyter_runtime_dir()).glob("kernel-*.json"), *Path(tempfile.gettempdir()).glob("tmp*.json")}


def test_plain_papermill_stops_at_the_check_cell(tmp_path):
    import papermill

    source = tmp_path / "ch1.ipynb"
    nbformat.write(runner.find_chapter("1").notebook, source)
    with pytest.raises(papermill.PapermillExecutionError, match=r"unknown parameter\(s\) nseeds"):
        papermill.execute_notebook(source, tmp_path / "out.ipynb", parameters={"nseeds": 3}, kernel_name="python3",
                                   progress_bar=False, cwd=str(tmp_path))


def test_the_cache_key_covers_the_code_a_chapter_can_import():
    """A change to a module the chapter runs reruns it; a comment in the bench or the site does not."""
    files = {p.relative_to(runner.PACKAGE_DIR).as_posix() for p in runner.chapter_code(runner.find_chapter("1"))}
    assert {"experiments/intra_class.py", "learners/linear.py", "training/loop.py", "data/latent.py",
            "book/claims.py", "models/configs/tiny-rn-bpe.json"} <= files
    assert not {"book/bench.py", "book/cli.py", "book/site.py", "experiments/diversity.py"} & files


def test_the_clipbook_imports_of_a_source_with_their_packages():
    source = ("import clipbook.plots\nimport numpy, clipbook.data.render as r\n"
              "from clipbook.experiments import diversity, intra_class\nfrom os import path\nfrom clipbook import book\n")
    assert runner._clipbook_imports(source) == {
        "clipbook", "clipbook.plots", "clipbook.data", "clipbook.data.render", "clipbook.experiments",
        "clipbook.experiments.diversity", "clipbook.experiments.intra_class", "clipbook.book"}


def test_a_name_a_package_exports_lazily_brings_in_its_module_and_no_other():
    """``from clipbook.data import SpuriousWorld`` runs data/latent.py (and the package's
    ``__init__``), not the package's other worlds: their changes rerun no chapter that does not use them."""
    assert runner._clipbook_imports("from clipbook.data import SpuriousWorld\n") == {
        "clipbook", "clipbook.data", "clipbook.data.latent"}
    assert runner._clipbook_imports("from clipbook import ClaimSet, device\n") == {
        "clipbook", "clipbook.book", "clipbook.book.claims", "clipbook.device"}


def test_every_input_of_a_run_is_in_its_cache_key(toy, tmp_path, monkeypatch):
    key = runner.cache_key(toy, {"n": 2})
    assert runner.cache_key(toy, {"n": 2}) == key  # deterministic
    assert runner.cache_key(toy, {"n": 3}) != key  # parameters
    library = tmp_path / "module.py"
    library.write_text("x = 1\n")
    monkeypatch.setattr(runner, "chapter_code", lambda chapter: [library])
    monkeypatch.setattr(runner, "PACKAGE_DIR", tmp_path)
    key = runner.cache_key(toy, {"n": 2})
    library.write_text("x = 2\n")
    assert runner.cache_key(toy, {"n": 2}) != key  # library code the chapter imports
    key = runner.cache_key(toy, {"n": 2})
    toy.source.write_text(toy.source.read_text() + "\n# an edit\n")
    assert runner.cache_key(toy, {"n": 2}) != key  # the chapter's source
    key = runner.cache_key(toy, {"n": 2})
    monkeypatch.setattr(runner.metadata, "version", lambda package: "9.9" if package == "torch" else "1.0")
    assert runner.cache_key(toy, {"n": 2}) != key  # dependency versions
    key = runner.cache_key(toy, {"n": 2})
    monkeypatch.setenv("CLIPBOOK_DEVICE", "cpu")
    assert runner.cache_key(toy, {"n": 2}) != key  # the device asked for


def test_a_record_sits_beside_its_notebook():
    assert runner.results_path(Path("runs/ch.smoke-ab12.ipynb")) == Path("runs/ch.smoke-ab12.results.json")


def test_packages_and_modules_are_found_as_files():
    assert runner._module_file("clipbook.experiments") == runner.PACKAGE_DIR / "experiments" / "__init__.py"
    assert runner._module_file("clipbook.plots") == runner.PACKAGE_DIR / "plots.py"
    assert runner._module_file("clipbook.plots.set_style") is None  # a name inside a module, not a file


def test_the_cache_key_is_16_hex_digits_whatever_the_order_of_parameters_or_versions(toy, monkeypatch):
    key = runner.cache_key(toy, {"n": 2, "scale": 1.5})
    assert len(key) == 16 and int(key, 16) >= 0
    assert runner.cache_key(toy, {"scale": 1.5, "n": 2}) == key
    monkeypatch.setattr(runner, "environment_key", lambda: {"torch": "2", "numpy": "1"})
    key = runner.cache_key(toy, {"n": 2})
    monkeypatch.setattr(runner, "environment_key", lambda: {"numpy": "1", "torch": "2"})
    assert runner.cache_key(toy, {"n": 2}) == key


def test_a_library_file_s_name_is_in_the_cache_key(toy, tmp_path, monkeypatch):
    """A module renamed is another program (imports name it): same bytes, another key."""
    monkeypatch.setattr(runner, "PACKAGE_DIR", tmp_path)
    for name in ("a.py", "b.py"):
        (tmp_path / name).write_text("x = 1\n")
    monkeypatch.setattr(runner, "chapter_code", lambda chapter: [tmp_path / "a.py"])
    key = runner.cache_key(toy, {})
    monkeypatch.setattr(runner, "chapter_code", lambda chapter: [tmp_path / "b.py"])
    assert runner.cache_key(toy, {}) != key


def test_the_environment_key_names_the_device_asked_for(monkeypatch):
    monkeypatch.setenv("CLIPBOOK_DEVICE", "cuda:1")
    env = runner.environment_key()
    assert env["CLIPBOOK_DEVICE"] == "cuda:1"
    assert set(env) == {*runner.KEY_DEPENDENCIES, "CLIPBOOK_DEVICE"}


def test_a_chapter_s_code_leaves_out_compiled_python_and_backup_files(toy, tmp_path, monkeypatch):
    """Issue 32, case 9: an editor's backup (bench.py~) in the package changed every chapter's key."""
    package = tmp_path / "clipbook"
    (package / "__pycache__").mkdir(parents=True)
    (package / "models" / "configs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"\0")
    (package / "models" / "configs" / "tiny.json").write_text("{}")
    (package / "models" / "configs" / "tiny.json~").write_text("{}")
    (package / "bench.py~").write_text("old")
    monkeypatch.setattr(runner, "PACKAGE_DIR", package)
    toy.source.write_text(TOY + "\nimport clipbook\n")
    assert runner.chapter_code(toy) == [package / "__init__.py", package / "models" / "configs" / "tiny.json"]


def test_the_package_data_the_key_covers_is_what_the_package_ships():
    import tomllib

    shipped = tomllib.loads((runner.ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    covered = {p.relative_to(runner.PACKAGE_DIR) for pattern in runner.PACKAGE_DATA for p in
               runner.PACKAGE_DIR.glob(pattern) if p.is_file()}
    listed = {p.relative_to(runner.PACKAGE_DIR) for pattern in shipped["clipbook"] for p in
              runner.PACKAGE_DIR.glob(pattern) if p.is_file()}
    assert covered == listed and covered


def test_a_record_without_a_run_is_a_miss(toy, tmp_path):
    out = tmp_path / "toy.ipynb"
    runner.run(toy, {"n": 2}, output=out, progress=False)
    runner.results_path(out).write_text('{"claims": []}')  # e.g. written by hand, or by an older book
    assert not runner.is_current(toy, out, {"n": 2})


def test_a_notebook_that_does_not_read_is_named_in_a_warning(toy, tmp_path):
    out = tmp_path / "toy.ipynb"
    runner.run(toy, {"n": 2}, output=out, progress=False)
    out.write_text("not json")
    with pytest.warns(UserWarning, match=r"its notebook does not read \(NotJSONError\); it will be run again$"):
        assert not runner.is_current(toy, out, {"n": 2})
