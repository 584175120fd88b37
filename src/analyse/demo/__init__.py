"""``analyse demo``: a deterministic SYNTHETIC dataset in the real raw formats.

:func:`write_demo` writes every raw source at ``raw_dir / SOURCE_PATHS[id]`` in the publisher's
exact format (INSEE xlsx with their 5-row title blocks, ANCT GeoJSON, UTF-8-with-BOM typology
CSVs, baromètre CSVs, the MEF project list, an operator export of the fund with its mapping), so
that the same readers and cleaning run on it, plus ``manifest.json`` (``"synthetic": true``, seed,
SHA-256 of every file, PLANTED true effects) and ``SYNTHETIC.md``.

Everything is drawn from ``numpy.random.default_rng((seed, stream))``: the same seed gives
byte-identical files. Names are fictional (``Commune-Démo 01004``); région and département codes
are the real ones. Published headline figures of the fund are matched by construction.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analyse.demo import formats, fund, geography, labour, relance
from analyse.demo.fund import (
    format_fund_extract,
    operator_csv_text,
    write_fund_extract,
    write_mapping,
)
from analyse.demo.geography import NO_EPCI, Geography, Territories
from analyse.errors import ParameterError
from analyse.fetch import describe_file
from analyse.reference import LABEL_PERIOD, REGION_NAMES
from analyse.sources import SOURCE_PATHS, get_source

__all__ = ["DEMO_SOURCE_IDS", "generate_fund_projects", "write_demo", "write_fund_extract"]

#: Sources written by the demo, in manifest order.
DEMO_SOURCE_IDS: tuple[str, ...] = (
    "ti_phase1",
    "ti_phase2",
    "cog_epci",
    "cog_ze2020",
    "typo_densite",
    "typo_centralite",
    "typo_ruralite",
    "unemployment_ze",
    "relance_national",
    "relance_regional",
    "relance_departemental",
    "mef_plan_de_relance",
    "fund_projects",
    "fund_mapping",
    "etalab_communes",
    "etalab_ept",
)
ORIGIN = "analyse demo (synthetic)"
_STREAMS = {
    "geography": 1,
    "territories": 2,
    "typologies": 3,
    "labour": 4,
    "labour_parts": 5,
    "fund": 6,
    "fund_dirty": 7,
    "barometre": 8,
    "mef": 9,
    "placement": 10,
    "etalab": 11,
}


def _rng(seed: int, stream: str) -> np.random.Generator:
    return np.random.default_rng([int(seed), _STREAMS[stream]])


def _build_world(seed: int) -> tuple[Geography, Territories, pl.DataFrame]:
    geo = geography.build_geography(_rng(seed, "geography"))
    terr = geography.build_territories(_rng(seed, "territories"), geo)
    phase1 = geography.phase_communes(geo, terr, 1)
    return geo, terr, phase1


def generate_fund_projects(n: int, seed: int) -> pl.DataFrame:
    """``n`` synthetic fund projects with canonical columns (EUR), calibrated per project to the
    published headlines (aid EUR 573 M, investment EUR 5.4 bn, 27,250 jobs for 1,416 projects).

    Fast enough for benchmarks (1M rows in seconds). ``generate_fund_projects(1416, seed)`` is
    the clean frame behind the demo's operator extract.
    """
    if n < 1:
        raise ParameterError(f"n must be a positive number of projects, got {n}")
    geo, _terr, phase1 = _build_world(seed)
    df, _truth = fund.simulate_projects(
        _rng(seed, "fund"), n, geo.communes, phase1["commune_insee"]
    )
    return df


# ---------------------------------------------------------------------------------------------
# file writers


def _write_territories(raw_dir: Path, terr: Territories) -> None:
    members = terr.members.sort("ti_phase", "ti_id", "position")
    by_ti: dict[tuple[int, str], list[tuple[str, str]]] = {}
    for phase, ti_id, siren, name in members.select(
        "ti_phase", "ti_id", "grouping_siren", "grouping_name"
    ).iter_rows():
        by_ti.setdefault((phase, ti_id), []).append((siren, name))
    f1, f2 = [], []
    for t in terr.territories:
        groups = by_ti[(t["ti_phase"], t["ti_id"])]
        if t["ti_phase"] == 1:
            props = {
                "id_ti": t["ti_id"],
                "lib_ti": t["ti_name"],
                "lib_groupement": ", ".join(n for _, n in groups),
                "siren_groupement": ", ".join(s for s, _ in groups),
            }
            f1.append({"properties": props, "geometry": t["geometry"]})
        else:
            props = {
                "id_territoire": t["ti_id"],
                "lib_territoire": t["ti_name"],
                "liste_geo": "; ".join(f"{n} ({s})" for s, n in groups),
            }
            f2.append({"properties": props, "geometry": t["geometry"]})
    formats.write_text(
        raw_dir / SOURCE_PATHS["ti_phase1"], formats.geojson_text("polygone-4326_ti", f1)
    )
    formats.write_text(raw_dir / SOURCE_PATHS["ti_phase2"], formats.geojson_text("ti_geom", f2))


_ONLINE = "Mise en ligne le 17/03/2023       Géographie au 01/01/2023"
_SOURCE_LINE = (
    "DONNÉES SYNTHÉTIQUES (analyse demo)       Format : Insee, Code officiel géographique"
)


def _insee_sheet(
    wb: Any, name: str, titles: tuple[str, str], labels: list[str], codes: list[str], columns: list
) -> None:
    """A sheet with INSEE's block: title, subtitle, date, source, labels (row 5), codes (row 6)."""
    ws = wb.add_worksheet(name)
    formats.write_rows(ws, 0, [[titles[0]], [titles[1]], [_ONLINE], [_SOURCE_LINE], labels, codes])
    formats.write_columns(ws, 6, columns)


