"""Chart builders: valid Vega-Lite, small inline data, the analyse_dsfr theme, and an actual
offline SVG rendering (vl_convert) with French number formats."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
from pathlib import Path
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


def polygon_extents(svg: str) -> list[tuple[float, float, float]]:
    """(width, height, enclosing group width) in px of each polygon path drawn with M/L."""
    total_width = float(re.search(r'<svg[^>]*width="([\d.]+)"', svg).group(1))
    out = []
    for d in re.findall(r'<path[^>]*\bd="(M[^"]*L[^"]*)"', svg):
        points = [(float(x), float(y)) for x, y in re.findall(r"[ML](-?[\d.]+),(-?[\d.]+)", d)]
        xs, ys = [p[0] for p in points], [p[1] for p in points]
        out.append((max(xs) - min(xs), max(ys) - min(ys), total_width))
    return out


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


def features_of(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Territory features inlined in a spec (as many times as they are inlined)."""
    found = []
    for values in _inline_values(spec):
        rows = values.get("features", []) if isinstance(values, dict) else values
        found += [r for r in rows if isinstance(r, dict) and "ti_id" in r.get("properties", {})]
    return found


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


def test_unemployment_trend():
    periods = [f"{y}-T{q}" for y in range(2015, 2024) for q in range(1, 5)]
    groups = ["ZE de Lacq", "Nouvelle-Aquitaine", "France"]
    df = pl.DataFrame(
        {
            "period": periods * 3,
            "unemployment_rate_pct": [8 + 0.05 * i + g for g in (0, 1, -0.5) for i in range(36)],
            "scale": [g for g in groups for _ in periods],
        }
    )
    chart = charts.chart_unemployment_trend(
        df,
        group_col="scale",
        group_order=["ZE de Lacq", "Nouvelle-Aquitaine", "France"],
        title="Taux de chômage",
        reading="fin 2018, le taux de chômage de la zone est de 9,0 %.",
        source="INSEE",
    )
    spec, _, texts = check(chart)
    assert set(groups) <= set(texts)  # direct end labels (and legend)
    assert "Labellisation (4e\u00a0trimestre 2018)" in texts
    assert any(re.fullmatch(r"\d+,\d", t) for t in texts)  # French decimals on the y axis
    with pytest.raises(ParameterError, match="group_order"):
        charts.chart_unemployment_trend(
            df, group_col="scale", group_order=["France"], title="t", reading="r", source="s"
        )


def square(x: float, y: float, d: float = 1.0, ccw: bool = True) -> str:
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]
    return json.dumps({"type": "Polygon", "coordinates": [ring if ccw else ring[::-1]]})


@pytest.fixture
def shapes() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "ti_id": ["ti-8401", "ti-8402", "ti-0101"],
            "ti_phase": pl.Series([2, 2, 2], dtype=pl.Int8),
            "ti_name": ["Alpha", "Bêta", "Basse-Terre"],
            "region_code": ["84", "84", "01"],
            "geometry_geojson": [square(4, 45), square(5, 45.2, ccw=False), square(-61.7, 16, 0.3)],
            "leverage": [3.0, None, 5.0],
            "is_synthetic": [True, True, True],
        }
    )


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


