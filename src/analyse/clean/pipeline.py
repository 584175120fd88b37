"""``analyse clean``: every raw source -> core tables, quarantine tables, quality and metadata.

Each source is read at ``raw_dir / SOURCE_PATHS[source_id]``. Required sources must all be
there (one error lists every missing file); the operator's project extract (``fund_projects``
with its optional ``fund_mapping``) and the MEF project list (``mef_plan_de_relance``) are
optional: when absent, their core table is written empty and ``quality.json`` says so.

``quality.json``::

    {"synthetic": bool,
     "sources": {source_id: {"file", "unit", "status", "rows_in", "rows_out",
                             "rows_quarantined", "by_reason": {reason: n},
                             "quarantine_table"}},
     "tables": {core table: rows}, "quarantine_tables": {core table: rows},
     "derived": {"commune_territories": {...}}}

``rows_in`` is counted on the raw file (in the source's ``unit``: spreadsheet row, CSV line,
zone x quarter cell, territory x grouping link), ``rows_out`` on what reached a core table, so
``rows_in == rows_out + rows_quarantined`` is a real check, not a definition (except for the
MEF project list, whose cleaner reports only kept and quarantined rows).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from analyse import __version__
from analyse.clean._readers import CleanResult, SourceStats
from analyse.clean.geography import (
    add_population,
    ept_communes,
    read_etalab_communes,
    read_etalab_ept,
    read_geography,
)
from analyse.clean.labour import read_unemployment_ze
from analyse.clean.relance import read_relance_counts
from analyse.clean.territories import (
    build_commune_territories,
    read_ti_groupings_csv,
    read_ti_phase1,
    read_ti_phase2,
    read_ti_shapes,
)
from analyse.clean.typologies import read_typologies
from analyse.errors import InputFileError
from analyse.files import sha256_file, write_bytes_atomic
from analyse.schemas import CORE_TABLES, QUARANTINE, empty_frame
from analyse.snapshots import finish_metadata, stage_snapshot
from analyse.sources import SOURCE_PATHS
from analyse.tables import (
    QUALITY_FILE,
    write_core_table,
    write_json,
    write_quarantine_table,
)

log = logging.getLogger(__name__)

MANIFEST_FILE = "manifest.json"
#: Sources that may be absent (their tables are then written empty).
OPTIONAL_SOURCES: frozenset[str] = frozenset(
    {"fund_projects", "fund_mapping", "mef_plan_de_relance"}
)
#: Sources copied into the snapshot for the reports, not cleaned (``build_core_tables`` does
#: not need them).
COPIED_SOURCES: frozenset[str] = frozenset(
    {"published_announcements", "published_milestones", "outlines"}
)
#: Core table fed by each optional data source.
OPTIONAL_TABLES = {"fund_projects": "projects", "mef_plan_de_relance": "relance_projects"}
#: Which quarantine tables hold the rows of each source.
QUARANTINE_TABLES_OF_SOURCE: dict[str, list[str]] = {
    "cog_epci": ["communes", "epci"],
    "cog_ze2020": ["communes", "zones"],
    "ti_phase1": ["territory_members"],  # ["territory_shapes"] when read for shapes only
    "ti_phase2": ["territory_members"],
    "ti_phase1_groupings": ["territory_members"],
    "unemployment_ze": ["labour_panel"],
    "relance_national": ["relance_counts"],
    "relance_regional": ["relance_counts"],
    "relance_departemental": ["relance_counts"],
    "typo_densite": ["commune_typologies"],
    "typo_centralite": ["commune_typologies"],
    "typo_ruralite": ["commune_typologies"],
    "fund_projects": ["projects"],
    "mef_plan_de_relance": ["relance_projects"],
    "etalab_communes": ["communes"],
    "etalab_ept": ["territory_members"],
}


def read_synthetic_flag(raw_dir: Path) -> bool:
    """``True`` when ``raw_dir/manifest.json`` declares ``"synthetic": true`` (demo data)."""
    path = Path(raw_dir) / MANIFEST_FILE
    if not path.is_file():
        return False
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(path, "a JSON manifest", found=str(exc)) from exc
    return bool(manifest.get("synthetic", False)) if isinstance(manifest, dict) else False


def _registry() -> dict[str, Any]:
    try:
        from analyse import sources
    except ImportError:  # pragma: no cover - sources is part of the package
        return {}
    return dict(getattr(sources, "SOURCES", {}) or {})


def required_sources() -> list[str]:
    """Source ids that ``run_clean`` needs (the registry's ``required`` flag when known)."""
    registry = _registry()
    out = []
    for source_id in SOURCE_PATHS:
        entry = registry.get(source_id)
        required = getattr(entry, "required", None)
        if required is None:
            required = source_id not in OPTIONAL_SOURCES
        if required and source_id not in OPTIONAL_SOURCES:
            out.append(source_id)
    return out


def check_raw_dir(raw_dir: Path) -> dict[str, Path]:
    """Paths of every source; FileNotFoundError listing all missing required files."""
    raw_dir = Path(raw_dir)
    paths = {source_id: raw_dir / rel for source_id, rel in SOURCE_PATHS.items()}
    # An operator extract may come as a workbook (its mapping then says ``format: xlsx``).
    xlsx = paths["fund_projects"].with_suffix(".xlsx")
    if not paths["fund_projects"].is_file() and xlsx.is_file():
        paths["fund_projects"] = xlsx
    cleaned = [sid for sid in required_sources() if sid not in COPIED_SOURCES]
    missing = [f"{sid} ({paths[sid]})" for sid in cleaned if not paths[sid].is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} required raw file(s) missing under {raw_dir}: {'; '.join(missing)}. "
            "Run `analyse fetch` (real data) or `analyse demo` (synthetic data) first."
        )
    return paths