def _variables_sheet(wb: Any, title: str, variables: list[tuple[str, str, str]]) -> None:
    ws = wb.add_worksheet("Variables")
    formats.write_rows(ws, 0, [[title], ["Variables"], [_ONLINE], [_SOURCE_LINE]])
    formats.write_rows(ws, 5, [["VAR_ID", "VAR_LIB", "VAR_LIB_LONG"], *variables])


def _documentation_sheet(wb: Any, title: str, lines: list[str | None]) -> None:
    ws = wb.add_worksheet("Documentation")
    formats.write_rows(
        ws,
        0,
        [[title], ["Documentation"], [_ONLINE], [_SOURCE_LINE], [None], *[[x] for x in lines]],
    )


def _write_cog_epci(raw_dir: Path, geo: Geography) -> None:
    com = geo.communes
    counts = com.group_by("epci_siren").len()
    epci = geo.epci.join(counts, on="epci_siren", how="left").sort("epci_siren")
    n_island = int((com["epci_siren"] == NO_EPCI).sum())
    epci_codes = [*epci["epci_siren"].to_list(), NO_EPCI]
    epci_names = [*epci["epci_name"].to_list(), "Sans objet"]
    name_of = dict(zip(epci_codes, epci_names, strict=True))
    title = "Intercommunalité et Métropole"
    wb = formats.open_workbook(raw_dir / SOURCE_PATHS["cog_epci"])
    _insee_sheet(
        wb,
        "EPCI",
        (title, "France - Liste des intercommunalités"),
        ["EPCI - Métropole", "Libellé de l'EPCI / Métropole", "Nature d'EPCI", "Nombre communes"],
        ["EPCI", "LIBEPCI", "NATURE_EPCI", "NB_COM"],
        [
            epci_codes,
            epci_names,
            [*epci["epci_nature"].to_list(), "ZZ"],
            [*epci["len"].to_list(), n_island],
        ],
    )
    _insee_sheet(
        wb,
        "Composition_communale",
        (title, "France - Composition communale"),
        [
            "Code géographique",
            "Libellé géographique",
            "EPCI - Métropole",
            "Libellé de l'EPCI / Métropole",
            "Département",
            "Région",
        ],  # fmt: skip
        ["CODGEO", "LIBGEO", "EPCI", "LIBEPCI", "DEP", "REG"],
        [
            com["commune_insee"].to_list(),
            com["commune_name"].to_list(),
            com["epci_siren"].to_list(),
            [name_of[s] for s in com["epci_siren"].to_list()],
            com["departement_code"].to_list(),
            com["region_code"].to_list(),
        ],
    )
    _variables_sheet(
        wb,
        title,
        [
            ("CODGEO", "Code géographique", "Code géographique"),
            ("LIBGEO", "Libellé géographique", "Libellé géographique"),
            ("EPCI", "EPCI - Métropole", "Code géographique de l'EPCI ou de la métropole"),
            ("LIBEPCI", "Libellé de l'EPCI / Métropole", "Libellé de l'EPCI ou de la métropole"),
            ("NATURE_EPCI", "Nature d'EPCI", "Nature juridique de l'EPCI"),
            ("NB_COM", "Nombre communes", "Nombre de communes contenues dans l'objet géographique"),
            ("DEP", "Département", "Code géographique du département"),
            ("REG", "Région", "Code géographique de la région"),
        ],
    )
    _documentation_sheet(
        wb,
        title,
        [
            "DONNÉES SYNTHÉTIQUES produites par `analyse demo` : aucun chiffre n'est réel.",
            "Les noms (Commune-Démo, CC Démo...) et les codes des communes sont fictifs ;",
            "les codes des régions et des départements sont les codes Insee réels.",
            None,
            "Les communes insulaires hors intercommunalité portent le code EPCI ZZZZZZZZZ.",
        ],
    )
    wb.close()


