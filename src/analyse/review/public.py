"""Sections built from public data only: the baromètre's supported industrial firms, the
territories' coverage of communes and population, and the MEF laureate list when provided."""

from __future__ import annotations

import polars as pl

from analyse import formatting as fmt
from analyse.reference import REGION_NAMES
from analyse.review.page import Page

SOURCE_BAROMETRE = (
    "Source : DITP / Etalab, baromètre des résultats de l'action publique (relance, emploi, "
    "économie), indicateur « entreprises industrielles bénéficiaires des aides à "
    "l'investissement de France Relance » ; calculs analyse."
)
CHAMP_BAROMETRE = (
    "entreprises industrielles (dont PME) bénéficiaires des aides à l'investissement de France "
    "Relance, toutes mesures confondues (pas seulement le fonds d'accélération), comptées par "
    "territoire ; valeur la plus récente publiée"
)
SOURCE_COVERAGE = (
    "Source : ANCT, périmètres des Territoires d'industrie ; INSEE, COG 2023 et populations "
    "légales (via Etalab) ; calculs analyse."
)


def _pct(share: float | None) -> str:
    return fmt.NOT_AVAILABLE if share is None else fmt.format_pct(100 * share, 0)


def render_barometre_regions(page: Page, region_code: str | None = None) -> str:
    """Supported industrial firms by région (or the départements of one région)."""
    if region_code is None:
        frame = page.figures["public_barometre_regions"]
        label, codes = "Région", frame["region_code"].to_list()
        names = [REGION_NAMES.get(c, n) for c, n in zip(codes, frame["geo_name"], strict=True)]
    else:
        frame = page.figures["public_barometre_departements"]
        dep = page.core("communes").filter(pl.col("region_code") == region_code)
        frame = frame.filter(
            pl.col("departement_code").is_in(dep["departement_code"].unique().implode())
        )
        label, names = "Département", frame["geo_name"].to_list()
    if frame.height == 0:
        return "<p class='analyse-note'>Le baromètre ne publie pas cet indicateur ici.</p>"
    table = pl.DataFrame(
        {
            label: names,
            "Entreprises bénéficiaires": [fmt.format_int(v) for v in frame["value"]],
            "Au": [fmt.format_date_fr(d) for d in frame["date"]],
        }
    )
    return page.table(
        table,
        f"Entreprises industrielles aidées par France Relance, par {label.lower()}",
        source=SOURCE_BAROMETRE,
        champ=CHAMP_BAROMETRE,
        note=(
            "Données publiques réelles. Une entreprise aidée dans plusieurs territoires est "
            "comptée dans chacun : les régions ne s'additionnent pas exactement au total national."
        ),
    )


def render_coverage(page: Page, region_code: str | None = None) -> str:
    """Share of communes and of the population inside a territory, by phase."""
    cov = page.figures["public_ti_coverage"]
    cov = cov.filter(
        pl.col("region_code").is_null()
        if region_code is None
        else pl.col("region_code") == region_code
    ).sort("phase")
    table = pl.DataFrame(
        {
            "Périmètre": [
                f"Phase {p} ({'2018-2022' if p == 1 else '2023-2027'})" for p in cov["phase"]
            ],
            "Communes": [fmt.format_int(n) for n in cov["n_communes"]],
            "Part des communes dans un territoire": [_pct(v) for v in cov["share_communes"]],
            "Part de la population dans un territoire": [_pct(v) for v in cov["share_population"]],
        }
    )
    where = "France" if region_code is None else REGION_NAMES.get(region_code, region_code)
    return page.table(
        table,
        f"Place des Territoires d'industrie : {where}",
        source=SOURCE_COVERAGE,
        champ="communes du COG 2023 ; population légale (millésime de la liste Etalab)",
    )


def render_mef_shares(page: Page) -> str:
    """Laureates of the fund in the MEF list inside a territory, by région, against the share of
    communes and population there (descriptive)."""
    if "public_mef_shares" not in page.figures:
        return (
            "<p class='analyse-note'>La liste des lauréats publiée par le ministère de l'Économie "
            "(jeu « plan-de-relance ») n'a pas été fournie : placez-la dans "
            "<code>data/raw/plan_de_relance/plan-de-relance.csv</code> pour comparer la part des "
            "lauréats situés dans un Territoire d'industrie à celle des communes et de la "
            "population.</p>"
        )
    shares = page.figures["public_mef_shares"].filter(pl.col("phase") == 1)
    cov = page.figures["public_ti_coverage"].filter(pl.col("phase") == 1)
    joined = shares.join(cov, on=["region_code", "phase"], how="left", nulls_equal=True)
    synthetic = bool(shares["is_synthetic"].any()) if "is_synthetic" in shares.columns else False
    table = pl.DataFrame(
        {
            "Région": [REGION_NAMES.get(c, c) if c else "France" for c in joined["region_code"]],
            "Lauréats du fonds": [fmt.format_int(n) for n in joined["n_laureates"]],
            "Part dans un territoire (phase 1)": [_pct(v) for v in joined["share_in_ti"]],
            "Part des communes": [_pct(v) for v in joined["share_communes"]],
            "Part de la population": [_pct(v) for v in joined["share_population"]],
        }
    )
    note = "Comparaison descriptive : elle ne dit pas si le label a attiré les projets."
    if synthetic:
        note += " LISTE SYNTHÉTIQUE (démonstration) : ces parts ne décrivent pas la réalité."
    return page.table(
        table,
        "Lauréats du fonds dans la liste publique du ministère : part située dans un Territoire d'industrie",
        source=(
            "Source : ministère de l'Économie, liste des projets du plan de relance "
            "(« plan-de-relance ») ; ANCT ; INSEE ; calculs analyse."
        ),
        champ=(
            "lauréats de la mesure « Soutien à l'investissement industriel dans les "
            "territoires » de la liste publique"
        ),
        note=note,
    )
