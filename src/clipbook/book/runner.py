"""Execute chapters: Jupytext source -> validated parameters -> papermill -> executed notebook.

A chapter's typed ``parameters`` cell is its interface (:mod:`clipbook.book.parameters`): a
run's parameters are checked against it (names, types and bounds) before any compute. The
executed notebook is written atomically: a failed run never replaces a good notebook and is kept
beside it as ``<stem>.failed.ipynb``.
Each run records its parameters, duration and cache key; ``book`` reruns only chapters whose
source, parameters or library code (the modules the chapter can import) changed.
"""

from __future__ import annotations

import ast
import asyncio
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any

import jupytext
import nbformat

from clipbook.book import records
from clipbook.book.figures import add_alt_text
from clipbook.book.overview import add_overview
from clipbook.book.claims import RESULTS_ENV
from clipbook.book.parameters import Parameter, ParameterError, load_parameter_file, parse_parameters
from clipbook.book.paths import BOOK, CHAPTERS_OUT, NOTEBOOKS, PACKAGE_DIR, ROOT, RUNS_OUT  # noqa: F401 (the runner's API)
from clipbook.exports import declared_exports
from clipbook.book.workspace import (STALE, _atomic_write_text, check_published, clear_stale_runs, input_digest,
                                    resolve_path)

KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
ENFORCE = "enforce_claims"
"""The parameter that makes a run fail when a verdict differs from what the chapter's text reports."""
_KERNEL_NAMES = {"In", "Out"}
"""Data IPython puts in a kernel's namespace before the first cell runs (besides functions and modules)."""
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=CRITICAL"]
"""The kernel process's own log (its TCP notice; its shutdown errors when a run is interrupted) is not the
reader's business: what the cells print reaches the notebook, not this log."""


class RunFailed(RuntimeError):
    """A cell raised; the partial notebook is kept beside the good one."""


@dataclass(frozen=True)
class Chapter:
    source: Path

    @property
    def stem(self) -> str:
        return self.source.stem

    @property
    def number(self) -> int:
        return int(self.stem.split("_", 1)[0])

    @property
    def slug(self) -> str:
        return self.stem.split("_", 1)[1].replace("_", "-")

    @cached_property
    def notebook(self) -> nbformat.NotebookNode:
        nb = add_alt_text(jupytext.read(self.source))
        nb.metadata["kernelspec"] = KERNELSPEC
        return nb

    @cached_property
    def title(self) -> str:
        for cell in self.notebook.cells:
            match = re.search(r"^#\s+(.+)$", cell.source, re.M) if cell.cell_type == "markdown" else None
            if match:
                return match.group(1).strip()
        return self.slug

    @cached_property
    def parameters(self) -> dict[str, Parameter]:
        cells = [c for c in self.notebook.cells if "parameters" in c.metadata.get("tags", [])]
        if len(cells) != 1:
            raise ParameterError(f"{self.source.name} must have exactly one cell tagged 'parameters'")
        return parse_parameters(cells[0].source)

    def profile_path(self, profile: str) -> Path:
        return NOTEBOOKS / "profiles" / f"{self.stem}.{profile}.yaml"

    def profiles(self) -> list[str]:
        return sorted(p.name.split(".")[1] for p in (NOTEBOOKS / "profiles").glob(f"{self.stem}.*.yaml"))

    def resolve(self, overrides: dict[str, Any] | None = None, profile: str | None = None,
                files: list[Path] = ()) -> dict[str, Any]:
        """Overrides checked against the parameters cell: profile, then files, then ``-p`` pairs;
        a file or folder a parameter names is resolved against the folder the command ran in
        (:func:`resolve_path`).

        Any run other than the default one reports its verdicts without enforcing them, unless it
        sets ``enforce_claims`` itself: the chapter's text describes the default run only."""
        merged: dict[str, Any] = {}
        sources = ([self.profile_path(profile)] if profile and profile != "default" else []) + list(files)
        for path in sources:
            if not path.exists():
                known = ", ".join(["default", *self.profiles()])
                raise ParameterError(f"no parameter file {path} (profiles of {self.slug}: {known})")
            merged |= load_parameter_file(path)
        merged |= overrides or {}
        self.refuse_unknown(merged)
        resolved = {name: self.parameters[name].check(value) for name, value in merged.items()}
        resolved = {name: resolve_path(value) if self.parameters[name].path else value for name, value in resolved.items()}
        if resolved and ENFORCE in self.parameters and ENFORCE not in resolved:
            resolved[ENFORCE] = False  # only the published default run is held to what its text reports
        return resolved

    def refuse_unknown(self, names) -> None:
        """ParameterError listing the valid parameters when any of ``names`` is not one."""
        unknown = sorted(set(names) - set(self.parameters))
        if unknown:
            listing = "\n  ".join(p.describe() for p in self.parameters.values())
            raise ParameterError(f"unknown parameter(s) {', '.join(unknown)} for {self.slug}; valid parameters:\n  {listing}")

    def check_namespace(self, namespace: dict[str, Any]) -> None:
        """Check, in the chapter's kernel, the parameters as they stand after the parameters cell
        (and whatever plain papermill injected): unknown names, types and bounds, with the
        runner's messages; values are coerced in place (``"false"`` -> False, ``"1e-3"`` -> 0.001)."""
        self.refuse_unknown(name for name, value in namespace.items() if not name.startswith("_")
                            and name not in _KERNEL_NAMES and not callable(value) and not isinstance(value, ModuleType))
        for name, parameter in self.parameters.items():
            namespace[name] = parameter.check(namespace[name])

    def profile_name(self, overrides: dict[str, Any], profile: str | None) -> str:
        """What was run: "default" (no parameters), the profile when the parameters are exactly the
        profile's, else "custom" (a profile with parameters changed counts as custom)."""
        if not overrides:
            return "default"
        return profile if profile and profile != "default" and overrides == self.resolve(profile=profile) else "custom"

    def default_output(self, overrides: dict[str, Any], profile: str | None) -> Path:
        if not overrides:
            return CHAPTERS_OUT / f"{self.stem}.ipynb"
        digest = hashlib.sha1(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
        return RUNS_OUT / f"{self.stem}.{self.profile_name(overrides, profile)}-{digest}.ipynb"


def chapters() -> list[Chapter]:
    return [Chapter(p) for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))]


