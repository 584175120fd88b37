"""Synthetic France Relance files: the baromètre CSVs (national, regional, départemental) and the
MEF ``plan-de-relance`` project list, in the publishers' exact columns.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import date

import numpy as np
import polars as pl

from analyse.demo.formats import csv_text, float_text, make_luhn_codes
from analyse.demo.geography import Geography, departement_name
from analyse.reference import REGION_NAMES, RELANCE_FIRMS_INDICATOR
from analyse.sources import get_source

#: Columns as published (the registry is the one place that declares them).
NATIONAL_COLUMNS = get_source("relance_national").columns
REGIONAL_COLUMNS = get_source("relance_regional").columns
DEPARTEMENTAL_COLUMNS = get_source("relance_departemental").columns
MEF_COLUMNS = (
    "entreprise", "type_entreprise", "siren", "volet_relance", "mesure", "nom_departement",
    "nom_commune", "code_postal", "coordonnees_gps", "description_projet", "mesure_light",
    "mise_a_jour", "filiere", "tonnes_equivalent_co2_pour_les_projets_decarbonation",
    "code_departement", "nom_region",
)  # fmt: skip

#: (mesure, indicateur, unite) of the indicators written.
INDICATORS: dict[str, tuple[str, str, str]] = {
    RELANCE_FIRMS_INDICATOR: (
        "Aide de France Relance aux entreprises",
        "Nombre d’entreprises industrielles (dont PME) bénéficiaires des aides à "
        "l'investissement de France Relance",
        "entreprises industrielles",
    ),
    "nb-entreprises-cheaque-numerique": (
        "Numérisation des petites et moyennes entreprises",
        "Nombre d'entreprises ayant bénéficié d'un chèque numérique de 500€",
        "entreprises",
    ),
    "nb-formation-pic": (
        "Renforcer les compétences de la nation - plan d'investissement dans les compétences",
        "Nombre d’entrées en formation pour les publics éloignés de l’emploi (jeunes, demandeurs "
        "d’emploi faiblement qualifiés, actifs en insertion, …)",
        "formations",
    ),
}
#: Regional sum / national count of the fund-firms indicator (firms counted once per territory).
REGIONAL_OVERCOUNT = 1.074


def month_ends(first: date, last: date) -> list[date]:
    """Last day of every month from ``first``'s month to ``last``'s month."""
    out = []
    y, m = first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(date(y, m, calendar.monthrange(y, m)[1]))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _relance_path(dates: list[date]) -> np.ndarray:
    """Cumulated share of the final count: 0 before Nov 2020, S-curve, 10 % drop in Feb 2022."""
    i = np.array([(d.year - 2020) * 12 + d.month - 11 for d in dates], dtype=float)
    raw = 1.0 / (1.0 + np.exp(-(i - 8.0) / 2.2))
    raw = np.where(i < 0, 0.0, raw)
    drop = np.where(i >= 15, 0.90, 1.0)  # a deduplication in Feb 2022 lowers the count
    final = (1.0 / (1.0 + np.exp(-(25 - 8.0) / 2.2))) * 0.90
    return raw * drop / final


def build_barometre(
    rng: np.random.Generator, geo: Geography
) -> tuple[str, str, str, dict[str, float]]:
    """Text of the national, regional and départemental CSVs, and the fund-firms totals."""
    deps = geo.departements
    n_com = geo.communes.group_by("departement_code").len()
    deps = deps.join(n_com, on="departement_code", how="left").sort("departement_code")
    dep_codes = deps["departement_code"].to_list()
    dep_region = deps["region_code"].to_list()
    weights = deps["len"].to_numpy() * rng.lognormal(0.0, 0.3, size=deps.height)
    weights = weights / weights.sum()
    regions = list(REGION_NAMES)

    national_rows: list[list] = []
    regional_rows: list[list] = []
    dep_rows: dict[str, list[list]] = {d: [] for d in dep_codes}

    # ---- the fund-firms indicator
    mesure, indicateur, unite = INDICATORS[RELANCE_FIRMS_INDICATOR]
    national_final = int(round(rng.normal(9000, 150)))
    dep_final = rng.multinomial(int(round(national_final * REGIONAL_OVERCOUNT)), weights)
    reg_final = {
        r: int(sum(v for v, rr in zip(dep_final, dep_region, strict=True) if rr == r))
        for r in regions
    }
    nat_dates = month_ends(date(2020, 1, 1), date(2022, 12, 1))
    path = _relance_path(nat_dates)
    for d, f in zip(nat_dates, path, strict=True):
        national_rows.append(
            [mesure, indicateur, RELANCE_FIRMS_INDICATOR, "national", d.isoformat(),
             float_text(round(national_final * f)), unite]
        )  # fmt: skip
    reg_dates = month_ends(date(2020, 7, 1), date(2022, 12, 1))
    reg_path = _relance_path(reg_dates)
    for r in regions:
        for d, f in zip(reg_dates, reg_path, strict=True):
            regional_rows.append(
                [mesure, indicateur, RELANCE_FIRMS_INDICATOR, r, REGION_NAMES[r], d.isoformat(),
                 float_text(round(reg_final[r] * f)), unite]
            )  # fmt: skip
    for code, value in zip(dep_codes, dep_final, strict=True):
        dep_rows[code].append(
            [mesure, indicateur, RELANCE_FIRMS_INDICATOR, code, departement_name(code),
             float_text(value), "2022-12-31", "0.0", "2020-10-31", float_text(value),
             None, None, None, None, unite]
        )  # fmt: skip

    # ---- chèque numérique: monthly, with targets at département level
    mesure, indicateur, unite = INDICATORS["nb-entreprises-cheaque-numerique"]
    cn_dates = month_ends(date(2021, 2, 1), date(2022, 11, 1))
    cn_share = np.linspace(0.08, 1.0, len(cn_dates)) ** 0.7
    cn_final_dep = rng.multinomial(int(rng.normal(118_000, 2000)), weights)
    cn_final_reg = {
        r: int(sum(v for v, rr in zip(cn_final_dep, dep_region, strict=True) if rr == r))
        for r in regions
    }
    cn_nat = sum(cn_final_reg.values())
    for d, f in zip(cn_dates, cn_share, strict=True):
        national_rows.append(
            [mesure, indicateur, "nb-entreprises-cheaque-numerique", "national", d.isoformat(),
             float_text(round(cn_nat * f)), unite]
        )  # fmt: skip
    for r in regions:
        for d, f in zip(cn_dates, cn_share, strict=True):
            regional_rows.append(
                [mesure, indicateur, "nb-entreprises-cheaque-numerique", r, REGION_NAMES[r],
                 d.isoformat(), float_text(round(cn_final_reg[r] * f)), unite]
            )  # fmt: skip
    for code, value in zip(dep_codes, cn_final_dep, strict=True):
        target = int(round(value * rng.uniform(0.9, 1.3)))
        pct = min(100.0, float(round(100 * value / max(target, 1))))
        dep_rows[code].append(
            [mesure, indicateur, "nb-entreprises-cheaque-numerique", code, departement_name(code),
             float_text(value), "2022-11-30", "0.0", "2020-09-30", float_text(value), None,
             float_text(target), float_text(pct), "2022-12-31", unite]
        )  # fmt: skip

    # ---- PIC trainings: a few dates, national and regional only (label holds commas)
    mesure, indicateur, unite = INDICATORS["nb-formation-pic"]
    pic_dates = [
        "2017-12-31", "2018-12-31", "2019-06-30", "2019-12-31", "2020-06-30", "2020-12-31",
        "2021-06-30", "2021-12-31", "2022-03-31", "2022-06-30", "2022-12-31",
    ]  # fmt: skip
    pic_share = np.linspace(0.1, 1.0, len(pic_dates))
    reg_w = np.array(
        [sum(w for w, rr in zip(weights, dep_region, strict=True) if rr == r) for r in regions]
    )
    pic_reg = rng.multinomial(int(rng.normal(1_300_000, 20_000)), reg_w / reg_w.sum())
    for d, f in zip(pic_dates, pic_share, strict=True):
        national_rows.append(
            [mesure, indicateur, "nb-formation-pic", "national", d,
             float_text(round(pic_reg.sum() * f)), unite]
        )  # fmt: skip
    for r, final in zip(regions, pic_reg, strict=True):
        for d, f in zip(pic_dates, pic_share, strict=True):
            regional_rows.append(
                [mesure, indicateur, "nb-formation-pic", r, REGION_NAMES[r], d,
                 float_text(round(final * f)), unite]
            )  # fmt: skip

    national = csv_text(NATIONAL_COLUMNS, national_rows)
    regional = csv_text(REGIONAL_COLUMNS, regional_rows)
    departemental = csv_text(
        DEPARTEMENTAL_COLUMNS, [r for code in dep_codes for r in dep_rows[code]]
    )
    totals = {
        "national_2022_12_31": float(national_final),
        "regional_sum_2022_12_31": float(sum(reg_final.values())),
        "departemental_sum_2022_12_31": float(dep_final.sum()),
    }
    return national, regional, departemental, totals


# ---------------------------------------------------------------------------------------------
# MEF plan-de-relance list

#: mesure -> (mesure_light, volet_relance, share of rows)
MEF_MEASURES: dict[str, tuple[str, str, float]] = {
    "Soutien à l'investissement industriel dans les territoires": (
        "Projets territoriaux", "Indépendance / Compétitivité", 0.38),
    "(Re)localisation dans les secteurs critiques": (
        "Relocalisation", "Indépendance / Compétitivité", 0.17),
    "Modernisation de la filière automobile": ("Automobile", "Verdissement", 0.16),
    "Modernisation de la filière aéronautique": ("Aéronautique", "Verdissement", 0.14),
    "Fonds de soutien aux investissements du secteur nucléaire": (
        "Nucléaire", "Indépendance / Compétitivité", 0.06),
    "Efficacité énergétique et évolution des procédés dans l'industrie": (
        "Efficacité énergétique", "Verdissement", 0.03),
    "Soutien à la chaleur bas carbone": ("Soutien à la chaleur bas carbone", "Verdissement", 0.03),
    "AMI Capacity - COVID-19": ("Santé - Capacités Covid", "Indépendance / Compétitivité", 0.015),
    "Renforcement des compétences": ("Nucléaire - Compétences", "Indépendance / Compétitivité", 0.015),
}  # fmt: skip
MEF_TERRITORIAL = "Soutien à l'investissement industriel dans les territoires"
FILIERES = ("Agroalimentaire", "Industrie", "Automobile", "Aéronautique", "Santé", "Chimie",
            "Électronique", "Nucléaire", "Métallurgie")  # fmt: skip
DESCRIPTIONS = (
    "Modernisation de la ligne de production (projet fictif)",
    "Extension du site industriel et acquisition de machines; projet fictif",
    "Relocalisation d'une production &amp; création d'un atelier (projet fictif)",
    "Robotisation et numérisation de l'usine (projet fictif)",
    "Décarbonation du procédé de cuisson (projet fictif)",
)
SIZE_TO_TYPE = {"TPE": "TPE / PME", "PME": "TPE / PME", "ETI": "ETI", "GE": "GE"}


def _mef_dep_code(dep: str) -> str:
    """``code_departement`` as the export writes it: a float artefact for numeric codes."""
    return dep if not dep.isdigit() else f"{int(dep)}.0"


def build_mef_list(
    rng: np.random.Generator,
    communes: pl.DataFrame,
    projects: pl.DataFrame,
    n_rows: int = 400,
    *,
    name_departement: Callable[[str], str] = departement_name,
) -> str:
    """Text of ``plan-de-relance.csv`` (``;``): territorial rows reuse fund projects' firms.

    ``communes`` needs ``commune_insee``, ``commune_name``, ``departement_code``,
    ``region_code``, ``postal_code`` and, for GPS coordinates, ``lon`` / ``lat`` (left blank
    when absent, as in some rows of the real export)."""
    measures = list(MEF_MEASURES)
    shares = np.array([MEF_MEASURES[m][2] for m in measures])
    measure = rng.choice(np.array(measures, dtype=object), size=n_rows, p=shares / shares.sum())
    n_terr = int((measure == MEF_TERRITORIAL).sum())
    fund_rows = rng.choice(projects.height, size=min(n_terr, projects.height), replace=False)
    fund = projects[np.sort(fund_rows).tolist()]
    com = communes
    com_idx = rng.integers(0, com.height, size=n_rows)
    has_gps = "lat" in com.columns and "lon" in com.columns
    region_upper = {r: n.upper() for r, n in REGION_NAMES.items()}
    start = date(2021, 1, 15).toordinal()
    rows: list[list] = []
    k_fund = 0
    for i in range(n_rows):
        m = str(measure[i])
        light, volet, _ = MEF_MEASURES[m]
        if m == MEF_TERRITORIAL and k_fund < fund.height:
            p = fund.row(k_fund, named=True)
            k_fund += 1
            c = com.filter(pl.col("commune_insee") == p["commune_insee"]).row(0, named=True)
            firm, ftype, siren = p["firm_name"], SIZE_TO_TYPE[p["firm_size"]], p["siren_or_siret"]
            filiere = p["sector"]
        else:
            c = com.row(int(com_idx[i]), named=True)
            firm = f"Société-Démo {int(rng.integers(0, 1_000_000)):06d}"
            ftype = str(
                rng.choice(
                    np.array(
                        [
                            "TPE / PME",
                            "ETI",
                            "GE",
                            "Association",
                            "Organisme de recherche",
                            "EPIC",
                            "",
                        ]
                    ),
                    p=[0.60, 0.17, 0.18, 0.02, 0.01, 0.01, 0.01],
                )
            )
            base = [int(d) for d in f"{int(rng.integers(30_000_000, 100_000_000)):08d}"]
            siren9 = make_luhn_codes(np.array([base]))[0]
            if rng.random() < 0.5:
                nic = [int(d) for d in f"{int(rng.integers(1, 40)):04d}"]
                siren = make_luhn_codes(np.array([[int(d) for d in siren9] + nic]))[0]
            else:
                siren = siren9
            if rng.random() < 0.02:
                siren = ""
            filiere = str(rng.choice(np.array(FILIERES)))
        gps = ""
        if has_gps:
            gps = f"{c['lat'] + rng.normal(0, 0.01):.5f}, {c['lon'] + rng.normal(0, 0.01):.5f}"
        if rng.random() < 0.02:
            gps = ""
        co2 = None
        if light in ("Efficacité énergétique", "Soutien à la chaleur bas carbone"):
            co2 = float_text(round(float(rng.lognormal(7.0, 1.2)), 1))
        updated = date.fromordinal(start + int(rng.integers(0, 449))).isoformat()
        rows.append(
            [
                firm, ftype, siren, volet, m,
                name_departement(c["departement_code"]).upper(), c["commune_name"].upper(),
                c["postal_code"], gps, str(rng.choice(np.array(DESCRIPTIONS))), light, updated,
                filiere, co2, _mef_dep_code(c["departement_code"]), region_upper[c["region_code"]],
            ]
        )  # fmt: skip
    # quirks of the real export: a région spelled differently, overseas collectivities
    hdf = [r for r in rows if r[15] == region_upper["32"]]
    if hdf:
        hdf[0][15] = REGION_NAMES["32"]  # "Hauts-de-France" next to "HAUTS-DE-FRANCE"
    for j in range(2):
        rows.append(
            [
                f"Société-Démo Océanie {j + 1}", "TPE / PME", "", "Indépendance / Compétitivité",
                "(Re)localisation dans les secteurs critiques", "NOUVELLE-CALÉDONIE",
                f"NOUMÉA-DÉMO {j + 1}", "98800", "-22.27000, 166.45000", DESCRIPTIONS[0],
                "Relocalisation", "2022-03-01", "Industrie", None, "988.0", "NOUVELLE-CALÉDONIE",
            ]
        )  # fmt: skip
    return csv_text(MEF_COLUMNS, rows, delimiter=";")
