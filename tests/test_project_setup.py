"""The README's commands, .ci/run and the notebooks stay in step."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("## The two commands", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [line.split("#", 1)[0].strip() for line in block.strip().splitlines()]


def test_readme_has_exactly_two_setup_commands() -> None:
    commands = _readme_commands()
    assert commands == ["python3 tasks.py run", "python3 tasks.py test"]


def test_ci_runs_the_readme_test_command_and_nothing_weaker() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    executed = [
        line.strip().removeprefix("exec ").strip()
        for line in ci.splitlines()
        if line.strip() and not line.lstrip().startswith(("#", "set ", "cd "))
    ]
    assert executed == [_readme_commands()[1]]


def test_no_raw_data_is_tracked() -> None:
    gitignore = (ROOT / ".gitignore").read_text(encoding="utf-8")
    assert re.search(r"^data/raw/\*$", gitignore, re.M)
    assert re.search(r"^data/processed/\*$", gitignore, re.M)
