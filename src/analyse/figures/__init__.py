"""The figures stage: every figure that any page shows, computed once per run.

``analyse figures`` (run by ``analyse report`` before any notebook) reads one processed snapshot
and writes a bundle (:mod:`analyse.figures.store`) that the notebooks only read:

- ``cells``: every published cell of the fund (:mod:`analyse.figures.fund`), secrecy solved over
  the whole publication, intervals, and the text as printed;
- ``fund_*``: national sensitivity variants, association models, reconciliation with published
  figures;
- ``trends`` and ``causal_*``: unemployment by scope and the label's counterfactual
  (:mod:`analyse.figures.labour`);
- ``public_*``: the public-data sections (:mod:`analyse.figures.public`).

The bundle is cached by snapshot id, code hash and options: a second run on the same data and
code reuses it.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import polars as pl
from pydantic import BaseModel, ConfigDict, Field

from analyse.figures.store import (
    FiguresBundle,
    figures_key,
    get_figures_root,
    read_bundle,
    write_bundle,
)
from analyse.files import hash_package
from analyse.snapshots import get_snapshot_id, resolve_snapshot
from analyse.tables import read_metadata

log = logging.getLogger(__name__)

__all__ = ["FiguresBundle", "FiguresOptions", "compute_figures", "ensure_figures", "read_bundle"]


class FiguresOptions(BaseModel):
    """Options of the figures stage (part of the cache key)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    seed: int = Field(default=2018, ge=0, description="seed of resampling (bootstrap methods)")
    n_boot: int = Field(default=1999, ge=99, le=99_999, description="bootstrap replications")
    ci_method: str = Field(
        default="jackknife_log", description="interval method (estimate.bootstrap.METHODS)"
    )


def _read_tables(snapshot_dir: Path) -> dict[str, pl.DataFrame]:
    from analyse.schemas import CORE_TABLES
    from analyse.tables import read_core_table

    return {name: read_core_table(name, snapshot_dir) for name in CORE_TABLES}


def compute_figures(
    snapshot_dir: Path, options: FiguresOptions
) -> tuple[dict[str, pl.DataFrame], dict[str, Any]]:
    """Every frame of the bundle, and the timings (seconds) of each part."""
    from analyse.figures import fund, labour, national, public

    tables = _read_tables(snapshot_dir)
    timings: dict[str, float] = {}
    frames: dict[str, pl.DataFrame] = {}
    projects = tables["projects"]
    if projects.height:
        start = time.perf_counter()
        frames["cells"] = fund.compute_fund_cells(
            projects,
            seed=options.seed,
            n_boot=options.n_boot,
            method=options.ci_method,
            timings=timings,
        )
        timings["fund_cells_s"] = round(time.perf_counter() - start, 3)
        start = time.perf_counter()
        frames.update(national.compute_national(projects, snapshot_dir, seed=options.seed))
        timings["fund_national_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    frames["trends"] = labour.compute_trends(
        tables["labour_panel"], tables["communes"], tables["commune_territories"]
    )
    timings["trends_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    frames.update(labour.compute_counterfactual(tables, read_metadata(snapshot_dir)))
    timings["counterfactual_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    frames.update(labour.compute_territory_counterfactuals(tables))
    timings["synthetic_controls_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    frames.update(public.compute_public(tables))
    timings["public_s"] = round(time.perf_counter() - start, 3)
    return frames, timings


def ensure_figures(
    processed: Path | str | None = None,
    options: FiguresOptions | None = None,
    *,
    root: Path | None = None,
    force: bool = False,
) -> FiguresBundle:
    """The bundle of the snapshot of ``processed`` (computed unless cached)."""
    options = options or FiguresOptions()
    snapshot_dir = resolve_snapshot(processed)
    snapshot_id = get_snapshot_id(snapshot_dir)
    code = hash_package()
    key = figures_key(snapshot_id, code, options.model_dump())
    root = root or get_figures_root()
    if not force and (root / key / "manifest.json").is_file():
        return read_bundle(root / key)
    start = time.perf_counter()
    frames, timings = compute_figures(snapshot_dir, options)
    timings["total_s"] = round(time.perf_counter() - start, 3)
    manifest = {
        "snapshot_id": snapshot_id,
        "snapshot_dir": str(snapshot_dir),
        "code_hash": code,
        "options": options.model_dump(),
        "timings_s": timings,
    }
    path = write_bundle(root, key, frames, manifest)
    log.info("figures %s computed in %.1f s into %s", key, timings["total_s"], path)
    return read_bundle(path)