def _by_reason(quarantine: pl.DataFrame, source_id: str) -> dict[str, int]:
    rows = quarantine.filter(pl.col("source_id") == source_id).group_by("reason").len()
    return {r: int(n) for r, n in sorted(rows.iter_rows())}


def _source_entry(
    stats: SourceStats, quarantine: pl.DataFrame, raw_dir: Path, path: Path
) -> dict[str, Any]:
    by_reason = _by_reason(quarantine, stats.source_id)
    n_quarantined = sum(by_reason.values())
    entry = {
        "file": _relative(path, raw_dir),
        "unit": stats.unit,
        "status": "read",
        "rows_in": stats.rows_in,
        "rows_out": stats.rows_out,
        "rows_quarantined": n_quarantined,
        "by_reason": by_reason,
        "quarantine_tables": QUARANTINE_TABLES_OF_SOURCE.get(stats.source_id, []),
    }
    if stats.unit.startswith("feature"):
        entry["quarantine_tables"] = ["territory_shapes"]
    if stats.rows_in != stats.rows_out + n_quarantined:
        log.warning(
            "%s: rows_in %d != rows_out %d + rows_quarantined %d",
            stats.source_id,
            stats.rows_in,
            stats.rows_out,
            n_quarantined,
        )
    return entry


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _concat(frames: Iterable[pl.DataFrame]) -> pl.DataFrame:
    frames = [f for f in frames if f is not None]
    return pl.concat(frames, how="vertical") if frames else empty_frame(QUARANTINE)


def _clean_optional_projects(
    paths: dict[str, Path],
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    is_synthetic: bool,
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame], dict[str, dict[str, Any]]]:
    """Run the project cleaners of :mod:`analyse.clean.projects` on the files present."""
    tables: dict[str, pl.DataFrame] = {}
    quarantine: dict[str, pl.DataFrame] = {}
    entries: dict[str, dict[str, Any]] = {}
    for source_id, table in OPTIONAL_TABLES.items():
        path = paths[source_id]
        if not path.is_file():
            tables[table] = empty_frame(CORE_TABLES[table])
            quarantine[table] = empty_frame(QUARANTINE)
            entries[source_id] = {
                "file": str(SOURCE_PATHS[source_id]),
                "unit": "row",
                "status": "absent (optional source): empty table written",
                "rows_in": 0,
                "rows_out": 0,
                "rows_quarantined": 0,
                "by_reason": {},
                "quarantine_tables": [table],
            }
            continue
        from analyse.clean import projects  # lazy: written separately, needed only here

        if source_id == "fund_projects":
            mapping = paths["fund_mapping"] if paths["fund_mapping"].is_file() else None
            kept, bad = projects.clean_fund_projects(
                path,
                mapping,
                communes,
                commune_territories,
                source_id=source_id,
                is_synthetic=is_synthetic,
            )
        else:
            kept, bad = projects.clean_relance_projects(
                path,
                communes,
                commune_territories,
                source_id=source_id,
                is_synthetic=is_synthetic,
            )
        tables[table], quarantine[table] = kept, bad
        rows_in, counted = kept.height + bad.height, False
        if source_id == "fund_projects" and hasattr(projects, "read_raw_projects"):
            rows_in, counted = projects.read_raw_projects(path, mapping).height, True
        entries[source_id] = {
            "file": f"{path.parent.name}/{path.name}",
            "unit": "data row" if counted else "data row (kept + quarantined, as reported)",
            "status": "read",
            "rows_in": rows_in,
            "rows_out": kept.height,
            "rows_quarantined": bad.height,
            "by_reason": _by_reason(bad, source_id),
            "quarantine_tables": [table],
        }
        if source_id == "fund_projects":
            entries[source_id]["mapping"] = (
                str(SOURCE_PATHS["fund_mapping"]) if mapping else "none (canonical headers)"
            )
    return tables, quarantine, entries


