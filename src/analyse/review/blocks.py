"""Blocks every report page carries: the synthetic-data banner, data quality and provenance."""

from __future__ import annotations

import html
from datetime import UTC, datetime
from typing import Any

import polars as pl

from analyse import __version__
from analyse import formatting as fmt

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


def render_quality(quality: dict[str, Any]) -> str:
    """Data-quality table: rows in, kept and quarantined per source, with the main reasons."""
    rows = []
    for source_id, counts in quality.get("sources", {}).items():
        if not counts.get("rows_in"):
            continue
        reasons = ", ".join(
            f"{reason} ({fmt.format_int(n)})"
            for reason, n in sorted(counts.get("by_reason", {}).items(), key=lambda kv: -kv[1])
        )
        rows.append(
            {
                "Source": source_id,
                "Unité": str(counts.get("unit") or "ligne"),
                "Lignes lues": fmt.format_int(counts["rows_in"]),
                "Retenues": fmt.format_int(counts["rows_out"]),
                "En quarantaine": fmt.format_int(counts["rows_quarantined"]),
                "Motifs": reasons or "—",
            }
        )
    table = pl.DataFrame(rows) if rows else pl.DataFrame({"Source": []})
    return fmt.to_html_table(
        table,
        caption="Qualité des données : aucune ligne perdue",
        source="Source : quality.json écrit par analyse clean.",
        note=(
            "Chaque ligne lue est soit retenue, soit placée en quarantaine avec son motif "
            "(fichiers quarantine_*.parquet) : lues = retenues + en quarantaine."
        ),
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
    nature = "SYNTHÉTIQUES (démonstration)" if metadata.get("synthetic") else "réelles"
    return (
        '<section class="analyse-provenance"><h2>Provenance</h2>'
        f"<p>Données {nature}, nettoyées le {html.escape(str(metadata.get('cleaned_at', 'n.d.')))} ; "
        f"paquet <code>analyse</code> {html.escape(str(metadata.get('package_version', __version__)))} "
        f"(exécution : <code>analyse</code> {__version__}) ; rapport exécuté le "
        f"{run_at.strftime('%d/%m/%Y à %H:%M UTC')}.</p>"
        f"<p>Paramètres :</p><ul>{params}</ul>"
        '<table class="analyse-provenance-sources"><thead><tr><th>Source</th><th>Producteur</th>'
        "<th>Millésime</th><th>Fichier</th><th>SHA-256</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></section>"
    )
