"""Shared fixtures: the workplace's real public files, skipped cleanly when absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analyse.paths import get_shared_raw_dir

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def demo_dirs() -> tuple[Path, Path]:
    """(raw, processed) folders of the synthetic demo built once per session (root conftest)."""
    root = Path(os.environ["ANALYSE_TEST_DEMO_DIR"])
    return root / "raw", root / "processed"


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


@pytest.fixture(scope="session")
def reference_raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A raw folder holding the real public files of the shipped reference snapshot
    (``data/reference``), materialised once per session: real data, no network, no ../shared."""
    from analyse.refdata import materialise_reference

    folder = tmp_path_factory.mktemp("reference_raw")
    materialise_reference(folder)
    return folder


@pytest.fixture(scope="session")
def real_processed(reference_raw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The real reference files cleaned once per session by ``analyse clean`` (processed folder
    with one snapshot; the readers resolve it)."""
    from analyse.clean import run_clean

    folder = tmp_path_factory.mktemp("real_processed")
    run_clean(reference_raw, folder)
    return folder


@pytest.fixture(scope="session")
def report_run(demo_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    """``analyse report all`` on the demo data, once per session (national, every région, every
    phase-2 territory): ``(completed process, run folder, processed folder)``. The end-to-end,
    browser, print and accessibility tests all read this one run."""
    import subprocess
    import sys

    _, processed = demo_dirs
    out = tmp_path_factory.mktemp("reports")
    env = {**os.environ, "ANALYSE_PROCESSED_DIR": str(processed)}
    proc = subprocess.run(
        [sys.executable, "-m", "analyse", "report", "all", "--out", str(out), "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    return proc, (out / "latest").resolve(), processed
