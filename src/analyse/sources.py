"""Registry of every raw source: publisher, title, official address, licence, format, columns,
reader and vintage, and where the file lives under ``data/raw``.

Ids and ``path`` values are a contract shared by ``fetch``, ``demo`` and ``clean``: change them
only together.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """One raw file as published."""

    id: str
    path: str  # relative to data/raw
    publisher: str
    title: str
    url: str | None  # official download address (None: not downloadable, e.g. operator extract)
    licence: str
    format: str  # csv, xlsx, geojson, zip member...
    columns: tuple[str, ...]  # expected columns (or GeoJSON properties)
    reader: str  # dotted name of the function in analyse.clean that parses it
    vintage: str
    required: bool = True  # False: optional input (operator extract, alternative formats)
    sheet: str | None = None
    archive_member: str | None = None  # file to extract when ``url`` is a zip
    notes: str = ""
    extra: dict[str, str] = field(default_factory=dict)


# Filled in by the sources/fetch work; ids and paths below are fixed.
SOURCE_PATHS: dict[str, str] = {
    "ti_phase1": "territoires_industrie/phase1_2018-2022_superposeur-V2/polygone-4326_ti.geojson",
    "ti_phase2": "territoires_industrie/wave2_2023_superposeur-anct/ti_geom.geojson",
    "cog_epci": "geo_cog/Intercommunalite_Metropole_au_01-01-2023.xlsx",
    "cog_ze2020": "geo_cog/ZE2020_au_01-01-2023.xlsx",
    "typo_densite": "geo_cog/densite.csv",
    "typo_centralite": "geo_cog/centralite.csv",
    "typo_ruralite": "geo_cog/ruralite.csv",
    "unemployment_ze": "emploi_panels/chomage-zone-t1-2003-t3-2023.xlsx",
    "relance_national": "france_relance/barometre-resultats-relance-emploi-economie-detail-national.csv",
    "relance_regional": "france_relance/barometre-resultats-relance-emploi-economie-detail-regional.csv",
    "relance_departemental": (
        "france_relance/barometre-resultats-relance-emploi-economie-synthese-departemental.csv"
    ),
    "mef_plan_de_relance": "plan_de_relance/plan-de-relance.csv",
    "fund_projects": "fund/projects.csv",
    "fund_mapping": "fund/mapping.yml",
}
