"""Maps of Territoires d'industrie perimeters over France's région outlines (``mark_geoshape``).

Three layouts, chosen from the territories given (or forced with ``region=``):

- national: metropolitan France (conic conformal, Lambert-93-like) with its régions and
  France's outline, and the five overseas régions (Guadeloupe, Martinique, Guyane, La Réunion,
  Mayotte) each in its own framed, labelled inset at its own scale (Mercator fitted to the
  région: shapes are never moved or skewed, only projected);
- région: the région's outline, its neighbours faint and named, its territories;
- territory: the région layout with one territory outlined in rouge Marianne and named.

Outlines are the 18 régions of ``outlines/france_regions.geojson`` (Natural Earth 10m admin-1,
public domain, dissolved by région; :func:`read_outlines`). Territory perimeters are the
``territory_shapes`` core table (ANCT, real WGS84 GeoJSON, simplified at cleaning).
"""

from __future__ import annotations

import json
import lzma
import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import altair as alt
import polars as pl

from analyse.charts._common import _check_frame, _is_synthetic, _mask_flags, _title, _values
from analyse.charts.theme import (
    BLUE_FRANCE_850,
    GREY_BORDER,
    GREY_MID,
    MAP_RAMP,
    RED_MARIANNE,
    TEXT,
    TEXT_MENTION,
)
from analyse.errors import ParameterError
from analyse.formatting import format_masked, format_ratio
from analyse.reference import OVERSEAS_REGIONS, REGION_NAMES

#: Overseas régions in inset order (INSEE convention: Antilles, Guyane, océan Indien).
OVERSEAS_ORDER: tuple[str, ...] = ("01", "02", "03", "04", "06")
#: Lambert-93-like conic conformal projection for metropolitan France.
PROJECTION_METROPOLE = alt.Projection(type="conicConformal", parallels=[44, 49], rotate=[-3, 0])
#: Each overseas région: Mercator fitted to the région (conformal, no skew).
PROJECTION_OVERSEAS = alt.Projection(type="mercator")

#: Status of a territory on a choropleth, with the legend wording.
STATUS_MASKED = "s : secret statistique"
STATUS_MISSING = "n.d. : valeur non disponible"
#: Fills: masked cells grey (not on the blue ramp), missing values white, land outside any
#: territory very light grey, neighbouring régions light grey.
MASKED_FILL = "#929292"
LAND_FILL = "#F6F6F6"
NEIGHBOUR_FILL = "#E5E5E5"
#: Fill of a highlighted territory on a map without values (DSFR red-marianne-850).
RED_TINT = "#FCBFB7"
#: Extra margin (share of the région's extent) shown around a région.
REGION_PAD = 0.06

Outlines = pl.DataFrame | Mapping[str, Any]

# --------------------------------------------------------------------------- geometry


def _ring_area2(ring: Sequence[Sequence[float]]) -> float:
    """Twice the signed planar area of a ring (lon/lat), positive when counter-clockwise."""
    total = 0.0
    for (x1, y1, *_), (x2, y2, *_) in zip(ring, ring[1:], strict=False):
        total += x1 * y2 - x2 * y1
    return total


def _rewind_polygon(rings: list[Any]) -> list[Any]:
    """Orient rings as d3-geo expects: exterior clockwise, holes counter-clockwise.

    GeoJSON (RFC 7946) uses the opposite winding; d3 would then fill the whole sphere except
    the polygon. Rings are only reversed, never changed.
    """
    out = []
    for k, ring in enumerate(rings):
        ccw = _ring_area2(ring) > 0
        want_ccw = k > 0
        out.append(list(ring) if ccw == want_ccw else list(reversed(ring)))
    return out


def rewind_geometry(geometry: dict[str, Any]) -> dict[str, Any]:
    """Return a GeoJSON geometry with d3-geo (Vega) ring orientation."""
    kind = geometry.get("type")
    if kind == "Polygon":
        return {"type": kind, "coordinates": _rewind_polygon(geometry["coordinates"])}
    if kind == "MultiPolygon":
        return {"type": kind, "coordinates": [_rewind_polygon(p) for p in geometry["coordinates"]]}
    if kind == "GeometryCollection":
        return {"type": kind, "geometries": [rewind_geometry(g) for g in geometry["geometries"]]}
    return geometry


