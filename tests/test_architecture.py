"""The library's shape: chapters compose, the library provides."""

import ast
from pathlib import Path

import pytest

import clipbook

PACKAGE = Path(clipbook.__file__).parent
SOURCES = sorted(PACKAGE.rglob("*.py"))
EXPERIMENTS = sorted((PACKAGE / "experiments").glob("[a-z]*.py"))


def _imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules |= {node.module} | {f"{node.module}.{alias.name}" for alias in node.names}
        elif isinstance(node, ast.Import):
            modules |= {alias.name for alias in node.names}
    return modules


@pytest.mark.parametrize("path", EXPERIMENTS, ids=[p.stem for p in EXPERIMENTS])
def test_no_experiment_imports_another_chapter_s_module(path):
    others = {m for m in _imported_modules(path) if m.startswith("clipbook.experiments")}
    assert not others, f"{path.name} imports {sorted(others)}: move what it shares into the library"


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(PACKAGE)) for p in SOURCES])
def test_source_files_stay_small(path):
    assert len(path.read_text().splitlines()) <= 400, f"{path.name}: split it by concept"


def test_only_the_book_machinery_imports_the_book_machinery():
    """The machine-learning library never depends on the runner, the site, the command line or the
    claims: chapters use both, the library stands alone."""
    for path in SOURCES:
        if "book" in path.relative_to(PACKAGE).parts or path.name == "__main__.py":
            continue
        book_imports = {m for m in _imported_modules(path) if m.startswith("clipbook.book")}
        assert not book_imports, f"{path.relative_to(PACKAGE)} imports {sorted(book_imports)}"
