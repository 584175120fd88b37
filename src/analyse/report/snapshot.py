"""The processed-data snapshot a batch reads: resolved once at start, leased for the batch.

A batch calls :func:`pin_snapshot` once: every notebook then gets
``processed_dir=<snapshot folder>``, run.json and every page name the snapshot id, and cache
keys hold the id instead of a checksum of the files. ``clean`` switching ``CURRENT`` to a new
snapshot during the batch changes nothing for it, and :func:`lease` keeps ``clean``'s clean-up
from removing the pinned folder until the batch ends.

The functions come from :mod:`analyse.snapshots` (interfaces fixed in the project spec); when
that module is absent (older tree) a local fallback with the same behaviour is used.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analyse.errors import ParameterError
from analyse.files import sha256_file
from analyse.paths import get_processed_dir
from analyse.report.meta import read_metadata


@dataclass(frozen=True)
class Snapshot:
    """A pinned processed snapshot: folder, id and metadata."""

    path: Path
    snapshot_id: str
    metadata: dict[str, Any] | None


def hash_processed_dir(processed_dir: Path) -> str:
    """Checksum of a processed folder (every ``*.parquet`` and ``*.json`` file)."""
    digest = hashlib.sha256()
    if processed_dir.is_dir():
        for path in sorted(processed_dir.iterdir()):
            if path.is_file() and path.suffix in (".parquet", ".json"):
                digest.update(f"{path.name}\0{sha256_file(path)}\n".encode())
    else:
        digest.update(b"no processed data")
    return digest.hexdigest()


def _fallback_resolve(processed: Path) -> Path:
    current = processed / "CURRENT"
    if current.is_file():
        folder = processed / "snapshots" / current.read_text(encoding="utf-8").strip()
        if (folder / "metadata.json").is_file():
            return folder
    if (processed / "metadata.json").is_file():
        return processed
    raise ParameterError(f"{processed}: no complete processed snapshot (run `analyse clean` first)")


def _fallback_id(snapshot_dir: Path) -> str:
    metadata = read_metadata(snapshot_dir) or {}
    if metadata.get("snapshot_id"):
        return str(metadata["snapshot_id"])
    return "legacy-" + hash_processed_dir(snapshot_dir)[:16]


def pin_snapshot(processed: Path | str | None = None) -> Snapshot:
    """Resolve the snapshot to read (once per batch); :class:`ParameterError` if none."""
    folder = Path(processed) if processed is not None else get_processed_dir()
    try:
        from analyse.snapshots import get_snapshot_id, resolve_snapshot
    except ImportError:  # TODO(lead): drop once analyse.snapshots is in every tree
        path = _fallback_resolve(folder)
        snapshot_id = _fallback_id(path)
    else:
        path = Path(resolve_snapshot(folder))
        snapshot_id = get_snapshot_id(path)
    path = path.resolve()
    return Snapshot(path=path, snapshot_id=snapshot_id, metadata=read_metadata(path))


@contextlib.contextmanager
def lease(snapshot: Snapshot) -> Iterator[Snapshot]:
    """Hold the snapshot for the batch (``clean`` does not remove a leased snapshot)."""
    try:
        from analyse.snapshots import lease_snapshot
    except ImportError:  # legacy flat folders cannot be removed by clean anyway
        yield snapshot
        return
    with lease_snapshot(snapshot.path):
        yield snapshot