def _write_cog_ze(raw_dir: Path, geo: Geography) -> None:
    com = geo.communes
    zones = geo.zones.join(com.group_by("ze2020_code").len(), on="ze2020_code", how="left")
    zones = zones.sort("ze2020_code")
    name_of = dict(zones.select("ze2020_code", "ze2020_name").iter_rows())
    inter = set(zones.filter(pl.col("region_code") == "00")["ze2020_code"].to_list())
    parts = [
        f"{z}-{r}" if z in inter else None
        for z, r in com.select("ze2020_code", "region_code").iter_rows()
    ]
    title = "Zones d'emploi 2020"
    wb = formats.open_workbook(raw_dir / SOURCE_PATHS["cog_ze2020"])
    _insee_sheet(
        wb,
        "ZE2020",
        (title, "France - Liste des zones d'emploi 2020"),
        ["Zone d'emploi 2020", "Libellé zone d'emploi 2020", "Nombre communes"],
        ["ZE2020", "LIBZE2020", "NB_COM"],
        [zones["ze2020_code"].to_list(), zones["ze2020_name"].to_list(), zones["len"].to_list()],
    )
    _insee_sheet(
        wb,
        "Composition_communale",
        (title, "France - Composition communale"),
        [
            "Code géographique communal",
            "Libellé géographique",
            "Zone d'emploi 2020",
            "Libellé zone d'emploi 2020",
            "Partie régionale de la zone d’emploi trans-régionale",
            "Département",
            "Région",
        ],  # fmt: skip
        ["CODGEO", "LIBGEO", "ZE2020", "LIBZE2020", "ZE2020_PARTIE_REG", "DEP", "REG"],
        [
            com["commune_insee"].to_list(),
            com["commune_name"].to_list(),
            com["ze2020_code"].to_list(),
            [name_of[z] for z in com["ze2020_code"].to_list()],
            parts,
            com["departement_code"].to_list(),
            com["region_code"].to_list(),
        ],
    )
    _variables_sheet(
        wb,
        title,
        [
            ("CODGEO", "Code géographique communal", "Code géographique communal"),
            ("LIBGEO", "Libellé géographique", "Libellé géographique communal"),
            ("ZE2020", "Zone d'emploi 2020", "Code géographique de la zone d'emploi 2020"),
            ("LIBZE2020", "Libellé zone d'emploi 2020", "Libellé de la zone d'emploi 2020"),
            (
                "ZE2020_PARTIE_REG",
                "Partie régionale",
                "Partie régionale de la zone trans-régionale",
            ),
            ("NB_COM", "Nombre communes", "Nombre de communes contenues dans l'objet géographique"),
            ("DEP", "Département", "Code géographique du département"),
            ("REG", "Région", "Code géographique de la région"),
        ],
    )
    _documentation_sheet(
        wb,
        title,
        [
            "DONNÉES SYNTHÉTIQUES produites par `analyse demo` : aucun chiffre n'est réel.",
            "Les zones interrégionales sont codées 00XX ; leurs parties régionales RRXX.",
        ],
    )
    wb.close()


DENSITE_LEVELS = (  # from the most rural to the most urban, with their shares
    ("Rural à habitat très dispersé", 0.207),
    ("Rural à habitat dispersé", 0.524),
    ("Bourgs ruraux", 0.145),
    ("Ceintures urbaines", 0.057),
    ("Petites villes", 0.027),
    ("Centres urbains intermédiaires", 0.018),
    ("Grands centres urbains", 0.022),
)
CENTRALITE_LEVELS = (
    ("Communes non centre", 0.690),
    ("Centre local d'équipements et de services", 0.201),
    ("Centre intermédiaire d'équipements et de services", 0.083),
    ("Centre structurant d'équipements et de services", 0.021),
    ("Centre majeur d'équipements et de services", 0.005),
)
CENTRALITE_UNDEFINED = " - undefined"
RURALITE_URBAN = " Hors champ : DOM ou commune urbaine"
RURALITE_CHANGED = " Commune dont le périmètre a changé depuis la réalisation de la typologie"
RURALITE_LEVELS = (
    (" Les ruralités productives agricoles", 0.202),
    (" Les ruralités résidentielles mixtes", 0.169),
    (" Les ruralités résidentielles aisées", 0.168),
    (" Les ruralités productives ouvrières", 0.149),
    (" Les petites polarités mixtes", 0.112),
    (" Les ruralités touristiques à dominante résidentielle", 0.082),
    (" Les petites polarités industrielles et artisanales", 0.065),
    (" Les ruralités touristiques spécialisées", 0.053),
)


def _by_quantile(score: np.ndarray, levels: tuple[tuple[str, float], ...]) -> np.ndarray:
    """Assign ordered levels by quantiles of ``score`` with the given shares."""
    shares = np.array([s for _, s in levels])
    cuts = np.quantile(score, np.cumsum(shares / shares.sum())[:-1])
    return np.array([n for n, _ in levels], dtype=object)[np.searchsorted(cuts, score)]


def _write_typologies(raw_dir: Path, geo: Geography, rng: np.random.Generator) -> None:
    com = geo.communes
    n = com.height
    urban = rng.standard_normal(n)
    densite = _by_quantile(urban, DENSITE_LEVELS)
    centralite = _by_quantile(urban + rng.normal(0, 0.6, size=n), CENTRALITE_LEVELS)
    centralite[rng.random(n) < 0.004] = CENTRALITE_UNDEFINED
    overseas = com["region_code"].is_in(["01", "02", "03", "04", "06"]).to_numpy()
    is_urban = np.isin(densite, [d for d, _ in DENSITE_LEVELS[3:]])
    rural_p = np.array([s for _, s in RURALITE_LEVELS])
    ruralite = rng.choice(
        np.array([r for r, _ in RURALITE_LEVELS], dtype=object), size=n, p=rural_p / rural_p.sum()
    )
    ruralite[is_urban | overseas] = RURALITE_URBAN
    ruralite[rng.random(n) < 0.002] = RURALITE_CHANGED
    # the typologies' commune list is another COG vintage: a few communes missing, a few extra
    keep = rng.random(n) >= 0.003
    codes = com["commune_insee"].to_numpy()[keep]
    names = com["commune_name"].to_numpy()[keep]
    extra_deps = ["01", "38", "49", "50"]
    extra_codes = np.array(
        [f"{d}9{k:02d}" for k, d in enumerate(extra_deps, start=1)], dtype=object
    )
    extra_names = np.array([f"Commune-Démo {c} (fusionnée)" for c in extra_codes], dtype=object)
    all_codes = np.concatenate([codes, extra_codes])
    order = np.argsort(all_codes.astype(str), kind="stable")
    all_names = np.concatenate([names, extra_names])[order]
    all_codes = all_codes[order]
    n_extra = len(extra_codes)
    for source_id, column, values in (
        ("typo_densite", "niveau_densite", densite),
        ("typo_centralite", "niveau_centralite", centralite),
        ("typo_ruralite", "niveau_ruralite", ruralite),
    ):
        level = np.concatenate([values[keep], values[:n_extra]])[order]
        text = formats.csv_text(
            ["insee_com", "lib_com", column], zip(all_codes, all_names, level, strict=True)
        )
        formats.write_text(raw_dir / SOURCE_PATHS[source_id], text, bom=True)


