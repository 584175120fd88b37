"""Charts of estimates with uncertainty: leverage bars, ranked dots, event study."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import altair as alt
import polars as pl

from analyse.charts._common import (
    _check_frame,
    _is_synthetic,
    _json_list,
    _mask_flags,
    _reference_rule,
    _step_height,
    _title,
    _values,
)
from analyse.charts.theme import (
    BLUE_FRANCE,
    BLUE_FRANCE_MAIN,
    EVENT_LINE,
    GREY_MID,
    RED_MARIANNE,
    TEXT,
)
from analyse.errors import ParameterError
from analyse.formatting import NOT_AVAILABLE, format_interval, format_masked, format_ratio

# --------------------------------------------------------------------------- leverage


def chart_leverage_bars(
    df: pl.DataFrame,
    category: str,
    estimate: str = "estimate",
    low: str | None = "ci_low",
    high: str | None = "ci_high",
    *,
    title: str,
    reading: str,
    source: str,
    masked: str | None = "is_masked",
    mark: Literal["bar", "point"] = "bar",
    value_formatter: Callable[[Any], str] = format_ratio,
    axis_title: str = "€ d'investissement par € d'aide",
    axis_format: str = ",.1f",
    reference_value: float | None = None,
    reference_label: str = "Ensemble",
    note: str | None = None,
    width: int = 460,
    cell: str | None = None,
    measure: str | None = None,
) -> alt.LayerChart:
    """Horizontal bars (or points) with confidence intervals, one row per category, sorted.

    Input: one row per ``category`` (String) with ``estimate`` (Float64, e.g. leverage ratio),
    optional ``low`` / ``high`` interval bounds and an optional boolean ``masked`` column
    (statistical secrecy). Masked rows draw no bar and read ``s`` at the baseline; rows with a
    null estimate read ``n.d.``. Value labels are French strings from ``value_formatter``.
    ``cell`` names a column of published-cell keys carried into the chart data, and ``measure``
    the published measure the estimate is (copied under that name): the secrecy audit and the
    browser checks match chart values to the tables with them.
    """
    _check_frame(df, [category, estimate, low, high, cell], "chart_leverage_bars")
    flags = _mask_flags(df, masked)
    est = df.get_column(estimate).cast(pl.Float64)
    has_ci = low is not None and high is not None
    data = pl.DataFrame(
        {
            "category": df.get_column(category).cast(pl.String),
            "estimate": est.fill_nan(None),
            "low": df.get_column(low).cast(pl.Float64) if has_ci else None,
            "high": df.get_column(high).cast(pl.Float64) if has_ci else None,
            "is_masked": flags,
            "cell": df.get_column(cell).cast(pl.String) if cell else None,
        },
        strict=False,
    ).with_columns(
        shown=~pl.col("is_masked") & pl.col("estimate").is_not_null(),
    )
    if cell is None:
        data = data.drop("cell")
    data = data.with_columns(
        estimate=pl.when(pl.col("shown")).then(pl.col("estimate")),
        low=pl.when(pl.col("shown")).then(pl.col("low")),
        high=pl.when(pl.col("shown")).then(pl.col("high")),
    )
    if measure is not None:
        data = data.with_columns(pl.col("estimate").alias(measure))
    data = data.with_columns(
        label=pl.Series(
            [
                format_masked(v, m, value_formatter)
                for v, m in zip(_values(data, "estimate"), flags.to_list(), strict=True)
            ],
            dtype=pl.String,
        ),
        interval=pl.Series(
            [
                format_interval(lo, hi, value_formatter) if s and lo is not None else NOT_AVAILABLE
                for lo, hi, s in zip(
                    _values(data, "low"), _values(data, "high"), _values(data, "shown"), strict=True
                )
            ],
            dtype=pl.String,
        ),
        label_x=pl.coalesce(pl.max_horizontal("estimate", "high"), pl.lit(0.0)),
    ).sort(["shown", "estimate"], descending=[True, True], nulls_last=True)
    order = _values(data, "category")
    y = alt.Y("category:N", sort=order, title=None, axis=alt.Axis(labelLimit=260))
    x_scale = alt.Scale(zero=True, nice=True)
    tooltip = [
        alt.Tooltip("category:N", title="Catégorie"),
        alt.Tooltip("label:N", title="Estimation"),
        alt.Tooltip("interval:N", title="Intervalle de confiance"),
    ]
    base = alt.Chart(data).encode(y=y, tooltip=tooltip)
    shown = base.transform_filter("datum.shown")
    x = alt.X("estimate:Q", title=axis_title, scale=x_scale, axis=alt.Axis(format=axis_format))
    if mark == "bar":
        main = shown.mark_bar(color=BLUE_FRANCE_MAIN, height={"band": 0.7}).encode(x=x)
    elif mark == "point":
        main = shown.mark_point(color=BLUE_FRANCE, filled=True, size=70).encode(x=x)
    else:
        raise ParameterError(f"mark must be 'bar' or 'point', found {mark!r}")
    layers: list[alt.Chart] = []
    if has_ci:
        layers.append(
            shown.transform_filter("isValid(datum.low) && isValid(datum.high)")
            .mark_rule(color=TEXT, strokeWidth=1.5)
            .encode(x="low:Q", x2="high:Q")
        )
    # bars under their interval line, points over it
    layers.insert(0 if mark == "bar" else len(layers), main)
    layers.append(
        shown.mark_text(align="left", dx=5, color=TEXT).encode(x="label_x:Q", text="label:N")
    )
    layers.append(
        base.transform_filter("!datum.shown")
        .mark_text(align="left", dx=3, color=TEXT, fontStyle="italic", fontWeight="bold")
        .encode(x=alt.datum(0), text="label:N")
    )
    if reference_value is not None:
        layers += _reference_rule(reference_value, reference_label, value_formatter, "x")
    return alt.layer(*layers).properties(
        title=_title(title, reading, source, note=note, synthetic=_is_synthetic(df)),
        width=width,
        height=_step_height(data.height),
    )


# --------------------------------------------------------------------------- ranked dots


def chart_ranked_dots(
    df: pl.DataFrame,
    category: str,
    value: str,
    low: str | None = None,
    high: str | None = None,
    *,
    title: str,
    reading: str,
    source: str,
    highlight: str | Sequence[str] | None = None,
    reference_value: float | None = None,
    reference_label: str = "France",
    masked: str | None = None,
    value_formatter: Callable[[Any], str] = format_ratio,
    axis_title: str | None = None,
    axis_format: str = ",.1f",
    highlight_label: str = "Territoire étudié",
    others_label: str = "Autres territoires",
    note: str | None = None,
    width: int = 460,
) -> alt.LayerChart:
    """Ranked dot plot: one dot per ``category`` sorted by ``value``, optional interval.

    Input: one row per ``category`` (String) with ``value`` (Float64), optional ``low`` /
    ``high`` and an optional boolean ``masked`` column. ``highlight`` (one or several
    category values) is drawn in rouge Marianne as a diamond with a bold axis label;
    ``reference_value`` (e.g. the national figure) is a dashed vertical line with its label.
    """
    _check_frame(df, [category, value, low, high, masked], "chart_ranked_dots")
    wanted = [highlight] if isinstance(highlight, str) else list(highlight or [])
    cats = df.get_column(category).cast(pl.String)
    absent = [h for h in wanted if h not in set(cats.to_list())]
    if absent:
        raise ParameterError(f"chart_ranked_dots: highlight {absent} not in column {category!r}")
    flags = _mask_flags(df, masked)
    has_ci = low is not None and high is not None
    data = pl.DataFrame(
        {
            "category": cats,
            "value": df.get_column(value).cast(pl.Float64).fill_nan(None),
            "low": df.get_column(low).cast(pl.Float64) if has_ci else None,
            "high": df.get_column(high).cast(pl.Float64) if has_ci else None,
            "is_masked": flags,
        },
        strict=False,
    ).with_columns(
        shown=~pl.col("is_masked") & pl.col("value").is_not_null(),
        group=pl.when(pl.col("category").is_in(wanted))
        .then(pl.lit(highlight_label))
        .otherwise(pl.lit(others_label)),
    )
    data = data.with_columns(
        value=pl.when(pl.col("shown")).then(pl.col("value")),
        low=pl.when(pl.col("shown")).then(pl.col("low")),
        high=pl.when(pl.col("shown")).then(pl.col("high")),
    )
    data = data.with_columns(
        label=pl.Series(
            [
                format_masked(v, m, value_formatter)
                for v, m in zip(_values(data, "value"), flags.to_list(), strict=True)
            ],
            dtype=pl.String,
        ),
        interval=pl.Series(
            [
                format_interval(lo, hi, value_formatter) if lo is not None else NOT_AVAILABLE
                for lo, hi in zip(_values(data, "low"), _values(data, "high"), strict=True)
            ],
            dtype=pl.String,
        ),
        label_x=pl.max_horizontal("value", "high"),
    ).sort(["shown", "value"], descending=[True, True], nulls_last=True)
    order = _values(data, "category")
    bold = {
        "condition": {"test": f"indexof({_json_list(wanted)}, datum.value) >= 0", "value": "bold"},
        "value": "normal",
    }
    y = alt.Y(
        "category:N", sort=order, title=None, axis=alt.Axis(labelLimit=260, labelFontWeight=bold)
    )
    groups = [highlight_label, others_label] if wanted else [others_label]
    colors = [RED_MARIANNE, BLUE_FRANCE] if wanted else [BLUE_FRANCE]
    shapes = ["diamond", "circle"] if wanted else ["circle"]
    sizes = [150, 70] if wanted else [70]
    tooltip = [
        alt.Tooltip("category:N", title="Territoire"),
        alt.Tooltip("label:N", title="Valeur"),
        alt.Tooltip("interval:N", title="Intervalle de confiance"),
    ]
    base = alt.Chart(data).encode(y=y, tooltip=tooltip)
    shown = base.transform_filter("datum.shown")
    x = alt.X(
        "value:Q",
        title=axis_title or value,
        scale=alt.Scale(zero=False, nice=True),
        axis=alt.Axis(format=axis_format),
    )
    layers: list[alt.Chart] = []
    if has_ci:
        layers.append(
            shown.transform_filter("isValid(datum.low) && isValid(datum.high)")
            .mark_rule(color=GREY_MID, strokeWidth=1.5)
            .encode(x=alt.X("low:Q"), x2="high:Q")
        )
    layers.append(
        shown.mark_point(filled=True, size=80, opacity=1).encode(
            x=x,
            color=alt.Color(
                "group:N",
                scale=alt.Scale(domain=groups, range=colors),
                legend=alt.Legend(title=None),
            ),
            shape=alt.Shape("group:N", scale=alt.Scale(domain=groups, range=shapes)),
            size=alt.Size("group:N", scale=alt.Scale(domain=groups, range=sizes), legend=None),
        )
    )
    layers.append(
        shown.mark_text(align="left", dx=7, color=TEXT).encode(x="label_x:Q", text="label:N")
    )
    if (~data.get_column("shown")).any():
        # masked / missing rows: their mark at the left edge of the plot (the axis is not at 0)
        layers.append(
            base.transform_filter("!datum.shown")
            .mark_text(align="left", dx=3, fontStyle="italic", fontWeight="bold", color=TEXT)
            .encode(x=alt.value(0), text="label:N")
        )
    if reference_value is not None:
        layers += _reference_rule(reference_value, reference_label, value_formatter, "x")
    return alt.layer(*layers).properties(
        title=_title(title, reading, source, note=note, synthetic=_is_synthetic(df)),
        width=width,
        height=_step_height(data.height),
    )


# --------------------------------------------------------------------------- event study


def chart_event_study(
    df: pl.DataFrame,
    rel_col: str = "rel_quarter",
    estimate: str = "estimate",
    low: str | None = "ci_low",
    high: str | None = "ci_high",
    *,
    title: str,
    reading: str,
    source: str,
    event_at: float = -0.5,
    event_label: str = "Labellisation (22 novembre 2018)",
    reference_period: int | None = -1,
    axis_title_x: str = "Trimestres relatifs au 4e trimestre 2018",
    axis_title_y: str = "Écart estimé (points de %)",
    value_formatter: Callable[[Any], str] = lambda v: format_ratio(v, 2),
    note: str | None = None,
    width: int = 560,
    height: int = 300,
) -> alt.LayerChart:
    """Event-study coefficients: points with intervals by relative quarter.

    Input: one row per relative quarter ``rel_col`` (Int, 0 = 2018-T4 when the label falls in
    that quarter) with ``estimate`` and optional ``low`` / ``high`` (Float64; null for the
    reference period). Draws a horizontal zero line and a dashed vertical line at
    ``event_at`` (``-0.5`` between the last untreated and first treated quarter, or ``0``)
    with ``event_label``. Quarters before the event are hollow points, after it filled
    (shape, not only colour, tells them apart).
    """
    _check_frame(df, [rel_col, estimate, low, high], "chart_event_study")
    has_ci = low is not None and high is not None
    data = pl.DataFrame(
        {
            "rel": df.get_column(rel_col).cast(pl.Int64),
            "estimate": df.get_column(estimate).cast(pl.Float64).fill_nan(None),
            "low": df.get_column(low).cast(pl.Float64) if has_ci else None,
            "high": df.get_column(high).cast(pl.Float64) if has_ci else None,
        },
        strict=False,
    ).sort("rel")
    pre, post = "Avant la labellisation", "Après la labellisation"
    data = data.with_columns(
        period=pl.when(pl.col("rel") < event_at).then(pl.lit(pre)).otherwise(pl.lit(post)),
        label=pl.Series(
            [
                value_formatter(v) if v is not None else NOT_AVAILABLE
                for v in _values(data, "estimate")
            ],
            dtype=pl.String,
        ),
        interval=pl.Series(
            [
                format_interval(lo, hi, value_formatter) if lo is not None else NOT_AVAILABLE
                for lo, hi in zip(_values(data, "low"), _values(data, "high"), strict=True)
            ],
            dtype=pl.String,
        ),
        note=pl.when(pl.col("rel") == reference_period)
        .then(pl.lit("période de référence (fixée à 0)"))
        .otherwise(pl.lit("")),
    )
    x = alt.X(
        "rel:Q",
        title=axis_title_x,
        axis=alt.Axis(format="d", tickMinStep=1, grid=False),
        scale=alt.Scale(nice=False, padding=10),
    )
    tooltip = [
        alt.Tooltip("rel:Q", title="Trimestre relatif", format="d"),
        alt.Tooltip("label:N", title="Estimation"),
        alt.Tooltip("interval:N", title="Intervalle de confiance"),
        alt.Tooltip("note:N", title="Note"),
    ]
    base = alt.Chart(data).encode(x=x, tooltip=tooltip)
    zero = alt.Chart(pl.DataFrame({"zero": [0.0]})).mark_rule(color=GREY_MID).encode(y="zero:Q")
    event = pl.DataFrame({"at": [float(event_at)], "text": [event_label]})
    event_rule = (
        alt.Chart(event)
        .mark_rule(
            color=EVENT_LINE["color"],
            strokeDash=EVENT_LINE["dash"],
            strokeWidth=EVENT_LINE["width"],
        )
        .encode(x="at:Q")
    )
    event_text = (
        alt.Chart(event)
        .mark_text(align="left", baseline="top", dx=5, dy=2, color=TEXT, fontWeight="bold")
        .encode(x="at:Q", y=alt.value(0), text="text:N")
    )
    layers: list[alt.Chart] = [zero, event_rule, event_text]
    if has_ci:
        layers.append(
            base.transform_filter("isValid(datum.low) && isValid(datum.high)")
            .mark_rule(color=BLUE_FRANCE, strokeWidth=1.5)
            .encode(y=alt.Y("low:Q", title=axis_title_y, axis=alt.Axis(format=",.2f")), y2="high:Q")
        )
    layers.append(
        base.transform_filter("isValid(datum.estimate)")
        .mark_point(
            shape="circle", size=60, filled=True, stroke=BLUE_FRANCE, strokeWidth=1.5, opacity=1
        )
        .encode(
            y=alt.Y("estimate:Q", title=axis_title_y, axis=alt.Axis(format=",.2f")),
            fill=alt.Fill(
                "period:N",
                scale=alt.Scale(domain=[pre, post], range=["#FFFFFF", BLUE_FRANCE]),
                legend=alt.Legend(title=None, symbolStrokeColor=BLUE_FRANCE),
            ),
        )
    )
    return alt.layer(*layers).properties(
        title=_title(title, reading, source, note=note, synthetic=_is_synthetic(df)),
        width=width,
        height=height,
    )
