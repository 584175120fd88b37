"""INSEE geography (COG 2023): communes -> EPCI -> département -> région, and zones d'emploi 2020.

Both INSEE workbooks have a 5-row title block; variable codes are on spreadsheet row 6 and data
start on row 7. Codes are read as strings (leading zeros kept; codes stored as numbers are
left-padded). Quarantine rows name the file as ``<file>#<sheet>`` and the spreadsheet row.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analyse.clean._readers import (
    COMMUNE_RE,
    DEPARTEMENT_RE,
    SIREN_RE,
    CleanResult,
    SourceStats,
    clean_text,
    open_workbook,
    pad_digits,
    read_xlsx_sheet,
)
from analyse.quarantine import Rule, partition
from analyse.schemas import COMMUNES, EPCI, ZONES, conform

#: Spreadsheet row holding the variable codes in INSEE COG workbooks.
COG_HEADER_ROW = 6
EPCI_SHEET = "EPCI"
COMPOSITION_SHEET = "Composition_communale"
ZE_SHEET = "ZE2020"
EPCI_COLUMNS = ("EPCI", "LIBEPCI", "NATURE_EPCI", "NB_COM")
COMMUNE_EPCI_COLUMNS = ("CODGEO", "LIBGEO", "EPCI", "LIBEPCI", "DEP", "REG")
ZE_COLUMNS = ("ZE2020", "LIBZE2020", "NB_COM")
COMMUNE_ZE_COLUMNS = ("CODGEO", "LIBGEO", "ZE2020", "LIBZE2020", "DEP", "REG")
#: EPCI code of communes outside any EPCI (four island communes).
NO_EPCI = "ZZZZZZZZZ"
ZE2020_RE = r"^\d{4}$"


def _label(path: Path, sheet: str) -> str:
    return f"{Path(path).name}#{sheet}"


def _is_int(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.contains(r"^\d+(?:\.0+)?$")


def _to_int(col: str) -> pl.Expr:
    return pl.col(col).str.strip_chars().str.replace(r"\.0+$", "").cast(pl.Int32, strict=False)


def read_cog_ze2020(
    path: Path, *, source_id: str = "cog_ze2020", is_synthetic: bool = False
) -> CleanResult:
    """Read INSEE's *Zones d'emploi 2020* workbook.

    Returns tables ``zones`` (core schema) and ``commune_ze2020`` (``commune_insee``,
    ``ze2020_code``: the key used to fill ``communes.ze2020_code``); quarantine for ``zones``
    (rows of sheet ``ZE2020``) and ``communes`` (rows of sheet ``Composition_communale``).
    """
    path = Path(path)
    book = open_workbook(path)
    zsheet = read_xlsx_sheet(
        path, ZE_SHEET, header_row=COG_HEADER_ROW, expected=ZE_COLUMNS, workbook=book
    )
    zones_raw = zsheet.with_columns(
        pad_digits(pl.col("ZE2020"), 4).alias("ze2020_code"),
        clean_text(pl.col("LIBZE2020")).alias("ze2020_name"),
    )
    zones, zones_q = partition(
        zones_raw,
        [
            Rule(
                "invalid_ze2020_code",
                ~pl.col("ze2020_code").fill_null("").str.contains(ZE2020_RE),
                "ZE2020",
                pl.col("ZE2020"),
            ),
            Rule(
                "duplicate_zone",
                ~pl.col("ze2020_code").is_first_distinct(),
                "ZE2020",
                pl.col("ze2020_code"),
            ),
            Rule(
                "invalid_n_communes",
                ~_is_int("NB_COM").fill_null(False),
                "NB_COM",
                pl.col("NB_COM"),
            ),
        ],
        source_id=source_id,
        source_file=_label(path, ZE_SHEET),
        raw_columns=ZE_COLUMNS,
    )
    zones = conform(
        zones.with_columns(
            _to_int("NB_COM").alias("n_communes"), pl.lit(is_synthetic).alias("is_synthetic")
        ),
        ZONES,
        name="zones",
    )

    csheet = read_xlsx_sheet(
        path,
        COMPOSITION_SHEET,
        header_row=COG_HEADER_ROW,
        expected=COMMUNE_ZE_COLUMNS,
        workbook=book,
    )
    links_raw = csheet.with_columns(
        pad_digits(pl.col("CODGEO"), 5).str.to_uppercase().alias("commune_insee"),
        pad_digits(pl.col("ZE2020"), 4).alias("ze2020_code"),
    )
    known_zones = zones.get_column("ze2020_code").implode()
    links, links_q = partition(
        links_raw,
        [
            Rule(
                "invalid_commune_insee",
                ~pl.col("commune_insee").fill_null("").str.contains(COMMUNE_RE),
                "CODGEO",
                pl.col("CODGEO"),
            ),
            Rule(
                "duplicate_commune",
                ~pl.col("commune_insee").is_first_distinct(),
                "CODGEO",
                pl.col("commune_insee"),
            ),
            Rule(
                "unknown_zone",
                ~pl.col("ze2020_code").is_in(known_zones).fill_null(False),
                "ZE2020",
                pl.col("ZE2020"),
            ),
        ],
        source_id=source_id,
        source_file=_label(path, COMPOSITION_SHEET),
        raw_columns=COMMUNE_ZE_COLUMNS,
    )
    commune_ze = links.select("commune_insee", "ze2020_code")
    stats = SourceStats(
        source_id,
        path.name,
        f"spreadsheet row (sheets {ZE_SHEET} + {COMPOSITION_SHEET})",
        rows_in=zsheet.height + csheet.height,
        rows_out=zones.height + commune_ze.height,
    )
    return CleanResult(
        tables={"zones": zones, "commune_ze2020": commune_ze},
        quarantine={"zones": zones_q, "communes": links_q},
        stats=[stats],
    )


def read_cog_epci(
    path: Path,
    commune_ze2020: pl.DataFrame | None = None,
    *,
    source_id: str = "cog_epci",
    is_synthetic: bool = False,
) -> CleanResult:
    """Read INSEE's *Intercommunalité - Métropole* workbook into ``communes`` and ``epci``.

    ``commune_ze2020`` (from :func:`read_cog_ze2020`) fills ``communes.ze2020_code``; without it
    (or for a commune it lacks) the zone is null. Communes outside any EPCI keep ``epci_siren``
    ``"ZZZZZZZZZ"`` as INSEE publishes it. Quarantine for ``epci`` (sheet ``EPCI``) and
    ``communes`` (sheet ``Composition_communale``).
    """
    path = Path(path)
    book = open_workbook(path)
    esheet = read_xlsx_sheet(
        path, EPCI_SHEET, header_row=COG_HEADER_ROW, expected=EPCI_COLUMNS, workbook=book
    )
    epci_raw = esheet.with_columns(
        pl.col("EPCI").str.strip_chars().alias("epci_siren"),
        clean_text(pl.col("LIBEPCI")).alias("epci_name"),
        clean_text(pl.col("NATURE_EPCI")).alias("epci_nature"),
    )
    valid_epci = pl.col("epci_siren").fill_null("").str.contains(SIREN_RE) | (
        pl.col("epci_siren") == NO_EPCI
    )
    epci, epci_q = partition(
        epci_raw,
        [
            Rule("invalid_epci_siren", ~valid_epci, "EPCI", pl.col("EPCI")),
            Rule(
                "duplicate_epci",
                ~pl.col("epci_siren").is_first_distinct(),
                "EPCI",
                pl.col("epci_siren"),
            ),
            Rule(
                "invalid_n_communes",
                ~_is_int("NB_COM").fill_null(False),
                "NB_COM",
                pl.col("NB_COM"),
            ),
        ],
        source_id=source_id,
        source_file=_label(path, EPCI_SHEET),
        raw_columns=EPCI_COLUMNS,
    )
    epci = conform(
        epci.with_columns(
            _to_int("NB_COM").alias("n_communes"), pl.lit(is_synthetic).alias("is_synthetic")
        ),
        EPCI,
        name="epci",
    )

    csheet = read_xlsx_sheet(
        path,
        COMPOSITION_SHEET,
        header_row=COG_HEADER_ROW,
        expected=COMMUNE_EPCI_COLUMNS,
        workbook=book,
    )
    communes_raw = csheet.with_columns(
        pad_digits(pl.col("CODGEO"), 5).str.to_uppercase().alias("commune_insee"),
        clean_text(pl.col("LIBGEO")).alias("commune_name"),
        pl.col("EPCI").str.strip_chars().alias("epci_siren"),
        pad_digits(pl.col("DEP"), 2).str.to_uppercase().alias("departement_code"),
        pad_digits(pl.col("REG"), 2).alias("region_code"),
    )
    known_epci = epci.get_column("epci_siren").implode()
    communes, communes_q = partition(
        communes_raw,
        [
            Rule(
                "invalid_commune_insee",
                ~pl.col("commune_insee").fill_null("").str.contains(COMMUNE_RE),
                "CODGEO",
                pl.col("CODGEO"),
            ),
            Rule(
                "duplicate_commune",
                ~pl.col("commune_insee").is_first_distinct(),
                "CODGEO",
                pl.col("commune_insee"),
            ),
            Rule(
                "invalid_departement_code",
                ~pl.col("departement_code").fill_null("").str.contains(DEPARTEMENT_RE),
                "DEP",
                pl.col("DEP"),
            ),
            Rule(
                "invalid_region_code",
                ~pl.col("region_code").fill_null("").str.contains(r"^\d{2}$"),
                "REG",
                pl.col("REG"),
            ),
            Rule(
                "unknown_epci",
                ~pl.col("epci_siren").is_in(known_epci).fill_null(False),
                "EPCI",
                pl.col("EPCI"),
            ),
        ],
        source_id=source_id,
        source_file=_label(path, COMPOSITION_SHEET),
        raw_columns=COMMUNE_EPCI_COLUMNS,
    )
    if commune_ze2020 is None:
        communes = communes.with_columns(pl.lit(None, pl.String).alias("ze2020_code"))
    else:
        communes = communes.join(
            commune_ze2020.select("commune_insee", "ze2020_code"),
            on="commune_insee",
            how="left",
            maintain_order="left",
        )
    communes = conform(
        communes.with_columns(pl.lit(is_synthetic).alias("is_synthetic")), COMMUNES, name="communes"
    )
    stats = SourceStats(
        source_id,
        path.name,
        f"spreadsheet row (sheets {EPCI_SHEET} + {COMPOSITION_SHEET})",
        rows_in=esheet.height + csheet.height,
        rows_out=epci.height + communes.height,
    )
    return CleanResult(
        tables={"communes": communes, "epci": epci},
        quarantine={"epci": epci_q, "communes": communes_q},
        stats=[stats],
    )


def read_geography(
    epci_path: Path,
    ze2020_path: Path,
    *,
    is_synthetic: bool = False,
) -> CleanResult:
    """Both COG workbooks: ``communes`` (zone filled), ``epci`` and ``zones``."""
    ze = read_cog_ze2020(ze2020_path, is_synthetic=is_synthetic)
    cog = read_cog_epci(epci_path, ze.tables["commune_ze2020"], is_synthetic=is_synthetic)
    quarantine = {
        "communes": pl.concat([cog.quarantine["communes"], ze.quarantine["communes"]]),
        "epci": cog.quarantine["epci"],
        "zones": ze.quarantine["zones"],
    }
    return CleanResult(
        tables={
            "communes": cog.tables["communes"],
            "epci": cog.tables["epci"],
            "zones": ze.tables["zones"],
        },
        quarantine=quarantine,
        stats=[*cog.stats, *ze.stats],
    )
