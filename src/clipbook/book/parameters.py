"""A chapter's parameters: names, types, bounds and defaults, read from its ``parameters`` cell.

Each line of the cell reads ``name: type = default  # help {bounds}``. Types are ``int``,
``float``, ``bool``, ``str`` or ``list[...]`` of those. The optional ``{...}`` at the end of the
help states bounds, comma-separated: ``min 1``, ``max 1``, ``above 0``, ``below 10`` (on a list:
on every item) and ``non-empty`` (a list); words, not ``>=``, because papermill reads the cell
too and takes a second ``=`` on a line for a syntax it cannot parse. ``input`` marks a ``str``
that names a file or folder the chapter reads (the runner resolves it against the folder the
command ran in and keys the cache on its contents), ``output`` one it writes. Values are checked
before any compute, with one line that names the parameter and what it accepts; a float must be
a finite number.
"""

from __future__ import annotations

import ast
import math
import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

_TYPES: dict[str, type] = {"int": int, "float": float, "bool": bool, "str": str}
_COMPARISONS = {"min": (operator.ge, "at least"), "max": (operator.le, "at most"), "above": (operator.gt, "above"),
                "below": (operator.lt, "below")}
_BOUND = re.compile(r"(min|max|above|below)\s+(-?[\d_.]+(?:e-?\d+)?)$", re.I)
_WORDS = ("non-empty", "input", "output")
"""Bounds that are words: a list that must hold an item; a path the chapter reads; one it writes."""
_BOUNDS_AT_END = re.compile(r"\{([^{}]*)\}\s*$")


class ParameterError(ValueError):
    """Unknown parameter, wrong type, value out of bounds, or bad parameter file: raised before any compute."""


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str  # "int", "float", "bool", "str" or "list[...]" of those
    default: Any
    help: str
    bounds: tuple[str, ...] = field(default=())  # "min 1", "max 1", "above 0", "non-empty", "input", ...

    @property
    def path(self) -> str | None:
        """"input" or "output" for a parameter that names a file or folder, else None."""
        return next((b for b in self.bounds if b in ("input", "output")), None)

    def check(self, value: Any) -> Any:
        """The value, coerced where no information is lost (int -> float, an integral float or a
        numeric string -> int or float); ParameterError when it has the wrong type or is out of bounds."""
        inner = re.fullmatch(r"list\[(\w+)\]", self.type)
        if inner:
            if not isinstance(value, (list, tuple)):
                raise ParameterError(f"{self.name} must be a list of {inner.group(1)}, got {value!r}")
            if "non-empty" in self.bounds and not value:
                raise ParameterError(f"{self.name} must not be empty")
            item = Parameter(self.name, inner.group(1), None, "", tuple(b for b in self.bounds if b != "non-empty"))
            return [item.check(v) for v in value]
        value = self._coerce(value)
        if isinstance(value, float) and not math.isfinite(value):
            raise ParameterError(f"{self.name} must be a finite number, got {value!r}")
        for bound in self.bounds:
            if bound in _WORDS:
                continue
            word, limit = _BOUND.match(bound).groups()
            holds, says = _COMPARISONS[word.lower()]
            if not holds(value, float(limit)):
                raise ParameterError(f"{self.name} must be {says} {limit}, got {value!r}")
        return value

    def _coerce(self, value: Any) -> Any:
        expected = _TYPES[self.type]
        if expected in (int, float) and isinstance(value, str):
            value = number(value, value)
        if expected is bool and isinstance(value, str) and value.lower() in ("true", "false"):
            value = value.lower() == "true"  # plain papermill injects `-p flag false` as text
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if expected is int and isinstance(value, float) and value.is_integer():
            return int(value)
        if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
            raise ParameterError(f"{self.name} must be {self.type}, got {value!r} ({type(value).__name__})")
        return value

    def describe(self) -> str:
        bounds = f" {{{', '.join(self.bounds)}}}" if self.bounds else ""
        return f"{self.name}: {self.type} = {self.default!r}" + (f"  # {self.help}" if self.help else "") + bounds