def _read_geography(
    paths: dict[str, Path], synthetic: bool, timings: dict[str, float]
) -> tuple[list[CleanResult], pl.DataFrame, dict[str, Any]]:
    """COG 2023 geography with Etalab's population légale, and the COG 2023 communes of each
    Grand Paris EPT: ``(results, ept_members, derived quality)``; the first result holds
    ``communes`` (population filled), ``epci`` and ``zones``."""
    start = time.perf_counter()
    geo = read_geography(paths["cog_epci"], paths["cog_ze2020"], is_synthetic=synthetic)
    etalab = read_etalab_communes(paths["etalab_communes"])
    ept = read_etalab_ept(paths["etalab_ept"])
    geo.tables["communes"], population = add_population(
        geo.tables["communes"], etalab["etalab_communes"]
    )
    members, ept_coverage = ept_communes(
        ept["ept_members"], geo.tables["communes"], etalab["etalab_communes"]
    )
    timings["geography"] = round(time.perf_counter() - start, 3)
    derived = {"communes_population": population, "ept_communes": ept_coverage}
    return [geo, etalab, ept], members, derived


def _read_phase1(
    paths: dict[str, Path],
    epci: pl.DataFrame,
    communes: pl.DataFrame,
    synthetic: bool,
    timings: dict[str, float],
    ept_members: pl.DataFrame | None = None,
) -> list[CleanResult]:
    """Phase-1 territories: from ANCT's grouping CSV when present (shapes from the GeoJSON),
    else from the GeoJSON alone. The first result holds ``territories``, ``territory_members``,
    ``commune_members`` and ``territory_shapes``."""
    start = time.perf_counter()
    csv_path = paths.get("ti_phase1_groupings")
    if csv_path is not None and csv_path.is_file():
        members = read_ti_groupings_csv(
            csv_path,
            1,
            epci,
            communes,
            source_id="ti_phase1_groupings",
            is_synthetic=synthetic,
            ept_members=ept_members,
        )
        shapes = read_ti_shapes(
            paths["ti_phase1"],
            members["territories"],
            phase=1,
            source_id="ti_phase1",
            is_synthetic=synthetic,
        )
        members.tables["territory_shapes"] = shapes["territory_shapes"]
        out = [members, shapes]
    else:
        out = [
            read_ti_phase1(
                paths["ti_phase1"], epci, communes, is_synthetic=synthetic, ept_members=ept_members
            )
        ]
    timings["ti_phase1"] = round(time.perf_counter() - start, 3)
    return out


def _source_entries(
    results: list[CleanResult], raw_dir: Path, paths: dict[str, Path]
) -> dict[str, dict[str, Any]]:
    """``quality.json`` entry of every source read (and of the absent grouping CSV)."""
    sources: dict[str, dict[str, Any]] = {}
    for result in results:
        # a source's quarantined rows may sit in several tables (COG: communes, epci, zones)
        result_q = _concat(result.quarantine.values())
        for stats in result.stats:
            sources[stats.source_id] = _source_entry(
                stats, result_q, raw_dir, paths[stats.source_id]
            )
    if "ti_phase1_groupings" in paths and "ti_phase1_groupings" not in sources:
        sources["ti_phase1_groupings"] = {
            "file": str(SOURCE_PATHS["ti_phase1_groupings"]),
            "unit": "CSV line",
            "status": "absent (optional source): phase-1 memberships read from ti_phase1",
            "rows_in": 0,
            "rows_out": 0,
            "rows_quarantined": 0,
            "by_reason": {},
            "quarantine_tables": ["territory_members"],
        }
    return sources


