"""Building blocks of the review reports that are not estimates: data loading, perimeter changes,
programme milestones, the synthetic-data banner and the provenance block.

Notebooks call these; everything here is testable without a kernel.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from analyse import __version__
from analyse.tables import read_core_table, read_metadata, read_quality


@dataclass
class ReviewData:
    """The core tables a report needs, read once, with the processed layer's metadata."""

    processed_dir: Path
    metadata: dict[str, Any]
    quality: dict[str, Any]
    tables: dict[str, pl.DataFrame] = field(default_factory=dict)

    def __getitem__(self, name: str) -> pl.DataFrame:
        if name not in self.tables:
            self.tables[name] = read_core_table(name, self.processed_dir)
        return self.tables[name]

    @property
    def is_synthetic(self) -> bool:
        return bool(self.metadata.get("synthetic", False))


def load_review_data(processed_dir: Path | str | None = None) -> ReviewData:
    """Open the processed layer (tables are read lazily on first use)."""
    from analyse.paths import get_processed_dir

    folder = Path(processed_dir) if processed_dir else get_processed_dir()
    return ReviewData(
        processed_dir=folder, metadata=read_metadata(folder), quality=read_quality(folder)
    )


def compare_perimeters(territory_members: pl.DataFrame) -> pl.DataFrame:
    """EPCI that entered, left or stayed between the phase-1 and phase-2 perimeters.

    One row per EPCI member of a territory in either phase: ``epci_siren``, ``grouping_name``,
    ``ti_id_phase1``, ``ti_id_phase2``, ``status`` (``stayed``, ``entered``, ``left``).
    Only groupings resolved to a COG EPCI are compared (others are in the quarantine table).
    """

    def members(phase: int) -> pl.LazyFrame:
        return (
            territory_members.lazy()
            .filter(pl.col("ti_phase") == phase)
            .group_by("epci_siren")
            .agg(
                pl.col("ti_id").sort().first().alias(f"ti_id_phase{phase}"),
                pl.col("grouping_name").first().alias(f"name_phase{phase}"),
            )
        )

    return (
        members(1)
        .join(members(2), on="epci_siren", how="full", coalesce=True)
        .select(
            "epci_siren",
            pl.coalesce("name_phase2", "name_phase1").alias("grouping_name"),
            "ti_id_phase1",
            "ti_id_phase2",
            pl.when(pl.col("ti_id_phase1").is_not_null() & pl.col("ti_id_phase2").is_not_null())
            .then(pl.lit("stayed"))
            .when(pl.col("ti_id_phase2").is_not_null())
            .then(pl.lit("entered"))
            .otherwise(pl.lit("left"))
            .alias("status"),
        )
        .sort("status", "epci_siren")
        .collect()
    )


def summarise_perimeter_changes(perimeters: pl.DataFrame) -> pl.DataFrame:
    """Counts of EPCI by status (``stayed``, ``entered``, ``left``), in that order."""
    order = pl.DataFrame({"status": ["stayed", "entered", "left"]})
    counts = perimeters.group_by("status").agg(pl.len().cast(pl.Int64).alias("n_epci"))
    return order.join(counts, on="status", how="left").with_columns(pl.col("n_epci").fill_null(0))


def read_milestones(published_dir: Path | str | None) -> pl.DataFrame | None:
    """Programme milestones as announced (``programme_milestones.csv``), or None if unavailable."""
    if published_dir is None:
        return None
    path = Path(published_dir) / "programme_milestones.csv"
    if not path.is_file():
        return None
    return pl.read_csv(
        path,
        schema_overrides={"territories": pl.Int64, "amount_eur": pl.Float64},
        try_parse_dates=True,
    )


SYNTHETIC_BANNER_STYLE = (
    "border:4px solid #E1000F;background:#FEECEC;color:#161616;padding:1rem 1.25rem;"
    "margin:0 0 1.5rem 0;font-size:1.15rem;font-weight:700;"
)


def render_synthetic_banner(metadata: dict[str, Any]) -> str:
    """A red banner impossible to miss when the data are synthetic; empty string otherwise."""
    if not metadata.get("synthetic"):
        return ""
    seed = metadata.get("seed")
    seed_txt = f" (graine {html.escape(str(seed))})" if seed is not None else ""
    return (
        f'<div class="analyse-synthetic-banner" role="alert" style="{SYNTHETIC_BANNER_STYLE}">'
        "⚠ DONNÉES SYNTHÉTIQUES — ce rapport est construit sur le jeu de démonstration généré par "
        f"<code>analyse demo</code>{seed_txt}. Aucun chiffre de cette page ne décrit la réalité du "
        "programme ni du fonds ; il sert à montrer la méthode et la forme du rapport.</div>"
    )


def render_provenance(
    metadata: dict[str, Any], parameters: dict[str, Any], *, run_at: datetime | None = None
) -> str:
    """Provenance block: sources with vintages and checksums, package version, parameters, run time."""
    run_at = run_at or datetime.now(UTC)
    rows = []
    for src in metadata.get("sources", []):
        sha = str(src.get("sha256") or "")
        rows.append(
            "<tr>"
            f"<td>{html.escape(str(src.get('source_id', '')))}</td>"
            f"<td>{html.escape(str(src.get('publisher') or ''))}</td>"
            f"<td>{html.escape(str(src.get('vintage') or ''))}</td>"
            f"<td><code>{html.escape(str(src.get('path', '')))}</code></td>"
            f"<td><code title='{html.escape(sha)}'>{html.escape(sha[:12])}</code></td>"
            "</tr>"
        )
    params = "".join(
        f"<li><code>{html.escape(str(k))}</code> = <code>{html.escape(repr(v))}</code></li>"
        for k, v in parameters.items()
    )
    nature = "synthétiques (démonstration)" if metadata.get("synthetic") else "réelles"
    return (
        '<section class="analyse-provenance"><h2>Provenance</h2>'
        f"<p>Données {nature}, nettoyées le {html.escape(str(metadata.get('cleaned_at', 'n.d.')))} ; "
        f"paquet <code>analyse</code> {html.escape(str(metadata.get('package_version', __version__)))} "
        f"(exécution : <code>analyse</code> {__version__}) ; rapport exécuté le "
        f"{run_at.strftime('%d/%m/%Y à %H:%M UTC')}.</p>"
        f"<p>Paramètres :</p><ul>{params}</ul>"
        "<table><thead><tr><th>Source</th><th>Producteur</th><th>Millésime</th><th>Fichier</th>"
        f"<th>SHA-256</th></tr></thead><tbody>{''.join(rows)}</tbody></table></section>"
    )
