"""Open the processed layer for a report, and name the sources of its figures."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analyse.paths import get_processed_dir, get_published_dir
from analyse.tables import read_core_table, read_metadata, read_quality

#: Source line of the labour-market charts and tables.
SOURCE_LABOUR = (
    "Source : INSEE, taux de chômage localisés trimestriels par zone d'emploi 2020 ; "
    "ANCT, périmètres des Territoires d'industrie ; calculs analyse."
)


@dataclass
class ReviewData:
    """The core tables a report needs, read once on first use, with the layer's metadata."""

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


def default_processed_dir() -> Path:
    """``data/processed`` of the project (or ``ANALYSE_PROCESSED_DIR``)."""
    return get_processed_dir()


def resolve_published_dir(published_dir: str | Path | None) -> Path | None:
    """The given folder of published figures, else the one found by ``get_published_dir``."""
    if published_dir:
        folder = Path(published_dir)
        return folder if folder.is_dir() else None
    return get_published_dir()


def load_review_data(processed_dir: Path | str | None = None) -> ReviewData:
    """Open the processed layer (tables are read lazily on first use)."""
    folder = Path(processed_dir) if processed_dir else get_processed_dir()
    return ReviewData(
        processed_dir=folder, metadata=read_metadata(folder), quality=read_quality(folder)
    )


def describe_fund_source(metadata: dict[str, Any]) -> str:
    """Source line of the fund's figures, saying plainly when they are synthetic."""
    if metadata.get("synthetic"):
        return (
            "Source : données SYNTHÉTIQUES générées par analyse demo (format d'un extrait "
            "opérateur du fonds d'accélération) ; calculs analyse."
        )
    return (
        "Source : extrait opérateur des projets lauréats du fonds d'accélération des "
        "investissements industriels dans les territoires (France Relance) ; calculs analyse."
    )