def _attribution_summary(
    commune_territories: pl.DataFrame, commune_members: pl.DataFrame, set_aside: pl.DataFrame
) -> dict[str, Any]:
    """How communes got their territory: rows, communes listed directly or through an EPT
    (by phase), links set aside."""
    kind = pl.when(pl.col("via") == "commune").then(pl.lit("direct")).otherwise(pl.lit("ept"))
    counts = commune_members.group_by(kind.alias("kind"), "ti_phase").len()
    by_phase: dict[str, dict[str, int]] = {"direct": {}, "ept": {}}
    for k, phase, n in counts.sort("kind", "ti_phase").iter_rows():
        by_phase[k][str(phase)] = int(n)
    return {
        "rows": commune_territories.height,
        "communes_listed_directly_by_phase": by_phase["direct"],
        "communes_via_ept_by_phase": by_phase["ept"],
        "links_set_aside_commune_in_several_territories": set_aside.height,
    }


def build_core_tables(
    raw_dir: Path,
) -> tuple[dict[str, pl.DataFrame], dict[str, pl.DataFrame], dict[str, Any]]:
    """Read and clean every source (no writing): ``(tables, quarantine, quality)``."""
    raw_dir = Path(raw_dir)
    paths = check_raw_dir(raw_dir)
    synthetic = read_synthetic_flag(raw_dir)
    timings: dict[str, float] = {}

    def timed(name: str, fn, *args, **kwargs) -> CleanResult:
        start = time.perf_counter()
        out = fn(*args, **kwargs)
        timings[name] = round(time.perf_counter() - start, 3)
        return out

    geo_results, ept_members, geo_derived = _read_geography(paths, synthetic, timings)
    geo = geo_results[0]
    communes, epci = geo["communes"], geo["epci"]
    ti1_results = _read_phase1(paths, epci, communes, synthetic, timings, ept_members)
    ti1 = ti1_results[0]
    ti2 = timed(
        "ti_phase2",
        read_ti_phase2,
        paths["ti_phase2"],
        epci,
        communes,
        is_synthetic=synthetic,
        ept_members=ept_members,
    )
    labour = timed("labour", read_unemployment_ze, paths["unemployment_ze"], is_synthetic=synthetic)
    relance = timed(
        "relance",
        read_relance_counts,
        paths["relance_national"],
        paths["relance_regional"],
        paths["relance_departemental"],
        is_synthetic=synthetic,
    )
    typo = timed(
        "typologies",
        read_typologies,
        paths["typo_densite"],
        paths["typo_centralite"],
        paths["typo_ruralite"],
        is_synthetic=synthetic,
    )
    results = [*geo_results, *ti1_results, ti2, labour, relance, typo]

    members = pl.concat([ti1["territory_members"], ti2["territory_members"]])
    commune_members = pl.concat([ti1["commune_members"], ti2["commune_members"]])
    start = time.perf_counter()
    commune_territories, ct_quarantine = build_commune_territories(
        communes, members, commune_members, is_synthetic=synthetic
    )
    timings["commune_territories"] = round(time.perf_counter() - start, 3)

    tables: dict[str, pl.DataFrame] = {
        "communes": communes,
        "epci": epci,
        "zones": geo["zones"],
        "territories": pl.concat([ti1["territories"], ti2["territories"]]),
        "territory_members": members,
        "commune_territories": commune_territories,
        "territory_shapes": pl.concat([ti1["territory_shapes"], ti2["territory_shapes"]]),
        "commune_typologies": typo["commune_typologies"],
        "labour_panel": labour["labour_panel"],
        "relance_counts": relance["relance_counts"],
    }
    quarantine: dict[str, pl.DataFrame] = {
        name: _concat(r.quarantine.get(name) for r in results) for name in CORE_TABLES
    }
    quarantine["commune_territories"] = ct_quarantine

    sources = _source_entries(results, raw_dir, paths)
    start = time.perf_counter()
    opt_tables, opt_quarantine, opt_entries = _clean_optional_projects(
        paths, communes, commune_territories, is_synthetic=synthetic
    )
    timings["projects"] = round(time.perf_counter() - start, 3)
    tables.update(opt_tables)
    quarantine.update(opt_quarantine)
    sources.update(opt_entries)

    quality: dict[str, Any] = {
        "synthetic": synthetic,
        "sources": sources,
        "tables": {name: tables[name].height for name in CORE_TABLES},
        "quarantine_tables": {name: quarantine[name].height for name in CORE_TABLES},
        "derived": {
            "commune_territories": _attribution_summary(
                commune_territories, commune_members, ct_quarantine
            ),
            **geo_derived,
        },
        "timings_s": timings,
    }
    return tables, quarantine, quality


