"""The lines every page and the index carry about their data: production date, vintage,
package version, snapshot id, and the synthetic-data banner."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

SYNTHETIC_BANNER = (
    "Données synthétiques (analyse demo) : ces chiffres illustrent la chaîne de traitement "
    "et ne décrivent pas la réalité."
)


def read_metadata(processed_dir: Path) -> dict[str, Any] | None:
    """``metadata.json`` of a processed snapshot, or ``None`` when absent or unreadable."""
    from analyse.tables import read_metadata as read

    try:
        return read(processed_dir)
    except (FileNotFoundError, ValueError):
        return None


def page_meta(
    metadata: Mapping[str, Any] | None, generated_at: str, snapshot_id: str | None = None
) -> list[str]:
    """Header lines of every report page: production date, data vintage and snapshot."""
    line = f"Produit le {generated_at.replace('T', ' à ').replace('+00:00', ' UTC')}"
    if metadata:
        cleaned = metadata.get("cleaned_at")
        if cleaned:
            line += f" · données nettoyées le {str(cleaned)[:10]}"
        version = metadata.get("package_version")
        if version:
            line += f" · analyse {version}"
    else:
        line += " · métadonnées des données absentes"
    if snapshot_id:
        line += f" · instantané {snapshot_id}"
    return [line]


def banner_for(metadata: Mapping[str, Any] | None) -> str | None:
    """The synthetic-data banner when the data say they are synthetic."""
    return SYNTHETIC_BANNER if metadata and metadata.get("synthetic") else None
