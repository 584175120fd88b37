"""INSEE quarterly localised unemployment rate by zone d'emploi 2020 -> ``labour_panel``.

Sheet ``txcho_ze``: a 5-row title block, variable codes on spreadsheet row 6
(``ZE2020, LIBZE2020, REG, LIBREG, 2003-T1 ...``) and one row per zone from row 7. The unit of
row accounting is the *zone x quarter cell*. Cells are quarantined when empty
(``missing_rate``: INSEE publishes no rate for the overseas zones before 2014), not a number
(``non_numeric_rate``) or outside 0-100 (``rate_out_of_range``); whole zone rows when their code
is invalid (``invalid_ze2020_code``) or repeated (``duplicate_zone``).

``region_code`` is the région of the zone; INSEE's ``00`` (*INTERRÉGIONAL*: the zone spans several
régions) becomes null, since ``00`` is not a région code. Use ``communes.ze2020_code`` to place
such zones in a région.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from analyse.clean._readers import CleanResult, SourceStats, clean_text, pad_digits, read_xlsx_sheet
from analyse.errors import InputFileError
from analyse.quarantine import ROW_COL, Rule, partition
from analyse.schemas import LABOUR_PANEL, conform

SHEET = "txcho_ze"
HEADER_ROW = 6
ID_COLUMNS = ("ZE2020", "LIBZE2020", "REG", "LIBREG")
PERIOD_RE = re.compile(r"^(\d{4})-T([1-4])$")


def period_columns(columns: list[str]) -> list[str]:
    """The ``YYYY-Tq`` columns, in file order."""
    return [c for c in columns if PERIOD_RE.match(c)]


def read_unemployment_ze(
    path: Path, *, source_id: str = "unemployment_ze", is_synthetic: bool = False
) -> CleanResult:
    """Read the ``txcho_ze`` sheet into the long ``labour_panel`` (one row per zone and quarter)."""
    path = Path(path)
    sheet = read_xlsx_sheet(path, SHEET, header_row=HEADER_ROW, expected=ID_COLUMNS)
    periods = period_columns(sheet.columns)
    if not periods:
        raise InputFileError(
            path,
            "quarter columns named like '2003-T1'",
            sheet=SHEET,
            row=HEADER_ROW,
            found=f"columns {[c for c in sheet.columns if c != ROW_COL]}",
        )
    duplicated = sorted({p for p in periods if periods.count(p) > 1})
    if duplicated:
        raise InputFileError(
            path,
            "each quarter once",
            sheet=SHEET,
            row=HEADER_ROW,
            column=duplicated[0],
            found="a repeated quarter column",
        )
    zones = sheet.select(ROW_COL, *ID_COLUMNS, *periods).with_columns(
        pad_digits(pl.col("ZE2020"), 4).alias("ze2020_code")
    )
    # zone-level problems apply to every cell of the row
    zones = zones.with_columns(
        pl.when(~pl.col("ze2020_code").fill_null("").str.contains(r"^\d{4}$"))
        .then(pl.lit("invalid_ze2020_code"))
        .when(~pl.col("ze2020_code").is_first_distinct())
        .then(pl.lit("duplicate_zone"))
        .alias("_zone_problem")
    )
    long = zones.unpivot(
        index=[ROW_COL, *ID_COLUMNS, "ze2020_code", "_zone_problem"],
        on=periods,
        variable_name="period",
        value_name="rate_raw",
    )
    rate = pl.col("rate_raw").str.strip_chars().str.replace(",", ".").cast(pl.Float64, strict=False)
    long = long.with_columns(rate.alias("unemployment_rate_pct"))
    kept, quarantined = partition(
        long,
        [
            Rule(
                "invalid_ze2020_code",
                pl.col("_zone_problem") == "invalid_ze2020_code",
                "ZE2020",
                pl.col("ZE2020"),
            ),
            Rule(
                "duplicate_zone",
                pl.col("_zone_problem") == "duplicate_zone",
                "ZE2020",
                pl.col("ze2020_code"),
            ),
            Rule(
                "missing_rate",
                pl.col("rate_raw").str.strip_chars().fill_null("") == "",
                "period",
                pl.format("{} {}", pl.col("ze2020_code"), pl.col("period")),
            ),
            Rule(
                "non_numeric_rate",
                pl.col("unemployment_rate_pct").is_null(),
                "period",
                pl.format("{} {}: {}", pl.col("ze2020_code"), pl.col("period"), pl.col("rate_raw")),
            ),
            Rule(
                "rate_out_of_range",
                (pl.col("unemployment_rate_pct") < 0) | (pl.col("unemployment_rate_pct") > 100),
                "period",
                pl.format("{} {}: {}", pl.col("ze2020_code"), pl.col("period"), pl.col("rate_raw")),
            ),
        ],
        source_id=source_id,
        source_file=f"{path.name}#{SHEET}",
        raw_columns=(*ID_COLUMNS, "period", "rate_raw"),
    )
    # name the spreadsheet column of the cell (the quarter) rather than "period"
    quarantined = quarantined.with_columns(
        pl.when(pl.col("column") == "period")
        .then(pl.col("raw_json").str.json_path_match("$.period"))
        .otherwise(pl.col("column"))
        .alias("column")
    )
    parts = pl.col("period").str.extract_groups(r"^(\d{4})-T([1-4])$")
    panel = kept.with_columns(
        clean_text(pl.col("LIBZE2020")).alias("ze2020_name"),
        pl.when(pad_digits(pl.col("REG"), 2) == "00")
        .then(None)
        .otherwise(pad_digits(pl.col("REG"), 2))
        .alias("region_code"),
        parts.struct.field("1").cast(pl.Int16).alias("year"),
        parts.struct.field("2").cast(pl.Int8).alias("quarter"),
        pl.lit(is_synthetic).alias("is_synthetic"),
    ).with_columns(
        (pl.col("year").cast(pl.Int32) * 4 + pl.col("quarter").cast(pl.Int32) - 1).alias(
            "quarter_index"
        )
    )
    panel = conform(panel.sort("ze2020_code", "quarter_index"), LABOUR_PANEL, name="labour_panel")
    stats = SourceStats(
        source_id,
        path.name,
        f"zone x quarter cell (sheet {SHEET})",
        rows_in=sheet.height * len(periods),
        rows_out=panel.height,
    )
    return CleanResult(
        tables={"labour_panel": panel},
        quarantine={"labour_panel": quarantined},
        stats=[stats],
    )
