"""Maps of Territoires d'industrie perimeters (``mark_geoshape``)."""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

import altair as alt
import polars as pl

from analyse.charts._common import _check_frame, _is_synthetic, _mask_flags, _title, _values
from analyse.charts.theme import BLUE_FRANCE_850, GREY_MID, MAP_RAMP, RED_MARIANNE, TEXT
from analyse.errors import ParameterError
from analyse.formatting import format_masked, format_ratio
from analyse.reference import OVERSEAS_REGIONS, REGION_NAMES

# --------------------------------------------------------------------------- map


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


def _map_positions(geometry: dict[str, Any], fn: Callable[[float, float], list[float]]) -> dict:
    """Apply ``fn(lon, lat)`` to every position of a geometry."""

    def walk(node: Any) -> Any:
        if node and isinstance(node[0], int | float):
            return fn(float(node[0]), float(node[1]))
        return [walk(item) for item in node]

    if geometry.get("type") == "GeometryCollection":
        return {**geometry, "geometries": [_map_positions(g, fn) for g in geometry["geometries"]]}
    if "coordinates" not in geometry:
        return geometry
    return {**geometry, "coordinates": walk(geometry["coordinates"])}


def _positions(geometry: dict[str, Any]) -> list[tuple[float, float]]:
    found: list[tuple[float, float]] = []
    _map_positions(geometry, lambda x, y: found.append((x, y)) or [x, y])
    return found


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
    elif kind == "Point":
        return float(geometry["coordinates"][0]), float(geometry["coordinates"][1])
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


#: Lambert-93-like conic conformal projection for metropolitan France.
PROJECTION_METROPOLE = alt.Projection(type="conicConformal", parallels=[44, 49], rotate=[-3, 0])
PROJECTION_OVERSEAS = alt.Projection(type="mercator")

#: Boxes (lon0, lat0, lon1, lat1) where overseas régions are drawn in the composite map, in a
#: row south of metropolitan France, clear of every metropolitan territory (Corsica included).
OVERSEAS_BOXES: dict[str, tuple[float, float, float, float]] = {
    code: (-5.4 + 2.5 * k, 39.6, -5.4 + 2.5 * k + 2.2, 41.6)
    for k, code in enumerate(["01", "02", "03", "04", "06"])
}


def _relocation(
    geometries: list[dict[str, Any]], box: tuple[float, float, float, float]
) -> Callable[[float, float], list[float]]:
    """Affine lon/lat map placing ``geometries`` inside ``box`` (shapes kept, scale not)."""
    points = [p for g in geometries for p in _positions(g)]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    bx, by = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    # compare ground distances: a degree of longitude shrinks with cos(latitude)
    src_cos, dst_cos = math.cos(math.radians(cy)), math.cos(math.radians(by))
    src_w, src_h = max((max(xs) - min(xs)) * src_cos, 1e-9), max(max(ys) - min(ys), 1e-9)
    dst_w, dst_h = (box[2] - box[0]) * dst_cos, box[3] - box[1]
    k = 0.85 * min(dst_w / src_w, dst_h / src_h)
    return lambda x, y: [
        round(bx + (x - cx) * k * src_cos / dst_cos, 5),
        round(by + (y - cy) * k, 5),
    ]


def _box_feature(box: tuple[float, float, float, float], name: str) -> dict[str, Any]:
    x0, y0, x1, y1 = box
    ring = [[x0, y0], [x0, y1], [x1, y1], [x1, y0], [x0, y0]]  # clockwise, as d3 expects
    return {
        "type": "Feature",
        "geometry": {"type": "Polygon", "coordinates": [ring]},
        "properties": {"name": name, "lon": x0, "lat": y1},
    }