def source_metadata(raw_dir: Path) -> list[dict[str, Any]]:
    """File, checksum, size, vintage and publisher of every source file present."""
    raw_dir = Path(raw_dir)
    registry = _registry()
    out = []
    for source_id, rel in SOURCE_PATHS.items():
        path = raw_dir / rel
        if not path.is_file():
            continue
        entry = registry.get(source_id)
        out.append(
            {
                "source_id": source_id,
                "path": rel,
                "sha256": sha256_file(path),
                "size_bytes": path.stat().st_size,
                "vintage": getattr(entry, "vintage", None),
                "vintage_fr": getattr(entry, "vintage_fr", None),
                "publisher": getattr(entry, "publisher", None),
            }
        )
    return out


#: Core table -> the source whose synthetic flag it carries (others: reference sources).
_TABLE_SOURCE = {"projects": "fund_projects", "relance_projects": "mef_plan_de_relance"}


def read_manifest(raw_dir: Path) -> dict[str, Any]:
    """``raw_dir/manifest.json`` (empty dict when absent)."""
    path = Path(raw_dir) / MANIFEST_FILE
    if not path.is_file():
        return {}
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(path, "a JSON manifest", found=str(exc)) from exc
    return manifest if isinstance(manifest, dict) else {}


def synthetic_source_ids(manifest: dict[str, Any]) -> frozenset[str]:
    """Sources whose file the manifest flags synthetic (every source when the whole folder is)."""
    if manifest.get("synthetic"):
        return frozenset(SOURCE_PATHS)
    files = manifest.get("files") or []
    return frozenset(
        str(f.get("source_id")) for f in files if isinstance(f, dict) and f.get("synthetic")
    )


def describe_mode(synthetic: frozenset[str], has_extract: bool) -> str:
    """``synthetic`` (every file invented), ``demo`` (real public data, synthetic fund
    projects), ``operator`` (real public data and an operator extract) or ``public`` (real public
    data only: no per-project extract)."""
    if synthetic >= {"cog_epci", "unemployment_ze"}:
        return "synthetic"
    if not has_extract:
        return "public"
    return "demo" if "fund_projects" in synthetic else "operator"


def _flag_synthetic(
    tables: dict[str, pl.DataFrame], synthetic: frozenset[str], mode: str
) -> dict[str, pl.DataFrame]:
    """Set ``is_synthetic`` of each table from its own source (not from the folder as a whole)."""
    out = {}
    for name, df in tables.items():
        flag = mode == "synthetic" or _TABLE_SOURCE.get(name, "") in synthetic
        out[name] = df.with_columns(pl.lit(flag, dtype=pl.Boolean).alias("is_synthetic"))
    return out


def _drop_for_public(
    tables: dict[str, pl.DataFrame],
    quarantine: dict[str, pl.DataFrame],
    quality: dict[str, Any],
    synthetic: frozenset[str],
) -> None:
    """``--public``: empty the operator extract's table and any synthetic project list."""
    for table, source_id in _TABLE_SOURCE.items():
        if source_id == "fund_projects" or source_id in synthetic:
            tables[table] = empty_frame(CORE_TABLES[table])
            quarantine[table] = empty_frame(QUARANTINE)
            entry = quality["sources"].get(source_id)
            if entry is not None:
                entry.update(
                    status="ignored (analyse clean --public)",
                    rows_in=0,
                    rows_out=0,
                    rows_quarantined=0,
                    by_reason={},
                )
    quality["tables"] = {name: tables[name].height for name in CORE_TABLES}
    quality["quarantine_tables"] = {name: quarantine[name].height for name in CORE_TABLES}


def _materialise_missing(raw_dir: Path) -> list[str]:
    """Copy the shipped reference files of required sources missing from ``raw_dir``."""
    try:
        from analyse.refdata import materialise_reference
    except ImportError:  # pragma: no cover - reference snapshot not installed
        return []
    missing = [s for s in required_sources() if not (raw_dir / SOURCE_PATHS[s]).is_file()]
    if not missing:
        return []
    entries = materialise_reference(raw_dir, missing)
    log.info("clean: %d reference files materialised into %s", len(entries), raw_dir)
    return missing