def _libreg(region: str) -> str:
    """INSEE's upper-case, accent-free région label of the unemployment file."""
    import unicodedata

    name = unicodedata.normalize("NFKD", REGION_NAMES[region]).encode("ascii", "ignore").decode()
    return name.upper().replace("-", " ").replace("'", " ")


def _write_unemployment(
    raw_dir: Path, geo: Geography, intensity: pl.DataFrame, seed: int
) -> dict[str, Any]:
    periods, zones, rates = labour.simulate_rates(_rng(seed, "labour"), geo.zones, intensity)
    parts, part_rates = labour.simulate_parts(_rng(seed, "labour_parts"), zones, rates)
    wb = formats.open_workbook(raw_dir / SOURCE_PATHS["unemployment_ze"])
    ws = wb.add_worksheet("Documentation")
    formats.write_rows(
        ws,
        0,
        [
            [
                "Taux de chômage localisés par zone d'emploi, en moyenne trimestrielle, en France, "
                "hors Mayotte et Guyane (données CVS) - DONNÉES SYNTHÉTIQUES"
            ],
            [None],
            [
                "Fichier produit par `analyse demo` au format du fichier Insee : aucun taux n'est réel."
            ],
            [
                f"Le taux de chômage est donné pour les {zones.height} zones d'emploi fictives et les "
                f"{len(parts)} parties régionales des zones interrégionales."
            ],
            ["Un effet du label Territoires d'industrie a été planté (voir SYNTHETIC.md)."],
        ],  # fmt: skip
    )
    ws = wb.add_worksheet("txcho_ze")
    labels = ["Code de la zone d'emploi 2020", "Libellé de la zone d'emploi 2020",
              "Code région 2016", "Libellé région 2016"] + [labour.quarter_label(p) for p in periods]  # fmt: skip
    formats.write_rows(
        ws,
        0,
        [
            [
                "Taux de chômage localisés par zone d'emploi, en moyenne trimestrielle\u00a0: en France "
                "hors Mayotte et Guyane (DONNÉES SYNTHÉTIQUES)"
            ],
            ["Source : analyse demo (données synthétiques au format Insee)."],
            [None],
            [None],
            labels,
            ["ZE2020", "LIBZE2020", "REG", "LIBREG", *periods],
        ],  # fmt: skip
    )
    regs = zones["region_code"].to_list()
    formats.write_rows(
        ws,
        6,
        (
            [code, name, reg, "INTERRÉGIONAL " if reg == "00" else _libreg(reg), *row.tolist()]
            for code, name, reg, row in zip(
                zones["ze2020_code"].to_list(),
                zones["ze2020_name"].to_list(),
                regs,
                rates,
                strict=True,
            )
        ),
    )
    ws = wb.add_worksheet("txcho_parties reg")
    formats.write_rows(
        ws,
        0,
        [
            [
                f"Taux de chômage localisés pour les {len(parts)} parties régionales des zones "
                "d'emploi interrégionales, en moyenne trimestrielle (DONNÉES SYNTHÉTIQUES)"
            ],
            ["Source : analyse demo (données synthétiques au format Insee)."],
            [
                'NB : les zones d\'emploi interrégionales sont codées "00XX" (code ze) et leurs '
                'parties régionales sont codées "RRXX" (code zer) où RR est le code de la région.'
            ],
            ["Les taux des parties régionales sont dérivés de ceux de leur zone (synthétiques)."],
            [None],
            [None],
            [
                "Code de la zone d'emploi interrégionale 2020",
                "Libellé de la zone d'emploi interrégionale 2020",
                *[labour.quarter_label(p) for p in periods],
            ],
            ["ZER2020", "LIBZER2020", *periods],
        ],  # fmt: skip
    )
    formats.write_rows(
        ws, 8, ([c, n, *row.tolist()] for (c, n), row in zip(parts, part_rates, strict=True))
    )
    wb.close()
    inten = dict(zones.select("ze2020_code", "intensity").iter_rows())
    path = labour.effect_path(periods)
    post = [p for p in periods if p >= LABEL_PERIOD]
    return {
        "outcome": "unemployment_rate_pct (zone d'emploi, quarterly)",
        "effect_pp_per_unit_intensity": labour.EFFECT_PP,
        "start_period": LABEL_PERIOD,
        "ramp_quarters": labour.RAMP_QUARTERS,
        "formula": (
            "effect[z, t] = effect_pp_per_unit_intensity * intensity[z] * "
            "min(1, (k + 1) / ramp_quarters), k = quarters since start_period (0 before)"
        ),
        "intensity_definition": (
            "share of the zone's communes (COG ZE2020 composition) whose EPCI is a member "
            "grouping of a phase-1 territory (ti_phase1 GeoJSON, EPCI SIRENs only)"
        ),
        "event_time_effect_per_unit_intensity": {
            p: round(float(v), 6) for p, v in zip(periods, path, strict=True) if p >= LABEL_PERIOD
        },
        "expected_static_did_coefficient": round(
            float(np.mean([v for p, v in zip(periods, path, strict=True) if p >= LABEL_PERIOD])), 6
        ),
        "static_did_note": (
            f"average of the planted path over the {len(post)} post quarters "
            f"({post[0]}..{post[-1]}): the target of a two-way fixed-effects regression of the "
            "rate on intensity x post; parallel trends hold by construction; rounding to 0.1 adds "
            "noise"
        ),
        "zone_intensity": {z: round(float(v), 6) for z, v in sorted(inten.items())},
        "n_zones_published": zones.height,
        "mean_intensity": round(float(np.mean(list(inten.values()))), 6),
    }


