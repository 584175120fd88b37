"""Charts of the label's causal analysis: event study by nature of each coefficient,
Rambachan–Roth sensitivity bounds, and the synthetic control of a territory.

Each builder takes a small frame produced by :mod:`analyse.estimate` (columns documented per
function), reshapes it for display only and returns an Altair chart with its title, its
``Lecture :`` line and its ``Source :`` line (:func:`analyse.charts._common._title`). French
labels only; the nature of each point (diagnostic, causal, not causal, mixed, pooled) is told
by shape and legend text, not by colour alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import altair as alt
import numpy as np
import polars as pl

from analyse.charts._common import _check_frame, _is_synthetic, _title, _values
from analyse.charts.theme import (
    BLUE_FRANCE,
    BLUE_FRANCE_925,
    EVENT_LINE,
    GREY_BORDER,
    GREY_MID,
    RED_MARIANNE,
    TEXT,
)
from analyse.errors import ParameterError
from analyse.formatting import NOT_AVAILABLE, format_interval, format_period, format_ratio

#: French name of each nature (prefix of the estimate's ``kind``), in legend order.
NATURE_FR: tuple[tuple[str, str], ...] = (
    ("reference", "Référence"),
    ("diagnostic", "Avant le label (diagnostic)"),
    ("causal", "Après le label (causal sous hypothèses)"),
    ("not causal", "Après le label (pas de conclusion causale)"),
    ("mixed", "Label + fonds + COVID (non séparables)"),
    ("pooled", "Moyenne de plusieurs trimestres (regroupé)"),
)
_SHAPES = {
    "Référence": "diamond",
    "Avant le label (diagnostic)": "circle",
    "Après le label (causal sous hypothèses)": "circle",
    "Après le label (pas de conclusion causale)": "triangle-up",
    "Label + fonds + COVID (non séparables)": "square",
    "Moyenne de plusieurs trimestres (regroupé)": "cross",
}
_FILLS = {
    "Référence": "#FFFFFF",
    "Avant le label (diagnostic)": "#FFFFFF",
    "Après le label (causal sous hypothèses)": BLUE_FRANCE,
    "Après le label (pas de conclusion causale)": GREY_MID,
    "Label + fonds + COVID (non séparables)": GREY_MID,
    "Moyenne de plusieurs trimestres (regroupé)": GREY_MID,
}


def nature_fr(kind: str | None) -> str:
    """French nature of an estimate from its ``kind`` (prefix match)."""
    for prefix, label in NATURE_FR:
        if kind is not None and kind.startswith(prefix):
            return label
    return NOT_AVAILABLE


def _fmt2(v: Any) -> str:
    return format_ratio(v, 2)


# --------------------------------------------------------------------------- event study


def chart_event_study_natures(
    df: pl.DataFrame,
    *,
    title: str,
    reading: str,
    source: str,
    note: str | None = None,
    axis_title_x: str = "Trimestres relatifs au 4e trimestre 2018 (annonce du label le 22 novembre)",
    axis_title_y: str = "Écart estimé (points de chômage)",
    width: int = 600,
    height: int = 300,
) -> alt.LayerChart:
    """Event-study coefficients with their intervals, shaped by nature.

    Input (rows of ``event_study`` for one specification): ``rel_quarter`` (Int),
    ``estimate``, ``ci_low``, ``ci_high`` (Float64, null for a single reference quarter),
    ``kind`` (String), ``in_reference`` (Boolean: quarters whose mean is the reference, shaded)
    and ``period_first`` / ``period_last`` (quarter labels, for the tooltip). Quarters from
    2020-T1 sit on a grey band: their gap mixes the label, the acceleration fund and COVID-19.
    """
    cols = ["rel_quarter", "estimate", "ci_low", "ci_high", "kind", "in_reference"]
    _check_frame(df, [*cols, "period_first", "period_last"], "chart_event_study_natures")
    data = df.select(*cols, "period_first", "period_last").sort("rel_quarter")
    data = data.with_columns(
        pl.Series("nature", [nature_fr(k) for k in _values(data, "kind")], dtype=pl.String),
        pl.Series("label", [_fmt2(v) for v in _values(data, "estimate")], dtype=pl.String),
        pl.Series(
            "interval",
            [format_interval(lo, hi, _fmt2) for lo, hi in data.select("ci_low", "ci_high").rows()],
            dtype=pl.String,
        ),
        pl.Series(
            "quarters",
            [
                format_period(a) if a == b else f"{format_period(a)} – {format_period(b)}"
                for a, b in data.select("period_first", "period_last").rows()
            ],
            dtype=pl.String,
        ),
    )
    data = data.drop("kind")  # English codes stay out of the page (the nature is in French)
    natures = [n for _, n in NATURE_FR if n in set(_values(data, "nature"))]
    x = alt.X("rel_quarter:Q", title=axis_title_x,
              axis=alt.Axis(format="d", tickMinStep=1, grid=False),
              scale=alt.Scale(nice=False, padding=12))  # fmt: skip
    y_axis = alt.Axis(format=",.2f")
    layers: list[alt.Chart] = []
    ref = data.filter(pl.col("in_reference"))
    if ref.height:
        band = pl.DataFrame({"a": [ref["rel_quarter"].min() - 0.5],
                             "b": [ref["rel_quarter"].max() + 0.5],
                             "text": ["Référence : moyenne de ces trimestres"]})  # fmt: skip
        layers.append(alt.Chart(band).mark_rect(color=BLUE_FRANCE_925).encode(x="a:Q", x2="b:Q"))
        layers.append(alt.Chart(band).mark_text(align="left", baseline="top", dx=2, dy=2,
                                                color=TEXT, fontSize=10)
                      .encode(x="a:Q", y=alt.value(0), text="text:N"))  # fmt: skip
    mixed = data.filter(pl.col("nature").is_in(natures[-2:]) & (pl.col("rel_quarter") > 0))
    if mixed.height:
        band = pl.DataFrame({"a": [mixed["rel_quarter"].min() - 0.5],
                             "b": [mixed["rel_quarter"].max() + 0.5],
                             "text": ["À partir de 2020 : label + fonds + COVID"]})  # fmt: skip
        layers.append(alt.Chart(band).mark_rect(color=GREY_BORDER, opacity=0.6)
                      .encode(x="a:Q", x2="b:Q"))  # fmt: skip
        layers.append(alt.Chart(band).mark_text(align="left", baseline="top", dx=2, dy=2,
                                                color=TEXT, fontSize=10)
                      .encode(x="a:Q", y=alt.value(0), text="text:N"))  # fmt: skip
    layers.append(alt.Chart(pl.DataFrame({"z": [0.0]})).mark_rule(color=GREY_MID).encode(y="z:Q"))
    event = pl.DataFrame({"at": [-0.5]})
    layers.append(alt.Chart(event).mark_rule(color=EVENT_LINE["color"],
                                             strokeDash=EVENT_LINE["dash"],
                                             strokeWidth=EVENT_LINE["width"])
                  .encode(x="at:Q"))  # fmt: skip
    tooltip = [alt.Tooltip("quarters:N", title="Trimestre(s)"),
               alt.Tooltip("label:N", title="Estimation"),
               alt.Tooltip("interval:N", title="IC à 95 %"),
               alt.Tooltip("nature:N", title="Nature")]  # fmt: skip
    base = alt.Chart(data).encode(x=x, tooltip=tooltip)
    layers.append(
        base.transform_filter("isValid(datum.ci_low) && isValid(datum.ci_high)")
        .mark_rule(color=BLUE_FRANCE, strokeWidth=1.5)
        .encode(y=alt.Y("ci_low:Q", title=axis_title_y, axis=y_axis), y2="ci_high:Q")
    )
    layers.append(
        base.mark_point(size=70, filled=True, stroke=BLUE_FRANCE, strokeWidth=1.5, opacity=1)
        .encode(
            y=alt.Y("estimate:Q", title=axis_title_y, axis=y_axis),
            shape=alt.Shape("nature:N", scale=alt.Scale(domain=natures,
                            range=[_SHAPES[n] for n in natures]),
                            legend=alt.Legend(title=None, orient="bottom", columns=2,
                                              labelLimit=420)),
            fill=alt.Fill("nature:N", scale=alt.Scale(domain=natures,
                          range=[_FILLS[n] for n in natures]), legend=None),
        )
    )  # fmt: skip
    return alt.layer(*layers).properties(
        title=_title(title, reading, source, note=note, synthetic=_is_synthetic(df)),
        width=width,
        height=height,
    )


# --------------------------------------------------------------------------- honest DiD


_RESTRICTION_FR = {
    "smoothness": (
        "Lissage : la pente de l'écart varie d'au plus M par trimestre",
        "M (points de chômage par trimestre, par trimestre)",
    ),
    "relative_magnitude": (
        "Ampleur relative : écarts après le label ≤ R × plus grand écart avant",
        "R (multiple du plus grand écart trimestriel avant le label)",
    ),
}


def format_small(value: Any) -> str:
    """French number with enough decimals to show two significant digits (``0,0027``)."""
    if value is None or value != value:
        return NOT_AVAILABLE
    v = abs(float(value))
    digits = 2 if v >= 0.1 or v == 0 else min(6, 1 - int(np.floor(np.log10(v))))
    return format_ratio(value, digits)


def chart_honest_bounds(
    df: pl.DataFrame,
    *,
    title: str,
    reading: str,
    source: str,
    breakdown: pl.DataFrame | None = None,
    note: str | None = None,
    value_formatter: Callable[[Any], str] = _fmt2,
    width: int = 300,
    height: int = 260,
) -> alt.HConcatChart:
    """Rambachan–Roth intervals as the allowed violation of parallel trends grows.

    Input: rows of ``honest`` for one specification: ``restriction`` (``conventional``,
    ``smoothness``, ``relative_magnitude``), ``m`` (Float64, null for conventional),
    ``estimate``, ``ci_low``, ``ci_high`` (Float64). One panel per restriction (robust
    intervals as bars); the conventional interval is a red band behind each panel;
    ``breakdown`` (rows of ``honest_breakdown``: ``restriction``, ``breakdown_m``) adds a dashed
    line where the interval starts to include 0.
    """
    _check_frame(df, ["restriction", "m", "estimate", "ci_low", "ci_high"], "chart_honest_bounds")
    conv = df.filter(pl.col("restriction") == "conventional")
    panels = []
    for restriction, (subtitle, axis_x) in _RESTRICTION_FR.items():
        part = df.filter(pl.col("restriction") == restriction).sort("m")
        if part.height == 0:
            continue
        data = part.select("m", "estimate", "ci_low", "ci_high").with_columns(
            pl.Series("interval", [format_interval(a, b, value_formatter)
                                   for a, b in part.select("ci_low", "ci_high").rows()]),
            pl.Series("m_label", [format_small(m) for m in _values(part, "m")]),
        )  # fmt: skip
        tooltip = [alt.Tooltip("m_label:N", title="Valeur de la restriction"),
                   alt.Tooltip("interval:N", title="IC à 95 %")]  # fmt: skip
        top = float(part["m"].max() or 1.0)
        digits = max(1, int(np.ceil(-np.log10(top / 5.0))) + 1) if top > 0 else 1
        x = alt.X("m:Q", title=axis_x, axis=alt.Axis(format=f",.{digits}~f", tickCount=5),
                  scale=alt.Scale(zero=True, nice=False, padding=8))  # fmt: skip
        y = alt.Y("ci_low:Q", title="Effet moyen après le label (points)",
                  axis=alt.Axis(format=",.2f"))  # fmt: skip
        layers: list[alt.Chart] = []
        if conv.height:
            band = conv.select("ci_low", "ci_high").with_columns(
                pl.lit(f"Intervalle usuel {format_interval(conv['ci_low'][0], conv['ci_high'][0], value_formatter)}").alias("text")
            )  # fmt: skip
            layers.append(alt.Chart(band).mark_rect(color=RED_MARIANNE, opacity=0.12)
                          .encode(y="ci_low:Q", y2="ci_high:Q"))  # fmt: skip
            layers.append(alt.Chart(band).mark_text(align="right", baseline="top", dx=-3,
                                                    dy=3, color=RED_MARIANNE)
                          .encode(x=alt.value(width), y="ci_low:Q", text="text:N"))  # fmt: skip
        layers.append(
            alt.Chart(pl.DataFrame({"z": [0.0]})).mark_rule(color=GREY_MID).encode(y="z:Q")
        )
        base = alt.Chart(data).encode(x=x, tooltip=tooltip)
        layers.append(base.mark_rule(color=BLUE_FRANCE, strokeWidth=2).encode(y=y, y2="ci_high:Q"))
        layers.append(base.mark_point(color=BLUE_FRANCE, filled=True, size=40, opacity=1)
                      .encode(y="estimate:Q"))  # fmt: skip
        if breakdown is not None and breakdown.height:
            row = breakdown.filter(pl.col("restriction") == restriction)
            value = row["breakdown_m"][0] if row.height else None
            if value is not None and value > 0:
                rule = pl.DataFrame({"at": [float(value)],
                                     "text": [f"0 inclus dès {format_small(value)}"]})  # fmt: skip
                layers.append(alt.Chart(rule).mark_rule(color=TEXT, strokeDash=[4, 3])
                              .encode(x="at:Q"))  # fmt: skip
                layers.append(alt.Chart(rule).mark_text(align="left", dx=3, dy=2,
                                                        baseline="top", color=TEXT)
                              .encode(x="at:Q", y=alt.value(0), text="text:N"))  # fmt: skip
        panels.append(
            alt.layer(*layers).properties(
                title=alt.Title(subtitle, fontSize=12), width=width, height=height
            )
        )
    if not panels:
        raise ParameterError("chart_honest_bounds: no smoothness or relative_magnitude rows")
    return alt.hconcat(*panels).properties(
        title=_title(title, reading, source, note=note, synthetic=_is_synthetic(df))
    )


# --------------------------------------------------------------------------- synthetic control


def chart_synthetic_control(
    df: pl.DataFrame,
    *,
    title: str,
    reading: str,
    source: str,
    note: str | None = None,
    label_period: str = "2018-T4",
    width: int = 560,
    height: int = 280,
) -> alt.LayerChart:
    """Observed unemployment of a territory and its synthetic control, quarter by quarter.

    Input (rows of ``synth_series`` for one territory): ``period`` (quarter label),
    ``observed_pct``, ``synthetic_pct`` (Float64, percent) and ``segment`` (``pre``,
    ``label_quarter``, ``post``, ``mixed``). The territory is solid rouge Marianne, its
    counterfactual dashed bleu France; quarters of the ``mixed`` segment (2020 onwards) sit on a
    grey band; a dashed vertical line marks the label quarter.
    """
    _check_frame(df, ["period", "observed_pct", "synthetic_pct", "segment"],
                 "chart_synthetic_control")  # fmt: skip
    base = df.select("period", "observed_pct", "synthetic_pct", "segment").sort("period")
    order = ["Territoire (observé)", "Contrefactuel (contrôle synthétique)"]
    long = pl.concat([
        base.select("period", pl.col("observed_pct").alias("value"),
                    pl.lit(order[0]).alias("series")),
        base.select("period", pl.col("synthetic_pct").alias("value"),
                    pl.lit(order[1]).alias("series")),
    ]).with_columns(
    )  # fmt: skip
    long = long.with_columns(
        pl.Series("quarter", [format_period(p) for p in _values(long, "period")]),
        pl.Series("value_label", [format_ratio(v, 1) + " %" for v in _values(long, "value")]),
        pl.Series("x", [_quarter_number(p) for p in _values(long, "period")], dtype=pl.Float64),
    )  # fmt: skip
    x = alt.X("x:Q", title=None, axis=alt.Axis(format="d", tickMinStep=1, grid=False),
              scale=alt.Scale(nice=False, zero=False))  # fmt: skip
    tooltip = [alt.Tooltip("series:N", title="Série"), alt.Tooltip("quarter:N", title="Trimestre"),
               alt.Tooltip("value_label:N", title="Taux de chômage")]  # fmt: skip
    layers: list[alt.Chart] = []
    mixed = base.filter(pl.col("segment") == "mixed")
    if mixed.height:
        band = pl.DataFrame({"a": [_quarter_number(mixed["period"].min())],
                             "b": [_quarter_number(mixed["period"].max()) + 0.25],
                             "text": ["Label + fonds + COVID, non séparables"]})  # fmt: skip
        layers.append(alt.Chart(band).mark_rect(color=GREY_BORDER, opacity=0.6)
                      .encode(x="a:Q", x2="b:Q"))  # fmt: skip
        layers.append(alt.Chart(band).mark_text(align="left", baseline="top", dx=2, dy=2,
                                                fontSize=10, color=TEXT)
                      .encode(x="a:Q", y=alt.value(0), text="text:N"))  # fmt: skip
    event = pl.DataFrame({"at": [_quarter_number(label_period) + 0.125]})
    layers.append(alt.Chart(event).mark_rule(color=EVENT_LINE["color"],
                                             strokeDash=EVENT_LINE["dash"],
                                             strokeWidth=EVENT_LINE["width"])
                  .encode(x="at:Q"))  # fmt: skip
    layers.append(
        alt.Chart(long).mark_line(strokeWidth=2).encode(
            x=x,
            y=alt.Y("value:Q", title="Taux de chômage (%)", scale=alt.Scale(zero=False),
                    axis=alt.Axis(format=",.1f")),
            color=alt.Color("series:N", scale=alt.Scale(domain=order,
                            range=[RED_MARIANNE, BLUE_FRANCE]),
                            legend=alt.Legend(title=None, orient="bottom", labelLimit=420)),
            strokeDash=alt.StrokeDash("series:N", scale=alt.Scale(domain=order,
                                      range=[[1, 0], [6, 3]]), legend=None),
            tooltip=tooltip,
        )
    )  # fmt: skip
    return alt.layer(*layers).properties(
        title=_title(title, reading, source, note=note, synthetic=_is_synthetic(df)),
        width=width,
        height=height,
    )


def _quarter_number(period: str) -> float:
    """``"2018-T4"`` -> ``2018.75`` (start of the quarter as a decimal year)."""
    year, quarter = period.split("-T")
    return int(year) + (int(quarter) - 1) / 4
