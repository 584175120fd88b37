"""The processed-data snapshot a batch reads: resolved once at start, leased for the batch.

A batch calls :func:`pin_snapshot` once: every notebook then gets
``processed_dir=<snapshot folder>``, run.json and every page name the snapshot id, and cache
keys hold the id instead of a checksum of the files. ``clean`` switching ``CURRENT`` to a new
snapshot during the batch changes nothing for it, and :func:`lease` keeps ``clean``'s clean-up
from removing the pinned folder until the batch ends (:mod:`analyse.snapshots`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyse.paths import get_processed_dir
from analyse.report.meta import read_metadata
from analyse.snapshots import get_snapshot_id, lease_snapshot, resolve_snapshot


@dataclass(frozen=True)
class Snapshot:
    """A pinned processed snapshot: folder, id and metadata."""

    path: Path
    snapshot_id: str
    metadata: dict[str, Any] | None


def pin_snapshot(processed: Path | str | None = None) -> Snapshot:
    """Resolve the snapshot to read (once per batch); ``SnapshotError`` (a
    ``ParameterError``: exit code 2) when there is no complete snapshot."""
    folder = Path(processed) if processed is not None else get_processed_dir()
    path = Path(resolve_snapshot(folder)).resolve()
    return Snapshot(path=path, snapshot_id=get_snapshot_id(path), metadata=read_metadata(path))


@contextlib.contextmanager
def lease(snapshot: Snapshot) -> Iterator[Snapshot]:
    """Hold the snapshot for the batch (``clean`` does not remove a leased snapshot)."""
    with lease_snapshot(snapshot.path):
        yield snapshot