# ---------------------------------------------------------------------------------------------
# fund extract with a few dirty rows


def _write_fund(
    raw_dir: Path, geo: Geography, phase1: pl.DataFrame, seed: int
) -> tuple[pl.DataFrame, dict[str, Any]]:
    projects, truth = fund.simulate_projects(
        _rng(seed, "fund"), fund.HEADLINE_PROJECTS, geo.communes, phase1["commune_insee"]
    )
    return projects, _write_fund_files(raw_dir, projects, truth, phase1["commune_insee"], seed)


def _write_fund_files(
    raw_dir: Path, projects: pl.DataFrame, truth: dict[str, Any], ti_communes: pl.Series, seed: int
) -> dict[str, Any]:
    """Write the operator extract (with a few planted dirty rows) and its mapping; return the
    truth completed with what the extract holds."""
    rng = _rng(seed, "fund_dirty")
    strings = format_fund_extract(projects)
    h = fund.OPERATOR_HEADERS
    n = strings.height
    dirty: list[dict[str, Any]] = []
    rows = rng.permutation(n)
    cursor = 0

    def take(k: int, condition: np.ndarray | None = None) -> list[int]:
        nonlocal cursor
        out = []
        while len(out) < k and cursor < n:
            i = int(rows[cursor])
            cursor += 1
            if condition is None or condition[i]:
                out.append(i)
        return out

    cols = {c: strings[c].to_list() for c in strings.columns}
    for i in take(3):  # a SIREN digit changed: the SIREN (and SIRET) fail the Luhn check
        s = cols[h["siren_or_siret"]][i]
        cols[h["siren_or_siret"]][i] = s[:4] + str((int(s[4]) + 1) % 10) + s[5:]
        dirty.append({"kind": "invalid_siren", "column": h["siren_or_siret"], "index": i})
    is_siret = np.array([len(s or "") == 14 for s in cols[h["siren_or_siret"]]], dtype=bool)
    for i in take(1, is_siret):  # only the establishment part (NIC) is wrong: SIREN still valid
        s = cols[h["siren_or_siret"]][i]
        cols[h["siren_or_siret"]][i] = s[:-1] + str((int(s[-1]) + 1) % 10)
        dirty.append({"kind": "invalid_siret_nic", "column": h["siren_or_siret"], "index": i})
    for i, bad in zip(take(3), ("1 2O4,5", "à confirmer", "env. 300"), strict=False):
        cols[h["aid_eur"]][i] = bad
        dirty.append({"kind": "unparsable_amount", "column": h["aid_eur"], "index": i})
    for i in take(3):
        cols[h["commune_insee"]][i] = None
        dirty.append({"kind": "commune_name_only", "column": h["commune_insee"], "index": i})
    low = np.array([(c or "")[:1] == "0" for c in cols[h["commune_insee"]]], dtype=bool)
    for i in take(2, low):
        cols[h["commune_insee"]][i] = cols[h["commune_insee"]][i].lstrip("0")
        dirty.append({"kind": "insee_leading_zero_lost", "column": h["commune_insee"], "index": i})
    dirty_frame = pl.DataFrame(cols, schema={c: pl.String for c in strings.columns})
    dup = take(3)
    out = pl.concat([dirty_frame, dirty_frame[dup]])
    for j, i in enumerate(dup):
        dirty.append({"kind": "duplicate_row", "column": None, "index": i, "copy_index": n + j})
    text = operator_csv_text(out)
    formats.write_text(raw_dir / SOURCE_PATHS["fund_projects"], text, bom=True)
    write_mapping(raw_dir / SOURCE_PATHS["fund_mapping"])
    ids = projects["project_id"].to_list()
    for d in dirty:
        d["project_id"] = ids[d["index"]]
        d["file_line"] = d.pop("copy_index", d["index"]) + 3  # title = line 1, header = line 2
        d.pop("index")
    in_ti = projects["commune_insee"].is_in(ti_communes.implode()).mean()
    truth |= {
        "extract": {
            "n_projects": n,
            "n_data_rows": out.height,
            "title_rows": 1,
            "dirty_rows": sorted(dirty, key=lambda d: d["file_line"]),
            "dirty_note": (
                "invalid_siren, unparsable_amount and duplicate_row rows belong in quarantine; "
                "invalid_siret_nic keeps the project (SIREN valid, SIRET dropped); "
                "commune_name_only (name + département given) and insee_leading_zero_lost "
                "('1234' for '01234') are repairable by the cleaner"
            ),
            "expected_quarantined": sum(
                d["kind"] in ("invalid_siren", "unparsable_amount", "duplicate_row") for d in dirty
            ),
        },
        "share_in_phase1_communes": round(float(in_ti), 6),
    }
    return truth


