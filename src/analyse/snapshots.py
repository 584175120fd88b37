"""Processed data as atomic snapshots: a snapshot is complete or it is not used.

Layout of ``data/processed``::

    CURRENT                  id of the current snapshot (one line, replaced atomically)
    snapshots/<id>/          core_*.parquet, quarantine_*.parquet, quality.json, metadata.json
    .staging-<id>/           a clean in progress (never read; removed when its process is gone)
    last_clean.json          outcome of the last ``analyse clean``: running / ok / failed

``analyse clean`` writes every table, the quality summary and, last, ``metadata.json`` (with the
size of every file) into a staging folder, renames it into ``snapshots/<id>`` and only then
replaces ``CURRENT``: a clean that fails or is killed leaves the previous snapshot current, and
:func:`describe_last_clean` says so on the next command. Readers call :func:`resolve_snapshot`
once and read only from the folder it returns; report batches also hold :func:`lease_snapshot`
so that the clean-up of old snapshots never removes one that a running batch reads.

A folder holding ``metadata.json`` directly (a snapshot folder given by path, or the flat layout
of earlier versions) is accepted as a snapshot in its own right.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyse.errors import ParameterError
from analyse.files import write_text_atomic
from analyse.paths import get_processed_dir

CURRENT_FILE = "CURRENT"
SNAPSHOTS_DIR = "snapshots"
LAST_CLEAN_FILE = "last_clean.json"
METADATA_FILE = "metadata.json"
STAGING_PREFIX = ".staging-"
LEASES_DIR = ".leases"
#: Snapshots kept besides the current one (older ones are removed unless a batch leases them).
KEEP_PREVIOUS = 2


class SnapshotError(ParameterError):
    """No complete snapshot to read (or a snapshot folder that is not complete)."""


@dataclass(frozen=True)
class Stage:
    """A snapshot being written: write files into ``path``; ``snapshot_id`` is its future id."""

    snapshot_id: str
    path: Path


def new_snapshot_id() -> str:
    """A sortable, unique id: UTC time to the second plus 6 random hex digits."""
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{secrets.token_hex(3)}"


def _root(processed: Path | str | None) -> Path:
    return Path(processed) if processed is not None else get_processed_dir()


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_complete(snapshot_dir: Path) -> None:
    """Raise :class:`SnapshotError` unless every file listed in ``metadata.json`` is present
    with its recorded size (metadata is written last, so its presence dates completion)."""
    meta = _read_json(snapshot_dir / METADATA_FILE)
    if meta is None:
        raise SnapshotError(f"{snapshot_dir} is not a complete snapshot: metadata.json missing")
    for name, size in (meta.get("files") or {}).items():
        path = snapshot_dir / name
        if not path.is_file() or path.stat().st_size != size:
            raise SnapshotError(f"snapshot {snapshot_dir} is incomplete: {name} missing or changed")


def resolve_snapshot(processed: Path | str | None = None) -> Path:
    """The folder of the snapshot to read (see the module docstring for the layout)."""
    root = _root(processed)
    current = root / CURRENT_FILE
    if current.is_file():
        snapshot_id = current.read_text(encoding="utf-8").strip()
        folder = root / SNAPSHOTS_DIR / snapshot_id
        if not snapshot_id or not folder.is_dir():
            raise SnapshotError(f"{current} names snapshot {snapshot_id!r}, which is missing")
        check_complete(folder)
        return folder
    if (root / METADATA_FILE).is_file():
        return root
    raise SnapshotError(
        f"no processed data in {root}: run `analyse clean` first "
        "(it reads data/raw, materialising the shipped reference files when missing)"
    )


def get_snapshot_id(snapshot_dir: Path | str) -> str:
    """The id recorded in a snapshot's metadata; for older folders a hash of their files."""
    folder = Path(snapshot_dir)
    meta = _read_json(folder / METADATA_FILE) or {}
    if meta.get("snapshot_id"):
        return str(meta["snapshot_id"])
    digest = hashlib.sha256()
    for path in sorted(folder.glob("*")):
        if path.is_file() and path.suffix in (".parquet", ".json"):
            stat = path.stat()
            digest.update(f"{path.name}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return "legacy-" + digest.hexdigest()[:16]


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True  # no /proc: trust kill(0)


def _write_last_clean(root: Path, **fields: Any) -> None:
    fields.setdefault("at", dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    write_text_atomic(root / LAST_CLEAN_FILE, json.dumps(fields, ensure_ascii=False, indent=2))


def _list_files(folder: Path) -> dict[str, int]:
    return {
        p.name: p.stat().st_size
        for p in sorted(folder.iterdir())
        if p.is_file() and p.name != METADATA_FILE and not p.name.startswith(".")
    }


def _fsync_dir(folder: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def stage_snapshot(processed: Path | str | None = None) -> Iterator[Stage]:
    """Write a new snapshot: yields a :class:`Stage`; on normal exit the staged folder becomes
    ``snapshots/<id>`` and ``CURRENT`` names it, on error it is removed and the previous
    snapshot stays current. ``metadata.json`` must be written into the stage last (use
    :func:`finish_metadata`)."""
    root = _root(processed)
    root.mkdir(parents=True, exist_ok=True)
    collect_garbage(root)
    snapshot_id = new_snapshot_id()
    stage = Stage(snapshot_id, root / f"{STAGING_PREFIX}{snapshot_id}")
    stage.path.mkdir()
    (stage.path / ".pid").write_text(str(os.getpid()), encoding="utf-8")
    _write_last_clean(root, status="running", pid=os.getpid(), snapshot_id=stage.snapshot_id)
    try:
        yield stage
        check_complete(stage.path)
        (stage.path / ".pid").unlink()
        final = root / SNAPSHOTS_DIR / stage.snapshot_id
        final.parent.mkdir(exist_ok=True)
        os.rename(stage.path, final)
        _fsync_dir(final.parent)
        write_text_atomic(root / CURRENT_FILE, stage.snapshot_id + "\n")
        _write_last_clean(root, status="ok", snapshot_id=stage.snapshot_id)
    except BaseException as exc:
        shutil.rmtree(stage.path, ignore_errors=True)
        error = f"{type(exc).__name__}: {str(exc)[:500]}"
        _write_last_clean(root, status="failed", snapshot_id=stage.snapshot_id, error=error)
        raise
    collect_garbage(root)


def finish_metadata(stage: Stage, metadata: dict[str, Any]) -> dict[str, Any]:
    """Complete and write ``metadata.json`` into the stage: id and the size of every file."""
    full = {**metadata, "snapshot_id": stage.snapshot_id, "files": _list_files(stage.path)}
    text = json.dumps(full, ensure_ascii=False, indent=2, default=str) + "\n"
    write_text_atomic(stage.path / METADATA_FILE, text)
    return full


def describe_last_clean(processed: Path | str | None = None) -> str | None:
    """A warning when the last ``analyse clean`` failed or was killed (``None`` when fine)."""
    root = _root(processed)
    last = _read_json(root / LAST_CLEAN_FILE)
    if not last or last.get("status") == "ok":
        return None
    if last.get("status") == "running" and pid_alive(int(last.get("pid") or 0)):
        return None  # a clean is running now: it will switch CURRENT when it is done
    what = "failed" if last.get("status") == "failed" else "did not finish (killed?)"
    try:
        current = get_snapshot_id(resolve_snapshot(root))
        keep = f"the previous snapshot {current} stays current"
    except SnapshotError:
        keep = "there is no usable snapshot"
    error = f" ({last['error']})" if last.get("error") else ""
    return f"the last `analyse clean` (started {last.get('at', '?')}) {what}{error}; {keep}"


def _leased(folder: Path) -> bool:
    leases = folder / LEASES_DIR
    if not leases.is_dir():
        return False
    alive = False
    for lease in leases.iterdir():
        pid = int(lease.name.split("-")[0]) if lease.name.split("-")[0].isdigit() else 0
        if pid_alive(pid):
            alive = True
        else:
            lease.unlink(missing_ok=True)
    return alive


@contextlib.contextmanager
def lease_snapshot(snapshot_dir: Path | str) -> Iterator[Path]:
    """Mark a snapshot in use by this process (clean-up skips it) for the ``with`` block."""
    folder = Path(snapshot_dir)
    lease = folder / LEASES_DIR / f"{os.getpid()}-{secrets.token_hex(4)}"
    try:
        lease.parent.mkdir(exist_ok=True)
        lease.touch()
    except OSError:  # a read-only snapshot (copied elsewhere): nothing to protect it from
        lease = None  # type: ignore[assignment]
    try:
        yield folder
    finally:
        if lease is not None:
            lease.unlink(missing_ok=True)


def collect_garbage(processed: Path | str | None = None, keep: int = KEEP_PREVIOUS) -> list[Path]:
    """Remove stale staging folders and snapshots beyond the ``keep`` newest non-current ones
    (never the current one, never a leased one); return what was removed."""
    root = _root(processed)
    removed: list[Path] = []
    for stage in root.glob(f"{STAGING_PREFIX}*"):
        pid_file = stage / ".pid"
        pid = int(pid_file.read_text()) if pid_file.is_file() else 0
        if not pid_alive(pid):
            shutil.rmtree(stage, ignore_errors=True)
            removed.append(stage)
    folder = root / SNAPSHOTS_DIR
    if not folder.is_dir():
        return removed
    current = (root / CURRENT_FILE).read_text().strip() if (root / CURRENT_FILE).is_file() else ""
    older = sorted((p for p in folder.iterdir() if p.is_dir() and p.name != current), reverse=True)
    for old in older[keep:]:
        if not _leased(old):
            shutil.rmtree(old, ignore_errors=True)
            removed.append(old)
    return removed