def number(text: str, fallback: Any = None) -> Any:
    """``text`` as an int or a float when it is a number a person would type (``3``, ``1e4``,
    ``1e-3``, ``2_000``), else ``fallback``."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return fallback


def _bounds(help_text: str, name: str) -> tuple[str, tuple[str, ...]]:
    """Split ``help {bounds}`` into the help and the validated bounds."""
    match = _BOUNDS_AT_END.search(help_text)
    if not match:
        return help_text, ()
    bounds = tuple(b.strip() for b in match.group(1).split(",") if b.strip())
    for bound in bounds:
        if bound not in _WORDS and not _BOUND.match(bound):
            raise ParameterError(f"parameter {name}: unknown bound {bound!r} (use min, max, above or below a number, "
                                 "non-empty, input or output)")
    return help_text[:match.start()].rstrip(), bounds


def parse_parameters(code: str) -> dict[str, Parameter]:
    """Read ``name: type = default  # help {bounds}`` lines of a parameters cell."""
    lines = code.splitlines()
    params = {}
    for node in ast.parse(code).body:
        if not isinstance(node, ast.AnnAssign) or node.value is None:
            raise ParameterError(f"parameters cell line {node.lineno}: write parameters as `name: type = value`")
        name, annotation = node.target.id, ast.unparse(node.annotation)
        if annotation not in _TYPES and not re.fullmatch(r"list\[(int|float|bool|str)\]", annotation):
            raise ParameterError(f"parameter {name}: unsupported type {annotation}")
        help_text, bounds = _bounds(lines[node.lineno - 1].partition("#")[2].strip(), name)
        params[name] = Parameter(name, annotation, ast.literal_eval(node.value), help_text, bounds)
    return params


class _NumberLoader(yaml.SafeLoader):
    """YAML that reads every number a person types as a number (YAML 1.1 reads ``1e-3`` as text)
    and refuses a mapping that gives one key twice (YAML would keep the last value, silently)."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"{key!r} is given twice (lines {seen[key] + 1} and {key_node.start_mark.line + 1})",
                    key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep)


_NumberLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*(?:\.\d*)?|\.\d+)[eE][-+]?\d+$"),
    list("-+0123456789."))


def parse_value(text: str) -> Any:
    """A ``-p NAME VALUE`` value: YAML (``3`` int, ``1e-3`` float, ``true`` bool, ``[1, 2]`` list)."""
    try:
        return yaml.load(text, Loader=_NumberLoader)
    except yaml.YAMLError:
        return text  # not YAML: a plain string, checked against the parameter's type


def parse_pairs(pairs: list[list[str]], parameters: dict[str, Parameter]) -> dict[str, Any]:
    """``-p NAME VALUE`` pairs: a ``str`` parameter takes the text as typed (a folder may be named
    ``2024``); every other value is read as YAML (:func:`parse_value`)."""
    return {name: text if name in parameters and parameters[name].type == "str" else parse_value(text)
            for name, text in pairs}


def load_parameter_file(path: Path) -> dict[str, Any]:
    """A YAML mapping of parameter values; a malformed file (not text, not YAML, a key given twice)
    or a folder is one ParameterError naming it."""
    if path.is_dir():
        raise ParameterError(f"{path} is a folder: -f takes a YAML file of `name: value` lines")
    try:
        loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=_NumberLoader)
    except UnicodeDecodeError:
        raise ParameterError(f"{path}: not a text file (a parameter file is YAML text, `name: value` per line)") \
            from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ParameterError(f"{path}{where}: not valid YAML: {getattr(err, 'problem', err)}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ParameterError(f"{path}: a parameter file is a mapping `name: value`, one per line; "
                             f"this one holds a {type(loaded).__name__}")
    return loaded
