"""Unemployment trends of a page (territory, région, France), read from the figures bundle."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from analyse import formatting as fmt
from analyse.figures.labour import CHAMP_TREND_FR
from analyse.review.page import Page, esc, show_figure

SOURCE_LABOUR = (
    "Source : INSEE, taux de chômage localisés trimestriels par zone d'emploi 2020 ; INSEE, "
    "populations légales (via Etalab) ; ANCT, périmètres des Territoires d'industrie ; calculs "
    "analyse."
)


def select_trends(page: Page, groups: Sequence[tuple[str, str]]) -> pl.DataFrame:
    """The trend rows of ``(label, scope key)`` pairs, as ``group`` / ``period`` /
    ``quarter_index`` / ``unemployment_rate_pct`` (rates rounded to 0.1 point, as printed)."""
    trends = page.figures["trends"]
    frames = [
        trends.filter(pl.col("scope") == key).with_columns(pl.lit(label).alias("group"))
        for label, key in groups
    ]
    out = pl.concat(frames) if frames else trends.head(0).with_columns(pl.lit("").alias("group"))
    return out.select(
        "group", "period", "quarter_index", pl.col("unemployment_rate_pct").round(1)
    ).sort("group", "quarter_index")


def describe_trends(trends: pl.DataFrame) -> str:
    """Reading line: first and last quarter of each group."""
    parts = []
    for group in trends["group"].unique(maintain_order=True):
        g = trends.filter(pl.col("group") == group).sort("quarter_index")
        first, last = g.row(0, named=True), g.row(-1, named=True)
        parts.append(
            f"{group} : {fmt.format_pct(first['unemployment_rate_pct'])} au "
            f"{fmt.format_period(first['period'])}, {fmt.format_pct(last['unemployment_rate_pct'])} "
            f"au {fmt.format_period(last['period'])}"
        )
    return "Lecture : " + " ; ".join(parts) + "."


def show_trends(page: Page, groups: Sequence[tuple[str, str]], title: str) -> bool:
    """The trend chart of the groups that have a published rate; False when none has."""
    from analyse import charts

    trends = select_trends(page, groups)
    if trends.height == 0:
        return False
    order = [label for label, _ in groups if label in set(trends["group"].to_list())]
    reading = describe_trends(trends)
    chart = charts.chart_unemployment_trend(
        trends,
        title=title,
        reading=reading,
        source=SOURCE_LABOUR,
        group_order=order,
        roles={label: charts.scope_role(key) for label, key in groups},
    )
    last = trends.group_by("group").agg(pl.all().sort_by("quarter_index").last())
    data = pl.DataFrame(
        {
            "Ensemble": last["group"],
            "Dernier trimestre": [fmt.format_period(p) for p in last["period"]],
            "Taux de chômage": [fmt.format_pct(v) for v in last["unemployment_rate_pct"]],
        }
    )
    show_figure(
        page, chart, title, champ=CHAMP_TREND_FR, reading=reading, source=SOURCE_LABOUR, data=data
    )
    return True


def describe_last_rate(page: Page, key: str, name: str) -> str | None:
    """A key message: the last published rate of a scope and its change since the label."""
    trends = page.figures["trends"].filter(pl.col("scope") == key).sort("quarter_index")
    if trends.height == 0:
        return None
    last = trends.row(-1, named=True)
    before = trends.filter(pl.col("period") == "2018-T3")
    change = ""
    if before.height:
        delta = last["unemployment_rate_pct"] - before["unemployment_rate_pct"][0]
        change = (
            f", {fmt.format_ratio(abs(delta), 1)} point {'de moins' if delta < 0 else 'de plus'} "
            "qu'avant le label (3e trimestre 2018)"
        )
    return (
        f"Chômage de {esc(name)} : {esc(fmt.format_pct(last['unemployment_rate_pct']))} au "
        f"{esc(fmt.format_period(last['period']))}{esc(change)} (descriptif, approximation du "
        "taux de l'INSEE)."
    )
