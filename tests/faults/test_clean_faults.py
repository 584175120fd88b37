"""Fault injection for ``analyse clean``: kill -9 at several points, a failing source; each test
asserts what is on disk afterwards (the previous snapshot current and complete, no staging folder
after the next clean) and that the next command says what happened."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analyse.cli import main
from analyse.snapshots import (
    SNAPSHOTS_DIR,
    check_complete,
    get_snapshot_id,
    resolve_snapshot,
)
from analyse.sources import SOURCE_PATHS

pytestmark = pytest.mark.slow


@pytest.fixture()
def cleaned(demo_dirs: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Path, str]:
    """A private copy of the demo raw folder and one complete snapshot of it."""
    raw = tmp_path / "raw"
    shutil.copytree(demo_dirs[0], raw)
    processed = tmp_path / "processed"
    assert main(["--raw-dir", str(raw), "--processed-dir", str(processed), "clean"]) == 0
    return raw, processed, get_snapshot_id(resolve_snapshot(processed))


def _clean_process(raw: Path, processed: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "analyse", "--raw-dir", str(raw), "--processed-dir",
               str(processed), "clean"]  # fmt: skip
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for_staging(processed: Path, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not list(processed.glob(".staging-*")):
        assert time.monotonic() < deadline, "the clean never started staging"
        time.sleep(0.02)


@pytest.mark.parametrize("delay_s", [0.0, 0.4, 1.2])
def test_kill_9_of_clean_leaves_the_previous_snapshot_current(cleaned, delay_s, capsys) -> None:
    raw, processed, before = cleaned
    proc = _clean_process(raw, processed)
    _wait_for_staging(processed)  # then kill at several points of the staging
    time.sleep(delay_s)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    current = resolve_snapshot(processed)
    check_complete(current)  # never a half-written snapshot
    if get_snapshot_id(current) == before:  # killed before the switch: the old one is current
        assert main(["--processed-dir", str(processed), "report", "list"]) == 0
        assert "did not finish" in capsys.readouterr().err
    # the next clean removes what the killed one left and becomes current
    assert main(["--raw-dir", str(raw), "--processed-dir", str(processed), "clean"]) == 0
    assert not list(processed.glob(".staging-*"))
    assert get_snapshot_id(resolve_snapshot(processed)) not in (before, "")
    assert len(list((processed / SNAPSHOTS_DIR).iterdir())) <= 4  # old ones are cleaned up


def test_a_failing_source_keeps_the_previous_snapshot_and_says_so(cleaned, capsys) -> None:
    raw, processed, before = cleaned
    labour = raw / SOURCE_PATHS["unemployment_ze"]
    labour.write_bytes(b"not a workbook")
    assert main(["--raw-dir", str(raw), "--processed-dir", str(processed), "clean"]) == 2
    assert get_snapshot_id(resolve_snapshot(processed)) == before
    assert not list(processed.glob(".staging-*"))
    capsys.readouterr()
    main(["--processed-dir", str(processed), "report", "list"])
    err = capsys.readouterr().err
    assert "failed" in err and before in err


def test_reports_never_read_a_staging_folder(cleaned) -> None:
    raw, processed, before = cleaned
    proc = _clean_process(raw, processed)
    try:
        _wait_for_staging(processed)
        assert resolve_snapshot(processed).name == before  # readers see only complete ones
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert os.path.isdir(processed / SNAPSHOTS_DIR / before)
