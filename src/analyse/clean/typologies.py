"""ANCT commune typologies (density, centrality, rurality) -> ``commune_typologies``.

Three UTF-8 CSV files with a byte-order mark, comma-separated, one line per commune:
``insee_com, lib_com, niveau_<kind>``. Labels are trimmed (the rurality labels carry a leading
space). The label ``" - undefined"`` (129 communes in the centrality file: no class assigned by
ANCT) becomes **null**: it is a missing value, not a category, so matching code treats it as
missing rather than as a 7th class. Communes are those of the files' own COG vintage (probably
2025): codes absent from the COG 2023 tables are kept (they simply do not join).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import polars as pl

from analyse.clean._readers import (
    COMMUNE_RE,
    CleanResult,
    SourceStats,
    clean_text,
    pad_digits,
    read_csv_text,
)
from analyse.errors import ParameterError
from analyse.quarantine import Rule, partition
from analyse.schemas import COMMUNE_TYPOLOGIES, conform

Kind = Literal["densite", "centralite", "ruralite"]
KINDS: tuple[Kind, ...] = ("densite", "centralite", "ruralite")
UNDEFINED_RE = r"(?i)^-?\s*undefined$"


def typology_columns(kind: str) -> tuple[str, str, str]:
    """Expected CSV columns for ``kind``."""
    return ("insee_com", "lib_com", f"niveau_{kind}")


def read_typology(path: Path, kind: Kind, *, source_id: str | None = None) -> CleanResult:
    """One typology file -> table ``typology`` (``commune_insee``, ``<kind>_level``).

    Quarantine (for ``commune_typologies``): ``invalid_commune_insee``, ``duplicate_commune``.
    """
    if kind not in KINDS:
        raise ParameterError(f"unknown typology {kind!r}; expected one of {KINDS}")
    path = Path(path)
    source_id = source_id or f"typo_{kind}"
    columns = typology_columns(kind)
    raw = read_csv_text(path, columns).with_columns(
        pad_digits(pl.col("insee_com"), 5).str.to_uppercase().alias("commune_insee")
    )
    kept, quarantined = partition(
        raw,
        [
            Rule(
                "invalid_commune_insee",
                ~pl.col("commune_insee").fill_null("").str.contains(COMMUNE_RE),
                "insee_com",
                pl.col("insee_com"),
            ),
            Rule(
                "duplicate_commune",
                ~pl.col("commune_insee").is_first_distinct(),
                "insee_com",
                pl.col("commune_insee"),
            ),
        ],
        source_id=source_id,
        source_file=path.name,
        raw_columns=columns,
    )
    label = clean_text(pl.col(columns[2]))
    typology = kept.select(
        "commune_insee",
        pl.when(label.str.contains(UNDEFINED_RE))
        .then(None)
        .otherwise(label)
        .alias(f"{kind}_level"),
    )
    stats = SourceStats(source_id, path.name, "CSV line", raw.height, typology.height)
    return CleanResult({"typology": typology}, {"commune_typologies": quarantined}, [stats])


def combine_typologies(
    densite: pl.DataFrame,
    centralite: pl.DataFrame,
    ruralite: pl.DataFrame,
    *,
    is_synthetic: bool = False,
) -> pl.DataFrame:
    """Full outer join of the three typologies on ``commune_insee`` (one row per commune)."""
    combined = (
        densite.lazy()
        .join(centralite.lazy(), on="commune_insee", how="full", coalesce=True)
        .join(ruralite.lazy(), on="commune_insee", how="full", coalesce=True)
        .with_columns(pl.lit(is_synthetic).alias("is_synthetic"))
        .sort("commune_insee")
        .collect()
    )
    return conform(combined, COMMUNE_TYPOLOGIES, name="commune_typologies")


def read_typologies(
    densite_path: Path,
    centralite_path: Path,
    ruralite_path: Path,
    *,
    is_synthetic: bool = False,
) -> CleanResult:
    """The three typology files -> ``commune_typologies`` (+ quarantine, accounting)."""
    parts = {
        "densite": read_typology(densite_path, "densite"),
        "centralite": read_typology(centralite_path, "centralite"),
        "ruralite": read_typology(ruralite_path, "ruralite"),
    }
    table = combine_typologies(
        parts["densite"]["typology"],
        parts["centralite"]["typology"],
        parts["ruralite"]["typology"],
        is_synthetic=is_synthetic,
    )
    return CleanResult(
        tables={"commune_typologies": table},
        quarantine={
            "commune_typologies": pl.concat(
                [p.quarantine["commune_typologies"] for p in parts.values()]
            )
        },
        stats=[s for p in parts.values() for s in p.stats],
    )