def _copy_published(raw_dir: Path, snapshot_dir: Path) -> None:
    """Copy the published figures (facts for reconciliation and timelines) and the région
    outlines into the snapshot, so that a snapshot holds everything the reports read."""
    from analyse.figures.national import PUBLISHED_FILES
    from analyse.review.maps import OUTLINES_FILE

    defaults = {
        "published_announcements": "published/fund_announcements.csv",
        "published_milestones": "published/programme_milestones.csv",
    }
    files = {**PUBLISHED_FILES, "outlines": OUTLINES_FILE}
    defaults["outlines"] = "outlines/france_regions.geojson"
    for source_id, name in files.items():
        source = raw_dir / SOURCE_PATHS.get(source_id, defaults[source_id])
        if source.is_file():
            write_bytes_atomic(snapshot_dir / name, source.read_bytes())


def _build_metadata(
    raw_dir: Path, quality: dict[str, Any], manifest: dict[str, Any], mode: str, synthetic
) -> dict[str, Any]:
    sources = source_metadata(raw_dir)
    for entry in sources:
        entry["synthetic"] = entry["source_id"] in synthetic or mode == "synthetic"
        if entry["synthetic"]:
            seed = manifest.get("seed")
            entry["vintage_fr"] = f"données synthétiques (analyse demo, graine {seed})"
    metadata = {
        "mode": mode,
        "synthetic": mode in ("synthetic", "demo"),
        "synthetic_sources": sorted(synthetic if mode != "synthetic" else SOURCE_PATHS),
        "cleaned_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "package_version": __version__,
        "raw_dir": str(raw_dir),
        "sources": sources,
    }
    if metadata["synthetic"]:
        # The generator's seed and planted (true) effects follow the data, so that reports on
        # the demo can set each estimate against the truth it should recover.
        metadata["seed"] = manifest.get("seed")
        metadata["planted_effects"] = manifest.get("planted_effects")
    return metadata


def run_clean(raw_dir: Path, processed_dir: Path, *, public_only: bool = False) -> dict[str, Any]:
    """Clean every raw source into a new snapshot of ``processed_dir``; return the quality summary.

    Required public sources missing from ``raw_dir`` are first materialised from the shipped
    reference snapshot (``data/reference``). The snapshot (see :mod:`analyse.snapshots`) holds
    ``core_<name>.parquet`` for every core table (validated against its schema),
    ``quarantine_<name>.parquet`` (possibly empty), ``quality.json`` and, last,
    ``metadata.json``; it becomes current only once complete. ``public_only`` ignores the
    operator extract and any synthetic project list (public-data mode).
    """
    raw_dir, processed_dir = Path(raw_dir), Path(processed_dir)
    start = time.perf_counter()
    with stage_snapshot(processed_dir) as stage:
        manifest = read_manifest(raw_dir)  # as the fetch or the demo left it
        materialised = _materialise_missing(raw_dir)
        synthetic = synthetic_source_ids(manifest) - set(materialised)
        tables, quarantine, quality = build_core_tables(raw_dir)
        if public_only:
            _drop_for_public(tables, quarantine, quality, synthetic)
            ignored = {"fund_projects", "fund_mapping"} | (synthetic & {"mef_plan_de_relance"})
            synthetic = synthetic - ignored
        mode = describe_mode(synthetic, tables["projects"].height > 0)
        tables = _flag_synthetic(tables, synthetic, mode)
        for name in CORE_TABLES:
            write_core_table(tables[name], name, stage.path)
            write_quarantine_table(quarantine[name], name, stage.path)
        quality["synthetic"] = mode in ("synthetic", "demo")
        quality["mode"] = mode
        quality["materialised_from_reference"] = materialised
        quality["snapshot_id"] = stage.snapshot_id
        quality["timings_s"]["total"] = round(time.perf_counter() - start, 3)
        write_json(quality, stage.path / QUALITY_FILE)
        _copy_published(raw_dir, stage.path)
        metadata = _build_metadata(raw_dir, quality, manifest, mode, synthetic)
        if public_only:  # the files set aside are not sources of this snapshot
            metadata["sources"] = [s for s in metadata["sources"] if s["source_id"] not in ignored]
        finish_metadata(stage, metadata)
    log.info(
        "clean: snapshot %s (%s data) written to %s in %.1fs",
        stage.snapshot_id,
        mode,
        processed_dir,
        quality["timings_s"]["total"],
    )
    return quality
