"""Charts over time: programme milestones and unemployment trends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

import altair as alt
import polars as pl

from analyse.charts._common import _check_frame, _is_synthetic, _title, _values
from analyse.charts.theme import BLUE_FRANCE, CATEGORY_PALETTE, DASHES, GREY_MID, RED_MARIANNE, TEXT
from analyse.errors import ParameterError
from analyse.formatting import format_date_fr, format_int, format_pct, format_period, parse_period
from analyse.reference import LABEL_PERIOD

# --------------------------------------------------------------------------- timeline


def _to_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        return dt.date.fromisoformat(value[:10])
    raise ParameterError(f"expected a date, found {value!r}")


def chart_timeline(
    df: pl.DataFrame,
    date_col: str = "date",
    value_col: str = "n_territories",
    label_col: str = "label",
    *,
    title: str,
    reading: str,
    source: str,
    value_title: str = "Nombre de territoires",
    value_formatter: Callable[[Any], str] = format_int,
    note: str | None = None,
    width: int = 560,
    height: int = 280,
) -> alt.LayerChart:
    """Programme milestones: a step line of ``value_col`` over time with labelled events.

    Input: one row per milestone with ``date_col`` (Date or ISO string), ``value_col``
    (e.g. number of labelled territories) and ``label_col`` (short French text, e.g.
    "124 territoires labellisés"). Each label sits in its own lane above the line, linked to
    its milestone by a dotted rule, so close dates never overlap; labels in the last third
    of the period are right-aligned so they stay inside the chart.
    """
    _check_frame(df, [date_col, value_col, label_col], "chart_timeline")
    dates = [_to_date(v) for v in _values(df, date_col)]
    data = (
        pl.DataFrame(
            {
                "date": pl.Series(dates, dtype=pl.Date),
                "value": df.get_column(value_col).cast(pl.Float64),
                "label": df.get_column(label_col).cast(pl.String).fill_null(""),
            }
        )
        .sort("date")
        .with_row_index("i")
    )
    first, last = min(dates), max(dates)
    span = max((last - first).days, 1)
    lanes = min(data.height, 8)
    lane_px, top_px = 16, 10
    data = data.with_columns(
        date_label=pl.Series([format_date_fr(d) for d in _values(data, "date")], dtype=pl.String),
        value_label=pl.Series(
            [value_formatter(v) for v in _values(data, "value")], dtype=pl.String
        ),
        side=pl.Series(
            ["right" if (d - first).days > 0.66 * span else "left" for d in _values(data, "date")],
            dtype=pl.String,
        ),
        lane_y=(pl.col("i") % lanes) * lane_px + top_px,
    )
    # keep the line below the label lanes: the top of the value scale is raised accordingly
    reserved = top_px + lanes * lane_px + 8
    max_value = max([v for v in _values(data, "value") if v is not None] or [1.0])
    domain_max = max_value * height / max(height - reserved, height / 3)
    x = alt.X(
        "date:T",
        title=None,
        axis=alt.Axis(format="%Y", tickCount="year", grid=False),
        scale=alt.Scale(padding=20),
    )
    y = alt.Y(
        "value:Q",
        title=value_title,
        axis=alt.Axis(format=",d"),
        scale=alt.Scale(domain=[0, domain_max], nice=False),
    )
    tooltip = [
        alt.Tooltip("date_label:N", title="Date"),
        alt.Tooltip("label:N", title="Étape"),
        alt.Tooltip("value_label:N", title=value_title),
    ]
    base = alt.Chart(data).encode(x=x, tooltip=tooltip)
    layers: list[alt.Chart] = [
        base.mark_rule(color=GREY_MID, strokeDash=[2, 2])
        .encode(y=alt.Y("lane_y:Q", scale=None), y2=alt.Y2("value_px:Q"))
        .transform_calculate(value_px=f"height - datum.value / {domain_max!r} * height"),
        base.mark_line(interpolate="step-after", color=BLUE_FRANCE, strokeWidth=2).encode(y=y),
        base.mark_point(filled=True, size=70, color=BLUE_FRANCE, opacity=1).encode(y=y),
    ]
    for side in ("left", "right"):
        if data.filter(pl.col("side") == side).height == 0:
            continue
        layers.append(
            base.transform_filter(f"datum.side == '{side}'")
            .mark_text(
                align="left" if side == "left" else "right",
                baseline="middle",
                dx=4 if side == "left" else -4,
                color=TEXT,
            )
            .encode(y=alt.Y("lane_y:Q", scale=None), text="label:N")
        )
    return alt.layer(*layers).properties(
        title=_title(title, reading, source, note=note, synthetic=_is_synthetic(df)),
        width=width,
        height=height,
    )


# --------------------------------------------------------------------------- unemployment


def _period_start(period: str) -> dt.date:
    year, quarter = parse_period(period)
    return dt.date(year, 3 * (quarter - 1) + 1, 1)


def chart_unemployment_trend(
    df: pl.DataFrame,
    period_col: str = "period",
    value_col: str = "unemployment_rate_pct",
    group_col: str = "group",
    *,
    title: str,
    reading: str,
    source: str,
    group_order: Sequence[str] | None = None,
    event_period: str | None = LABEL_PERIOD,
    event_label: str = "Labellisation",
    axis_title: str = "Taux de chômage (%)",
    note: str | None = None,
    width: int = 560,
    height: int = 300,
) -> alt.LayerChart:
    """Quarterly unemployment rate lines, e.g. local area vs région vs France.

    Input: long frame, one row per ``group_col`` (String label shown in the chart, e.g.
    "Zone d'emploi de Lacq", "Nouvelle-Aquitaine", "France") and ``period_col`` (quarter
    label "2018-T4") with ``value_col`` (rate in percent). Groups are told apart by colour,
    dash pattern and an end-of-line label; ``group_order`` fixes their order (first =
    bleu France, solid). A dashed vertical line marks ``event_period``.
    """
    _check_frame(df, [period_col, value_col, group_col], "chart_unemployment_trend")
    periods = df.get_column(period_col).cast(pl.String).to_list()
    data = pl.DataFrame(
        {
            "period": periods,
            "date": pl.Series([_period_start(p) for p in periods], dtype=pl.Date),
            "value": df.get_column(value_col).cast(pl.Float64).fill_nan(None),
            "group": df.get_column(group_col).cast(pl.String),
        }
    ).sort(["group", "date"])
    present = data.get_column("group").unique(maintain_order=True).to_list()
    order = (
        list(group_order)
        if group_order is not None
        else list(df.get_column(group_col).cast(pl.String).unique(maintain_order=True))
    )
    unknown = [g for g in present if g not in order]
    if unknown:
        raise ParameterError(f"chart_unemployment_trend: groups {unknown} not in group_order")
    if len(order) > len(CATEGORY_PALETTE):
        raise ParameterError(f"chart_unemployment_trend: at most {len(CATEGORY_PALETTE)} groups")
    colors = [BLUE_FRANCE, "#009081", GREY_MID, "#CE614A", *CATEGORY_PALETTE[4:]][: len(order)]
    dashes = [DASHES[i % len(DASHES)] for i in range(len(order))]
    data = data.with_columns(
        period_label=pl.Series(
            [format_period(p) for p in _values(data, "period")], dtype=pl.String
        ),
        value_label=pl.Series([format_pct(v) for v in _values(data, "value")], dtype=pl.String),
    )
    ends = data.filter(pl.col("value").is_not_null()).group_by("group", maintain_order=True).last()
    x = alt.X("date:T", title=None, axis=alt.Axis(format="%Y", tickCount="year", grid=False))
    y = alt.Y(
        "value:Q", title=axis_title, axis=alt.Axis(format=",.1f"), scale=alt.Scale(zero=False)
    )
    color = alt.Color(
        "group:N", scale=alt.Scale(domain=order, range=colors), legend=alt.Legend(title=None)
    )
    dash = alt.StrokeDash("group:N", scale=alt.Scale(domain=order, range=dashes), legend=None)
    tooltip = [
        alt.Tooltip("group:N", title="Zone"),
        alt.Tooltip("period_label:N", title="Période"),
        alt.Tooltip("value_label:N", title="Taux de chômage"),
    ]
    lines = (
        alt.Chart(data)
        .mark_line(strokeWidth=2)
        .encode(x=x, y=y, color=color, strokeDash=dash, tooltip=tooltip)
    )
    end_labels = (
        alt.Chart(ends)
        .mark_text(align="left", dx=6, fontWeight="bold")
        .encode(
            x="date:T",
            y="value:Q",
            text="group:N",
            color=alt.Color("group:N", scale=alt.Scale(domain=order, range=colors), legend=None),
        )
    )
    layers: list[alt.Chart] = []
    if event_period is not None:
        event = pl.DataFrame(
            {
                "date": [_period_start(event_period)],
                "text": [f"{event_label} ({format_period(event_period)})"],
            }
        )
        layers.append(
            alt.Chart(event).mark_rule(color=RED_MARIANNE, strokeDash=[5, 3]).encode(x="date:T")
        )
        layers.append(
            alt.Chart(event)
            .mark_text(
                align="left", baseline="top", dx=5, dy=2, color=RED_MARIANNE, fontWeight="bold"
            )
            .encode(x="date:T", y=alt.value(0), text="text:N")
        )
    layers += [lines, end_labels]
    return alt.layer(*layers).properties(
        title=_title(title, reading, source, note=note, synthetic=_is_synthetic(df)),
        width=width,
        height=height,
    )
