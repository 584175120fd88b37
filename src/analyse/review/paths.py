"""Where a notebook's inputs are: the snapshot of the core tables and the run's figures."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analyse.paths import get_processed_dir
from analyse.snapshots import resolve_snapshot


def resolve_inputs(
    processed_dir: str | Path | None, figures_dir: str | Path | None
) -> tuple[Path, Path | None]:
    """The snapshot folder to read (the current one when ``processed_dir`` is None) and the
    figures bundle (None: the page computes or reuses the bundle of that snapshot)."""
    snapshot = resolve_snapshot(processed_dir or get_processed_dir())
    return snapshot, Path(figures_dir) if figures_dir else None


def validate_parameters(kind: str, **values: Any) -> dict[str, Any]:
    """Check a notebook's parameters with the report's own model (an unknown région or
    territory fails at once, listing the valid ones); returns them as the model keeps them."""
    from analyse.report.params import NationalParams, RegionParams, TerritoryParams

    model = {"national": NationalParams, "region": RegionParams, "territory": TerritoryParams}[kind]
    given = {k: v for k, v in values.items() if v is not None}
    return model(**given).to_parameters()
