"""Processed data as atomic snapshots: complete or not current, failures said, leases kept."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from analyse import snapshots
from analyse.snapshots import (
    SnapshotError,
    describe_last_clean,
    finish_metadata,
    get_snapshot_id,
    lease_snapshot,
    resolve_snapshot,
    stage_snapshot,
)


def _write(root: Path, payload: str = "a") -> str:
    with stage_snapshot(root) as stage:
        (stage.path / "core_x.parquet").write_text(payload)
        finish_metadata(stage, {"mode": "test"})
    return stage.snapshot_id


def test_a_finished_snapshot_becomes_current_with_its_id(tmp_path: Path) -> None:
    first = _write(tmp_path, "one")
    folder = resolve_snapshot(tmp_path)
    assert folder == tmp_path / "snapshots" / first
    assert get_snapshot_id(folder) == first
    assert (folder / "core_x.parquet").read_text() == "one"
    meta = json.loads((folder / "metadata.json").read_text())
    assert meta["files"] == {"core_x.parquet": 3}
    assert describe_last_clean(tmp_path) is None


def test_a_failing_clean_leaves_the_previous_snapshot_current_and_says_so(tmp_path: Path) -> None:
    first = _write(tmp_path, "one")
    with pytest.raises(RuntimeError), stage_snapshot(tmp_path) as stage:
        (stage.path / "core_x.parquet").write_text("half")
        raise RuntimeError("reader failed on row 12")
    assert get_snapshot_id(resolve_snapshot(tmp_path)) == first
    assert not list(tmp_path.glob(".staging-*"))
    message = describe_last_clean(tmp_path)
    assert message and "failed" in message and "reader failed on row 12" in message
    assert first in message


def test_metadata_must_be_written_last_or_the_stage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SnapshotError), stage_snapshot(tmp_path) as stage:
        (stage.path / "core_x.parquet").write_text("no metadata")
    with pytest.raises(SnapshotError):
        resolve_snapshot(tmp_path)


def test_a_killed_clean_is_reported_and_its_staging_folder_removed(tmp_path: Path) -> None:
    first = _write(tmp_path)
    code = (
        "import os, sys, time\n"
        "from analyse.snapshots import stage_snapshot\n"
        f"with stage_snapshot({str(tmp_path)!r}) as s:\n"
        "    (s.path / 'core_x.parquet').write_text('partial')\n"
        "    print('staged', flush=True)\n"
        "    time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "staged"
    assert describe_last_clean(tmp_path) is None  # running: nothing to say yet
    proc.kill()
    proc.wait()
    assert get_snapshot_id(resolve_snapshot(tmp_path)) == first
    message = describe_last_clean(tmp_path)
    assert message and "did not finish" in message
    second = _write(tmp_path, "two")  # the next clean removes the dead staging folder
    assert not list(tmp_path.glob(".staging-*"))
    assert get_snapshot_id(resolve_snapshot(tmp_path)) == second


def test_incomplete_snapshot_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, "abc")
    folder = resolve_snapshot(tmp_path)
    (folder / "core_x.parquet").write_text("truncated file of another size")
    with pytest.raises(SnapshotError, match="incomplete"):
        resolve_snapshot(tmp_path)


def test_a_folder_with_metadata_is_a_snapshot_by_itself(tmp_path: Path) -> None:
    (tmp_path / "metadata.json").write_text("{}")
    assert resolve_snapshot(tmp_path) == tmp_path
    assert get_snapshot_id(tmp_path).startswith("legacy-")
    with pytest.raises(SnapshotError, match="analyse clean"):
        resolve_snapshot(tmp_path / "empty")


def test_clean_up_keeps_current_previous_and_leased_snapshots(tmp_path: Path) -> None:
    ids = []
    for n in range(3):
        ids.append(_write(tmp_path, str(n)))
        time.sleep(1.01)  # ids sort by second
    leased = resolve_snapshot(tmp_path / "snapshots" / ids[0])
    with lease_snapshot(leased):
        for n in range(3):
            ids.append(_write(tmp_path, f"later{n}"))
            time.sleep(1.01)
        kept = sorted(p.name for p in (tmp_path / "snapshots").iterdir())
        assert ids[0] in kept  # leased by this process: never removed
        assert ids[-1] in kept and ids[-2] in kept and ids[-3] in kept
        assert ids[1] not in kept and ids[2] not in kept
    snapshots.collect_garbage(tmp_path)
    assert ids[0] not in {p.name for p in (tmp_path / "snapshots").iterdir()}


def test_a_lease_of_a_dead_process_does_not_protect(tmp_path: Path) -> None:
    _write(tmp_path)
    folder = resolve_snapshot(tmp_path)
    (folder / ".leases").mkdir()
    (folder / ".leases" / "999999999-dead").touch()
    assert not snapshots._leased(folder)
    assert not (folder / ".leases" / "999999999-dead").exists()
    assert os.getpid() > 0
