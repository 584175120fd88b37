"""Maps over région outlines: the outline file (18 régions, INSEE codes, COG départements), and
maps that render offline (vl_convert) with no NaN, framed overseas insets including Mayotte,
the masked-cell legend, no mixed phases, région and territory layouts."""

from __future__ import annotations

import html
import json
import lzma
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import vl_convert

from analyse import charts
from analyse.charts.maps import (
    OVERSEAS_ORDER,
    STATUS_MASKED,
    STATUS_MISSING,
    _ring_area2,
    read_outlines,
)
from analyse.charts.theme import GREY_MID, RED_MARIANNE
from analyse.errors import ParameterError
from analyse.reference import OVERSEAS_REGIONS, REGION_NAMES

ROOT = Path(__file__).resolve().parents[1]
#: The outline file as shipped (reference snapshot) or materialised (data/raw).
OUTLINE_FILES = [
    ROOT / "data/raw/outlines/france_regions.geojson",
    ROOT / "data/reference/outlines.geojson.xz",
]
#: Rough lon/lat boxes of each overseas région and of metropolitan France (with Corse).
OVERSEAS_BOUNDS = {
    "01": (-62, 15.8, -60.9, 16.6),
    "02": (-61.3, 14.3, -60.7, 15),
    "03": (-54.7, 2, -51.5, 5.9),
    "04": (55.1, -21.5, 56, -20.8),
    "06": (44.9, -13.1, 45.4, -12.6),
}
METRO_BOUNDS = (-5.3, 41.3, 9.7, 51.2)


def svg_texts(svg: str) -> list[str]:
    return [html.unescape(t) for t in re.findall(r"<(?:text|tspan)\b[^>]*>([^<]+)<", svg)]


def render(chart: Any) -> tuple[dict[str, Any], str, list[str]]:
    """Spec (schema-validated), SVG and its texts; no path may hold a NaN coordinate."""
    spec = charts.chart_to_dict(chart)
    svg = charts.chart_to_svg(chart)
    paths = re.findall(r'\bd="([^"]*)"', svg)
    assert paths and not [d for d in paths if "NaN" in d]
    assert "NaN" not in svg
    return spec, svg, svg_texts(svg)


def svg_size(svg: str) -> tuple[float, float]:
    match = re.search(r'<svg[^>]*width="([\d.]+)" height="([\d.]+)"', svg)
    return float(match.group(1)), float(match.group(2))


def datasets(spec: dict[str, Any]) -> list[list[dict[str, Any]]]:
    out = []
    for values in spec.get("datasets", {}).values():
        out.append(json.loads(values) if isinstance(values, str) else values)
    return out


