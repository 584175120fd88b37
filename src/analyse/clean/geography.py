"""INSEE geography (COG 2023): communes -> EPCI -> département -> région, and zones d'emploi 2020;
population légale and Grand Paris EPTs from Etalab's découpage administratif (COG 2025).

Both INSEE workbooks have a 5-row title block; variable codes are on spreadsheet row 6 and data
start on row 7. Codes are read as strings (leading zeros kept; codes stored as numbers are
left-padded). Quarantine rows name the file as ``<file>#<sheet>`` and the spreadsheet row.

Etalab's ``communes.json`` and ``ept.json`` (npm ``@etalab/decoupage-administratif`` 6.0.0)
follow the COG 2025, two years after the project's COG 2023: communes are matched on their code
(:func:`add_population`, :func:`commune_2025`), and what does not match is reported in
``quality.json`` rather than quarantined (the 2023 tables stay complete).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl

from analyse.clean._readers import (
    COMMUNE_RE,
    DEPARTEMENT_RE,
    SIREN_RE,
    CleanResult,
    SourceStats,
    check_file,
    clean_text,
    decode_utf8,
    open_workbook,
    pad_digits,
    read_xlsx_sheet,
)
from analyse.errors import InputFileError
from analyse.quarantine import ROW_COL, Rule, partition
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
        communes.with_columns(
            pl.lit(None, pl.Int64).alias("population"),  # see add_population
            pl.lit(is_synthetic).alias("is_synthetic"),
        ),
        COMMUNES,
        name="communes",
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


# --------------------------------------------------------------------------------------------
# Etalab découpage administratif (COG 2025): population légale and Grand Paris EPTs
# --------------------------------------------------------------------------------------------

#: Record types of Etalab's communes.json.
ETALAB_COMMUNE_TYPES = (
    "commune-actuelle",
    "commune-deleguee",
    "commune-associee",
    "arrondissement-municipal",
)
_ETALAB_RAW = ("code", "nom", "type", "departement", "region", "population")


def _read_json_array(path: Path, what: str) -> list[Any]:
    """A JSON file holding an array; InputFileError naming the line of a syntax error."""
    path = check_file(path)
    try:
        doc = json.loads(decode_utf8(path))
    except json.JSONDecodeError as exc:
        raise InputFileError(
            path, f"{what} (JSON text)", row=exc.lineno, found=f"{exc.msg} at column {exc.colno}"
        ) from exc
    if not isinstance(doc, list):
        raise InputFileError(path, f"{what}: a JSON array", found=type(doc).__name__)
    return doc


def _text_of(value: Any) -> str | None:
    return None if value is None else str(value)


def _etalab_commune_columns(records: list[Any]) -> dict[str, list[Any]]:
    """The records of communes.json as columns of text (``_problem`` for non-objects)."""
    columns: dict[str, list[Any]] = {
        k: []
        for k in (ROW_COL, *_ETALAB_RAW, "_population_ok", "_parent", "former_codes", "_problem")
    }
    empty: dict[str, Any] = {}
    for i, record in enumerate(records, start=1):
        ok = isinstance(record, dict)
        r = record if ok else empty
        population = r.get("population")
        kind = _text_of(r.get("type"))
        former = r.get("anciensCodes")
        columns[ROW_COL].append(i)
        for k in ("code", "nom", "departement", "region"):
            columns[k].append(_text_of(r.get(k)))
        columns["type"].append(kind)
        columns["population"].append(_text_of(population))
        columns["_population_ok"].append(
            population is None
            or (
                isinstance(population, int) and not isinstance(population, bool) and population >= 0
            )
        )
        parent = "chefLieu" if kind in ("commune-deleguee", "commune-associee") else "commune"
        columns["_parent"].append(_text_of(r.get(parent)))
        columns["former_codes"].append([str(c) for c in former] if isinstance(former, list) else [])
        columns["_problem"].append(None if ok else type(record).__name__)
    return columns


def read_etalab_communes(path: Path, *, source_id: str = "etalab_communes") -> CleanResult:
    """Etalab's ``communes.json`` (COG 2025) -> table ``etalab_communes``.

    Columns ``commune_insee``, ``commune_name``, ``commune_type`` (one of
    :data:`ETALAB_COMMUNE_TYPES`), ``departement_code``, ``region_code``, ``parent_insee`` (the
    2025 commune a commune déléguée or associée, or a municipal arrondissement, belongs to;
    the commune itself for a commune), ``former_codes`` (``anciensCodes``: codes the commune
    had before a merger or a change) and ``population`` (Int64, population légale; null for
    communes déléguées/associées and the uninhabited COM). Unit: JSON record; quarantine
    (``communes``): ``invalid_record``, ``invalid_commune_insee``, ``unknown_type``,
    ``invalid_population``, ``duplicate_record`` (same code and type as an earlier record).
    """
    path = Path(path)
    records = _read_json_array(path, "an array of communes")
    schema = {
        ROW_COL: pl.Int64,
        **dict.fromkeys(_ETALAB_RAW, pl.String),
        "_population_ok": pl.Boolean,
        "_parent": pl.String,
        "former_codes": pl.List(pl.String),
        "_problem": pl.String,
    }
    raw = pl.DataFrame(_etalab_commune_columns(records), schema=schema)
    kept, quarantined = partition(
        raw,
        [
            Rule("invalid_record", pl.col("_problem").is_not_null(), None, pl.col("_problem")),
            Rule(
                "invalid_commune_insee",
                ~pl.col("code").fill_null("").str.contains(COMMUNE_RE),
                "code",
                pl.col("code"),
            ),
            Rule(
                "unknown_type",
                ~pl.col("type").is_in(list(ETALAB_COMMUNE_TYPES)).fill_null(False),
                "type",
                pl.col("type"),
            ),
            Rule(
                "invalid_population", ~pl.col("_population_ok"), "population", pl.col("population")
            ),
            Rule(
                "duplicate_record",
                ~pl.struct("code", "type").is_first_distinct(),
                "code",
                pl.format("{} {}", pl.col("code"), pl.col("type")),
            ),
        ],
        source_id=source_id,
        source_file=path.name,
        raw_columns=_ETALAB_RAW,
    )
    table = kept.select(
        pl.col("code").alias("commune_insee"),
        clean_text(pl.col("nom")).alias("commune_name"),
        pl.col("type").alias("commune_type"),
        pl.col("departement").alias("departement_code"),
        pl.col("region").alias("region_code"),
        pl.when(pl.col("type") == "commune-actuelle")
        .then(pl.col("code"))
        .otherwise(pl.col("_parent"))
        .alias("parent_insee"),
        "former_codes",
        pl.col("population").cast(pl.Int64),
    )
    stats = SourceStats(source_id, path.name, "JSON record", raw.height, table.height)
    return CleanResult({"etalab_communes": table}, {"communes": quarantined}, [stats])


def _ept_member_rows(i: int, record: Any) -> list[dict[str, Any]]:
    """The member communes of one EPT record (one row with ``_problem`` when there are none)."""
    base: dict[str, Any] = {ROW_COL: i, "_member": 0, "code": None, "nom": None}
    if not isinstance(record, dict):
        return [{**base, "_problem": f"not an object ({type(record).__name__})"}]
    base |= {"code": _text_of(record.get("code")), "nom": _text_of(record.get("nom"))}
    members = record.get("membres")
    if not isinstance(members, list) or not members:
        return [{**base, "_problem": "no 'membres' list"}]
    rows = []
    for k, member in enumerate(members, start=1):
        member = member if isinstance(member, dict) else {}
        rows.append(
            {
                **base,
                "_member": k,
                "member_code": _text_of(member.get("code")),
                "member_nom": _text_of(member.get("nom")),
            }
        )
    return rows


def read_etalab_ept(path: Path, *, source_id: str = "etalab_ept") -> CleanResult:
    """Etalab's ``ept.json`` -> table ``ept_members`` (``ept_siren``, ``ept_name``,
    ``commune_insee``, ``commune_name``: the COG 2025 member communes of each Grand Paris EPT).

    Unit: EPT x member commune (an EPT without a member list counts as one). Quarantine
    (``territory_members``): ``invalid_record``, ``invalid_ept_siren``, ``invalid_member``
    (member without a commune code), ``duplicate_member``.
    """
    path = Path(path)
    records = _read_json_array(path, "an array of EPT")
    schema = {
        ROW_COL: pl.Int64,
        "_member": pl.Int64,
        "code": pl.String,
        "nom": pl.String,
        "member_code": pl.String,
        "member_nom": pl.String,
        "_problem": pl.String,
    }
    rows = [row for i, r in enumerate(records, start=1) for row in _ept_member_rows(i, r)]
    raw = pl.DataFrame(rows, schema=schema)
    kept, quarantined = partition(
        raw,
        [
            Rule("invalid_record", pl.col("_problem").is_not_null(), None, pl.col("_problem")),
            Rule(
                "invalid_ept_siren",
                ~pl.col("code").fill_null("").str.contains(SIREN_RE),
                "code",
                pl.col("code"),
            ),
            Rule(
                "invalid_member",
                ~pl.col("member_code").fill_null("").str.contains(COMMUNE_RE),
                "membres",
                pl.format("member {}: code '{}'", pl.col("_member"), pl.col("member_code")),
            ),
            Rule(
                "duplicate_member",
                ~pl.struct("code", "member_code").is_first_distinct(),
                "membres",
                pl.col("member_code"),
            ),
        ],
        source_id=source_id,
        source_file=path.name,
        raw_columns=("code", "nom", "member_code", "member_nom"),
    )
    table = kept.select(
        pl.col("code").alias("ept_siren"),
        clean_text(pl.col("nom")).alias("ept_name"),
        pl.col("member_code").alias("commune_insee"),
        clean_text(pl.col("member_nom")).alias("commune_name"),
    )
    stats = SourceStats(source_id, path.name, "EPT x member commune", raw.height, table.height)
    return CleanResult({"ept_members": table}, {"territory_members": quarantined}, [stats])


def commune_2025(communes: pl.DataFrame, etalab: pl.DataFrame) -> pl.DataFrame:
    """``commune_insee`` (COG 2023) -> ``commune_2025``: the 2025 commune that holds it.

    In order: the code is still a commune's; it is a commune déléguée or associée (or a
    municipal arrondissement) of a 2025 commune; it is among a 2025 commune's former codes.
    Null when none applies.
    """
    actual = etalab.filter(pl.col("commune_type") == "commune-actuelle")
    candidates = pl.concat(
        [
            actual.select(
                "commune_insee",
                pl.col("commune_insee").alias("commune_2025"),
                pl.lit(0).alias("_k"),
            ),
            etalab.filter(pl.col("commune_type") != "commune-actuelle").select(
                "commune_insee", pl.col("parent_insee").alias("commune_2025"), pl.lit(1).alias("_k")
            ),
            actual.select(
                pl.col("former_codes").alias("commune_insee"),
                pl.col("commune_insee").alias("commune_2025"),
                pl.lit(2).alias("_k"),
            ).explode("commune_insee"),
        ]
    )
    best = (
        candidates.drop_nulls()
        .sort("_k", maintain_order=True)
        .unique(subset=["commune_insee"], keep="first", maintain_order=True)
        .drop("_k")
    )
    return communes.select("commune_insee").join(
        best, on="commune_insee", how="left", maintain_order="left"
    )


def add_population(
    communes: pl.DataFrame, etalab: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """``communes`` with ``population`` from Etalab (COG 2025) matched on the commune code,
    and the coverage for ``quality.json``.

    A COG 2023 code that is a 2025 commune gets that commune's population légale (which counts
    the communes it absorbed since 2023, if any: ``grown_since_2023``); a code absorbed since
    (now a commune déléguée) gets null (``not_communes_in_2025``, codes listed). Nothing is
    quarantined: the COG 2023 tables stay as they are.
    """
    pop = (
        etalab.filter(pl.col("commune_type") == "commune-actuelle")
        .select("commune_insee", pl.col("population").alias("_population"))
        .unique(subset=["commune_insee"], keep="first")
    )
    out = (
        communes.join(pop, on="commune_insee", how="left", maintain_order="left")
        .with_columns(pl.col("_population").alias("population"))
        .drop("_population")
    )
    mapped = commune_2025(communes, etalab)
    absorbed = mapped.filter(
        pl.col("commune_2025").is_not_null() & (pl.col("commune_2025") != pl.col("commune_insee"))
    )
    matched = out.filter(pl.col("population").is_not_null())
    grown = matched.filter(
        pl.col("commune_insee").is_in(absorbed.get_column("commune_2025").implode())
    )
    missing = out.filter(pl.col("population").is_null()).get_column("commune_insee").sort()
    coverage = {
        "source": "etalab_communes (population légale, COG 2025) matched on commune_insee (COG 2023)",
        "communes": out.height,
        "with_population": matched.height,
        "not_communes_in_2025": missing.len(),
        "not_communes_in_2025_codes": missing.to_list(),
        "grown_since_2023": grown.height,
        "population_total": int(matched.get_column("population").sum() or 0),
    }
    return conform(out, COMMUNES, name="communes"), coverage


def ept_communes(
    ept_members: pl.DataFrame, communes: pl.DataFrame, etalab: pl.DataFrame
) -> tuple[pl.DataFrame, dict[str, Any]]:
    """The COG 2023 communes of each EPT (``ept_siren``, ``commune_insee``) and the coverage.

    Members are COG 2025 communes: a COG 2023 commune belongs to an EPT when the 2025 commune
    holding it (:func:`commune_2025`: itself, or the commune that absorbed it, e.g.
    Pierrefitte-sur-Seine in Saint-Denis in 2025) is a member.
    """
    mapped = commune_2025(communes, etalab).drop_nulls()
    members = ept_members.select("ept_siren", pl.col("commune_insee").alias("commune_2025"))
    out = (
        members.join(mapped, on="commune_2025", how="inner", maintain_order="left")
        .select("ept_siren", "commune_insee")
        .unique(maintain_order=True)
    )
    unmatched = members.join(mapped, on="commune_2025", how="anti")
    coverage = {
        "ept": members.get_column("ept_siren").n_unique(),
        "member_communes_2025": members.height,
        "communes_2023": out.height,
        "members_without_cog_2023_commune": unmatched.get_column("commune_2025").to_list(),
    }
    return out, coverage