def find_chapter(name: str) -> Chapter:
    """By slug (``intra-class-contrasting``), stem, number (``1``) or path."""
    for chapter in chapters():
        if name in (chapter.slug, chapter.stem, str(chapter.number), f"{chapter.number:02d}") or \
                Path(name).resolve() == chapter.source:
            return chapter
    known = ", ".join(f"{c.number} {c.slug}" for c in chapters())
    raise ParameterError(f"no chapter {name!r}; chapters: {known}")


def check_parameters(stem: str, namespace: dict[str, Any]) -> None:
    """The first cell after a chapter's parameters: :meth:`Chapter.check_namespace` for the
    chapter ``stem`` (so that plain papermill runs are checked as the runner's are)."""
    Chapter(NOTEBOOKS / f"{stem}.py").check_namespace(namespace)


def _module_file(module: str) -> Path | None:
    """The file of a ``clipbook`` module or package, if it is one."""
    base = PACKAGE_DIR.parent.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _clipbook_imports(source: str) -> set[str]:
    """Every ``clipbook`` module an import statement in ``source`` may load (``from a import b``
    may name a submodule, or a name a package exports from one of its modules), with the packages
    that hold them."""
    modules = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "clipbook":
            init = _module_file(node.module)
            exports = declared_exports(init) if init is not None and init.name == "__init__.py" else {}
            modules |= {node.module} | {exports.get(a.name, f"{node.module}.{a.name}") for a in node.names}
        elif isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names if alias.name.split(".")[0] == "clipbook"}
    return {".".join(m.split(".")[:i]) for m in modules for i in range(1, m.count(".") + 2)}


PACKAGE_DATA = ("resources/**/*", "models/configs/*.json", "book/rule_history.yaml")
"""The package's data files (pyproject.toml's package-data): a chapter's key covers these, not
whatever else lies in the package folder (an editor's backup, a cache)."""


def chapter_code(chapter: Chapter) -> list[Path]:
    """The library files a chapter can execute: the ``clipbook`` modules its cells import, followed
    through every ``clipbook`` import of theirs, and the package's data files (:data:`PACKAGE_DATA`).
    A change elsewhere (the command line, the site, the bench, a backup file) reruns no chapter."""
    seen: set[Path] = set()
    todo = _clipbook_imports(chapter.source.read_text())  # a py:percent source is Python
    while todo:
        path = _module_file(todo.pop())
        if path is not None and path not in seen:
            seen.add(path)
            todo |= _clipbook_imports(path.read_text())
    data = {p for pattern in PACKAGE_DATA for p in PACKAGE_DIR.glob(pattern) if p.is_file()}
    return sorted(seen | data)


