"""The public API: what a reader imports from ``clipbook`` and its subpackages, loaded only when used."""

import importlib
import subprocess
import sys

import pytest

import clipbook

PACKAGES = ["clipbook", "clipbook.book", "clipbook.data", "clipbook.evaluate", "clipbook.training"]


@pytest.mark.parametrize("name", PACKAGES)
def test_every_exported_name_resolves_to_what_its_module_defines(name):
    package = importlib.import_module(name)
    assert package.__all__
    for export in package.__all__:
        value = getattr(package, export)
        assert value is not None and (getattr(value, "__name__", export).rsplit(".", 1)[-1] == export
                                      or not callable(value)), export


def test_an_unknown_name_is_an_attribute_error_and_a_submodule_still_imports():
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        clipbook.nothing  # noqa: B018
    from clipbook import device  # a module the package does not export by name

    assert device.__name__ == "clipbook.device"


def test_importing_the_package_loads_no_torch():
    """The command line imports the package: it starts in a fraction of a second, without torch."""
    code = "import sys, clipbook, clipbook.data, clipbook.evaluate; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


def test_chapters_import_the_library_through_its_public_packages():
    """A chapter imports names from ``clipbook`` and its subpackages, never from a module inside
    one (chapter modules and learners are imported as modules)."""
    from clipbook.book import runner

    deep = {}
    for chapter in runner.chapters():
        for line in chapter.source.read_text().splitlines():
            if line.startswith("from clipbook") and not line.startswith(
                    ("from clipbook import", "from clipbook.data import", "from clipbook.evaluate import",
                     "from clipbook.training import", "from clipbook.experiments import", "from clipbook.learners import")):
                deep.setdefault(chapter.stem, []).append(line)
    assert not deep


def test_the_declared_exports_are_read_from_source_as_the_package_exports_them():
    from pathlib import Path

    from clipbook.exports import declared_exports

    for name in PACKAGES:
        package = importlib.import_module(name)
        assert sorted(declared_exports(Path(package.__file__))) == package.__all__
    assert declared_exports(Path(clipbook.__file__).with_name("plots.py")) == {}
