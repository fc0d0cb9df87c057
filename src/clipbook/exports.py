"""Lazy public names for a package's ``__init__``: ``from clipbook import ClaimSet`` loads only
the module that holds ``ClaimSet``, so that the command line, which imports the package, starts
without torch. The runner's cache key follows the module names written here as it follows imports."""

from __future__ import annotations

import ast
import importlib
from collections.abc import Callable
from pathlib import Path


def lazy_exports(package: str, exports: dict[str, str]) -> tuple[Callable[[str], object], list[str]]:
    """``__getattr__`` and ``__all__`` of ``package``, which exports each name of ``exports`` from
    the module named beside it (a name that is itself a module maps to its own)."""

    def getattr_(name: str) -> object:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(exports[name])
        return module if module.__name__.rsplit(".", 1)[-1] == name else getattr(module, name)

    return getattr_, sorted(exports)


def declared_exports(init: Path) -> dict[str, str]:
    """The names an ``__init__`` file exports through :func:`lazy_exports`, each with its module,
    read from the source without importing it (the runner's cache key follows them)."""
    for node in ast.walk(ast.parse(init.read_text())):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "lazy_exports" and len(node.args) == 2:
            return ast.literal_eval(node.args[1])
    return {}
