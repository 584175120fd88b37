"""France Relance *baromètre* (DITP/Etalab) -> ``relance_counts``, every indicator kept.

Three UTF-8 CSV files, long format:

* national (``mesure, indicateur, id_indicateur, maille_geographique, date, valeur, unite``):
  one observation per line, ``scale = "national"``, ``geo_code`` null, ``geo_name = "France"``;
* regional (``... code_region, libelle_region, date, valeur, unite``): ``scale = "region"``;
* départemental synthesis (``... code_departement, libelle_departement, valeur_actuelle,
  date_valeur_actuelle, valeur_initiale, date_valeur_initiale, progression, ..., cible, ...``):
  ``scale = "departement"``; each line gives two observations, the current value and the
  initial value (when published). ``progression`` is their difference and is not kept; targets
  (``cible``) are not observations and are not kept either (they stay in the raw file).

The unit of row accounting is the CSV line (``rows_out`` counts lines kept, whatever the number
of observations they give). The fund's firms are ``reference.RELANCE_FIRMS_INDICATOR``: a count
of firms supported by several France Relance investment measures pooled, not the fund alone.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analyse.clean._readers import (
    DEPARTEMENT_RE,
    CleanResult,
    SourceStats,
    clean_text,
    pad_digits,
    read_csv_text,
)
from analyse.quarantine import ROW_COL, Rule, partition
from analyse.schemas import RELANCE_COUNTS, conform
from analyse.sources import get_source

#: Columns as published (the registry is the one place that declares them).
NATIONAL_COLUMNS = get_source("relance_national").columns
REGIONAL_COLUMNS = get_source("relance_regional").columns
DEPARTEMENTAL_COLUMNS = get_source("relance_departemental").columns


def _number(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.replace(",", ".").cast(pl.Float64, strict=False)


def _date(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.to_date("%Y-%m-%d", strict=False)


def _blank(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().fill_null("") == ""


def _value_rules(value: str, date: str, *, optional: bool = False) -> list[Rule]:
    """Rules for a (value, date) pair; an optional pair may be entirely blank."""
    both_blank = _blank(value) & _blank(date)
    guard = ~both_blank if optional else pl.lit(True)
    return [
        Rule("missing_value", guard & _blank(value), value),
        Rule("non_numeric_value", guard & _number(value).is_null(), value, pl.col(value)),
        Rule("invalid_date", guard & _date(date).is_null(), date, pl.col(date)),
    ]


def _common_rules(*key: str | pl.Expr) -> list[Rule]:
    """Indicator present; no earlier line with the same ``key`` (place, indicator, date)."""
    cols = [pl.col(k) if isinstance(k, str) else k for k in key]
    return [
        Rule("missing_indicator", _blank("id_indicateur"), "id_indicateur"),
        Rule(
            "duplicate_observation",
            ~pl.struct(*cols).is_first_distinct(),
            "id_indicateur",
            pl.col("id_indicateur"),
        ),
    ]


def _observation(
    df: pl.DataFrame, *, scale: str, code: pl.Expr, name: pl.Expr, value: str, date: str
) -> pl.DataFrame:
    return df.select(
        pl.lit(scale).alias("scale"),
        code.alias("geo_code"),
        name.alias("geo_name"),
        clean_text(pl.col("id_indicateur")).alias("indicator_id"),
        clean_text(pl.col("indicateur")).alias("indicator"),
        _date(date).alias("date"),
        _number(value).alias("value"),
        clean_text(pl.col("unite")).alias("unit"),
        pl.col(ROW_COL),
    )


def read_relance_national(path: Path, *, source_id: str = "relance_national") -> CleanResult:
    """National file: one observation per line."""
    path = Path(path)
    raw = read_csv_text(path, NATIONAL_COLUMNS)
    kept, quarantined = partition(
        raw,
        [*_common_rules("id_indicateur", "date"), *_value_rules("valeur", "date")],
        source_id=source_id,
        source_file=path.name,
        raw_columns=NATIONAL_COLUMNS,
    )
    obs = _observation(
        kept,
        scale="national",
        code=pl.lit(None, pl.String),
        name=pl.lit("France"),
        value="valeur",
        date="date",
    )
    stats = SourceStats(source_id, path.name, "CSV line", raw.height, kept.height)
    return CleanResult({"relance_counts": obs}, {"relance_counts": quarantined}, [stats])


def read_relance_regional(path: Path, *, source_id: str = "relance_regional") -> CleanResult:
    """Regional file: one observation per line."""
    path = Path(path)
    raw = read_csv_text(path, REGIONAL_COLUMNS).with_columns(
        pad_digits(pl.col("code_region"), 2).alias("_code")
    )
    kept, quarantined = partition(
        raw,
        [
            *_common_rules("_code", "id_indicateur", "date"),
            Rule(
                "invalid_region_code",
                ~pl.col("_code").fill_null("").str.contains(r"^\d{2}$"),
                "code_region",
                pl.col("code_region"),
            ),
            *_value_rules("valeur", "date"),
        ],
        source_id=source_id,
        source_file=path.name,
        raw_columns=REGIONAL_COLUMNS,
    )
    obs = _observation(
        kept,
        scale="region",
        code=pl.col("_code"),
        name=clean_text(pl.col("libelle_region")),
        value="valeur",
        date="date",
    )
    stats = SourceStats(source_id, path.name, "CSV line", raw.height, kept.height)
    return CleanResult({"relance_counts": obs}, {"relance_counts": quarantined}, [stats])


def read_relance_departemental(
    path: Path, *, source_id: str = "relance_departemental"
) -> CleanResult:
    """Départemental synthesis: current and initial value of each line (two observations)."""
    path = Path(path)
    raw = read_csv_text(path, DEPARTEMENTAL_COLUMNS).with_columns(
        pad_digits(pl.col("code_departement"), 2).str.to_uppercase().alias("_code")
    )
    kept, quarantined = partition(
        raw,
        [
            *_common_rules("_code", "id_indicateur"),
            Rule(
                "invalid_departement_code",
                ~pl.col("_code").fill_null("").str.contains(DEPARTEMENT_RE),
                "code_departement",
                pl.col("code_departement"),
            ),
            *_value_rules("valeur_actuelle", "date_valeur_actuelle"),
            *_value_rules("valeur_initiale", "date_valeur_initiale", optional=True),
        ],
        source_id=source_id,
        source_file=path.name,
        raw_columns=[c for c in raw.columns if c not in (ROW_COL, "_code")],
    )
    name = clean_text(pl.col("libelle_departement"))
    current = _observation(
        kept,
        scale="departement",
        code=pl.col("_code"),
        name=name,
        value="valeur_actuelle",
        date="date_valeur_actuelle",
    )
    initial = _observation(
        kept.filter(~_blank("valeur_initiale")),
        scale="departement",
        code=pl.col("_code"),
        name=name,
        value="valeur_initiale",
        date="date_valeur_initiale",
    )
    obs = pl.concat([initial, current]).sort(ROW_COL, "date", maintain_order=True)
    stats = SourceStats(source_id, path.name, "CSV line", raw.height, kept.height)
    return CleanResult({"relance_counts": obs}, {"relance_counts": quarantined}, [stats])


def read_relance_counts(
    national_path: Path,
    regional_path: Path,
    departemental_path: Path,
    *,
    is_synthetic: bool = False,
) -> CleanResult:
    """All three baromètre files -> ``relance_counts`` (every indicator, every scale).

    Within a file, a line repeating the place, indicator and date of an earlier line is
    quarantined as ``duplicate_observation`` (the first one is kept).
    """
    parts = [
        read_relance_national(national_path),
        read_relance_regional(regional_path),
        read_relance_departemental(departemental_path),
    ]
    obs = pl.concat([p.tables["relance_counts"] for p in parts])
    counts = conform(
        obs.with_columns(pl.lit(is_synthetic).alias("is_synthetic")),
        RELANCE_COUNTS,
        name="relance_counts",
    )
    return CleanResult(
        tables={"relance_counts": counts},
        quarantine={"relance_counts": pl.concat([p.quarantine["relance_counts"] for p in parts])},
        stats=[s for p in parts for s in p.stats],
    )
