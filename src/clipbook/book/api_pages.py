"""The library reference: one page per subpackage of ``clipbook``, generated at every site build
from the package itself (Sphinx autodoc reads each module's docstrings), so that every module the
package holds is documented and a new one cannot be left out."""

from __future__ import annotations

import importlib.util
import pkgutil
from pathlib import Path

import clipbook
from clipbook.exports import declared_exports

PACKAGES = {
    "clipbook": "what every chapter imports, and the shared pieces (figures, devices, parallel runs, progress)",
    "clipbook.data": "every world the book trains in, and the real data sets a reader points it at",
    "clipbook.models": "the encoders: batched linear ones and tiny open_clip towers",
    "clipbook.training": "the training loop, the losses and the open_clip_train launcher",
    "clipbook.learners": "what the chapters train, measured at every checkpoint",
    "clipbook.evaluate": "metrics, statistics, the three-way decision, power and the instruments' controls",
    "clipbook.experiments": "one module per chapter: its sweeps, tables, claim statistics and rules",
    "clipbook.book": "the machinery: runner, parameters, claims, website and benchmarks",
}
"""Each page of the reference, by the package it documents, with what that package holds."""


def modules() -> list[str]:
    """Every module of the package (its command-line entry point aside), sorted."""
    found = pkgutil.walk_packages(clipbook.__path__, "clipbook.")
    return ["clipbook", *sorted(m.name for m in found if not m.name.endswith("__main__"))]


def page_of(module: str) -> str:
    """The package whose page documents ``module``: its subpackage, or ``clipbook`` for the top level."""
    parts = module.split(".")
    package = ".".join(parts[:2])
    return package if package in PACKAGES and (len(parts) > 2 or module == package) else "clipbook"


def page_name(package: str) -> str:
    return package.replace(".", "_")


def api_pages() -> dict[str, str]:
    """The reference's pages, by file name under ``book/api``: an index, then one page per package
    with every module's docstring and its public members."""
    index = ["# Library reference\n",
             "The chapters are thin: everything they compute lives in the `clipbook` package, with a unit "
             "test. These pages are generated from its docstrings at every build.\n"]
    index += [f"- [`{p}`]({page_name(p)}.md): {what}" for p, what in PACKAGES.items()]
    pages = {"index.md": "\n".join(index) + "\n"}
    every = modules()
    for package, what in PACKAGES.items():
        parts = [f"# `{package}`\n", f"{what[0].upper()}{what[1:]}.\n"]
        for module in (m for m in every if page_of(m) == package):
            parts.append(f"## `{module}`\n\n{_module_entry(module)}")
        pages[f"{page_name(package)}.md"] = "\n".join(parts)
    return pages


def _module_entry(module: str) -> str:
    """A module's docstring and members; a package's docstring and the names it exports, each
    linked to where it is documented (documenting them twice would be a duplicate description).
    Docstrings are reStructuredText, so autodoc runs inside ``eval-rst`` (in a MyST page it would
    parse them as Markdown). The module is located, not imported: autodoc imports it in the build."""
    path = importlib.util.find_spec(module).origin
    if not path.endswith("__init__.py"):
        return f"```{{eval-rst}}\n.. automodule:: {module}\n   :members:\n```\n"
    exports = declared_exports(Path(path))
    names = ", ".join(f"{{py:obj}}`{name} <{home}.{name}>`" if home.rsplit(".", 1)[-1] != name else f"{{py:mod}}`{home}`"
                      for name, home in sorted(exports.items()))
    return f"```{{eval-rst}}\n.. automodule:: {module}\n```\n" + (f"\nImport from here: {names}.\n" if names else "")
