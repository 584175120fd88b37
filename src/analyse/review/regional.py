"""Sections of a région's page: centred on its phase-2 territories (the current perimeter), its
phase-1 territories shown as history, sectors, unemployment and public figures."""

from __future__ import annotations

import polars as pl

from analyse.reference import REGION_NAMES
from analyse.review import fund, maps, public, summary, trends
from analyse.review.page import Page, render_key_messages


def _display(html_text: str) -> None:
    from IPython.display import HTML, display

    if html_text:
        display(HTML(html_text))


def region_name(code: str) -> str:
    return REGION_NAMES.get(code, code)


def render_key_messages_region(page: Page, code: str) -> str:
    name = region_name(code)
    return render_key_messages(
        summary.messages(
            summary.fund_message(page, {"region_code": code}, name),
            summary.in_ti_message(page, 2, {"region_code": code}),
            trends.describe_last_rate(page, f"region_code={code}", name),
            summary.public_message(page, code),
            page=page,
        )
    )


def show_overview(page: Page, code: str) -> None:
    """The région against France (extract) or the public figures of the région."""
    name = region_name(code)
    if not page.has_fund_extract:
        _display(
            "<p>Aucun extrait par projet du fonds n'a été fourni : cette page présente les "
            "données publiques de la région.</p>"
        )
        _display(public.render_barometre_regions(page, code))
        return
    _display(f"<p>{fund.describe_scope(page, {'region_code': code}, name)}</p>")
    _display(
        fund.render_scope_comparison(
            page,
            [(name, {"region_code": code}), ("France", {})],
            f"Chiffres clés : {name} et France",
            links=[None, page.href("national")],
        )
    )


def show_territories(page: Page, code: str, *, phase: int = 2) -> None:
    """The région's territories of ``phase`` (the part of each lying in the région), with links
    to their sheets; the map; the other phase as history."""
    if page.has_fund_extract:
        frame = fund.breakdown(page, ["region_code", f"ti_p{phase}"], None).filter(
            pl.col("region_code") == code
        )
        names = dict(
            page.core("territories")
            .filter((pl.col("ti_phase") == phase) & (pl.col("region_code") == code))
            .select("ti_id", "ti_name")
            .iter_rows()
        )
        frame = fund.with_empty_scopes(frame, f"ti_p{phase}", names)
        links = [
            page.href(f"territoires/{ti}") if ti != "hors" and phase == 2 else None
            for ti in frame[f"ti_p{phase}"]
        ]
        fund.show_breakdown_chart(
            page,
            frame,
            fund.HEADLINE_METRIC,
            f"Investissement annoncé par euro d'aide, territoires de la phase {phase}",
            reference=_france(page),
        )
        _display(
            fund.render_breakdown_table(
                page,
                frame,
                "Territoire",
                f"Projets des territoires de la phase {phase} (partie située dans la région)",
                links=links,
            )
        )
    _display(render_territory_list(page, code, phase))
    maps.show_region_map(page, code, phase=phase)


def _france(page: Page) -> tuple[str, float | None, str]:
    cell = fund.cells_of(page).get({}, fund.HEADLINE_METRIC)
    if cell is None or cell.is_masked:
        return ("France", None, "n.d.")
    return ("France", cell.shown, cell.printed)


def render_territory_list(page: Page, code: str, phase: int) -> str:
    """Every territory of the région for a phase, with links to the phase-2 sheets."""
    terr = (
        page.core("territories")
        .filter((pl.col("ti_phase") == phase) & (pl.col("region_code") == code))
        .sort("ti_name")
    )
    if terr.height == 0:
        return "<p class='analyse-note'>Aucun territoire de cette phase dans la région.</p>"
    table = pl.DataFrame(
        {
            "Territoire": terr["ti_name"],
            "Intercommunalités membres": [str(n) for n in terr["n_epci_resolved"]],
        }
    )
    links = [page.href(f"territoires/{t}") for t in terr["ti_id"]] if phase == 2 else None
    years = "2023-2027" if phase == 2 else "2018-2022, historique"
    return page.table(
        table,
        f"Territoires d'industrie de la région, phase {phase} ({years})",
        source="Source : ANCT, périmètres des Territoires d'industrie.",
        champ=f"territoires labellisés en phase {phase} rattachés à la région par l'ANCT",
        links={"Territoire": links} if links else None,
    )


def show_sectors(page: Page, code: str) -> None:
    """The région's projects by sector."""
    if not page.has_fund_extract:
        return
    frame = fund.breakdown(page, ["region_code", "sector"]).filter(pl.col("region_code") == code)
    fund.show_breakdown_chart(
        page,
        frame,
        fund.HEADLINE_METRIC,
        "Investissement annoncé par euro d'aide, par secteur",
        reference=_france(page),
    )
    _display(
        fund.render_breakdown_table(page, frame, "Secteur", "Projets de la région par secteur")
    )


def show_unemployment(page: Page, code: str) -> None:
    """The région's unemployment against France."""
    shown = trends.show_trends(
        page,
        [(region_name(code), f"region_code={code}"), ("France", "*")],
        "Taux de chômage : la région et la France",
    )
    if not shown:
        _display(
            "<p class='analyse-note'>L'INSEE ne publie pas de taux de chômage par zone d'emploi "
            "pour cette région.</p>"
        )