def test_territory_map_with_overseas_inset(shapes):
    chart = charts.chart_territory_map(
        shapes,
        "leverage",
        highlight="ti-8401",
        value_title="Effet de levier",
        title="Effet de levier par territoire",
        reading="Alpha a un effet de levier de 3,0.",
        source="ANCT ; traitement analyse",
    )
    assert isinstance(chart, alt.LayerChart)  # one projection, overseas in framed boxes
    spec, svg, texts = check(chart)
    assert "Alpha" in texts and "Guadeloupe" in texts
    assert any("Données synthétiques" in t for t in texts)
    assert any("contour pointillé" in t for t in texts)  # missing value explained
    assert "Outre-mer dans les cadres du bas" in " ".join(texts)
    assert spec["projection"]["type"] == "conicConformal"
    features = features_of(spec)
    assert len(features) == 3  # each geometry inlined once (layers share their data)
    by_id = {f["properties"]["ti_id"]: f for f in features}
    # Guadeloupe moved into its box; metropolitan coordinates untouched
    x0, y0, x1, y1 = charts.OVERSEAS_BOXES["01"]
    ring = by_id["ti-0101"]["geometry"]["coordinates"][0]
    assert all(x0 < x < x1 and y0 < y < y1 for x, y in ring)
    assert sorted(map(tuple, by_id["ti-8401"]["geometry"]["coordinates"][0])) == sorted(
        map(tuple, json.loads(square(4, 45))["coordinates"][0])
    )
    # the missing value is not drawn like the lowest one: one territory (Alpha, 3,0) gets the
    # lowest colour of the ramp, one (Basse-Terre, 5,0) the highest
    assert svg.count('fill="rgb(202, 202, 251)"') == 1  # MAP_RAMP[0] = #CACAFB
    assert svg.count('fill="rgb(0, 0, 145)"') == 1  # #000091
    beta = next(f for f in features if f["properties"]["ti_id"] == "ti-8402")
    assert beta["properties"]["value_label"] == "n.d." and beta["properties"]["is_missing"]
    assert ring_area2(beta["geometry"]["coordinates"][0]) < 0
    # each territory is drawn as a bounded shape: with the GeoJSON (RFC 7946) winding d3 would
    # collapse it to a point and fill the whole sphere instead
    shapes_px = polygon_extents(svg)
    assert len(shapes_px) >= 3
    assert all(5 < w < 0.95 * width and h > 5 for w, h, width in shapes_px)


def test_territory_map_single_projection_and_masks(shapes):
    metro = shapes.head(2).with_columns(is_masked=pl.Series([True, False]))
    chart = charts.chart_territory_map(
        metro, "leverage", masked="is_masked", title="Carte", reading="r", source="s"
    )
    spec, _, _ = check(chart)
    assert spec["projection"]["type"] == "conicConformal"
    labels = [f["properties"]["value_label"] for f in features_of(spec)]
    assert labels == ["s", "n.d."]
    overseas = charts.chart_territory_map(shapes.tail(1), title="Carte", reading="r", source="s")
    assert charts.chart_to_dict(overseas)["projection"]["type"] == "mercator"
    bad = shapes.with_columns(geometry_geojson=pl.lit("not json"))
    with pytest.raises(ParameterError, match="GeoJSON"):
        charts.chart_territory_map(bad, title="t", reading="r", source="s")


def test_territory_map_real_geometries(shared_raw: Path):
    path = shared_raw / "territoires_industrie/wave2_2023_superposeur-anct/ti_geom.geojson"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    features = json.loads(path.read_text(encoding="utf-8"))["features"]

    def region(f: dict[str, Any]) -> str:
        return f["properties"]["id_territoire"][3:5]

    by_size = sorted(features, key=lambda f: len(json.dumps(f["geometry"])))
    overseas = [next(f for f in by_size if region(f) == code) for code in ("01", "04")]
    chosen = [f for f in by_size if region(f) not in {"01", "02", "03", "04", "06"}][:8] + overseas
    df = pl.DataFrame(
        {
            "ti_id": [f["properties"]["id_territoire"] for f in chosen],
            "ti_name": [f["properties"]["lib_territoire"] for f in chosen],
            "region_code": [f["properties"]["id_territoire"][3:5] for f in chosen],
            "geometry_geojson": [json.dumps(f["geometry"]) for f in chosen],
            "value": [float(i) for i in range(10)],
        }
    )
    chart = charts.chart_territory_map(
        df, "value", highlight=df["ti_id"][0], title="Carte", reading="r", source="ANCT"
    )
    _, svg, texts = check(chart)
    assert df["ti_name"][0] in texts
    assert {"Guadeloupe", "La Réunion"} <= set(texts)  # their boxes are labelled
    extents = polygon_extents(svg)
    assert sum(1 for w, h, _ in extents if w > 2 and h > 2) >= 10
    assert all(w < 0.5 * width for w, _, width in extents)  # small territories, no sphere fill


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