def _write_etalab(raw_dir: Path, geo: Geography, rng: np.random.Generator) -> None:
    """Etalab's commune list (invented populations, postal codes) and an empty EPT list: the
    synthetic world has no Grand Paris territorial establishments."""
    com = geo.communes
    population = np.round(np.exp(rng.normal(6.3, 1.4, size=com.height))).astype(int)
    rows = [
        {
            "code": code,
            "nom": name,
            "departement": dep,
            "region": reg,
            "type": "commune-actuelle",
            "codesPostaux": [cp],
            "population": int(pop),
        }
        for code, name, dep, reg, cp, pop in zip(
            com["commune_insee"], com["commune_name"], com["departement_code"],
            com["region_code"], com["postal_code"], population, strict=True,
        )
    ]  # fmt: skip
    for source_id, data in (("etalab_communes", rows), ("etalab_ept", [])):
        path = raw_dir / SOURCE_PATHS[source_id]
        formats.write_text(path, json.dumps(data, ensure_ascii=False, separators=(",", ":")))


def _copy_published(raw_dir: Path) -> None:
    """The published figures are facts, not data to invent, and the région outlines are only
    drawn around the invented territories: both are taken from the reference snapshot."""
    from analyse.refdata import materialise_reference

    materialise_reference(raw_dir, ["published_announcements", "published_milestones", "outlines"])


# ---------------------------------------------------------------------------------------------
# manifest


def _vintage(source_id: str, seed: int) -> str:
    return f"synthetic (seed {seed}); format of: {get_source(source_id).vintage}"


