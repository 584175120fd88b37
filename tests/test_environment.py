"""environment.yml (conda) stays consistent with pyproject.toml, the single source of dependencies."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def _parse(spec: str) -> tuple[str, str]:
    match = REQ.match(spec)
    assert match, spec
    return match.group(1).lower().replace("_", "-"), match.group(2).replace(" ", "")


def _pyproject_requirements() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        specs.extend(extra)
    return dict(_parse(s) for s in specs)


def _conda_requirements() -> dict[str, str]:
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
    return dict(_parse(d) for d in env["dependencies"] if isinstance(d, str))


def test_every_pyproject_dependency_is_in_environment_yml_with_same_minimum() -> None:
    conda = _conda_requirements()
    for name, spec in _pyproject_requirements().items():
        assert name in conda, f"{name} is in pyproject.toml but not in environment.yml"
        assert conda[name] == spec, f"{name}: pyproject {spec!r} vs environment.yml {conda[name]!r}"


def test_environment_yml_has_no_package_pyproject_lacks() -> None:
    pyproject = _pyproject_requirements()
    extras = set(_conda_requirements()) - set(pyproject) - {"python", "pip"}
    assert not extras, f"in environment.yml only: {sorted(extras)}"


def test_python_version_matches() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert _conda_requirements()["python"] == project["requires-python"]


def test_lock_file_is_present_and_matches_pyproject() -> None:
    lock = (ROOT / "uv.lock").read_text(encoding="utf-8")
    for name in _pyproject_requirements():
        assert re.search(rf'^name = "{re.escape(name)}"$', lock, re.M), f"{name} not locked"
