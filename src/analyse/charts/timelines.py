"""Charts over time: programme milestones and unemployment trends."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import altair as alt
import polars as pl

from analyse.charts._common import _check_frame, _is_synthetic, _title, _values
from analyse.charts.theme import (
    BLUE_FRANCE,
    EVENT_LINE,
    GREY_MID,
    LINE_STYLES,
    OTHER_LINE_STYLES,
    TEXT,
    line_role,
)
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


def scope_role(cell_key: str) -> str | None:
    """The line meaning of a published scope (``cell_key`` of the figures): ``"*"`` is France,
    ``region_code=84`` the région, a scope naming a territory (``ti_p1=`` / ``ti_p2=``) the
    territory; None otherwise. For ``roles={label: scope_role(key) ...}``."""
    dims = dict(part.split("=", 1) for part in cell_key.split(";") if "=" in part)
    if cell_key == "*":
        return "france"
    if any(d in dims and dims[d] != "hors" for d in ("ti_p1", "ti_p2")):
        return "territoire"
    return "region" if set(dims) == {"region_code"} else None


def _line_styles(
    order: Sequence[str], roles: Mapping[str, str] | None
) -> tuple[list[str], list[dict[str, Any]]]:
    """Meaning and style of each group: ``roles`` first, then the group's own label
    ("Territoire", "Région", "France"), then the styles reserved for no meaning."""
    unknown_roles = {r for r in (roles or {}).values() if r not in LINE_STYLES}
    if unknown_roles:
        raise ParameterError(
            f"roles {sorted(unknown_roles)} unknown; meanings are {sorted(LINE_STYLES)}"
        )
    meanings = [(roles or {}).get(g) or line_role(g) or "" for g in order]
    taken = [m for m in meanings if m]
    if len(taken) != len(set(taken)):
        raise ParameterError(f"one group per meaning: {dict(zip(order, meanings, strict=True))}")
    others = iter(OTHER_LINE_STYLES)
    styles = []
    for meaning in meanings:
        style = LINE_STYLES.get(meaning) or next(others, None)
        if style is None:
            raise ParameterError(f"at most {len(OTHER_LINE_STYLES)} groups with no meaning")
        styles.append(style)
    return meanings, styles


def chart_unemployment_trend(
    df: pl.DataFrame,
    period_col: str = "period",
    value_col: str = "unemployment_rate_pct",
    group_col: str = "group",
    *,
    title: str,
    reading: str,
    source: str,
    champ: str | None = None,
    group_order: Sequence[str] | None = None,
    roles: Mapping[str, str] | None = None,
    event_period: str | None = LABEL_PERIOD,
    event_label: str = "Labellisation",
    axis_title: str = "Taux de chômage (%)",
    note: str | None = None,
    width: int = 560,
    height: int = 300,
) -> alt.LayerChart:
    """Quarterly unemployment rate lines, e.g. territory vs région vs France.

    Input: long frame, one row per ``group_col`` (String label shown in the chart, e.g.
    "Territoire", "Région", "France") and ``period_col`` (quarter label "2018-T4") with
    ``value_col`` (rate in percent). Each group's line style follows its meaning, the same on
    every page (:data:`~analyse.charts.theme.LINE_STYLES`: territory solid rouge Marianne,
    région dashed bleu France, France dotted grey): the meaning is ``roles[group]``
    (``"territoire"``, ``"region"``, ``"france"``) or read from the label itself; other groups
    take the styles reserved for no meaning. Lines also carry end labels; ``group_order``
    fixes the legend order. ``champ`` adds the "Champ : ..." line (how zones are aggregated
    into each line); a dash-dot vertical line marks ``event_period``.
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
    order = list(group_order) if group_order is not None else _meaning_order(present, roles)
    unknown = [g for g in present if g not in order]
    if unknown:
        raise ParameterError(f"chart_unemployment_trend: groups {unknown} not in group_order")
    _, styles = _line_styles(order, roles)
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
    colors = alt.Scale(domain=order, range=[s["color"] for s in styles])
    legend = alt.Legend(title=None, symbolStrokeWidth=2.5, symbolSize=400)
    tooltip = [
        alt.Tooltip("group:N", title="Zone"),
        alt.Tooltip("period_label:N", title="Période"),
        alt.Tooltip("value_label:N", title="Taux de chômage"),
    ]
    lines = (
        alt.Chart(data)
        .mark_line()
        .encode(
            x=x,
            y=y,
            color=alt.Color("group:N", scale=colors, legend=legend),
            strokeDash=alt.StrokeDash(
                "group:N",
                scale=alt.Scale(domain=order, range=[s["dash"] for s in styles]),
                legend=legend,
            ),
            strokeWidth=alt.StrokeWidth(
                "group:N",
                scale=alt.Scale(domain=order, range=[s["width"] for s in styles]),
                legend=None,
            ),
            tooltip=tooltip,
        )
    )
    end_labels = (
        alt.Chart(ends)
        .mark_text(align="left", dx=6, fontWeight="bold")
        .encode(
            x="date:T",
            y="value:Q",
            text="group:N",
            color=alt.Color("group:N", scale=colors, legend=None),
        )
    )
    layers = _event_layers(event_period, event_label) + [lines, end_labels]
    return alt.layer(*layers).properties(
        title=_title(title, reading, source, note=note, champ=champ, synthetic=_is_synthetic(df)),
        width=width,
        height=height,
    )


def _meaning_order(groups: Sequence[str], roles: Mapping[str, str] | None) -> list[str]:
    """Groups with a meaning first (territory, région, France), then the others as given."""
    rank = {m: k for k, m in enumerate(LINE_STYLES)}

    def key(group: str) -> int:
        meaning = (roles or {}).get(group) or line_role(group)
        return rank.get(meaning or "", len(rank))

    return sorted(groups, key=key)


def _event_layers(event_period: str | None, event_label: str) -> list[alt.Chart]:
    """A dated event (e.g. the labellisation) as a labelled dash-dot vertical rule."""
    if event_period is None:
        return []
    event = pl.DataFrame(
        {
            "date": [_period_start(event_period)],
            "text": [f"{event_label} ({format_period(event_period)})"],
        }
    )
    rule = alt.Chart(event).mark_rule(
        color=EVENT_LINE["color"], strokeDash=EVENT_LINE["dash"], strokeWidth=EVENT_LINE["width"]
    )
    text = alt.Chart(event).mark_text(
        align="left", baseline="top", dx=5, dy=2, color=EVENT_LINE["color"], fontWeight="bold"
    )
    return [rule.encode(x="date:T"), text.encode(x="date:T", y=alt.value(0), text="text:N")]