def territory_rows(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """Territory data of a map (each territory once: layers share named datasets)."""
    return [r for rows in datasets(spec) for r in rows if r.get("kind") == "territory"]


def box(x: float, y: float, d: float = 0.4) -> dict[str, Any]:
    ring = [[x, y], [x + d, y], [x + d, y + d], [x, y + d], [x, y]]  # RFC 7946 (CCW)
    return {"type": "Polygon", "coordinates": [ring]}


@pytest.fixture(scope="module")
def outline_file() -> Path:
    found = next((p for p in OUTLINE_FILES if p.is_file()), None)
    if found is None:
        pytest.skip("outline file not materialised (analyse fetch --reference)")
    return found


@pytest.fixture
def toy_outlines() -> dict[str, Any]:
    """18 square régions: metropolitan ones on a grid in France, overseas ones in place."""
    features = []
    metro = sorted(c for c in REGION_NAMES if c not in OVERSEAS_REGIONS)
    for k, code in enumerate(metro):
        geom = box(-2 + 2 * (k % 5), 43 + 2 * (k // 5), 2)
        features.append({"type": "Feature", "properties": {"region_code": code}, "geometry": geom})
    for code, (x0, y0, x1, y1) in OVERSEAS_BOUNDS.items():
        geom = box(x0 + 0.1, y0 + 0.1, min(x1 - x0, y1 - y0) - 0.2)
        features.append({"type": "Feature", "properties": {"region_code": code}, "geometry": geom})
    return {"type": "FeatureCollection", "features": features}


@pytest.fixture
def shapes() -> pl.DataFrame:
    rows = [
        ("ti-8401", "Alpha", "84", box(4.5, 45.2), 3.0, False),
        ("ti-8402", "Bêta", "84", box(5.0, 45.4), None, True),
        ("ti-8403", "Gamma", "84", box(4.0, 45.6), None, False),
        ("ti-1101", "Delta", "11", box(2.2, 48.6), 7.5, False),
        ("ti-0101", "Basse-Terre", "01", box(-61.7, 16.0, 0.2), 5.0, False),
        ("ti-0601", "Mayotte", "06", box(45.1, -12.9, 0.1), 4.2, False),
    ]
    return pl.DataFrame(
        {
            "ti_id": [r[0] for r in rows],
            "ti_phase": pl.Series([2] * len(rows), dtype=pl.Int8),
            "ti_name": [r[1] for r in rows],
            "region_code": [r[2] for r in rows],
            "geometry_geojson": [json.dumps(r[3]) for r in rows],
            "leverage": [r[4] for r in rows],
            "is_masked": [r[5] for r in rows],
            "cell": [f"region_code={r[2]};ti_p2={r[0]}" for r in rows],
        }
    )


def _map(shapes: pl.DataFrame, outlines: Any, **kw: Any) -> Any:
    return charts.chart_territory_map(
        shapes,
        kw.pop("value_col", "leverage"),
        masked="is_masked",
        value_title="Effet de levier",
        title="Effet de levier par territoire",
        reading="Alpha a un effet de levier de 3,0.",
        source="ANCT ; Natural Earth",
        outlines=outlines,
        **kw,
    )


# --------------------------------------------------------------------------- outline file


def cog_departements() -> dict[str, str] | None:
    """Département -> région from the project's COG commune list, when available."""
    for path in (
        ROOT / "data/raw/etalab_decoupage/communes.json",
        ROOT / "data/reference/etalab_communes.json.xz",
    ):
        if path.is_file():
            raw = path.read_bytes()
            communes = json.loads(lzma.decompress(raw) if path.suffix == ".xz" else raw)
            return {
                c["departement"]: c["region"]
                for c in communes
                if c.get("region") in REGION_NAMES and c.get("type") == "commune-actuelle"
            }
    return None


def test_outline_file_covers_the_18_regions(outline_file: Path):
    raw = outline_file.read_bytes()
    text = lzma.decompress(raw) if outline_file.suffix == ".xz" else raw
    assert len(text) <= 300_000  # compact: map scale
    features = json.loads(text)["features"]
    props = {f["properties"]["region_code"]: f["properties"] for f in features}
    assert len(features) == 18 and set(props) == set(REGION_NAMES)
    assert {c: p["region_name"] for c, p in props.items()} == REGION_NAMES
    assert not re.search(r"\d\.\d{4,}", text.decode("utf-8"))  # coordinates rounded
    frame = read_outlines(outline_file)
    assert frame.columns == ["region_code", "region_name", "geometry_geojson"]
    for f in features:
        code = f["properties"]["region_code"]
        ring_points = [
            p
            for poly in (
                [f["geometry"]["coordinates"]]
                if f["geometry"]["type"] == "Polygon"
                else f["geometry"]["coordinates"]
            )
            for ring in poly
            for p in ring
        ]
        x0, y0, x1, y1 = OVERSEAS_BOUNDS.get(code, METRO_BOUNDS)
        assert all(x0 <= x <= x1 and y0 <= y <= y1 for x, y in ring_points), code
    cog = cog_departements()
    if cog is not None:  # the dissolution follows the INSEE COG
        expected: dict[str, list[str]] = defaultdict(list)
        for dep, region in sorted(cog.items()):
            expected[region].append(dep)
        assert {c: p["departements"] for c, p in props.items()} == dict(expected)


def test_read_outlines_plain_xz_and_dict(tmp_path: Path, toy_outlines: dict[str, Any]):
    plain = tmp_path / "france_regions.geojson"
    plain.write_text(json.dumps(toy_outlines), encoding="utf-8")
    packed = tmp_path / "outlines.geojson.xz"
    packed.write_bytes(lzma.compress(plain.read_bytes()))
    a, b = read_outlines(plain), read_outlines(packed)
    assert a.equals(b) and a.height == 18
    assert a.filter(pl.col("region_code") == "06")["region_name"][0] == "Mayotte"
    (tmp_path / "empty.geojson").write_text('{"type":"FeatureCollection","features":[]}')
    with pytest.raises(ParameterError, match="region_code"):
        read_outlines(tmp_path / "empty.geojson")


# --------------------------------------------------------------------------- national map


def test_national_map_insets_framed_with_mayotte(shapes, toy_outlines):
    spec, svg, texts = render(_map(shapes, toy_outlines))
    # metropolitan panel then a row of five framed, labelled insets
    metro, row = spec["vconcat"]
    insets = row["hconcat"]
    assert [i["title"]["text"] for i in insets] == [REGION_NAMES[c] for c in OVERSEAS_ORDER]
    assert all(i["view"]["stroke"] == GREY_MID for i in insets)
    assert {REGION_NAMES[c] for c in OVERSEAS_ORDER} <= set(texts)
    assert svg.count(f'stroke="{GREY_MID}"') >= 5  # the five frames are drawn
    # every view has its own projection (Vega-Lite would merge identical ones): six
    # projections, each inset centred on its own région, none skewed (Mercator)
    projections = vl_convert.vegalite_to_vega(spec)["projections"]
    assert len(projections) == 6
    overseas = [p for p in projections if p["type"] == "mercator"]
    centres = sorted(-p["rotate"][0] for p in overseas)
    rings = {
        f["properties"]["region_code"]: f["geometry"]["coordinates"][0]
        for f in toy_outlines["features"]
    }
    expected = [
        (min(x for x, _ in rings[c]) + max(x for x, _ in rings[c])) / 2 for c in OVERSEAS_ORDER
    ]
    assert centres == pytest.approx(sorted(expected), abs=1e-3)
    assert sum(p["type"] == "conicConformal" for p in projections) == 1
    # nothing drawn outside the layout (a shared projection would throw insets far away)
    width, height = svg_size(svg)
    assert width < 800 and height < 800
    assert any("chacun à sa propre échelle" in t for t in texts)
    assert metro["height"] >= 300


def test_national_map_masked_legend_and_cells(shapes, toy_outlines):
    spec, svg, texts = render(_map(shapes, toy_outlines))
    assert STATUS_MASKED in texts and STATUS_MISSING in texts  # "s : secret statistique"
    rows = {r["ti_id"]: r for r in territory_rows(spec)}
    assert len(rows) == shapes.height  # each territory inlined once
    beta, gamma = rows["ti-8402"], rows["ti-8403"]
    assert beta["leverage"] is None and beta["value_label"] == "s"
    assert beta["status"] == STATUS_MASKED and gamma["status"] == STATUS_MISSING
    assert gamma["value_label"] == "n.d."
    assert rows["ti-8401"]["leverage"] == 3.0 and rows["ti-8401"]["status"] is None
    assert all(
        r["cell"] == f"region_code={r['region_code']};ti_p2={r['ti_id']}" for r in rows.values()
    )
    # d3 winding (exterior clockwise) whatever the input's
    assert all(_ring_area2(r["geometry"]["coordinates"][0]) < 0 for r in rows.values())
    # masked grey and missing white come from the status scale, never from the value ramp
    assert 'fill="#929292"' in svg.replace("rgb(146, 146, 146)", "#929292")


def test_map_refuses_mixed_phases_and_duplicates(shapes, toy_outlines):
    mixed = shapes.with_columns(ti_phase=pl.Series([1, 2, 2, 2, 2, 2], dtype=pl.Int8))
    with pytest.raises(ParameterError, match="phase"):
        _map(mixed, toy_outlines)
    _map(mixed, toy_outlines, allow_mixed_phases=True)  # asked for explicitly
    with pytest.raises(ParameterError, match="duplicate"):
        _map(pl.concat([shapes, shapes.head(1)]), toy_outlines)
    with pytest.raises(ParameterError, match="highlight"):
        _map(shapes, toy_outlines, highlight="ti-9999")


def test_national_map_without_outlines_still_has_insets(shapes):
    spec, _, texts = render(_map(shapes, None))
    titles = [i["title"]["text"] for i in spec["vconcat"][1]["hconcat"]]
    assert titles == ["Guadeloupe", "Mayotte"]  # only régions with territories


# --------------------------------------------------------------------------- région maps


def test_region_map_fits_region_with_faint_neighbours(shapes, toy_outlines):
    chart = _map(shapes.filter(pl.col("region_code") == "84"), toy_outlines)
    spec, svg, texts = render(chart)
    assert spec["projection"]["type"] == "conicConformal"
    corners = spec["projection"]["fit"]["geometry"]["coordinates"]
    region = next(f for f in toy_outlines["features"] if f["properties"]["region_code"] == "84")
    ring = region["geometry"]["coordinates"][0]
    assert min(c[0] for c in corners) < min(p[0] for p in ring)  # the région and a margin
    assert max(c[0] for c in corners) > max(p[0] for p in ring)
    outline_rows = [r for rows in datasets(spec) for r in rows if r.get("kind")]
    kinds = {r["region_code"]: r["kind"] for r in outline_rows if r["kind"] != "territory"}
    assert kinds["84"] == "region" and "neighbour" in kinds.values()
    assert all(kinds.get(c) is None for c in OVERSEAS_REGIONS)
    # layers that may reach outside the view are clipped to it
    assert all(layer["mark"].get("clip") for layer in spec["layer"])
    assert svg_size(svg)[0] < 800


def test_overseas_region_map_guyane(toy_outlines):
    guyane = pl.DataFrame(
        {
            "ti_id": ["ti-0301"],
            "ti_name": ["Ouest guyanais"],
            "region_code": ["03"],
            "geometry_geojson": [json.dumps(box(-54.3, 4.0, 1.0))],
        }
    )
    chart = charts.chart_territory_map(
        guyane, title="Guyane", reading="r", source="ANCT", outlines=toy_outlines
    )
    spec, _, _ = render(chart)
    assert spec["projection"]["type"] == "mercator"
    assert spec["projection"]["rotate"][0] == pytest.approx(53.1, abs=0.1)


def test_territory_map_highlights_within_its_region(shapes, toy_outlines):
    metro84 = shapes.filter(pl.col("region_code") == "84")
    chart = charts.chart_territory_map(
        metro84,
        highlight="ti-8401",
        title="Alpha parmi les territoires de la région",
        reading="contour rouge : le territoire.",
        source="ANCT",
        outlines=toy_outlines,
        width=360,
        height=320,
    )
    _, svg, texts = render(chart)
    assert "Alpha" in texts
    assert RED_MARIANNE.lower() in svg.lower()


def test_real_perimeters_on_real_outlines(reference_raw: Path, outline_file: Path):
    """The phase-2 ANCT perimeters on the shipped outlines: national and région 84 maps."""
    from analyse.clean.territories import build_territory_shapes

    path = reference_raw / "territoires_industrie/wave2_2023_superposeur-anct/ti_geom.geojson"
    if not path.is_file():
        pytest.skip(f"{path} not available")
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    ids = sorted({f["properties"]["id_territoire"].lower() for f in features})
    names = {
        f["properties"]["id_territoire"].lower(): f["properties"]["lib_territoire"]
        for f in features
    }
    territories = pl.DataFrame(
        {
            "ti_id": ids,
            "ti_phase": pl.Series([2] * len(ids), dtype=pl.Int8),
            "ti_name": [names[i] for i in ids],
            "region_code": [i[3:5] for i in ids],
        }
    )
    shapes = build_territory_shapes(features, territories, id_property="id_territoire")
    shapes = shapes.with_columns(value=pl.int_range(pl.len()).cast(pl.Float64) / 10)
    outlines = read_outlines(outline_file)
    spec, svg, texts = render(
        charts.chart_territory_map(
            shapes, "value", title="t", reading="r", source="s", outlines=outlines
        )
    )
    assert {REGION_NAMES[c] for c in OVERSEAS_ORDER} <= set(texts)
    assert len(territory_rows(spec)) == shapes.height
    width, height = svg_size(svg)
    assert width < 900 and height < 900
    regional = shapes.filter(pl.col("region_code") == "84")
    _, svg84, texts84 = render(
        charts.chart_territory_map(
            regional,
            highlight=regional["ti_id"][0],
            title="t",
            reading="r",
            source="s",
            outlines=outlines,
        )
    )
    assert regional["ti_name"][0] in texts84
    assert "Provence-Alpes-Côte d'Azur" in texts84  # a neighbour, named
