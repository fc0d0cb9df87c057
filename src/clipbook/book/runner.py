"""Execute chapters: Jupytext source -> validated parameters -> papermill -> executed notebook.

A chapter's typed ``parameters`` cell is its interface: a run's parameters are checked against
it (names and types) before any compute. The executed notebook is written atomically: a
failed run never replaces a good notebook and is kept beside it as ``<stem>.failed.ipynb``.
Each run records its parameters, duration and cache key; ``book`` reruns only chapters whose
source, parameters or library changed.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cached_property
from pathlib import Path
from typing import Any

import jupytext
import nbformat
import yaml

from clipbook.book.claims import RESULTS_ENV

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # the clipbook package: its code is in every cache key
ROOT = Path(os.environ.get("CLIPBOOK_ROOT") or PACKAGE_DIR.parents[1])
NOTEBOOKS = ROOT / "notebooks"
BOOK = ROOT / "book"
CHAPTERS_OUT = BOOK / "chapters"
RUNS_OUT = ROOT / "runs"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}
_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}
ENFORCE = "enforce_claims"
"""The parameter that makes a run fail when a verdict differs from what the chapter's text reports."""
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]
"""The kernel's own log (its "running over TCP without encryption" notice) is not the reader's business."""


class ParameterError(ValueError):
    """Unknown parameter, wrong type, or bad profile: raised before any compute."""


class RunFailed(RuntimeError):
    """A cell raised; the partial notebook is kept beside the good one."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # "int", "float", "bool", "str" or "list[...]" of those
    default: Any
    help: str

    def check(self, value: Any) -> Any:
        """The value, coerced int -> float where a float is declared; ParameterError otherwise."""
        inner = re.fullmatch(r"list\[(\w+)\]", self.type)
        if inner:
            if not isinstance(value, (list, tuple)):
                raise ParameterError(f"{self.name} must be a list of {inner.group(1)}, got {value!r}")
            item = Parameter(self.name, inner.group(1), None, "")
            return [item.check(v) for v in value]
        expected = _TYPES[self.type]
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ParameterError(f"{self.name} must be {self.type}, got {value!r} ({type(value).__name__})")
        return value

    def describe(self) -> str:
        return f"{self.name}: {self.type} = {self.default!r}" + (f"  # {self.help}" if self.help else "")


def parse_parameters(code: str) -> dict[str, Parameter]:
    """Read ``name: type = default  # help`` lines of a parameters cell."""
    lines = code.splitlines()
    params = {}
    for node in ast.parse(code).body:
        if not isinstance(node, ast.AnnAssign) or node.value is None:
            raise ParameterError(f"parameters cell line {node.lineno}: write parameters as `name: type = value`")
        name, annotation = node.target.id, ast.unparse(node.annotation)
        if annotation not in _TYPES and not re.fullmatch(r"list\[(int|float|bool|str)\]", annotation):
            raise ParameterError(f"parameter {name}: unsupported type {annotation}")
        comment = lines[node.lineno - 1].partition("#")[2].strip()
        params[name] = Parameter(name, annotation, ast.literal_eval(node.value), comment)
    return params


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
        nb = jupytext.read(self.source)
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
        """Overrides checked against the parameters cell: profile, then files, then ``-p`` pairs.

        Any run other than the default one reports its verdicts without enforcing them, unless it
        sets ``enforce_claims`` itself: the chapter's text describes the default run only."""
        merged: dict[str, Any] = {}
        sources = ([self.profile_path(profile)] if profile and profile != "default" else []) + list(files)
        for path in sources:
            if not path.exists():
                known = ", ".join(["default", *self.profiles()])
                raise ParameterError(f"no parameter file {path} (profiles of {self.slug}: {known})")
            merged |= yaml.safe_load(path.read_text()) or {}
        merged |= overrides or {}
        unknown = sorted(set(merged) - set(self.parameters))
        if unknown:
            listing = "\n  ".join(p.describe() for p in self.parameters.values())
            raise ParameterError(f"unknown parameter(s) {', '.join(unknown)} for {self.slug}; valid parameters:\n  {listing}")
        resolved = {name: self.parameters[name].check(value) for name, value in merged.items()}
        if resolved and ENFORCE in self.parameters and ENFORCE not in resolved:
            resolved[ENFORCE] = False  # only the published default run is held to what its text reports
        return resolved

    def default_output(self, overrides: dict[str, Any], profile: str | None) -> Path:
        if not overrides:
            return CHAPTERS_OUT / f"{self.stem}.ipynb"
        tag = profile if profile and set(overrides) == set(self.resolve(profile=profile)) else "custom"
        digest = hashlib.sha1(json.dumps(overrides, sort_keys=True).encode()).hexdigest()[:8]
        return RUNS_OUT / f"{self.stem}.{tag}-{digest}.ipynb"


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


