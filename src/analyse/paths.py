"""Where the project's data and reports live.

Defaults are relative to the project root (the folder holding this project's ``pyproject.toml``,
searched upwards from the working directory); environment variables override them:
``ANALYSE_RAW_DIR``, ``ANALYSE_PROCESSED_DIR``, ``ANALYSE_REPORTS_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path


def find_project_root(start: Path | None = None) -> Path:
    """Return the nearest folder upwards holding the analyse ``pyproject.toml`` (else cwd)."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if candidate.is_file() and 'name = "analyse"' in candidate.read_text(encoding="utf-8"):
            return folder
    return here


def _dir(env: str, default: str) -> Path:
    value = os.environ.get(env)
    return Path(value).resolve() if value else find_project_root() / default


def get_raw_dir() -> Path:
    """Folder of raw files as published (``data/raw``)."""
    return _dir("ANALYSE_RAW_DIR", "data/raw")


def get_processed_dir() -> Path:
    """Folder of core tables, quarantine and quality summary (``data/processed``)."""
    return _dir("ANALYSE_PROCESSED_DIR", "data/processed")


def get_reports_dir() -> Path:
    """Folder of report runs (``reports``)."""
    return _dir("ANALYSE_REPORTS_DIR", "reports")


def get_shared_raw_dir() -> Path | None:
    """The workplace's local mirror of real public files (``../shared/data/raw``), if present."""
    value = os.environ.get("ANALYSE_SHARED_RAW_DIR")
    candidate = Path(value) if value else find_project_root().parent / "shared" / "data" / "raw"
    return candidate.resolve() if candidate.is_dir() else None


def get_published_dir() -> Path | None:
    """Folder of figures as announced (``fund_announcements.csv``, ``programme_milestones.csv``).

    ``ANCT``/ministry figures typed from their sources, for reconciliation tables and timelines only,
    never as estimation inputs. Looked up in ``ANALYSE_PUBLISHED_DIR``, then ``data/published`` in the
    project, then the workplace mirror ``../shared/data/published``; ``None`` when none exists.
    """
    value = os.environ.get("ANALYSE_PUBLISHED_DIR")
    root = find_project_root()
    candidates = (
        [Path(value)]
        if value
        else [root / "data" / "published", root.parent / "shared" / "data" / "published"]
    )
    for candidate in candidates:
        if (candidate / "fund_announcements.csv").is_file():
            return candidate.resolve()
    return None
