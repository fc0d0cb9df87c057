"""environment.yml (for conda readers) must install what pyproject.toml declares."""

import tomllib
from pathlib import Path

import yaml
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]


def _normalized(requirements) -> set[str]:
    return {f"{(r := Requirement(s)).name.lower().replace('_', '-')}{r.specifier}" for s in requirements}


def test_environment_yml_mirrors_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = _normalized(project["dependencies"] + project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = _normalized(p for p in pip if not p.startswith("-e"))
    assert listed == declared, f"only in pyproject: {declared - listed}; only in environment.yml: {listed - declared}"
    assert "-e ." in pip
