"""Sections of a territory's sheet: identity, the fund's projects against its région and France,
local unemployment and the territory's own counterfactual."""

from __future__ import annotations

from typing import Any

import polars as pl

from analyse import formatting as fmt
from analyse.reference import REGION_NAMES
from analyse.review import fund, maps, programme, summary, trends
from analyse.review.page import Page, esc, render_key_messages


def _display(html_text: str) -> None:
    from IPython.display import HTML, display

    if html_text:
        display(HTML(html_text))


def describe_territory(page: Page, ti_id: str, phase: int) -> dict[str, Any]:
    """Name, région, number of communes and population of a territory."""
    row = (
        page.core("territories")
        .filter((pl.col("ti_id") == ti_id) & (pl.col("ti_phase") == phase))
        .row(0, named=True)
    )
    communes = page.core("commune_territories").filter(
        (pl.col("ti_id") == ti_id) & (pl.col("ti_phase") == phase)
    )
    com = page.core("communes")
    pop = None
    if "population" in com.columns:
        pop = com.join(communes.select("commune_insee"), on="commune_insee")["population"].sum()
    return {
        **row,
        "region_name": REGION_NAMES.get(row["region_code"], row["region_code"]),
        "n_communes": communes.height,
        "population": pop,
    }


def render_identity(page: Page, info: dict[str, Any], phase: int) -> str:
    years = "2023-2027" if phase == 2 else "2018-2022"
    pop = (
        f", {esc(fmt.format_int(info['population']))} habitants (population légale)"
        if info.get("population")
        else ""
    )
    return (
        f"<p>Territoire d'industrie de la phase {phase} ({years}), région "
        f'<a href="{esc(page.href("regions/" + info["region_code"]))}">'
        f"{esc(info['region_name'])}</a> : {esc(fmt.format_int(info['n_communes']))} communes"
        f"{pop}. Identifiant ANCT : <code>{esc(info['ti_id'])}</code>.</p>"
    )


def render_key_messages_territory(page: Page, info: dict[str, Any], phase: int) -> str:
    scope = {f"ti_p{phase}": info["ti_id"]}
    from analyse.review import causal

    return render_key_messages(
        summary.messages(
            summary.fund_message(page, scope, info["ti_name"]),
            trends.describe_last_rate(page, f"ti_p{phase}={info['ti_id']}", info["ti_name"]),
            causal.territory_message(page, info["ti_id"], phase),
            page=page,
        )
    )


def show_projects(page: Page, info: dict[str, Any], phase: int) -> None:
    """The whole territory against its région and France."""
    if not page.has_fund_extract:
        _display(
            "<p>Aucun extrait par projet du fonds n'a été fourni : les projets du territoire ne "
            "peuvent pas être décrits.</p>"
        )
        return
    scope = {f"ti_p{phase}": info["ti_id"]}
    _display(f"<p>{fund.describe_scope(page, scope, info['ti_name'])}</p>")
    _display(
        fund.render_scope_comparison(
            page,
            [
                (info["ti_name"], scope),
                (info["region_name"], {"region_code": info["region_code"]}),
                ("France", {}),
            ],
            "Projets du fonds : le territoire, sa région et la France",
            links=[None, page.href(f"regions/{info['region_code']}"), page.href("national")],
        )
    )


def show_unemployment(page: Page, info: dict[str, Any], phase: int) -> None:
    shown = trends.show_trends(
        page,
        [
            (info["ti_name"], f"ti_p{phase}={info['ti_id']}"),
            (info["region_name"], f"region_code={info['region_code']}"),
            ("France", "*"),
        ],
        "Taux de chômage : le territoire, sa région et la France",
    )
    if not shown:
        _display(
            "<p class='analyse-note'>Pas de taux de chômage publié par l'INSEE pour les zones "
            "de ce territoire.</p>"
        )


def show_members_and_map(page: Page, info: dict[str, Any], phase: int) -> None:
    _display(programme.render_members(page, info["ti_id"], phase))
    maps.show_territory_map(page, info["ti_id"], info["region_code"], phase=phase)