def _positions(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    """Every (lon, lat) of a geometry; raises on a malformed one."""
    found: list[tuple[float, float]] = []

    def walk(node: Any) -> None:
        if node and isinstance(node[0], int | float):
            found.append((float(node[0]), float(node[1])))
        else:
            for item in node:
                walk(item)

    if geometry.get("type") == "GeometryCollection":
        for g in geometry["geometries"]:
            found += _positions(g)
    else:
        walk(geometry["coordinates"])
    return found


def _bbox(geometries: Sequence[dict[str, Any]]) -> tuple[float, float, float, float]:
    points = [p for g in geometries for p in _positions(g)]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return min(xs), min(ys), max(xs), max(ys)


def _pad(box: tuple[float, float, float, float], share: float) -> tuple[float, ...]:
    x0, y0, x1, y1 = box
    dx, dy = max((x1 - x0) * share, 0.05), max((y1 - y0) * share, 0.05)
    return x0 - dx, y0 - dy, x1 + dx, y1 + dy


def _overlaps(a: Sequence[float], b: Sequence[float]) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _label_point(geometry: dict[str, Any]) -> tuple[float, float] | None:
    """A label anchor: centroid of the exterior ring of the largest polygon."""
    kind = geometry.get("type")
    if kind == "Polygon":
        polygons = [geometry["coordinates"]]
    elif kind == "MultiPolygon":
        polygons = geometry["coordinates"]
    elif kind == "GeometryCollection":
        points = [_label_point(g) for g in geometry["geometries"]]
        points = [p for p in points if p is not None]
        return points[0] if points else None
    else:
        return None
    best = max((p[0] for p in polygons if p), key=lambda r: abs(_ring_area2(r)), default=None)
    if not best:
        return None
    a2 = _ring_area2(best)
    if a2 == 0:
        xs, ys = [p[0] for p in best], [p[1] for p in best]
        return sum(xs) / len(xs), sum(ys) / len(ys)
    cx = cy = 0.0
    for (x1, y1, *_), (x2, y2, *_) in zip(best, best[1:], strict=False):
        cross = x1 * y2 - x2 * y1
        cx += (x1 + x2) * cross
        cy += (y1 + y2) * cross
    return cx / (3 * a2), cy / (3 * a2)


def _clip_ring(ring: Sequence[Sequence[float]], box: Sequence[float]) -> list[list[float]]:
    """Sutherland-Hodgman clip of a ring to a lon/lat box (for label placement only)."""
    x0, y0, x1, y1 = box
    edges = [
        (lambda p: p[0] >= x0, lambda a, b: (x0 - a[0]) / (b[0] - a[0])),
        (lambda p: p[0] <= x1, lambda a, b: (x1 - a[0]) / (b[0] - a[0])),
        (lambda p: p[1] >= y0, lambda a, b: (y0 - a[1]) / (b[1] - a[1])),
        (lambda p: p[1] <= y1, lambda a, b: (y1 - a[1]) / (b[1] - a[1])),
    ]
    points = [list(p[:2]) for p in ring]
    for inside, t_of in edges:
        out: list[list[float]] = []
        for k, cur in enumerate(points):
            prev = points[k - 1]
            if inside(cur) != inside(prev):
                t = t_of(prev, cur)
                out.append([prev[0] + t * (cur[0] - prev[0]), prev[1] + t * (cur[1] - prev[1])])
            if inside(cur):
                out.append(cur)
        points = out
        if not points:
            break
    return [*points, points[0]] if points else []


def _inside(point: Sequence[float], ring: Sequence[Sequence[float]]) -> bool:
    """Even-odd rule: is ``point`` inside ``ring``?"""
    x, y = point[0], point[1]
    hit = False
    for (x1, y1, *_), (x2, y2, *_) in zip(ring, ring[1:], strict=False):
        if (y1 > y) != (y2 > y) and x < x1 + (y - y1) * (x2 - x1) / (y2 - y1):
            hit = not hit
    return hit


def _visible_label(
    geometry: dict[str, Any], box: Sequence[float], half_width_deg: float
) -> tuple[float, float] | None:
    """Anchor of a label ``2 * half_width_deg`` wide (in longitude) set inside the part of a
    (Multi)Polygon visible in ``box``, or None when that part cannot hold it."""
    polygons = (
        geometry["coordinates"] if geometry["type"] == "MultiPolygon" else [geometry["coordinates"]]
    )
    clipped = [_clip_ring(p[0], box) for p in polygons if p]
    clipped = [r for r in clipped if len(r) > 3]
    if not clipped:
        return None
    best = max(clipped, key=lambda r: abs(_ring_area2(r)))
    anchor = _label_point({"type": "Polygon", "coordinates": [best]})
    if anchor is None or box[2] - box[0] < 2.2 * half_width_deg:
        return None
    lon = min(max(anchor[0], box[0] + 1.1 * half_width_deg), box[2] - 1.1 * half_width_deg)
    ends = [(lon - half_width_deg, anchor[1]), (lon, anchor[1]), (lon + half_width_deg, anchor[1])]
    return (lon, anchor[1]) if all(_inside(p, best) for p in ends) else None


def _parse_geometry(text: Any, what: str) -> dict[str, Any]:
    try:
        geometry = json.loads(text) if isinstance(text, str) else dict(text)
        _positions(geometry)
    except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
        raise ParameterError(f"chart_territory_map: {what} is not a GeoJSON geometry") from exc
    return geometry


# --------------------------------------------------------------------------- outlines


def read_outlines(path: Path | str) -> pl.DataFrame:
    """Région outlines from ``outlines/france_regions.geojson`` (plain or ``.xz``).

    Returns one row per région: ``region_code`` (INSEE), ``region_name``, ``geometry_geojson``
    (GeoJSON geometry as text, WGS84), the shape :func:`chart_territory_map` takes as
    ``outlines``. Raises :class:`ParameterError` when the file holds no région feature.
    """
    path = Path(path)
    raw = lzma.decompress(path.read_bytes()) if path.suffix == ".xz" else path.read_bytes()
    return _outline_frame(json.loads(raw.decode("utf-8")), str(path))


def _outline_frame(collection: Mapping[str, Any], what: str) -> pl.DataFrame:
    rows = []
    for feature in collection.get("features", []):
        props = feature.get("properties") or {}
        code = str(props.get("region_code", ""))
        if code and feature.get("geometry"):
            name = props.get("region_name") or REGION_NAMES.get(code, code)
            rows.append((code, name, json.dumps(feature["geometry"], separators=(",", ":"))))
    if not rows:
        raise ParameterError(f"{what}: no feature with a 'region_code' property")
    return pl.DataFrame(
        rows, schema=["region_code", "region_name", "geometry_geojson"], orient="row"
    )


def _outlines_by_code(outlines: Outlines | None) -> dict[str, dict[str, Any]]:
    """Région code -> {name, geometry (d3 winding), bbox} from a frame or a FeatureCollection."""
    if outlines is None:
        return {}
    frame = outlines if isinstance(outlines, pl.DataFrame) else _outline_frame(outlines, "outlines")
    _check_frame(frame, ["region_code", "geometry_geojson"], "chart_territory_map (outlines)")
    out = {}
    for row in frame.iter_rows(named=True):
        code = row["region_code"]
        geometry = _parse_geometry(row["geometry_geojson"], f"outline of région {code!r}")
        name = row.get("region_name") or REGION_NAMES.get(code, code)
        out[code] = {"name": name, "geometry": rewind_geometry(geometry), "bbox": _bbox([geometry])}
    return out


# --------------------------------------------------------------------------- features


def _territory_features(
    shapes: pl.DataFrame,
    value_col: str | None,
    masked: str | None,
    wanted: Sequence[str],
    value_formatter: Callable[[Any], str],
) -> list[dict[str, Any]]:
    """One GeoJSON feature per territory; display fields at top level (``cell`` passed on)."""
    values = _values(shapes, value_col) if value_col else [None] * shapes.height
    flags = _mask_flags(shapes, masked).to_list()
    cells = _values(shapes, "cell") if "cell" in shapes.columns else [None] * shapes.height
    features = []
    for row, value, is_masked, cell in zip(
        shapes.iter_rows(named=True), values, flags, cells, strict=True
    ):
        geometry = _parse_geometry(row["geometry_geojson"], f"geometry_geojson of {row['ti_id']!r}")
        if is_masked or (isinstance(value, float) and math.isnan(value)):
            value = None
        status = None
        if value_col and value is None:
            status = STATUS_MASKED if is_masked else STATUS_MISSING
        feature: dict[str, Any] = {
            "type": "Feature",
            "geometry": rewind_geometry(geometry),
            "properties": {},
            "kind": "territory",
            "ti_id": row["ti_id"],
            "ti_name": row["ti_name"],
            "region_code": row["region_code"],
            "region_name": REGION_NAMES.get(row["region_code"], row["region_code"]),
            "value_label": format_masked(value, is_masked, value_formatter),
            "status": status,
            "is_highlight": row["ti_id"] in wanted,
        }
        if value_col:
            feature[value_col] = value
        if cell is not None:
            feature["cell"] = cell
        features.append(feature)
    return features


def _outline_features(
    outlines: Mapping[str, dict[str, Any]], codes: Sequence[str], kind: str
) -> list[dict[str, Any]]:
    return [
        {
            "type": "Feature",
            "geometry": outlines[c]["geometry"],
            "properties": {},
            "kind": kind,
            "region_code": c,
            "region_name": outlines[c]["name"],
        }
        for c in codes
        if c in outlines
    ]


def _json_data(rows: list[dict[str, Any]]) -> alt.InlineData:
    """Inline rows as one JSON string (Vega parses it): Altair then neither walks, copies nor
    schema-checks every coordinate; identical strings are stored once in ``datasets``."""
    return alt.InlineData(
        values=json.dumps(rows, ensure_ascii=False, separators=(",", ":")),
        format=alt.DataFormat(type="json"),
    )


def _fit_feature(box: Sequence[float]) -> dict[str, Any]:
    """The corners of a lon/lat box, for ``projection.fit`` (points: no winding to get wrong)."""
    x0, y0, x1, y1 = box
    corners = [[x0, y0], [x0, y1], [x1, y1], [x1, y0], [(x0 + x1) / 2, y0], [(x0 + x1) / 2, y1]]
    return {
        "type": "Feature",
        "properties": {},
        "geometry": {"type": "MultiPoint", "coordinates": corners},
    }


def _fitted(projection: alt.Projection, box: Sequence[float]) -> alt.Projection:
    """``projection`` fitted to a lon/lat box. A Mercator is also centred on the box's
    meridian: Vega-Lite merges sibling views' projections that differ only by ``fit``."""
    spec = {**projection.to_dict(), "fit": _fit_feature(box)}
    if spec.get("type") == "mercator" and "rotate" not in spec:
        spec["rotate"] = [-round((box[0] + box[2]) / 2, 3), 0, 0]
    return alt.Projection(**spec)


# --------------------------------------------------------------------------- layers


def _encodings(
    value_col: str | None,
    domain: list[float],
    value_title: str,
    legend_format: str,
    statuses: list[str],
) -> tuple[Any, Any, list[alt.Tooltip]]:
    """Colour (value ramp), fill (masked / missing legend) and tooltip of territory layers."""
    tooltip = [
        alt.Tooltip("ti_name:N", title="Territoire"),
        alt.Tooltip("region_name:N", title="Région"),
    ]
    if not value_col:
        return alt.value(BLUE_FRANCE_850), None, tooltip
    tooltip.append(alt.Tooltip("value_label:N", title=value_title))
    color = alt.Color(
        f"{value_col}:Q",
        scale=alt.Scale(domain=domain, range=MAP_RAMP),
        legend=alt.Legend(title=value_title, format=legend_format, orient="right"),
    )
    fills = [MASKED_FILL if s == STATUS_MASKED else "#FFFFFF" for s in statuses]
    fill = alt.Fill(
        "status:N",
        scale=alt.Scale(domain=statuses, range=fills),
        legend=alt.Legend(
            title=None,
            orient="right",
            symbolType="square",
            symbolStrokeColor=GREY_MID,
            symbolStrokeWidth=1,
        ),
    )
    return color, fill, tooltip


def _context_layers(
    rows: list[dict[str, Any]], clip: bool, country_outline: bool
) -> list[alt.Chart]:
    """Neighbouring régions (faint, named), France's outline, land of the régions drawn."""
    region_tip = [alt.Tooltip("region_name:N", title="Région")]
    base = alt.Chart(_json_data(rows))
    layers: list[alt.Chart] = []
    if any(r["kind"] == "neighbour" for r in rows):
        near = base.transform_filter("datum.kind == 'neighbour'")
        layers.append(
            near.mark_geoshape(
                fill=NEIGHBOUR_FILL, stroke="#FFFFFF", strokeWidth=1, clip=clip
            ).encode(tooltip=region_tip)
        )
        layers.append(
            near.transform_filter("datum.label_lon != null")
            .mark_text(fontSize=10, fontStyle="italic", color=GREY_MID, clip=clip)
            .encode(longitude="label_lon:Q", latitude="label_lat:Q", text="region_name:N")
        )
    own = base.transform_filter("datum.kind == 'region'")
    if country_outline:  # France's outline: the outer half of a wide stroke under the land
        layers.append(own.mark_geoshape(filled=False, stroke=TEXT_MENTION, strokeWidth=2.2))
    layers.append(
        own.mark_geoshape(fill=LAND_FILL, stroke=GREY_BORDER, strokeWidth=0.5, clip=clip).encode(
            tooltip=region_tip
        )
    )
    return layers


def _territory_layers(
    territories: list[dict[str, Any]], encodings: tuple[Any, Any, list[alt.Tooltip]], clip: bool
) -> list[alt.Chart]:
    """Territories: on the colour ramp, or masked / missing (legend), then the highlight."""
    color, fill, tooltip = encodings
    data = alt.Chart(_json_data(territories))
    layers: list[alt.Chart] = []
    if any(t["status"] is None for t in territories):
        layers.append(
            data.transform_filter("datum.status == null")
            .mark_geoshape(stroke="#FFFFFF", strokeWidth=0.5, clip=clip)
            .encode(color=color, tooltip=tooltip)
        )
    if fill is not None and any(t["status"] for t in territories):
        layers.append(
            data.transform_filter("datum.status != null")
            .mark_geoshape(stroke=GREY_MID, strokeWidth=0.7, strokeDash=[3, 2], clip=clip)
            .encode(fill=fill, tooltip=tooltip)
        )
    return layers


def _highlight_layers(
    territories: list[dict[str, Any]], tinted: bool, tooltip: list[alt.Tooltip], clip: bool
) -> list[alt.Chart]:
    """Highlighted territories: rouge Marianne outline (and tint), name above, haloed."""
    marked = alt.Chart(_json_data(territories)).transform_filter("datum.is_highlight")
    layers: list[alt.Chart] = []
    if tinted:
        layers.append(marked.mark_geoshape(fill=RED_TINT, strokeWidth=0, clip=clip))
    layers.append(
        marked.mark_geoshape(filled=False, stroke=RED_MARIANNE, strokeWidth=2.5, clip=clip).encode(
            tooltip=tooltip
        )
    )
    labels = [
        {"lon": t["label_lon"], "lat": t["label_lat"], "name": t["ti_name"]}
        for t in territories
        if t["is_highlight"] and t.get("label_lon") is not None
    ]
    if labels:
        points = alt.Chart(alt.Data(values=labels))
        enc = {"longitude": "lon:Q", "latitude": "lat:Q", "text": "name:N"}
        style = {"fontWeight": "bold", "fontSize": 11, "clip": clip, "baseline": "bottom", "dy": -6}
        layers.append(points.mark_text(stroke="#FFFFFF", strokeWidth=3, **style).encode(**enc))
        layers.append(points.mark_text(color=TEXT, **style).encode(**enc))
    return layers


def _panel(
    outline_rows: list[dict[str, Any]],
    territories: list[dict[str, Any]],
    encodings: tuple[Any, Any, list[alt.Tooltip]],
    *,
    projection: alt.Projection,
    width: int,
    height: int,
    clip: bool = False,
    country_outline: bool = False,
    borders_on_top: bool = True,
) -> alt.LayerChart:
    """One map view: context, territories, région borders, highlight.

    Région borders go over the territories (``borders_on_top``) so régions stay readable;
    under them where the 1:10m outline is coarser than the perimeters (a lone overseas région).
    """
    layers = _context_layers(outline_rows, clip, country_outline) if outline_rows else []
    borders = []
    if outline_rows:
        own = alt.Chart(_json_data(outline_rows)).transform_filter("datum.kind == 'region'")
        stroke = 0.8 if country_outline else 1.4
        borders.append(
            own.mark_geoshape(filled=False, stroke=TEXT_MENTION, strokeWidth=stroke, clip=clip)
        )
    if not borders_on_top:
        layers += borders
    if territories:
        layers += _territory_layers(territories, encodings, clip)
    if borders_on_top:
        layers += borders
    if any(t["is_highlight"] for t in territories):
        layers += _highlight_layers(territories, encodings[1] is None, encodings[2], clip)
    return alt.layer(*layers).properties(projection=projection, width=width, height=height)


# --------------------------------------------------------------------------- layouts


def _with_labels(rows: list[dict[str, Any]]) -> None:
    """Add the label anchor of each shape to its row."""
    for row in rows:
        anchor = _label_point(row["geometry"])
        if anchor is not None:
            row["label_lon"], row["label_lat"] = round(anchor[0], 3), round(anchor[1], 3)


def _visible_box(box: Sequence[float], width: int, height: int) -> tuple[float, ...]:
    """The lon/lat box a ``width`` x ``height`` view fitted to ``box`` shows (approximately:
    the fitted box widened in the dimension the view has room to spare)."""
    x0, y0, x1, y1 = box
    cos_lat = math.cos(math.radians((y0 + y1) / 2))
    ground_w, ground_h = (x1 - x0) * cos_lat, y1 - y0
    if ground_w / ground_h > width / height:
        extra = (ground_w * height / width - ground_h) / 2
        return x0, y0 - extra, x1, y1 + extra
    extra = (ground_h * width / height - ground_w) / 2 / cos_lat
    return x0 - extra, y0, x1 + extra, y1


def _neighbour_labels(
    rows: list[dict[str, Any]], view: Sequence[float], width: int, height: int
) -> None:
    """Anchor each neighbour's name in its part visible in ``view`` (lon/lat box the view
    shows), only where the whole name fits."""
    cos_lat = math.cos(math.radians((view[1] + view[3]) / 2))
    per_px = (view[3] - view[1]) / height  # ground degrees per pixel
    dx, dy = 8 * per_px / cos_lat, 9 * per_px  # keep names off the view's edges
    inner = (view[0] + dx, view[1] + dy, view[2] - dx, view[3] - dy)
    for row in rows:
        half = len(row["region_name"]) * 5.6 / 2 * per_px / cos_lat  # ~5.6 px per character
        anchor = _visible_label(row["geometry"], inner, half)
        if anchor is not None:
            row["label_lon"], row["label_lat"] = round(anchor[0], 3), round(anchor[1], 3)


def _national(
    territories: list[dict[str, Any]],
    outlines: Mapping[str, dict[str, Any]],
    encodings: tuple[Any, Any, list[alt.Tooltip]],
    projection: alt.Projection | None,
    width: int,
    height: int,
) -> tuple[alt.TopLevelMixin, bool]:
    """Metropolitan panel with France's outline; overseas régions in a row of framed insets
    below it, each fitted to its région (Mercator centred on it)."""
    present = {t["region_code"] for t in territories}
    overseas = [c for c in OVERSEAS_ORDER if c in outlines or c in present]
    spacing = 8
    inset_w = (width - spacing * (len(OVERSEAS_ORDER) - 1)) // len(OVERSEAS_ORDER)
    inset_h = round(inset_w * 0.8)
    # metropolitan France is about as tall as wide in a conic projection
    metro_h = min(width, height - (inset_h + 24 if overseas else 0))
    metro_codes = sorted(c for c in outlines if c not in OVERSEAS_REGIONS)
    metro = _panel(
        _outline_features(outlines, metro_codes, "region"),
        [t for t in territories if t["region_code"] not in OVERSEAS_REGIONS],
        encodings,
        projection=projection or PROJECTION_METROPOLE,
        width=width,
        height=max(metro_h, 200),
        country_outline=True,
    )
    if not overseas:
        return metro, False
    insets = []
    for code in overseas:
        rows = [t for t in territories if t["region_code"] == code]
        own = [outlines[code]["geometry"]] if code in outlines else [t["geometry"] for t in rows]
        panel = _panel(
            _outline_features(outlines, [code], "region"),
            rows,
            encodings,
            projection=_fitted(PROJECTION_OVERSEAS, _pad(_bbox(own), 0.06)),
            width=inset_w,
            height=inset_h,
        )
        insets.append(
            panel.properties(
                title=alt.TitleParams(
                    REGION_NAMES.get(code, code), fontSize=11, fontWeight="normal", offset=3
                ),
                view=alt.ViewBackground(stroke=GREY_MID, strokeWidth=0.8),
            )
        )
    row = alt.hconcat(*insets, spacing=spacing)
    return alt.vconcat(metro, row, spacing=12), True


def _regional(
    code: str,
    territories: list[dict[str, Any]],
    outlines: Mapping[str, dict[str, Any]],
    encodings: tuple[Any, Any, list[alt.Tooltip]],
    projection: alt.Projection | None,
    width: int,
    height: int,
) -> alt.LayerChart:
    """One région fitted to the view, its neighbours faint (clipped), its territories."""
    own = [outlines[code]["geometry"]] if code in outlines else [t["geometry"] for t in territories]
    box = _pad(_bbox(own), REGION_PAD)
    rows = _outline_features(outlines, [code], "region")
    if code not in OVERSEAS_REGIONS:
        view = _visible_box(box, width, height)
        near = sorted(
            c
            for c, o in outlines.items()
            if c != code and c not in OVERSEAS_REGIONS and _overlaps(o["bbox"], view)
        )
        neighbours = _outline_features(outlines, near, "neighbour")
        _neighbour_labels(neighbours, view, width, height)
        rows = neighbours + rows
    default = PROJECTION_OVERSEAS if code in OVERSEAS_REGIONS else PROJECTION_METROPOLE
    proj = _fitted(projection or default, box)
    return _panel(
        rows,
        territories,
        encodings,
        projection=proj,
        width=width,
        height=height,
        clip=True,
        borders_on_top=code not in OVERSEAS_REGIONS,
    )


def _checked_highlight(
    shapes: pl.DataFrame,
    value_col: str | None,
    masked: str | None,
    highlight: str | Sequence[str] | None,
    allow_mixed_phases: bool,
) -> list[str]:
    """Check the map's frame (columns, one phase, one shape per territory); the highlight ids."""
    needed = ["ti_id", "ti_name", "region_code", "geometry_geojson", value_col, masked]
    _check_frame(shapes, needed, "chart_territory_map")
    phases = shapes["ti_phase"].n_unique() if "ti_phase" in shapes.columns else 1
    if phases > 1 and not allow_mixed_phases:
        raise ParameterError(
            "chart_territory_map: territories of several phases overlap; filter on 'ti_phase' "
            "(or pass allow_mixed_phases=True)"
        )
    if shapes["ti_id"].is_duplicated().any():
        raise ParameterError("chart_territory_map: duplicate 'ti_id' (one shape per territory)")
    wanted = [highlight] if isinstance(highlight, str) else list(highlight or [])
    absent = [h for h in wanted if h not in set(_values(shapes, "ti_id"))]
    if absent:
        raise ParameterError(f"chart_territory_map: highlight {absent} not in column 'ti_id'")
    return wanted


def _map_encodings(
    territories: list[dict[str, Any]],
    value_col: str | None,
    value_title: str | None,
    legend_format: str,
) -> tuple[Any, Any, list[alt.Tooltip]]:
    """Encodings shared by every view: the ramp spans the values shown, statuses present."""
    present = [v for t in territories if value_col and (v := t[value_col]) is not None]
    domain = [min(present), max(present)] if present else [0.0, 1.0]
    if domain[0] == domain[1]:
        domain = [domain[0] - 1, domain[1] + 1]
    statuses = [
        s for s in (STATUS_MASKED, STATUS_MISSING) if any(t["status"] == s for t in territories)
    ]
    title = value_title or value_col or ""
    return _encodings(value_col, domain, title, legend_format, statuses)


def chart_territory_map(
    shapes: pl.DataFrame,
    value_col: str | None = None,
    highlight: str | Sequence[str] | None = None,
    *,
    title: str,
    reading: str,
    source: str,
    value_title: str | None = None,
    value_formatter: Callable[[Any], str] = format_ratio,
    legend_format: str = ",.1f",
    masked: str | None = None,
    projection: alt.Projection | None = None,
    note: str | None = None,
    champ: str | None = None,
    outlines: Outlines | None = None,
    region: str | None = None,
    allow_mixed_phases: bool = False,
    width: int = 520,
    height: int = 560,
) -> alt.TopLevelMixin:
    """Map of Territoires d'industrie perimeters over région outlines, French tooltips.

    Input: frame with the columns of ``schemas.TERRITORY_SHAPES`` (``ti_id``, ``ti_name``,
    ``region_code``, ``geometry_geojson`` = one GeoJSON geometry as text, WGS84), plus an
    optional numeric ``value_col`` (printed values, already rounded) for a blue choropleth, an
    optional boolean ``masked`` column (statistical secrecy) and an optional ``cell`` column
    (cell key, carried by each territory datum). Masked territories are grey and missing values
    white with a dotted outline, both in a legend ("s : secret statistique", "n.d. : valeur non
    disponible"); no null ever reaches the colour ramp. ``highlight`` (``ti_id`` values)
    outlines territories in rouge Marianne and names them.

    ``outlines`` (:func:`read_outlines` frame or GeoJSON FeatureCollection with
    ``region_code``) draws France and its régions. Layout: territories of one région (or
    ``region=``) give the région map, its neighbours faint; several régions give the national
    map with framed overseas insets (all five when ``outlines`` is given). A frame mixing
    ``ti_phase`` values (overlapping perimeters) is refused unless ``allow_mixed_phases``.
    ``projection`` replaces the projection of the main (metropolitan or région) view;
    ``champ`` adds a "Champ : ..." line.
    """
    wanted = _checked_highlight(shapes, value_col, masked, highlight, allow_mixed_phases)
    by_code = _outlines_by_code(outlines)
    territories = _territory_features(shapes, value_col, masked, wanted, value_formatter)
    _with_labels([t for t in territories if t["is_highlight"]])
    encodings = _map_encodings(territories, value_col, value_title, legend_format)
    codes = sorted({t["region_code"] for t in territories})
    if region is not None or len(codes) == 1:
        code = region or codes[0]
        chart: alt.TopLevelMixin = _regional(
            code, territories, by_code, encodings, projection, width, height
        )
        insets = False
    else:
        chart, insets = _national(territories, by_code, encodings, projection, width, height)
    if insets:
        extra = "Outre-mer : encadrés du bas, chacun à sa propre échelle."
        note = f"{note} {extra}" if note else extra
    return chart.properties(
        title=_title(
            title, reading, source, note=note, champ=champ, synthetic=_is_synthetic(shapes)
        )
    )