KEY_DEPENDENCIES = ("torch", "open_clip_torch", "numpy", "scipy", "scikit-learn", "pandas", "matplotlib", "seaborn")
"""The packages whose versions can change a chapter's numbers or figures."""


def environment_key() -> dict[str, str | None]:
    """The versions of :data:`KEY_DEPENDENCIES` and the device a reader asked for (``CLIPBOOK_DEVICE``)."""
    def version(package: str) -> str | None:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return None

    return {p: version(p) for p in KEY_DEPENDENCIES} | {"CLIPBOOK_DEVICE": os.environ.get("CLIPBOOK_DEVICE")}


def cache_key(chapter: Chapter, parameters: dict[str, Any]) -> str:
    """Chapter source, parameters, the contents of every file or folder the run reads
    (:func:`input_digest`), the library code it can execute (:func:`chapter_code`), the versions
    it runs on (:func:`environment_key`) and, except for a seed-set run itself, the stored
    seed-set records its prose cites (so that storing one never makes another seed set stale)."""
    h = hashlib.sha256()
    if not records.is_seed_set_run(chapter, parameters):
        h.update(records.digest(chapter.stem).encode())
    h.update(chapter.source.read_bytes())
    h.update(json.dumps(parameters, sort_keys=True).encode())
    inputs = {name: input_digest(value) for name, p in chapter.parameters.items()
              if p.path == "input" and (value := parameters.get(name, p.default))}
    h.update(json.dumps(inputs, sort_keys=True).encode())
    h.update(json.dumps(environment_key(), sort_keys=True).encode())
    for path in chapter_code(chapter):
        h.update(str(path.relative_to(PACKAGE_DIR)).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def results_path(notebook: Path) -> Path:
    """The claims and run record written beside an executed notebook."""
    return notebook.with_suffix(".results.json")


def read_record(notebook: Path) -> dict | None:
    """The run record beside ``notebook``; None when there is none, or when it cannot be read
    (a damaged record is ignored, with a warning)."""
    path = results_path(notebook)
    if not path.exists() or not notebook.exists():
        return None
    try:
        record = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        warnings.warn(f"ignoring the damaged run record {path} ({type(err).__name__})", stacklevel=2)
        return None
    if not (isinstance(record, dict) and isinstance(record.get("claims"), list)
            and isinstance(record.get("run", {}), dict)):
        warnings.warn(f"ignoring the damaged run record {path} (not a run record)", stacklevel=2)
        return None
    return record


def is_current(chapter: Chapter, output: Path, parameters: dict[str, Any]) -> bool:
    """The run at ``output`` has this chapter's key and a notebook that reads: a damaged or
    interrupted run is a cache miss (with a warning) and runs again."""
    record = read_record(output)
    if record is None or record.get("run", {}).get("cache_key") != cache_key(chapter, parameters):
        return False
    try:
        nbformat.validate(nbformat.read(output, as_version=4))
    except (nbformat.reader.NotJSONError, nbformat.ValidationError, UnicodeDecodeError, KeyError, AttributeError,
            TypeError) as err:
        warnings.warn(f"ignoring the damaged run {output}: its notebook does not read ({type(err).__name__}); "
                      "it will be run again", stacklevel=2)
        return False
    return True


def check_output(output: Path) -> Path:
    """Refuse, before any compute, an output that is not an ``.ipynb`` file in a writable folder,
    or that would overwrite a chapter's source."""
    output = Path(output)
    if output.suffix != ".ipynb" or output.is_dir():
        raise ParameterError(f"the output must be a .ipynb file, got {output}")
    if output.resolve().parent == NOTEBOOKS.resolve():
        raise ParameterError(f"{output} is in the chapters' source folder {NOTEBOOKS}: write outputs elsewhere")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ParameterError(f"cannot create the output folder {output.parent}: {err.strerror}") from None
    if not os.access(output.parent, os.W_OK):
        raise ParameterError(f"the output folder {output.parent} is not writable")
    return output


def run(chapter: Chapter, overrides: dict[str, Any] | None = None, *, profile: str | None = None,
        files: list[Path] = (), output: Path | None = None, force: bool = False, progress: bool = True) -> Path:
    """Execute a chapter with validated parameters; returns the executed notebook's path."""
    parameters = chapter.resolve(overrides, profile, files)
    output = check_output(output or chapter.default_output(parameters, profile))
    check_published(chapter.slug, chapter.stem, output, parameters, CHAPTERS_OUT)
    if not force and is_current(chapter, output, parameters):
        if progress:
            print(f"{chapter.slug}: unchanged since its last run, taken from the cache (--force runs it again)")
        return output
    clear_stale_runs(output.parent)
    work = Path(tempfile.mkdtemp(prefix=f".{chapter.stem}-", dir=output.parent))
    (work / STALE).write_text(str(os.getpid()))
    try:
        duration, record = _execute(chapter, parameters, work, output, progress)
        record["run"] = {
            "chapter": chapter.slug, "title": chapter.title, "profile": chapter.profile_name(parameters, profile),
            "based_on": profile or "default",
            "overrides": parameters,
            "parameters": {name: parameters.get(name, p.default) for name, p in chapter.parameters.items()},
            "duration_s": round(duration, 1), "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cache_key": cache_key(chapter, parameters),
        }
        add_overview(work / "executed.ipynb", record, chapter.notebook.metadata.get("clipbook", {}).get("key_figure"),
                     chapter.profile_path("paper"), _clipbook_imports(chapter.source.read_text()))
        # the old record goes first, so that it never vouches for the new notebook
        results_path(output).unlink(missing_ok=True)
        os.replace(work / "executed.ipynb", output)  # same folder: atomic
        _atomic_write_text(results_path(output), json.dumps(record, indent=2))  # last: a record means a whole run
        failed = output.with_suffix(".failed.ipynb")
        failed.unlink(missing_ok=True)
        results_path(failed).unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return output


def _execute(chapter: Chapter, parameters: dict[str, Any], work: Path, output: Path, progress: bool) -> tuple[float, dict]:
    """Run papermill in ``work``; on a failing cell keep the partial notebook beside ``output``.

    The kernel is the runner's own, so that it is shut down and its connection file removed
    however the run ends (a failing cell, Ctrl-C, SIGTERM); the file lies in ``work``, so a run
    killed outright leaves it where the next run clears it (:func:`clear_stale_runs`). The kernel
    runs in the folder the command ran in, which relative paths mean."""
    import papermill
    from jupyter_client.manager import AsyncKernelManager
    from jupyter_core.utils import ensure_event_loop, run_sync

    source, executed, results = work / "source.ipynb", work / "executed.ipynb", work / "results.json"
    nbformat.write(chapter.notebook, source)
    env = {RESULTS_ENV: str(results), "CLIPBOOK_PROGRESS": "0"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    started = time.perf_counter()
    kernel = AsyncKernelManager(kernel_name="python3", connection_file=str(work / "kernel.json"))
    try:
        papermill.execute_notebook(source, executed, parameters=parameters, kernel_name="python3", km=kernel,
                                   cwd=str(Path.cwd()), progress_bar=progress, extra_arguments=KERNEL_ARGUMENTS)
    except papermill.PapermillExecutionError as err:
        failed = output.with_suffix(".failed.ipynb")
        shutil.move(executed, failed)
        if results.exists():
            shutil.move(results, results_path(failed))
        raise RunFailed(f"{chapter.slug} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                        f"the failed notebook is kept at {failed}; {output} is untouched") from None
    finally:
        loop = ensure_event_loop()  # the one papermill ran on (jupyter_core's loop of this thread)
        unfinished = asyncio.all_tasks(loop)  # after an interrupt: the cell being executed and its pollers
        if kernel.has_kernel:
            run_sync(kernel.shutdown_kernel)(now=True)
        retire_tasks(loop, unfinished | asyncio.all_tasks(loop))
        kernel.cleanup_connection_file()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    record = json.loads(results.read_text()) if results.exists() else {"chapter": chapter.slug, "claims": []}
    return time.perf_counter() - started, record


def retire_tasks(loop: asyncio.AbstractEventLoop, tasks: set[asyncio.Task]) -> None:
    """End ``tasks`` on ``loop`` (which is not running) and read their outcomes. An interrupted
    run leaves its cell's tasks behind; once the kernel is shut down they wake into a
    ``DeadKernelError`` that no one reads, and asyncio prints it as a traceback when they are
    collected, after the runner's one-line message."""
    for task in tasks:
        task.cancel()
    if tasks:
        loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