def _inline_json(rows: list[dict[str, Any]]) -> alt.Data:
    """Inline rows as one JSON string (Vega parses it): Altair then neither walks, copies nor
    schema-checks every coordinate, which takes seconds for real perimeters."""
    return alt.Data(
        values=json.dumps(rows, ensure_ascii=False, separators=(",", ":")),
        format=alt.DataFormat(type="json"),
    )


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
    width: int = 520,
    height: int = 560,
) -> alt.LayerChart:
    """Map of Territoires d'industrie perimeters (``mark_geoshape``), French tooltips.

    Input: frame with the columns of ``schemas.TERRITORY_SHAPES`` (``ti_id``, ``ti_name``,
    ``region_code``, ``geometry_geojson`` = one GeoJSON geometry as text, WGS84), plus an
    optional numeric ``value_col`` for a blue choropleth and an optional boolean ``masked``
    column (statistical secrecy). Territories without a value (null, NaN or masked) are white
    with a dotted grey outline, read ``n.d.`` or ``s`` in the tooltip, and a subtitle line
    explains it. ``highlight`` (``ti_id`` values) outlines territories in rouge Marianne and
    labels them by name.

    Projection: conic conformal (Lambert-93-like) for metropolitan France, Mercator for a
    single overseas région. When overseas régions come with others, each is drawn in its own
    framed box south of the metropole (:data:`OVERSEAS_BOXES`, not to scale), as in official
    French maps. Pass ``projection`` to draw true coordinates with that projection instead.
    """
    needed = ["ti_id", "ti_name", "region_code", "geometry_geojson", value_col, masked]
    _check_frame(shapes, needed, "chart_territory_map")
    wanted = [highlight] if isinstance(highlight, str) else list(highlight or [])
    ids = set(_values(shapes, "ti_id"))
    absent = [h for h in wanted if h not in ids]
    if absent:
        raise ParameterError(f"chart_territory_map: highlight {absent} not in column 'ti_id'")
    values = _values(shapes, value_col) if value_col else [None] * shapes.height
    flags = _mask_flags(shapes, masked).to_list()
    geometries: list[dict[str, Any]] = []
    for row in shapes.iter_rows(named=True):
        try:
            geometry = json.loads(row["geometry_geojson"])
            _positions(geometry)
        except (TypeError, ValueError, KeyError, IndexError, AttributeError) as exc:
            raise ParameterError(
                f"chart_territory_map: geometry_geojson of {row['ti_id']!r} is not a GeoJSON "
                "geometry"
            ) from exc
        geometries.append(geometry)

    regions = _values(shapes, "region_code")
    overseas_codes = sorted({r for r in regions if r in OVERSEAS_REGIONS})
    composite = projection is None and bool(overseas_codes) and len(set(regions)) > 1
    boxes: list[dict[str, Any]] = []
    if composite:
        for code in overseas_codes:
            box = OVERSEAS_BOXES[code]
            members = [i for i, r in enumerate(regions) if r == code]
            move = _relocation([geometries[i] for i in members], box)
            for i in members:
                geometries[i] = _map_positions(geometries[i], move)
            boxes.append(_box_feature(box, REGION_NAMES.get(code, code)))
        proj = PROJECTION_METROPOLE
    elif projection is not None:
        proj = projection
    else:
        proj = PROJECTION_OVERSEAS if overseas_codes else PROJECTION_METROPOLE

    features: list[dict[str, Any]] = []
    labels: list[dict[str, Any]] = []
    for row, geometry, value, is_masked in zip(
        shapes.iter_rows(named=True), geometries, values, flags, strict=True
    ):
        if is_masked or (isinstance(value, float) and math.isnan(value)):
            value = None
        is_highlight = row["ti_id"] in wanted
        rounded = _map_positions(geometry, lambda x, y: [round(x, 5), round(y, 5)])
        features.append(
            {
                "type": "Feature",
                "geometry": rewind_geometry(rounded),
                "properties": {
                    "ti_id": row["ti_id"],
                    "ti_name": row["ti_name"],
                    "region_name": REGION_NAMES.get(row["region_code"], row["region_code"]),
                    "value": value,
                    "value_label": format_masked(value, is_masked, value_formatter),
                    "is_missing": bool(value_col) and value is None,
                    "is_highlight": is_highlight,
                },
            }
        )
        anchor = _label_point(geometry) if is_highlight else None
        if anchor is not None:
            labels.append({"lon": anchor[0], "lat": anchor[1], "name": row["ti_name"]})

    tooltip = [
        alt.Tooltip("properties.ti_name:N", title="Territoire"),
        alt.Tooltip("properties.ti_id:N", title="Identifiant"),
        alt.Tooltip("properties.region_name:N", title="Région"),
    ]
    if value_col:
        tooltip.append(alt.Tooltip("properties.value_label:N", title=value_title or value_col))
        present = [f["properties"]["value"] for f in features]
        present = [v for v in present if v is not None]
        domain = [min(present), max(present)] if present else [0, 1]
        if domain[0] == domain[1]:
            domain = [domain[0] - 1, domain[1] + 1]
        color: Any = alt.Color(
            "properties.value:Q",
            scale=alt.Scale(domain=domain, range=MAP_RAMP),
            legend=alt.Legend(title=value_title or value_col, format=legend_format, orient="right"),
        )
    else:
        color = alt.value(BLUE_FRANCE_850)

    if any(f["properties"]["is_missing"] for f in features):
        blank = (
            "Territoire en blanc à contour pointillé : valeur non disponible ou secret statistique."
        )
        note = f"{note} {blank}" if note else blank
    if boxes:
        insets = "Outre-mer dans les cadres du bas, à des échelles différentes."
        note = f"{note} {insets}" if note else insets

    # the territory layers share the parent's data: geometries are inlined once
    # territories with a value are coloured; those without one (no null ever reaches the
    # colour scale, which would draw it like the lowest value) are white with a dotted outline
    layers: list[alt.Chart] = [
        alt.Chart()
        .transform_filter("!datum.properties.is_missing")
        .mark_geoshape(stroke="#FFFFFF", strokeWidth=0.6)
        .encode(color=color, tooltip=tooltip),
        alt.Chart()
        .transform_filter("datum.properties.is_missing")
        .mark_geoshape(fill="#FFFFFF", stroke=GREY_MID, strokeWidth=0.8, strokeDash=[3, 2])
        .encode(tooltip=tooltip),
        alt.Chart()
        .transform_filter("datum.properties.is_highlight")
        .mark_geoshape(filled=False, stroke=RED_MARIANNE, strokeWidth=2.5)
        .encode(tooltip=tooltip),
    ]
    if boxes:
        frames = alt.Chart(_inline_json(boxes))
        layers.append(frames.mark_geoshape(filled=False, stroke=GREY_MID, strokeWidth=0.8))
        layers.append(
            frames.mark_text(
                align="left", baseline="bottom", dy=-2, fontSize=10, color=TEXT
            ).encode(
                longitude="properties.lon:Q", latitude="properties.lat:Q", text="properties.name:N"
            )
        )
    if labels:
        points = alt.Chart(alt.Data(values=labels))
        enc = {"longitude": "lon:Q", "latitude": "lat:Q", "text": "name:N"}
        style = {"fontWeight": "bold", "fontSize": 11}
        layers.append(points.mark_text(stroke="#FFFFFF", strokeWidth=3, **style).encode(**enc))
        layers.append(points.mark_text(color=TEXT, **style).encode(**enc))
    return alt.layer(*layers, data=_inline_json(features)).properties(
        title=_title(title, reading, source, note=note, synthetic=_is_synthetic(shapes)),
        projection=proj,
        width=width,
        height=height,
    )
