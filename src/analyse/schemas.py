"""Declared schemas of the core tables written by ``analyse clean`` to ``data/processed``.

Every core table is ``core_<name>.parquet``; rows that could not be cleaned go to
``quarantine_<name>.parquet`` with :data:`QUARANTINE` columns. Codes are strings and name their
system (``commune_insee``, ``epci_siren``, ``departement_code``, ``region_code``, ``ze2020_code``,
``ti_id``); amounts and counts carry their unit (``aid_eur``, ``jobs_created``). Every core table
carries ``is_synthetic`` so that demo data can never pass for real data downstream.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from analyse.errors import InputFileError

Schema = Mapping[str, pl.DataType | type[pl.DataType]]

#: commune -> EPCI -> département -> région, and commune -> zone d'emploi 2020 (INSEE COG).
COMMUNES: Schema = {
    "commune_insee": pl.String,
    "commune_name": pl.String,
    "epci_siren": pl.String,  # "ZZZZZZZZZ" for communes outside any EPCI (islands)
    "departement_code": pl.String,
    "region_code": pl.String,
    "ze2020_code": pl.String,
    # population légale (INSEE, via Etalab's découpage administratif, COG 2025) matched on the
    # commune code; null for a COG 2023 code that is no longer a commune in 2025 (merged since);
    # for a commune that absorbed others since 2023 it counts the 2025 perimeter (quality.json
    # lists both cases)
    "population": pl.Int64,
    "is_synthetic": pl.Boolean,
}

#: EPCI of the COG (one row per EPCI).
EPCI: Schema = {
    "epci_siren": pl.String,
    "epci_name": pl.String,
    "epci_nature": pl.String,  # CC, CA, CU, ME, METLYON, ZZ
    "n_communes": pl.Int32,
    "is_synthetic": pl.Boolean,
}

#: Zones d'emploi 2020.
ZONES: Schema = {
    "ze2020_code": pl.String,
    "ze2020_name": pl.String,
    "n_communes": pl.Int32,
    "is_synthetic": pl.Boolean,
}

#: Territoires d'industrie, one row per territory and phase (ids are not stable across phases).
TERRITORIES: Schema = {
    "ti_id": pl.String,  # "ti-RRnn", RR = INSEE région code
    "ti_phase": pl.Int8,  # 1 = 2018-2022, 2 = 2023-2027
    "ti_name": pl.String,
    "region_code": pl.String,
    "n_groupings": pl.Int32,  # member groupings as published
    "n_epci_resolved": pl.Int32,  # of which resolved (a COG EPCI or a Grand Paris EPT)
    "is_synthetic": pl.Boolean,
}

#: Territory -> member grouping resolved to a COG EPCI, or to an établissement public
#: territorial of the Métropole du Grand Paris whose communes are known (unresolved ones are
#: quarantined).
TERRITORY_MEMBERS: Schema = {
    "ti_id": pl.String,
    "ti_phase": pl.Int8,
    "epci_siren": pl.String,  # SIREN of the EPCI (or of the EPT)
    "grouping_name": pl.String,  # as published by ANCT
    "grouping_type": pl.String,  # "EPCI" (à fiscalité propre, in the COG) or "EPT"
    "is_synthetic": pl.Boolean,
}

#: Commune -> territory, per phase (communes outside every territory of a phase are absent):
#: through the commune's EPCI, through an EPT member of the territory, or listed directly.
COMMUNE_TERRITORIES: Schema = {
    "commune_insee": pl.String,
    "ti_phase": pl.Int8,
    "ti_id": pl.String,
    "is_synthetic": pl.Boolean,
}

#: Territory perimeters for maps: one GeoJSON geometry (simplified, WGS84) per territory and phase.
TERRITORY_SHAPES: Schema = {
    "ti_id": pl.String,
    "ti_phase": pl.Int8,
    "ti_name": pl.String,
    "region_code": pl.String,
    "geometry_geojson": pl.String,
    "is_synthetic": pl.Boolean,
}

#: ANCT commune typologies (covariates for matching).
COMMUNE_TYPOLOGIES: Schema = {
    "commune_insee": pl.String,
    "densite_level": pl.String,
    "centralite_level": pl.String,
    "ruralite_level": pl.String,
    "is_synthetic": pl.Boolean,
}

#: INSEE quarterly localised unemployment rate by zone d'emploi 2020 (long format).
LABOUR_PANEL: Schema = {
    "ze2020_code": pl.String,
    "ze2020_name": pl.String,
    "region_code": pl.String,
    "period": pl.String,  # "2018-T4"
    "year": pl.Int16,
    "quarter": pl.Int8,
    "quarter_index": pl.Int32,  # year * 4 + quarter - 1, consecutive
    "unemployment_rate_pct": pl.Float64,
    "is_synthetic": pl.Boolean,
}

#: France Relance baromètre, all indicators, all scales (long format).
RELANCE_COUNTS: Schema = {
    "scale": pl.String,  # national, region, departement
    "geo_code": pl.String,  # null for national
    "geo_name": pl.String,
    "indicator_id": pl.String,  # the fund's firms: "nb-entreprises-industrielles-agricoles"
    "indicator": pl.String,
    "date": pl.Date,
    "value": pl.Float64,
    "unit": pl.String,
    "is_synthetic": pl.Boolean,
}

#: Acceleration-fund projects (operator extract via canonical schema + mapping), attributed.
PROJECTS: Schema = {
    "project_id": pl.String,
    "firm_name": pl.String,
    "siren": pl.String,  # 9 digits, Luhn-valid
    "siret": pl.String,  # 14 digits when given, else null
    "decision_date": pl.Date,
    "decision_year": pl.Int16,
    "sector": pl.String,
    "firm_size": pl.String,  # TPE, PME, ETI, GE
    "aid_eur": pl.Float64,
    "investment_eur": pl.Float64,  # total announced investment, aid included
    "jobs_created": pl.Float64,
    "jobs_maintained": pl.Float64,
    "aid_paid_eur": pl.Float64,  # realised, null when not reported
    "investment_realised_eur": pl.Float64,  # realised, null when not reported
    "commune_insee": pl.String,
    "epci_siren": pl.String,
    "departement_code": pl.String,
    "region_code": pl.String,
    "ze2020_code": pl.String,
    "ti_id_phase1": pl.String,  # null = outside every phase-1 territory
    "ti_id_phase2": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "is_synthetic": pl.Boolean,
}

#: MEF ``plan-de-relance`` public project list (no amounts), attributed.
RELANCE_PROJECTS: Schema = {
    "project_id": pl.String,
    "firm_name": pl.String,
    "firm_type": pl.String,
    "siren": pl.String,
    "siret": pl.String,
    "volet": pl.String,
    "measure": pl.String,
    "measure_short": pl.String,
    "sector": pl.String,  # filiere
    "description": pl.String,
    "updated_on": pl.Date,
    "co2_t": pl.Float64,
    "postal_code": pl.String,
    "latitude": pl.Float64,
    "longitude": pl.Float64,
    "commune_insee": pl.String,
    "epci_siren": pl.String,
    "departement_code": pl.String,
    "region_code": pl.String,
    "ti_id_phase1": pl.String,
    "ti_id_phase2": pl.String,
    "source_file": pl.String,
    "source_row": pl.Int64,
    "is_synthetic": pl.Boolean,
}

#: Rows that could not be cleaned, with a machine-readable reason. One file per core table.
QUARANTINE: Schema = {
    "source_id": pl.String,  # registry id of the source
    "source_file": pl.String,
    "source_row": pl.Int64,  # 1-based line/row number in the file as a person sees it
    "column": pl.String,  # offending column, null when the row as a whole is at fault
    "reason": pl.String,  # snake_case code, e.g. "invalid_siren", "unknown_commune"
    "detail": pl.String,  # human-readable detail (the offending value...)
    "raw_json": pl.String,  # the raw row as JSON, so nothing is lost
}

#: Every core table by name: written as ``core_<name>.parquet``.
CORE_TABLES: dict[str, Schema] = {
    "communes": COMMUNES,
    "epci": EPCI,
    "zones": ZONES,
    "territories": TERRITORIES,
    "territory_members": TERRITORY_MEMBERS,
    "commune_territories": COMMUNE_TERRITORIES,
    "territory_shapes": TERRITORY_SHAPES,
    "commune_typologies": COMMUNE_TYPOLOGIES,
    "labour_panel": LABOUR_PANEL,
    "relance_counts": RELANCE_COUNTS,
    "projects": PROJECTS,
    "relance_projects": RELANCE_PROJECTS,
}


def empty_frame(schema: Schema) -> pl.DataFrame:
    """An empty frame with the given schema."""
    return pl.DataFrame(schema=dict(schema))


def conform(df: pl.DataFrame, schema: Schema, *, name: str) -> pl.DataFrame:
    """Select and cast ``df`` to ``schema`` (column order included); fail if a column is missing."""
    missing = [c for c in schema if c not in df.columns]
    if missing:
        raise InputFileError(
            f"core table {name!r}",
            f"columns {list(schema)}",
            found=f"missing {missing}",
        )
    return df.select(pl.col(c).cast(t, strict=True) for c, t in schema.items())


def validate(df: pl.DataFrame, schema: Schema, *, name: str) -> None:
    """Raise if ``df`` does not have exactly the declared columns and dtypes, in order."""
    expected = list(schema.items())
    got = list(df.schema.items())
    if [c for c, _ in got] != [c for c, _ in expected] or any(
        g != e for (_, g), (_, e) in zip(got, expected, strict=True)
    ):
        raise InputFileError(
            f"core table {name!r}",
            f"schema {[(c, str(t)) for c, t in expected]}",
            found=str([(c, str(t)) for c, t in got]),
        )
