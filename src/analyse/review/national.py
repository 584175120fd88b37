"""Sections of the national review (each displays its tables and figures in page order)."""

from __future__ import annotations

import polars as pl

from analyse.review import causal, fund, public, summary
from analyse.review.page import Page
from analyse.review.page import render_key_messages as _box

INTERVAL_STUDY = "interval_study.csv"


def _display(html_text: str) -> None:
    from IPython.display import HTML, display

    if html_text:
        display(HTML(html_text))


def render_key_messages(page: Page) -> str:
    """The national "Ce qu'il faut retenir" box."""
    return _box(
        summary.messages(
            summary.fund_message(page, {}, "France"),
            summary.in_ti_message(page, 1),
            causal.headline_message(causal_results(page)),
            summary.ranking_message(page) if page.has_fund_extract else None,
            summary.public_message(page),
            page=page,
        )
    )


def show_fund_overview(page: Page) -> None:
    """Headline table and reconciliation (extract), or the public figures (no extract)."""
    if not page.has_fund_extract:
        _display(
            "<p>Aucun extrait par projet du fonds n'a été fourni : les ratios d'investissement "
            "et d'emplois par euro d'aide, leurs intervalles et leurs répartitions ne peuvent pas "
            "être calculés. Cette section présente ce qui est public.</p>"
        )
        _display(public.render_barometre_regions(page))
        _display(public.render_mef_shares(page))
        _display(fund.render_reconciliation(page))
        return
    _display(f"<p>{fund.describe_scope(page, {}, 'France')}</p>")
    _display(fund.render_headline(page, {}, caption="Chiffres clés des projets lauréats"))
    _display(
        "<p>Les chiffres annoncés officiellement sont des déclarations <em>ex ante</em>, "
        "arrêtées à des dates différentes et avec des définitions d'emploi différentes. Ils ne "
        "servent jamais d'entrée aux estimations : le tableau suivant les met en regard de nos "
        "agrégats et explique les écarts par les définitions.</p>"
    )
    _display(fund.render_reconciliation(page))
    _display(public.render_barometre_regions(page))


def _reference(page: Page, measure: str) -> tuple[str, float | None, str]:
    cell = fund.cells_of(page).get({}, measure)
    if cell is None or cell.is_masked:
        return ("France", None, "n.d.")
    return ("France", cell.shown, cell.printed)


def show_breakdowns(page: Page) -> None:
    """By région (with links to their pages), sector and firm size."""
    if not page.has_fund_extract:
        _display("<p class='analyse-note'>Section non publiée sans extrait par projet.</p>")
        return
    regions = fund.breakdown(page, ["region_code"])
    links = [page.href(f"regions/{code}") for code in regions["region_code"]]
    for measure, title in (
        (fund.HEADLINE_METRIC, "Investissement annoncé par euro d'aide, par région"),
        ("jobs_created_per_meur_aid", "Emplois à créer (déclarés) par million d'euros d'aide, par région"),
    ):  # fmt: skip
        fund.show_breakdown_chart(
            page, regions, measure, title, reference=_reference(page, measure)
        )
    _display(
        fund.render_breakdown_table(
            page,
            regions,
            "Région",
            "Aide, investissement et emplois déclarés par région",
            links=links,
        )  # fmt: skip
    )
    for dim, header in (("sector", "Secteur"), ("firm_size", "Taille d'entreprise")):
        frame = fund.breakdown(page, [dim])
        fund.show_breakdown_chart(
            page,
            frame,
            fund.HEADLINE_METRIC,
            f"Investissement annoncé par euro d'aide, par {header.lower()}",
            reference=_reference(page, fund.HEADLINE_METRIC),
        )
        _display(
            fund.render_breakdown_table(
                page,
                frame,
                header,
                f"Aide, investissement et emplois déclarés par {header.lower()}",
            )
        )


def show_territories(page: Page, *, phase: int) -> None:
    """Inside / outside the territories of each phase, and the map of territories."""
    if not page.has_fund_extract:
        _display("<p class='analyse-note'>Section non publiée sans extrait par projet.</p>")
        return
    for p in (1, 2):
        frame = fund.breakdown(page, [f"in_ti_p{p}"])
        _display(
            fund.render_breakdown_table(
                page,
                frame,
                "Localisation",
                f"Projets dans et hors des Territoires d'industrie (périmètre de la phase {p})",
            )
        )
    _display(
        "<p class='analyse-note'>Comparaison descriptive : les projets situés dans les "
        "territoires diffèrent des autres par leur secteur, leur taille et leur région ; l'écart "
        "de ratio n'est pas un effet du label.</p>"
    )
    from analyse.review import maps

    maps.show_national_map(page, phase=phase)


def show_sensitivity_and_models(page: Page) -> None:
    """Sensitivity variants and association models (extract only)."""
    if not page.has_fund_extract:
        _display("<p class='analyse-note'>Section non publiée sans extrait par projet.</p>")
        return
    _display(fund.render_sensitivity(page))
    _display(fund.render_models(page))


def causal_results(page: Page) -> dict[str, pl.DataFrame]:
    """The label counterfactual's frames of the bundle (``causal_<name>`` -> ``<name>``)."""
    names = page.figures.manifest.get("frames", [])
    return {n.removeprefix("causal_"): page.figures[n] for n in names if n.startswith("causal_")}


def show_counterfactual(page: Page) -> None:
    """The label's effect on unemployment: event study, diagnostics, DiD table, sensitivity."""
    causal.show_counterfactual(page, causal_results(page))


def _interval_study() -> pl.DataFrame | None:
    from importlib import resources

    path = resources.files("analyse.estimate") / INTERVAL_STUDY
    if not path.is_file():
        return None
    return pl.read_csv(path.read_bytes())


def render_methodology(page: Page) -> str:
    """How the figures are made: data, ratios, intervals (with the Monte Carlo table), secrecy,
    unemployment, and the causal decision rule."""
    from analyse.review.methodology import render_methodology as render

    return render(page, _interval_study())
