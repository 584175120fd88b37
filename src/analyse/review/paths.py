"""Where a notebook's inputs are: the snapshot of the core tables and the run's figures."""

from __future__ import annotations

from pathlib import Path

from analyse.paths import get_processed_dir
from analyse.snapshots import resolve_snapshot


def resolve_inputs(
    processed_dir: str | Path | None, figures_dir: str | Path | None
) -> tuple[Path, Path | None]:
    """The snapshot folder to read (the current one when ``processed_dir`` is None) and the
    figures bundle (None: the page computes or reuses the bundle of that snapshot)."""
    snapshot = resolve_snapshot(processed_dir or get_processed_dir())
    return snapshot, Path(figures_dir) if figures_dir else None
