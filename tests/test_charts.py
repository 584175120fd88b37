"""Chart builders: valid Vega-Lite, small inline data, the analyse_dsfr theme, and an actual
offline SVG rendering (vl_convert) with French number formats."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from typing import Any

import altair as alt
import polars as pl
import pytest

from analyse import charts
from analyse.charts.maps import _ring_area2 as ring_area2
from analyse.errors import ParameterError
from analyse.formatting import MINUS, NBSP, NNBSP

SOURCE = "fonds d'accélération, traitement analyse"


def svg_texts(svg: str) -> list[str]:
    """Text drawn in the SVG (single-line texts and the lines of multi-line ones)."""
    return [html.unescape(t) for t in re.findall(r"<(?:text|tspan)\b[^>]*>([^<]+)<", svg)]


def n_marks(svg: str) -> int:
    return len(re.findall(r"<path\b", svg)) + len(re.findall(r"<line\b", svg))


def _inline_values(node: Any):
    """Every inline ``values`` of a spec (JSON strings parsed) and every named dataset."""
    if isinstance(node, list):
        for item in node:
            yield from _inline_values(item)
    elif isinstance(node, dict):
        for key, value in node.items():
            if key == "values":
                yield json.loads(value) if isinstance(value, str) else value
            elif key == "datasets":
                yield from value.values()
            else:
                yield from _inline_values(value)


def inline_rows(spec: dict[str, Any]) -> int:
    """Rows of data inlined anywhere in a spec (a FeatureCollection counts its features)."""
    total = 0
    for values in _inline_values(spec):
        if isinstance(values, dict) and values.get("type") == "FeatureCollection":
            total += len(values["features"])
        else:
            total += len(values) if isinstance(values, list) else 1
    return total


def check(chart: alt.TopLevelMixin) -> tuple[dict[str, Any], str, list[str]]:
    """Spec (validated by Altair), SVG and its texts; asserts the common contract."""
    spec = charts.chart_to_dict(chart)  # to_dict validates against the Vega-Lite schema
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
    assert spec["config"]["locale"]["number"]["decimal"] == ","
    assert spec["config"]["locale"]["number"]["thousands"] == NNBSP
    assert spec["config"]["range"]["category"][0] == charts.BLUE_FRANCE
    assert spec["config"]["font"] == charts.FONT
    assert inline_rows(spec) < charts.MAX_ROWS
    svg = charts.chart_to_svg(chart)
    assert svg.startswith("<svg") and n_marks(svg) > 5
    texts = svg_texts(svg)
    assert any(t.startswith(f"Lecture{NBSP}:") for t in texts)
    assert any(t.startswith(f"Source{NBSP}:") for t in texts)
    return spec, svg, texts


@pytest.fixture
def leverage() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "firm_size": ["TPE", "PME", "ETI", "GE", "Autre"],
            "estimate": [9.4, 7.2, 12.1, 0.0, None],
            "ci_low": [8.1, 6.0, 10.0, 0.0, None],
            "ci_high": [10.7, 8.5, 14.3, 0.0, None],
            "is_masked": [False, False, False, True, False],
        }
    )


def test_theme_registered_and_enabled():
    previous, renderer_options = alt.theme.active, dict(alt.renderers.options)
    try:
        assert charts.THEME_NAME in alt.theme.names()
        assert charts.enable_theme() == "analyse_dsfr"
        assert alt.theme.active == "analyse_dsfr"
        spec = alt.Chart(pl.DataFrame({"a": [1]})).mark_point().encode(x="a:Q").to_dict()
        assert spec["config"]["locale"]["time"]["months"][10] == "novembre"
        embed = alt.renderers.options["embed_options"]
        assert embed["formatLocale"]["decimal"] == ","
    finally:
        alt.theme.enable(previous)
        alt.renderers.options.clear()
        alt.renderers.options.update(renderer_options)
    assert charts.VEGA_EMBED_OPTIONS["formatLocale"] == charts.FR_NUMBER_LOCALE
    assert charts.VEGA_EMBED_OPTIONS["timeFormatLocale"]["shortMonths"][0] == "janv."


def test_locale_in_spec_reaches_the_renderer():
    """The spec alone (no renderer option) must produce French axis numbers."""
    import vl_convert

    chart = (
        alt.Chart(pl.DataFrame({"x": ["a", "b"], "y": [1500.5, -2500.25]}))
        .mark_bar()
        .encode(x="x:N", y=alt.Y("y:Q", axis=alt.Axis(format=",.1f")))
    )
    texts = svg_texts(vl_convert.vegalite_to_svg(charts.chart_to_dict(chart)))
    assert f"1{NNBSP}000,0" in texts
    assert f"{MINUS}2{NNBSP}000,0" in texts
    assert "1,000.0" not in texts


def test_leverage_bars_masked_cell_reads_s_not_zero(leverage):
    chart = charts.chart_leverage_bars(
        leverage,
        "firm_size",
        title="Effet de levier par taille d'entreprise",
        reading="pour 1 € d'aide, les PME annoncent 7,2 € d'investissement.",
        source=SOURCE,
    )
    spec, _, texts = check(chart)
    rows = next(iter(spec["datasets"].values()))
    masked = next(r for r in rows if r["category"] == "GE")
    assert masked["estimate"] is None and masked["label"] == "s" and not masked["shown"]
    missing = next(r for r in rows if r["category"] == "Autre")
    assert missing["label"] == "n.d."
    assert "s" in texts and "n.d." in texts
    assert "12,1" in texts and "9,4" in texts  # French value labels
    assert "0,0" not in [r["label"] for r in rows]
    # sorted by estimate, masked and missing last
    assert spec["layer"][0]["encoding"]["y"]["sort"] == ["ETI", "TPE", "PME", "GE", "Autre"]
    assert "Effet de levier par taille d'entreprise" in texts


def test_leverage_points_with_reference(leverage):
    chart = charts.chart_leverage_bars(
        leverage.drop("is_masked"),
        "firm_size",
        mark="point",
        reference_value=8.0,
        title="Effet de levier",
        reading="x",
        source=SOURCE,
    )
    _, _, texts = check(chart)
    assert "Ensemble : 8,0" in texts
    with pytest.raises(ParameterError, match="mark"):
        charts.chart_leverage_bars(
            leverage, "firm_size", mark="pie", title="t", reading="r", source="s"
        )


def test_ranked_dots_highlight_and_reference():
    df = pl.DataFrame(
        {
            "ti_name": [f"Territoire {i:02d}" for i in range(12)],
            "leverage": [5 + 0.7 * i for i in range(12)],
            "lo": [4 + 0.7 * i for i in range(12)],
            "hi": [6 + 0.7 * i for i in range(12)],
        }
    )
    chart = charts.chart_ranked_dots(
        df,
        "ti_name",
        "leverage",
        "lo",
        "hi",
        highlight="Territoire 04",
        reference_value=8.3,
        reference_label="France",
        axis_title="Effet de levier",
        title="Levier par territoire",
        reading="Lecture : le territoire 04 est sous la moyenne nationale.",
        source=f"Source : {SOURCE}",
    )
    spec, svg, texts = check(chart)
    assert "France : 8,3" in texts
    assert "Territoire étudié" in texts  # legend: shape + colour, not colour alone
    assert charts.RED_MARIANNE.lower() in svg.lower()
    assert texts.count(f"Lecture{NBSP}: le territoire 04 est sous la moyenne nationale.") == 1
    with pytest.raises(ParameterError, match="highlight"):
        charts.chart_ranked_dots(
            df, "ti_name", "leverage", highlight="Nulle part", title="t", reading="r", source="s"
        )


def test_event_study():
    rel = list(range(-8, 9))
    df = pl.DataFrame(
        {
            "rel_quarter": rel,
            "estimate": [0.0 if k == -1 else 0.1 * ((k % 3) - 1) for k in rel],
            "ci_low": [None if k == -1 else 0.1 * ((k % 3) - 1) - 0.3 for k in rel],
            "ci_high": [None if k == -1 else 0.1 * ((k % 3) - 1) + 0.3 for k in rel],
        }
    )
    chart = charts.chart_event_study(
        df,
        title="Chômage autour de la labellisation",
        reading="un an après la labellisation, l'écart estimé est de 0,1 point.",
        source="INSEE, taux de chômage localisés ; estimation analyse",
    )
    spec, _, texts = check(chart)
    assert f"{MINUS}4" in texts  # French minus sign on the relative-quarter axis
    assert "Labellisation (22 novembre 2018)" in texts
    assert {"Avant la labellisation", "Après la labellisation"} <= set(texts)
    assert inline_rows(spec) < 30


def test_timeline():
    df = pl.DataFrame(
        {
            "date": [dt.date(2018, 11, 22), dt.date(2019, 3, 1), dt.date(2022, 12, 31)],
            "n_territories": [124, 136, 149],
            "label": ["124 territoires labellisés", "136 territoires", "Fin de phase 1 : 149"],
        }
    )
    chart = charts.chart_timeline(
        df,
        title="Territoires d'industrie labellisés",
        reading="le 22 novembre 2018, 124 territoires sont labellisés.",
        source="ANCT",
    )
    _, _, texts = check(chart)
    assert {"124 territoires labellisés", "136 territoires", "Fin de phase 1 : 149"} <= set(texts)
    assert "2020" in texts


def trend_frame(groups: list[str]) -> pl.DataFrame:
    periods = [f"{y}-T{q}" for y in range(2015, 2024) for q in range(1, 5)]
    return pl.DataFrame(
        {
            "period": periods * len(groups),
            "unemployment_rate_pct": [
                8 + 0.05 * i + g for g in range(len(groups)) for i in range(36)
            ],
            "scale": [g for g in groups for _ in periods],
        }
    )


def test_unemployment_trend():
    groups = ["ZE de Lacq", "Nouvelle-Aquitaine", "France"]
    chart = charts.chart_unemployment_trend(
        trend_frame(groups),
        group_col="scale",
        group_order=groups,
        roles={"ZE de Lacq": "territoire", "Nouvelle-Aquitaine": "region"},
        title="Taux de chômage",
        reading="fin 2018, le taux de chômage de la zone est de 9,0 %.",
        source="INSEE",
        champ="zones d'emploi ; région : moyenne non pondérée de ses zones.",
    )
    spec, _, texts = check(chart)
    assert set(groups) <= set(texts)  # direct end labels (and legend)
    assert "Labellisation (4e\u00a0trimestre 2018)" in texts
    assert any(re.fullmatch(r"\d+,\d", t) for t in texts)  # French decimals on the y axis
    champ = next(i for i, t in enumerate(texts) if t.startswith(f"Champ{NBSP}:"))
    assert texts[champ + 1].startswith(f"Lecture{NBSP}:")  # Champ, Lecture, Source
    with pytest.raises(ParameterError, match="group_order"):
        charts.chart_unemployment_trend(
            trend_frame(groups),
            group_col="scale",
            group_order=["France"],
            title="t",
            reading="r",
            source="s",
        )
    with pytest.raises(ParameterError, match="roles"):
        charts.chart_unemployment_trend(
            trend_frame(groups),
            group_col="scale",
            roles={"France": "pays"},
            title="t",
            reading="r",
            source="s",
        )


def test_scope_role_of_cell_keys():
    assert charts.scope_role("*") == "france"
    assert charts.scope_role("region_code=84") == "region"
    assert charts.scope_role("region_code=84;ti_p2=ti-8401") == "territoire"
    assert charts.scope_role("region_code=84;ti_p2=hors") is None
    assert charts.scope_role("sector=chimie") is None


def line_styles(chart: alt.TopLevelMixin) -> dict[str, tuple[str, tuple[int, ...], float]]:
    """Group -> (colour, dash, width) of the lines of a trend chart, from its spec."""
    spec = charts.chart_to_dict(chart)
    enc = next(layer["encoding"] for layer in spec["layer"] if layer["mark"]["type"] == "line")
    domain = enc["color"]["scale"]["domain"]
    assert enc["strokeDash"]["scale"]["domain"] == domain == enc["strokeWidth"]["scale"]["domain"]
    return {
        g: (c, tuple(d), w)
        for g, c, d, w in zip(
            domain,
            enc["color"]["scale"]["range"],
            enc["strokeDash"]["scale"]["range"],
            enc["strokeWidth"]["scale"]["range"],
            strict=True,
        )
    }


def test_line_style_is_one_per_meaning_across_charts():
    """A territory sheet (territory, région, France) and a région page (région, France, in
    another order): each meaning keeps its style, whatever the other lines are."""
    sheet = charts.chart_unemployment_trend(
        trend_frame(["Territoire", "Région", "France"]),
        group_col="scale",
        title="t",
        reading="r",
        source="s",
    )
    page = charts.chart_unemployment_trend(
        trend_frame(["France", "Région"]),
        group_col="scale",
        group_order=["France", "Région"],
        title="t",
        reading="r",
        source="s",
    )
    named = charts.chart_unemployment_trend(
        trend_frame(["Auvergne-Rhône-Alpes", "France"]),
        group_col="scale",
        roles={"Auvergne-Rhône-Alpes": "region"},
        title="t",
        reading="r",
        source="s",
    )
    a, b, c = line_styles(sheet), line_styles(page), line_styles(named)
    assert a["Région"] == b["Région"] == c["Auvergne-Rhône-Alpes"]
    assert a["France"] == b["France"] == c["France"]
    assert len(set(a.values())) == 3  # three meanings, three styles
    assert a["Territoire"][0] == charts.RED_MARIANNE
    # and the rendered paths carry them: same colour and dash pattern on both pages
    svg_a, svg_b = charts.chart_to_svg(sheet), charts.chart_to_svg(page)
    color, dash, _ = a["Région"]
    pattern = f'stroke="{color.lower()}"[^>]*stroke-dasharray="{",".join(map(str, dash))}"'
    assert re.search(pattern, svg_a.lower()) and re.search(pattern, svg_b.lower())


def test_rewind_geometry_orients_rings_for_d3():
    outer_ccw = [[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]
    hole_cw = [[0.5, 0.5], [0.5, 1.5], [1.5, 1.5], [1.5, 0.5], [0.5, 0.5]]
    rewound = charts.rewind_geometry({"type": "Polygon", "coordinates": [outer_ccw, hole_cw]})
    outer, hole = rewound["coordinates"]
    assert ring_area2(outer) < 0  # exterior clockwise
    assert ring_area2(hole) > 0  # hole counter-clockwise
    assert sorted(map(tuple, outer)) == sorted(map(tuple, outer_ccw))
    multi = charts.rewind_geometry({"type": "MultiPolygon", "coordinates": [[outer_ccw]]})
    assert ring_area2(multi["coordinates"][0][0]) < 0


def test_linked_explorer_has_linked_selections():
    df = pl.DataFrame(
        {
            "ti_name": [f"T{i}" for i in range(30)],
            "region_code": ["84", "75", "32"] * 10,
            "aid_eur": [1e6 * (i + 1) for i in range(30)],
            "investment_eur": [9e6 * (i + 1) for i in range(30)],
            "n_projects": [i % 7 + 1 for i in range(30)],
        }
    )
    chart = charts.chart_linked_explorer(df)
    spec, _, texts = check(chart)
    scatter, bars = spec["hconcat"]
    params = {p["name"]: p for p in spec["params"]}
    assert params["zone"]["select"]["type"] == "interval"
    assert params["zone"]["views"] == [scatter["name"]]
    assert params["region"]["select"]["type"] == "point"
    assert params["region"]["views"] == [bars["name"]]
    assert bars["transform"] == [{"filter": {"param": "zone"}}]  # brush filters the bars
    assert "region" in json.dumps(scatter["encoding"]["opacity"])  # click highlights points
    assert "Auvergne-Rhône-Alpes" in texts
    assert any(t.endswith(f"{NBSP}M€") for t in texts)  # French euro axis labels


def test_builders_refuse_large_or_bad_frames(leverage):
    big = pl.DataFrame(
        {"c": [str(i) for i in range(charts.MAX_ROWS)], "estimate": [1.0] * charts.MAX_ROWS}
    )
    with pytest.raises(ParameterError, match="aggregate"):
        charts.chart_leverage_bars(
            big, "c", low=None, high=None, title="t", reading="r", source="s"
        )
    with pytest.raises(ParameterError, match="not in the frame"):
        charts.chart_leverage_bars(leverage, "sector", title="t", reading="r", source="s")
    with pytest.raises(ParameterError, match="reading"):
        charts.chart_leverage_bars(leverage, "firm_size", title="t", reading="", source="s")
    with pytest.raises(ParameterError, match="DataFrame"):
        charts.chart_leverage_bars(leverage.lazy(), "firm_size", title="t", reading="r", source="s")
