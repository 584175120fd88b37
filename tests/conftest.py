"""Shared fixtures: the workplace's real public files, skipped cleanly when absent."""

from __future__ import annotations

import os

# Small solves are ~50x slower with multithreaded OpenBLAS on 2 shared cores: one thread each.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from analyse.paths import get_shared_raw_dir  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def shared_raw() -> Path:
    """``../shared/data/raw`` (real public files), or skip the test."""
    folder = get_shared_raw_dir()
    if folder is None:
        pytest.skip("real public files (../shared/data/raw) not available")
    return folder


@pytest.fixture(scope="session")
def shared_published(shared_raw: Path) -> Path:
    """``../shared/data/published`` (figures as announced), or skip the test."""
    folder = shared_raw.parent / "published"
    if not folder.is_dir():
        pytest.skip("published figures (../shared/data/published) not available")
    return folder
