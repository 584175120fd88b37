"""Interactive linked views for exploration (JupyterLab, HTML reports)."""

from __future__ import annotations

import math
from collections.abc import Mapping

import altair as alt
import polars as pl

from analyse.charts._common import _check_frame, _is_synthetic, _title, _values
from analyse.charts.theme import BLUE_FRANCE, BLUE_FRANCE_850, EUR_LABEL_EXPR, TEXT
from analyse.formatting import NOT_AVAILABLE, format_eur, format_int
from analyse.reference import REGION_NAMES

# --------------------------------------------------------------------------- explorer


def _eur_axis(values: pl.Series | None = None) -> alt.Axis:
    """Euro axis with French scale labels; on a log scale, ticks at 1-2-5 x 10^k."""
    if values is None:
        return alt.Axis(labelExpr=EUR_LABEL_EXPR, tickCount=5, labelOverlap="greedy")
    low, high = float(values.min()), float(values.max())
    ticks = [
        m * 10.0**k
        for k in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        for m in (1, 2, 5)
    ]
    ticks = [t for t in ticks if low / 1.5 <= t <= high * 1.5]
    return alt.Axis(labelExpr=EUR_LABEL_EXPR, values=ticks, labelOverlap="greedy")


def chart_linked_explorer(
    projects_summary: pl.DataFrame,
    *,
    category: str = "ti_name",
    group: str = "region_code",
    x: str = "aid_eur",
    y: str = "investment_eur",
    size: str | None = "n_projects",
    group_labels: Mapping[str, str] | None = None,
    title: str = "Aide et investissement par territoire",
    reading: str = (
        "chaque point est un territoire ; sélectionner une zone du nuage filtre les barres, "
        "cliquer sur une barre met sa région en évidence."
    ),
    source: str = (
        "fonds d'accélération des investissements industriels dans les territoires "
        "(France Relance) ; traitement analyse."
    ),
    note: str | None = "Statistique descriptive : aucune relation causale n'est montrée ici.",
    width: int = 420,
    height: int = 320,
) -> alt.HConcatChart:
    """Interactive linked views for exploration (JupyterLab, HTML): scatter + bars.

    Input: one row per territory with ``category`` (name), ``group`` (région code or label),
    ``x`` (aid, €), ``y`` (investment, €) and optional ``size`` (number of projects). A brush
    on the scatter filters the bar chart (total of ``x`` by group, summed by Vega for display
    only); a click on a bar highlights that group's territories in the scatter. Log scales are
    used when all amounts are positive.
    """
    _check_frame(projects_summary, [category, group, x, y, size], "chart_linked_explorer")
    labels = (
        group_labels
        if group_labels is not None
        else (REGION_NAMES if group == "region_code" else {})
    )
    groups = projects_summary.get_column(group).cast(pl.String).to_list()
    data = pl.DataFrame(
        {
            "category": projects_summary.get_column(category).cast(pl.String),
            "group_name": [labels.get(g, g) if g is not None else NOT_AVAILABLE for g in groups],
            "x": projects_summary.get_column(x).cast(pl.Float64),
            "y": projects_summary.get_column(y).cast(pl.Float64),
            "size": (
                projects_summary.get_column(size).cast(pl.Float64)
                if size
                else pl.Series([1.0] * projects_summary.height)
            ),
        }
    )
    data = data.with_columns(
        x_label=pl.Series([format_eur(v) for v in _values(data, "x")], dtype=pl.String),
        y_label=pl.Series([format_eur(v) for v in _values(data, "y")], dtype=pl.String),
        size_label=pl.Series([format_int(v) for v in _values(data, "size")], dtype=pl.String),
    )

    def positive(column: str) -> pl.Series | None:
        col = data.get_column(column).drop_nulls()
        return col if col.len() > 0 and bool((col > 0).all()) else None

    def scale(column: str) -> alt.Scale:
        if positive(column) is not None:
            return alt.Scale(type="log", nice=False, padding=12)
        return alt.Scale(zero=True)

    brush = alt.selection_interval(name="zone", encodings=["x", "y"])
    pick = alt.selection_point(name="region", fields=["group_name"])
    tooltip = [
        alt.Tooltip("category:N", title="Territoire"),
        alt.Tooltip("group_name:N", title="Région"),
        alt.Tooltip("x_label:N", title="Aide"),
        alt.Tooltip("y_label:N", title="Investissement"),
        alt.Tooltip("size_label:N", title="Projets"),
    ]
    scatter = (
        alt.Chart(data)
        .mark_point(filled=True, stroke=TEXT, strokeWidth=0.4)
        .encode(
            x=alt.X(
                "x:Q",
                title="Aide accordée (€)",
                scale=scale("x"),
                axis=_eur_axis(positive("x")),
            ),
            y=alt.Y(
                "y:Q",
                title="Investissement annoncé (€)",
                scale=scale("y"),
                axis=_eur_axis(positive("y")),
            ),
            size=alt.Size("size:Q", title="Projets", legend=alt.Legend(orient="bottom")),
            color=alt.when(brush).then(alt.value(BLUE_FRANCE)).otherwise(alt.value("#BBBBBB")),
            opacity=alt.when(pick).then(alt.value(0.9)).otherwise(alt.value(0.15)),
            tooltip=tooltip,
        )
        .add_params(brush)
        .properties(width=width, height=height, title="Territoires (glisser pour sélectionner)")
    )
    bars = (
        alt.Chart(data)
        .transform_filter(brush)
        .mark_bar()
        .encode(
            x=alt.X(
                "sum(x):Q",
                title="Aide accordée, territoires sélectionnés (€)",
                axis=_eur_axis(),
            ),
            y=alt.Y("group_name:N", title=None, sort="-x"),
            color=alt.when(pick).then(alt.value(BLUE_FRANCE)).otherwise(alt.value(BLUE_FRANCE_850)),
            tooltip=[
                alt.Tooltip("group_name:N", title="Région"),
                alt.Tooltip("count():Q", title="Territoires"),
            ],
        )
        .add_params(pick)
        .properties(width=260, height=height, title="Aide par région (cliquer pour filtrer)")
    )
    return alt.hconcat(scatter, bars, spacing=30).properties(
        title=_title(title, reading, source, note=note, synthetic=_is_synthetic(projects_summary))
    )