def _manifest_entries(raw_dir: Path, source_ids: tuple[str, ...], seed: int) -> list[dict]:
    """Manifest entries of the files the demo wrote, flagged synthetic, with their seed."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    entries = []
    for source_id in source_ids:
        entry = describe_file(raw_dir, source_id, origin=ORIGIN, synthetic=True)
        entry["retrieved_at"] = now
        entry["vintage"] = _vintage(source_id, seed)
        entries.append(entry)
    return entries


def _guard_real_data(raw_dir: Path) -> None:
    """Refuse to write synthetic files over a folder of fetched (real) files."""
    path = raw_dir / "manifest.json"
    if not path.is_file():
        return
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return
    files = manifest.get("files") or []
    real = [f.get("path") for f in files if isinstance(f, dict) and not f.get("synthetic", False)]
    if real:
        raise ParameterError(
            f"{raw_dir} holds real fetched files ({', '.join(map(str, real[:3]))}...): "
            "`analyse demo` will not overwrite them; use --raw-dir to write the demo elsewhere"
        )


def _synthetic_md(seed: int, planted: dict[str, Any], totals: dict[str, Any]) -> str:
    u, f = planted["unemployment"], planted["fund"]
    inv, jobs, extract = f["log_investment_model"], f["jobs_model"], f["extract"]
    lines = [
        "# SYNTHETIC DATA — NOT REAL",
        "",
        f"Every file in this folder was generated by `analyse demo` (seed {seed}).",
        "**No figure, name or identifier here is real.**",
        "Les données de ce dossier sont **synthétiques** : aucun chiffre, nom ou identifiant "
        "n'est réel.",
        "",
        "The files have the exact formats of the real public sources (same sheets, header "
        "blocks, columns, separators, encodings), so that `analyse clean` and the reports run on "
        "them. Names are fictional (`Commune-Démo 01004`, `CC Démo 01-03`); région and "
        "département codes are the real INSEE codes. Every core table built from this folder "
        "carries `is_synthetic = true`.",
        "",
        "## Planted true effects (what an estimator should recover)",
        "",
        "### Unemployment rate by zone d'emploi (`emploi_panels/`)",
        "",
        f"- Effect on `unemployment_rate_pct`: **{u['effect_pp_per_unit_intensity']} percentage "
        f"point x intensity**, from {u['start_period']}, ramping in over "
        f"{u['ramp_quarters']} quarters (x0.25, x0.5, x0.75, then x1).",
        f"- Intensity: {u['intensity_definition']}; mean {u['mean_intensity']:.3f} over "
        f"{u['n_zones_published']} published zones.",
        "- A static two-way fixed-effects coefficient (intensity x post, whole post period) "
        f"should be close to **{u['expected_static_did_coefficient']:.4f} pp**.",
        "- Labelled zones have higher unemployment levels (selection on levels); trends are "
        "parallel by construction.",
        "",
        "### Fund projects (`fund/projects.csv`, operator-export format with `fund/mapping.yml`)",
        "",
        f"- log(investment_eur) = {inv['intercept']:.4f} + **{inv['elasticity_aid']} x "
        f"log(aid_eur)** + firm-size effect + sector effect + N(0, {inv['noise_sd']}); "
        f"{inv['n_clipped_to_max_aid_share']} projects clipped so that aid <= "
        f"{inv['max_aid_share']:.0%} of investment.",
        f"- jobs_created ~ Poisson(exp({jobs['intercept']:.4f} + "
        f"**{jobs['elasticity_investment']} x log(investment_eur)**) x Gamma frailty of shape "
        f"{jobs['gamma_shape']}).",
        f"- Totals of the {extract['n_projects']} projects: aid EUR "
        f"{totals['aid_eur'] / 1e6:,.1f} M, investment EUR {totals['investment_eur'] / 1e9:,.3f} "
        f"bn, {totals['jobs_created']:,} jobs created (published headlines: 1,416 projects, "
        "EUR 573 M, EUR 5.4 bn, 27,250 jobs).",
        f"- {f['share_in_phase1_communes']:.1%} of projects are in communes of phase-1 "
        "territories.",
        f"- {len(extract['dirty_rows'])} dirty rows are planted in the extract "
        f"({extract['expected_quarantined']} belong in quarantine); see `manifest.json`, "
        "`planted_effects.fund.extract`.",
        "",
        "All true values, per-zone intensities included, are in `manifest.json` under "
        "`planted_effects`.",
    ]
    return "\n".join(lines) + "\n"


def write_demo(raw_dir: Path, *, seed: int = 2018, world: str = "real") -> None:
    """Write the demo dataset into ``raw_dir``.

    ``world="real"`` (default): the public reference files are real (materialised from the
    shipped snapshot when missing) and only what is not public is synthetic: the fund's operator
    extract and the MEF project list, placed on real communes (:mod:`analyse.demo.placement`).
    ``world="synthetic"``: every file is invented (names, communes, unemployment with a planted
    label effect), for validating estimators against a known truth. Same seed, same bytes.
    """
    if world == "real":
        write_demo_on_reference(Path(raw_dir), seed=seed)
        return
    if world != "synthetic":
        raise ParameterError(f"world must be 'real' or 'synthetic', got {world!r}")
    raw_dir = Path(raw_dir)
    _guard_real_data(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    geo, terr, phase1 = _build_world(seed)
    intensity = labour.zone_intensity(geo.communes, phase1["commune_insee"])

    _write_territories(raw_dir, terr)
    _write_cog_epci(raw_dir, geo)
    _write_cog_ze(raw_dir, geo)
    _write_typologies(raw_dir, geo, _rng(seed, "typologies"))
    unemployment = _write_unemployment(raw_dir, geo, intensity, seed)
    national, regional, departemental, relance_totals = relance.build_barometre(
        _rng(seed, "barometre"), geo
    )
    formats.write_text(raw_dir / SOURCE_PATHS["relance_national"], national)
    formats.write_text(raw_dir / SOURCE_PATHS["relance_regional"], regional)
    formats.write_text(raw_dir / SOURCE_PATHS["relance_departemental"], departemental)
    projects, fund_truth = _write_fund(raw_dir, geo, phase1, seed)
    mef = relance.build_mef_list(_rng(seed, "mef"), geo.communes, projects)
    formats.write_text(raw_dir / SOURCE_PATHS["mef_plan_de_relance"], mef)
    _write_etalab(raw_dir, geo, _rng(seed, "etalab"))
    _copy_published(raw_dir)

    now = datetime.now(UTC).isoformat(timespec="seconds")
    files = _manifest_entries(raw_dir, DEMO_SOURCE_IDS, seed)
    members = terr.members
    epci_members = members.filter(pl.col("grouping_kind") == "epci")
    p1 = set(epci_members.filter(pl.col("ti_phase") == 1)["grouping_siren"].to_list())
    p2 = set(epci_members.filter(pl.col("ti_phase") == 2)["grouping_siren"].to_list())
    planted = {"unemployment": unemployment, "fund": fund_truth}
    manifest = {
        "created_at": now,
        "synthetic": True,
        "seed": int(seed),
        "generator": "analyse.demo.write_demo",
        "files": files,
        "planted_effects": planted,
        "summary": {
            "communes": geo.communes.height,
            "epci": geo.epci.height,
            "zones_ze2020": geo.zones.height,
            "departements": geo.departements.height,
            "territories_phase1": sum(1 for t in terr.territories if t["ti_phase"] == 1),
            "territories_phase2": sum(1 for t in terr.territories if t["ti_phase"] == 2),
            "links_phase1": int((members["ti_phase"] == 1).sum()),
            "links_phase2": int((members["ti_phase"] == 2).sum()),
            "non_epci_links": int((members["grouping_kind"] != "epci").sum()),
            "phase1_epci_also_in_phase2": round(len(p1 & p2) / max(1, len(p1)), 4),
            "relance_firms": relance_totals,
        },
    }
    (raw_dir / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    (raw_dir / "SYNTHETIC.md").write_text(
        _synthetic_md(seed, planted, fund_truth["totals"]), encoding="utf-8"
    )


# ---------------------------------------------------------------------------------------------
# default demo: real public files, synthetic fund projects

#: Sources the default demo writes (everything else is the real reference data).
DEMO_FUND_SOURCE_IDS: tuple[str, ...] = ("fund_projects", "fund_mapping", "mef_plan_de_relance")


def _guard_operator_files(raw_dir: Path) -> None:
    """Refuse to overwrite an operator extract or MEF list that the manifest does not flag
    synthetic (the evaluator's real files)."""
    from analyse.clean.pipeline import read_manifest, synthetic_source_ids

    manifest = read_manifest(raw_dir)
    synthetic = synthetic_source_ids(manifest)
    for source_id in DEMO_FUND_SOURCE_IDS:
        path = raw_dir / SOURCE_PATHS[source_id]
        if path.is_file() and source_id not in synthetic:
            raise ParameterError(
                f"{path} is not a file written by `analyse demo` (the manifest does not flag it "
                "synthetic): the demo will not overwrite an operator's file; use --raw-dir"
            )


def _reference_tables(raw_dir: Path) -> dict[str, pl.DataFrame]:
    """The real reference files of ``raw_dir`` read by the project's cleaners. Files of a
    previous fully synthetic world (flagged synthetic in the manifest) are replaced by the real
    ones first; real files already there (fetched, maybe a newer vintage) are kept."""
    from analyse.clean.pipeline import build_core_tables, required_sources
    from analyse.refdata import materialise_reference

    materialise_reference(raw_dir, [s for s in required_sources() if s not in DEMO_FUND_SOURCE_IDS])
    tables, _quarantine, _quality = build_core_tables(raw_dir)
    return tables


def _departement_names(tables: dict[str, pl.DataFrame]) -> dict[str, str]:
    dep = tables["relance_counts"].filter(pl.col("scale") == "departement")
    return dict(dep.select("geo_code", "geo_name").unique("geo_code").iter_rows())


def _merge_manifest(raw_dir: Path, entries: list[dict[str, Any]], extra: dict[str, Any]) -> None:
    from analyse.clean.pipeline import read_manifest
    from analyse.files import write_text_atomic

    manifest = read_manifest(raw_dir)
    ids = {e["source_id"] for e in entries}
    kept = [f for f in manifest.get("files") or [] if f.get("source_id") not in ids]
    manifest.update(extra)
    manifest.pop("summary", None)  # of a previous fully synthetic world, if any
    manifest["synthetic"] = False  # only the files flagged one by one are synthetic
    manifest["files"] = kept + entries
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    write_text_atomic(raw_dir / "manifest.json", text)


def write_demo_on_reference(raw_dir: Path, *, seed: int = 2018) -> dict[str, Any]:
    """Synthetic fund extract and MEF list on the real reference geography; returns the truth."""
    from analyse.demo import placement

    raw_dir = Path(raw_dir)
    _guard_operator_files(raw_dir)
    raw_dir.mkdir(parents=True, exist_ok=True)
    tables = _reference_tables(raw_dir)
    world = placement.load_real_world(raw_dir, tables)
    n = fund.HEADLINE_PROJECTS
    where = placement.place_projects(_rng(seed, "placement"), world, n)
    projects, truth = fund.simulate_projects(
        _rng(seed, "fund"),
        n,
        world.communes,
        pl.Series([], dtype=pl.String),
        placement=where,
        aid_targets=placement.AID_TARGETS_EUR,
        date_plan=placement.date_plan(raw_dir),
    )
    ti1 = world.communes.filter(pl.col("in_ti1"))["commune_insee"]
    truth = _write_fund_files(raw_dir, projects, truth, ti1, seed)
    truth["calibration"] = {
        "projects_by_region": placement.PROJECT_TARGETS,
        "aid_by_region_eur": placement.AID_TARGETS_EUR,
        "share_in_ti_target": placement.SHARE_IN_TI,
        "sources": "headline: communiqué of 11 Oct 2021; régions: Le Moniteur (Oct 2021); "
        "share in TI: Cour des comptes (Nov 2024); placement: baromètre France Relance counts",
    }
    names = _departement_names(tables)
    mef = relance.build_mef_list(
        _rng(seed, "mef"),
        world.communes,
        projects,
        name_departement=lambda code: names.get(code, code),
    )
    formats.write_text(raw_dir / SOURCE_PATHS["mef_plan_de_relance"], mef)
    entries = _manifest_entries(raw_dir, DEMO_FUND_SOURCE_IDS, seed)
    extra = {"seed": int(seed), "generator": "analyse.demo.write_demo_on_reference"}
    extra["planted_effects"] = {"fund": truth}
    _merge_manifest(raw_dir, entries, extra)
    (raw_dir / "SYNTHETIC.md").write_text(_fund_only_md(seed, truth), encoding="utf-8")
    return truth


def _fund_only_md(seed: int, truth: dict[str, Any]) -> str:
    inv, jobs, extract = truth["log_investment_model"], truth["jobs_model"], truth["extract"]
    totals = truth["totals"]
    lines = [
        "# Synthetic files in this folder",
        "",
        f"`analyse demo` (seed {seed}) wrote **only** these files, which are SYNTHETIC:",
        "",
        "- `fund/projects.csv` and `fund/mapping.yml`: an operator extract of the acceleration "
        "fund in a realistic export layout (the real per-project extract is not public);",
        "- `plan_de_relance/plan-de-relance.csv`: a MEF project list in the publisher's columns.",
        "",
        "Fichiers synthétiques : l'extrait des projets du fonds et la liste MEF. Tout le reste de "
        "ce dossier est réel (périmètres ANCT, COG et chômage INSEE, baromètre France Relance, "
        "typologies ANCT, populations Etalab/INSEE).",
        "",
        "Every other file is a real public file (materialised from the reference snapshot in "
        "`data/reference` or fetched). Projects sit on real communes: régions and départements "
        "follow the baromètre's counts of supported industrial firms, with the published figures "
        "of Nouvelle-Aquitaine and Île-de-France matched, and "
        f"{truth['share_in_phase1_communes']:.1%} of projects in phase-1 Territoires d'industrie "
        "(Cour des comptes: over two thirds). Firm names and SIREN are invented.",
        "",
        "## Planted relations (what the association models should recover)",
        "",
        f"- log(investment_eur) = {inv['intercept']:.4f} + **{inv['elasticity_aid']} x "
        f"log(aid_eur)** + firm-size effect + sector effect + N(0, {inv['noise_sd']}).",
        f"- jobs_created ~ Poisson(exp({jobs['intercept']:.4f} + "
        f"**{jobs['elasticity_investment']} x log(investment_eur)**) x Gamma frailty).",
        f"- Totals of the {extract['n_projects']} projects: aid EUR "
        f"{totals['aid_eur'] / 1e6:,.1f} M, investment EUR {totals['investment_eur'] / 1e9:,.3f} "
        f"bn, {totals['jobs_created']:,} jobs created.",
        f"- {len(extract['dirty_rows'])} dirty rows are planted in the extract "
        f"({extract['expected_quarantined']} belong in quarantine); see `manifest.json`.",
    ]
    return "\n".join(lines) + "\n"