def library_digest() -> str:
    """Hash of the library's code and resources: a change reruns every chapter."""
    h = hashlib.sha256()
    for path in sorted(PACKAGE_DIR.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            h.update(str(path.relative_to(PACKAGE_DIR)).encode())
            h.update(path.read_bytes())
    return h.hexdigest()


def cache_key(chapter: Chapter, parameters: dict[str, Any]) -> str:
    h = hashlib.sha256()
    h.update(chapter.source.read_bytes())
    h.update(json.dumps(parameters, sort_keys=True).encode())
    h.update(library_digest().encode())
    return h.hexdigest()[:16]


def results_path(notebook: Path) -> Path:
    """The claims and run record written beside an executed notebook."""
    return notebook.with_suffix(".results.json")


def read_record(notebook: Path) -> dict | None:
    path = results_path(notebook)
    return json.loads(path.read_text()) if path.exists() else None


def is_current(chapter: Chapter, output: Path, parameters: dict[str, Any]) -> bool:
    record = read_record(output)
    return output.exists() and record is not None and record.get("run", {}).get("cache_key") == cache_key(chapter, parameters)


def run(chapter: Chapter, overrides: dict[str, Any] | None = None, *, profile: str | None = None,
        files: list[Path] = (), output: Path | None = None, force: bool = False, progress: bool = True) -> Path:
    """Execute a chapter with validated parameters; returns the executed notebook's path."""
    parameters = chapter.resolve(overrides, profile, files)
    output = Path(output) if output else chapter.default_output(parameters, profile)
    if not force and is_current(chapter, output, parameters):
        return output
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{chapter.stem}-", dir=output.parent))
    try:
        duration, record = _execute(chapter, parameters, work, output, progress)
        record["run"] = {
            "chapter": chapter.slug, "title": chapter.title, "profile": profile or "default",
            "overrides": parameters,
            "parameters": {name: parameters.get(name, p.default) for name, p in chapter.parameters.items()},
            "duration_s": round(duration, 1), "finished": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "cache_key": cache_key(chapter, parameters),
        }
        _atomic_write_text(results_path(output), json.dumps(record, indent=2))
        os.replace(work / "executed.ipynb", output)  # same folder: atomic
        output.with_suffix(".failed.ipynb").unlink(missing_ok=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return output


def _execute(chapter: Chapter, parameters: dict[str, Any], work: Path, output: Path, progress: bool) -> tuple[float, dict]:
    """Run papermill in ``work``; on a failing cell keep the partial notebook beside ``output``."""
    import papermill

    source, executed, results = work / "source.ipynb", work / "executed.ipynb", work / "results.json"
    nbformat.write(chapter.notebook, source)
    env = {RESULTS_ENV: str(results), "CLIPBOOK_PROGRESS": "0"}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    started = time.perf_counter()
    try:
        papermill.execute_notebook(source, executed, parameters=parameters, kernel_name="python3",
                                   cwd=str(ROOT), progress_bar=progress, extra_arguments=KERNEL_ARGUMENTS)
    except papermill.PapermillExecutionError as err:
        failed = output.with_suffix(".failed.ipynb")
        shutil.move(executed, failed)
        if results.exists():
            shutil.move(results, results_path(failed))
        raise RunFailed(f"{chapter.slug} failed in cell {err.exec_count}: {err.ename}: {err.evalue}\n"
                        f"the failed notebook is kept at {failed}; {output} is untouched") from None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    record = json.loads(results.read_text()) if results.exists() else {"chapter": chapter.slug, "claims": []}
    return time.perf_counter() - started, record


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
