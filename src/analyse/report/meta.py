"""The lines every page and the index carry about their data: production date, dataset
(snapshot) and package version, in French, and the short data banner.

The short banner repeats, in one sentence, the headline of the banner the notebooks display
(:func:`analyse.review.blocks.render_banner`, by data mode): the index and the printed running
header show it, so that a page never carries two banners saying different things.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from analyse import formatting as fmt

#: Headline of the notebooks' banner per data mode (``render_banner`` shows it in capitals).
BANNER_HEADLINES = {
    "synthetic": "Données entièrement synthétiques",
    "demo": "Données en partie synthétiques",
}
#: The short banner of the index and of every printed page, per data mode.
SHORT_BANNERS = {
    "synthetic": (
        f"{BANNER_HEADLINES['synthetic']} : toutes les données (géographie, territoires, "
        "chômage, projets) sont inventées par analyse demo ; aucun chiffre ne décrit la réalité."
    ),
    "demo": (
        f"{BANNER_HEADLINES['demo']} : les projets du fonds d'accélération sont simulés par "
        "analyse demo ; aucun chiffre du fonds ne décrit la réalité."
    ),
}
#: Kept for callers of the former single banner (the demo's).
SYNTHETIC_BANNER = SHORT_BANNERS["demo"]


def read_metadata(processed_dir: Path) -> dict[str, Any] | None:
    """``metadata.json`` of a processed snapshot, or ``None`` when absent or unreadable."""
    from analyse.tables import read_metadata as read

    try:
        return read(processed_dir)
    except (FileNotFoundError, ValueError):
        return None


def data_mode(metadata: Mapping[str, Any] | None) -> str | None:
    """``synthetic``, ``demo``, ``public`` or ``operator`` (as the notebooks read it), or None
    without metadata."""
    if not metadata:
        return None
    return str(metadata.get("mode") or ("synthetic" if metadata.get("synthetic") else "operator"))


def format_datetime_fr(value: str | dt.datetime) -> str:
    """``2026-11-30T21:35:04+00:00`` -> ``30 novembre 2026 à 21 h 35 (UTC)`` (times are UTC)."""
    when = dt.datetime.fromisoformat(value) if isinstance(value, str) else value
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return f"{fmt.format_date_fr(when.date())} à {when.hour}{fmt.NBSP}h{fmt.NBSP}{when:%M} (UTC)"


def format_date_only_fr(value: str | dt.datetime) -> str:
    """The date part of an ISO timestamp in words (``30 novembre 2026``); the text itself when
    it is not a date."""
    try:
        when = dt.datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if when.tzinfo is not None:
        when = when.astimezone(dt.UTC)
    return fmt.format_date_fr(when.date())


def page_meta(
    metadata: Mapping[str, Any] | None, generated_at: str, snapshot_id: str | None = None
) -> list[str]:
    """Header line of every report page: production date, dataset (snapshot id and cleaning
    date), package version; French dates, no ISO timestamp."""
    parts = [f"Produit le {format_datetime_fr(generated_at)}"]
    dataset = f"jeu de données {snapshot_id}" if snapshot_id else "jeu de données"
    if metadata and metadata.get("cleaned_at"):
        dataset += f" (nettoyé le {format_date_only_fr(str(metadata['cleaned_at']))})"
    elif not metadata:
        dataset += " (métadonnées absentes)"
    parts.append(dataset)
    version = (metadata or {}).get("package_version")
    if version:
        parts.append(f"analyse {version}")
    return [" · ".join(parts)]


def banner_for(metadata: Mapping[str, Any] | None) -> str | None:
    """The short banner when the data are (in part) synthetic, else None."""
    return SHORT_BANNERS.get(data_mode(metadata) or "")
