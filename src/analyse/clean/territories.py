"""Territoires d'industrie perimeters (ANCT): territories, member groupings, commune attribution
and simplified shapes, for phase 1 (2018-2022, 149 territories) and phase 2 (2023-2027, 183).

Inputs are ANCT's map-ready GeoJSONs (one feature per territory) or ANCT's grouping-level CSV.
The unit of row accounting is the *territory x grouping link*: ``rows_in`` = links published,
``rows_out`` = links resolved to an EPCI of the COG (``territory_members``), the rest quarantined
with a reason:

* ``ept_grand_paris``: an établissement public territorial of the Métropole du Grand Paris (not an
  EPCI à fiscalité propre, absent from the COG EPCI list; its communes belong to the Métropole du
  Grand Paris in the COG, so they cannot be attributed without the EPT composition);
* ``commune_siren``: a single commune (SIREN starting with 21). Such communes are matched to the
  COG by département (SIREN digits 3-4) and name; when the match is unique the commune is
  attributed directly in ``commune_territories`` (the quarantine detail says so);
* ``unknown_grouping``: any other SIREN absent from the COG EPCI list;
* ``invalid_siren`` / ``duplicate_link`` / ``invalid_ti_id`` / ``duplicate_territory``.

For GeoJSON inputs ``source_row`` is the 1-based position of the feature in the file.

``commune_territories`` (:func:`build_commune_territories`) gives each COG commune at most one
territory per phase: through its EPCI, or directly when the territory lists the commune itself.
On the real files no EPCI belongs to two territories of the same phase (the rule for that case:
direct listing first, then the smallest ``ti_id``; links set aside are quarantined).

Shapes (``territory_shapes``): one geometry per territory, simplified with Douglas-Peucker
(:data:`SHAPE_TOLERANCE_DEG`) and rounded to :data:`SHAPE_DECIMALS` decimals (about 100 m),
about 0.33 MB (phase 1) and 0.39 MB (phase 2) of GeoJSON text in total. Rings are wound the way
d3-geo / Vega / Altair expect (exterior clockwise in lon/lat, holes counter-clockwise), which is
the reverse of RFC 7946: ANCT's phase-2 file follows RFC 7946, the phase-1 file d3, so both are
normalised here.

Phase-1 names: ``lib_groupement`` is a comma-separated list whose items may themselves contain
", " (e.g. "CC Vendée, Sèvre, Autise"); :func:`split_grouping_names` re-joins the pieces that are
continuations so that names align with SIRENs, and leaves names null when it cannot.
"""

from __future__ import annotations

import html
import json
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from analyse.clean._readers import (
    SIREN_RE,
    CleanResult,
    SourceStats,
    clean_text,
    feature_problems,
    feature_properties,
    json_row,
    read_csv_text,
    read_geojson_features,
)
from analyse.errors import InputFileError
from analyse.quarantine import ROW_COL, Rule, partition
from analyse.reference import REGION_NAMES
from analyse.schemas import (
    COMMUNE_TERRITORIES,
    QUARANTINE,
    TERRITORIES,
    TERRITORY_MEMBERS,
    TERRITORY_SHAPES,
    conform,
    empty_frame,
)

PHASE1_PROPERTIES = ("id_ti", "lib_ti", "lib_groupement", "siren_groupement")
PHASE2_PROPERTIES = ("id_territoire", "lib_territoire", "liste_geo")
GROUPINGS_CSV_COLUMNS = (
    "id_ti",
    "lib_ti",
    "siren_groupement",
    "lib_groupement",
    "nature_juridique",
)

#: The 11 établissements publics territoriaux (EPT) of the Métropole du Grand Paris (T2-T12).
#: Paris (T1) is a commune. Those found in the TI files are 200057990 (Boucle Nord de Seine),
#: 200058014 (Grand-Orly Seine Bièvre) and 200058097 (Paris Terres d'Envol).
MGP_EPT_SIRENS: frozenset[str] = frozenset(
    {
        "200057867",  # Plaine Commune
        "200057875",  # Est Ensemble
        "200057941",  # Paris-Est-Marne et Bois
        "200057966",  # Vallée Sud-Grand Paris
        "200057974",  # Grand Paris Seine Ouest
        "200057982",  # Paris Ouest La Défense
        "200057990",  # Boucle Nord de Seine
        "200058006",  # Grand Paris Sud Est Avenir
        "200058014",  # Grand-Orly Seine Bièvre
        "200058097",  # Paris Terres d'Envol
        "200058790",  # Grand Paris Grand Est
    }
)
TI_ID_RE = r"^ti-\d{4}$"
#: Starts of a grouping name (a new item in a comma-separated list of names).
_NAME_PREFIXES = re.compile(
    r"^(?:CC|CA|CU|EPT|ME|Métropole|Metropole|Communauté|Eurométropole|Agglo|Commune)\b"
)
_NAME_SUFFIXES = re.compile(r"(?:Métropole|Agglomération|Agglo|Communauté|\([A-Z]+\))$")
_LINK_RE = re.compile(r"^\s*(.*?)\s*\(\s*([0-9A-Za-z]+)\s*\)\s*$")

#: Link-level columns kept verbatim in quarantine ``raw_json``.
LINK_RAW_COLUMNS = ("ti_id_raw", "ti_name", "siren_raw", "grouping_name", "nature_juridique")

#: ``source_id`` of quarantine rows produced by :func:`build_commune_territories` (not a raw file).
DERIVED_SOURCE_ID = "derived:commune_territories"

#: Default simplification: Douglas-Peucker tolerance (degrees) and rounding of coordinates.
SHAPE_TOLERANCE_DEG = 0.004
SHAPE_DECIMALS = 3


# --------------------------------------------------------------------------------------------
# Parsing
# --------------------------------------------------------------------------------------------


def split_grouping_names(names: str | None, n: int) -> list[str | None]:
    """Split a phase-1 ``lib_groupement`` list into ``n`` names aligned with the SIREN list.

    Items are separated by ``","``; a piece that does not look like the start of a grouping name
    (it starts in lower case, or starts with neither a legal-form prefix nor ends with a typical
    suffix) is re-joined to the previous one, but only as many times as needed. When the pieces
    cannot be aligned, every name is null.
    """
    if not names or n <= 0:
        return [None] * max(n, 0)
    pieces = [p.strip() for p in names.split(",")]
    if len(pieces) == n:
        return [p or None for p in pieces]
    extra = len(pieces) - n
    if extra < 0:
        return [None] * n
    candidates = [
        i
        for i, p in enumerate(pieces)
        if i > 0
        and p
        and (p[0].islower() or not (_NAME_PREFIXES.match(p) or _NAME_SUFFIXES.search(p)))
    ]
    if len(candidates) != extra:
        return [None] * n
    merged: list[str] = []
    for i, p in enumerate(pieces):
        if i in candidates:
            merged[-1] = f"{merged[-1]}, {p}"
        else:
            merged.append(p)
    return [m or None for m in merged]


def _clean(value: Any) -> str | None:
    """Text of a property: HTML entities decoded, spaces trimmed, blank -> None."""
    if value is None:
        return None
    s = html.unescape(str(value)).replace("\u00a0", " ").strip()
    return s or None


def _links_frame(rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = {
        ROW_COL: pl.Int64,
        "_feature": pl.Int64,
        "_link": pl.Int32,
        "ti_id_raw": pl.String,
        "ti_name": pl.String,
        "siren_raw": pl.String,
        "grouping_name": pl.String,
        "nature_juridique": pl.String,
    }
    return pl.DataFrame(rows, schema=schema, orient="row") if rows else pl.DataFrame(schema=schema)


def parse_phase1_features(features: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """One row per territory x grouping link of the phase-1 GeoJSON (``siren_groupement``)."""
    rows: list[dict[str, Any]] = []
    for i, feature in enumerate(features, start=1):
        p = feature_properties(feature)
        sirens = [s.strip() for s in str(p.get("siren_groupement") or "").split(",")]
        sirens = [s for s in sirens if s] or [None]
        names = split_grouping_names(_clean(p.get("lib_groupement")), len(sirens))
        for k, (siren, name) in enumerate(zip(sirens, names, strict=True)):
            rows.append(
                {
                    ROW_COL: i,
                    "_feature": i,
                    "_link": k,
                    "ti_id_raw": _clean(p.get("id_ti")),
                    "ti_name": _clean(p.get("lib_ti")),
                    "siren_raw": siren,
                    "grouping_name": name,
                    "nature_juridique": None,
                }
            )
    return _links_frame(rows)


def parse_phase2_features(features: Sequence[dict[str, Any]]) -> pl.DataFrame:
    """One row per territory x grouping link of the phase-2 GeoJSON (``"<name> (<SIREN>); ..."``)."""
    rows: list[dict[str, Any]] = []
    for i, feature in enumerate(features, start=1):
        p = feature_properties(feature)
        items = [s.strip() for s in str(p.get("liste_geo") or "").split(";")]
        items = [s for s in items if s] or [None]
        for k, item in enumerate(items):
            match = _LINK_RE.match(item) if item else None
            rows.append(
                {
                    ROW_COL: i,
                    "_feature": i,
                    "_link": k,
                    "ti_id_raw": _clean(p.get("id_territoire")),
                    "ti_name": _clean(p.get("lib_territoire")),
                    # an item without "(SIREN)" keeps its text as the SIREN: quarantined as invalid
                    "siren_raw": match.group(2) if match else item,
                    "grouping_name": (match.group(1) or None) if match else None,
                    "nature_juridique": None,
                }
            )
    return _links_frame(rows)


# --------------------------------------------------------------------------------------------
# Resolution to the COG
# --------------------------------------------------------------------------------------------


def normalise_place_name(name: str) -> str:
    """Lower-case, accent-free, punctuation-free name for matching communes by name."""
    s = unicodedata.normalize("NFKD", name.replace("œ", "oe").replace("Œ", "Oe"))
    s = "".join(c for c in s if not unicodedata.combining(c)).lower()
    s = re.sub(r"[^a-z0-9]+", " ", s).strip()
    return re.sub(r"\bst\b", "saint", re.sub(r"\bste\b", "sainte", s))


def match_commune_sirens(links: pl.DataFrame, communes: pl.DataFrame) -> pl.DataFrame:
    """Match commune SIRENs (``21DD...``) to COG communes by département and name.

    Returns ``siren``, ``commune_insee`` for links whose name matches exactly one commune of
    the département given by SIREN digits 3-4 (``20`` = Corse, ``97`` = overseas).
    """
    cand = links.filter(
        pl.col("siren").str.starts_with("21") & pl.col("grouping_name").is_not_null()
    )
    if cand.height == 0 or communes.height == 0:
        return pl.DataFrame(schema={"siren": pl.String, "commune_insee": pl.String})
    key = pl.col("grouping_name").map_elements(normalise_place_name, return_dtype=pl.String)
    left = cand.select(
        "siren",
        key.alias("_name"),
        pl.col("siren").str.slice(2, 2).alias("_dep2"),
    ).unique()
    dep2 = (
        pl.when(pl.col("departement_code").is_in(["2A", "2B"]))
        .then(pl.lit("20"))
        .otherwise(pl.col("departement_code").str.slice(0, 2))
    )
    right = (
        communes.select("commune_insee", "commune_name", dep2.alias("_dep2"))
        .filter(pl.col("_dep2").is_in(left.get_column("_dep2").unique().implode()))
        .select(
            "commune_insee",
            pl.col("commune_name")
            .map_elements(normalise_place_name, return_dtype=pl.String)
            .alias("_name"),
            "_dep2",
        )
    )
    matched = left.join(right, on=["_name", "_dep2"], how="inner")
    unique = (
        matched.group_by("siren")
        .agg(pl.col("commune_insee").unique())
        .filter(pl.col("commune_insee").list.len() == 1)
    )
    return unique.select("siren", pl.col("commune_insee").list.first())


#: Columns of the EPT composition that :func:`resolve_groupings` takes (COG 2023 communes).
EPT_MEMBER_COLUMNS = ("ept_siren", "commune_insee")


def _link_flags(links: pl.DataFrame, epci: pl.DataFrame, ept_sirens: list[str]) -> pl.DataFrame:
    """Links with the working columns every rule reads (``_ok``: the feature has every
    property; ``_first``: first valid feature of its territory; ``_not_epci``, ``_is_ept``,
    ``_ept_known``, ``_is_commune``)."""
    known_epci = epci.get_column("epci_siren").implode()
    df = links.with_columns(
        pl.col("ti_id_raw").str.strip_chars().str.to_lowercase().alias("ti_id"),
        pl.col("siren_raw").str.replace_all(r"\s", "").alias("siren"),
        pl.col("_missing").is_null().alias("_ok"),
    )
    # the first complete feature carrying a ti_id defines the territory; later ones are
    # duplicates (a feature quarantined for a missing property defines nothing)
    first = pl.when("_ok").then(pl.col("_feature")).min().over("ti_id")
    nature = pl.col("nature_juridique").fill_null("").str.to_uppercase()
    return df.with_columns(
        (pl.col("_feature") == first).fill_null(False).alias("_first"),
        pl.col("ti_id").fill_null("").str.contains(TI_ID_RE).alias("_valid_id"),
        ~pl.col("siren").is_in(known_epci).fill_null(False).alias("_not_epci"),
        (
            pl.col("siren").is_in([*MGP_EPT_SIRENS, *ept_sirens])
            | (nature == "EPT")
            | pl.col("grouping_name").fill_null("").str.contains(r"^EPT\b")
        ).alias("_is_ept"),
        pl.col("siren").is_in(ept_sirens).fill_null(False).alias("_ept_known"),
        (pl.col("siren").fill_null("").str.starts_with("21") | (nature == "COM")).alias(
            "_is_commune"
        ),
    )


def _link_rules(properties: Sequence[str]) -> list[Rule]:
    """Quarantine rules of territory x grouping links, in priority order."""
    col = pl.col
    label = pl.format("{} {}", col("siren"), col("grouping_name").fill_null("")).str.strip_chars()
    not_epci, ept = col("_not_epci"), col("_not_epci") & col("_is_ept")
    missing = [
        Rule(
            "missing_property",
            col("_missing") == prop,
            prop,
            pl.format(
                "feature {} has no '{}'; its links are set aside", col("_feature"), col("_missing")
            ),
        )
        for prop in ("properties", *properties)
    ]
    return [
        *missing,
        Rule("invalid_ti_id", ~col("_valid_id"), "ti_id", col("ti_id_raw")),
        Rule("duplicate_territory", ~col("_first"), "ti_id", col("ti_id")),
        Rule(
            "invalid_siren",
            ~col("siren").fill_null("").str.contains(SIREN_RE),
            "siren",
            col("siren_raw"),
        ),
        Rule(
            "duplicate_link",
            ~pl.struct("ti_id", "siren").is_first_distinct(),
            "siren",
            col("siren"),
        ),
        Rule(
            "ept_grand_paris",
            ept & ~col("_ept_known"),
            "siren",
            pl.format("{}; no composition of this EPT (source etalab_ept)", label),
        ),
        Rule(
            "commune_siren",
            not_epci & ~col("_is_ept") & col("_is_commune"),
            "siren",
            pl.when(col("_commune").is_not_null())
            .then(
                pl.format(
                    "{}; attributed directly to commune {} in commune_territories",
                    label,
                    col("_commune"),
                )
            )
            .otherwise(pl.format("{}; no unique commune of that name", label)),
        ),
        Rule("unknown_grouping", not_epci & ~(col("_is_ept") & col("_ept_known")), "siren", label),
    ]


def _commune_links(
    df: pl.DataFrame, members: pl.DataFrame, ept_members: pl.DataFrame | None, phase: int
) -> pl.DataFrame:
    """Communes attributed without their COG EPCI: listed directly (``via`` ``"commune"``) or
    members of a Grand Paris EPT member of the territory (``via`` ``"EPT <SIREN>"``)."""
    schema = {"commune_insee": pl.String, "ti_id": pl.String, "ti_phase": pl.Int8, "via": pl.String}
    usable = pl.col("_valid_id") & pl.col("_first") & pl.col("_ok") & pl.col("_not_epci")
    direct = df.filter(usable & pl.col("_is_commune") & pl.col("_commune").is_not_null()).select(
        pl.col("_commune").alias("commune_insee"),
        "ti_id",
        pl.lit(phase, pl.Int8).alias("ti_phase"),
        pl.lit("commune").alias("via"),
    )
    frames = [direct]
    if ept_members is not None:
        epts = members.filter(pl.col("grouping_type") == "EPT").select("ti_id", "epci_siren")
        frames.append(
            epts.join(
                ept_members.select(pl.col("ept_siren").alias("epci_siren"), "commune_insee"),
                on="epci_siren",
                how="inner",
                maintain_order="left",
            ).select(
                "commune_insee",
                "ti_id",
                pl.lit(phase, pl.Int8).alias("ti_phase"),
                pl.format("EPT {}", pl.col("epci_siren")).alias("via"),
            )
        )
    return pl.concat([f.cast(schema) for f in frames]).unique(
        subset=["commune_insee", "ti_id"], keep="first", maintain_order=True
    )


def _territories_table(
    df: pl.DataFrame, members: pl.DataFrame, phase: int, is_synthetic: bool
) -> pl.DataFrame:
    """One row per territory defined by a complete, valid, first feature."""
    territories = (
        df.filter(pl.col("_valid_id") & pl.col("_first") & pl.col("_ok"))
        .group_by("ti_id", maintain_order=True)
        .agg(pl.col("ti_name").first(), pl.len().alias("n_groupings"))
        .join(
            members.group_by("ti_id").agg(pl.len().alias("n_epci_resolved")),
            on="ti_id",
            how="left",
            maintain_order="left",
        )
        .with_columns(
            pl.lit(phase, pl.Int8).alias("ti_phase"),
            pl.col("ti_id")
            .str.slice(3, 2)
            .replace_strict({k: k for k in REGION_NAMES}, default=None, return_dtype=pl.String)
            .alias("region_code"),
            pl.col("n_epci_resolved").fill_null(0),
            pl.lit(is_synthetic).alias("is_synthetic"),
        )
        .sort("ti_id")
    )
    return conform(territories, TERRITORIES, name="territories")


def resolve_groupings(
    links: pl.DataFrame,
    epci: pl.DataFrame,
    communes: pl.DataFrame | None,
    *,
    phase: int,
    source_id: str,
    source_file: str,
    is_synthetic: bool = False,
    ept_members: pl.DataFrame | None = None,
    properties: Sequence[str] = (),
) -> CleanResult:
    """Resolve territory x grouping links to COG EPCIs, or to Grand Paris EPTs.

    ``links`` may carry ``_missing`` (the property its feature lacks: every link of that
    feature is quarantined as ``missing_property``; ``properties`` lists the names).
    ``ept_members`` (``ept_siren``, ``commune_insee`` of the COG 2023: see
    :func:`analyse.clean.geography.ept_communes`) resolves EPT links (``grouping_type``
    ``"EPT"``) and brings their communes; without it EPT links are quarantined.

    Returns tables ``territories``, ``territory_members`` and ``commune_members``
    (``commune_insee``, ``ti_id``, ``ti_phase``, ``via``: communes listed directly, matched by
    name, and communes of EPT members), quarantine for ``territory_members`` and the link
    accounting.
    """
    if "_missing" not in links.columns:
        links = links.with_columns(pl.lit(None, pl.String).alias("_missing"))
    ept_sirens = (
        [] if ept_members is None else ept_members.get_column("ept_siren").unique().to_list()
    )
    df = _link_flags(links, epci, ept_sirens)
    # communes listed directly: matched to the COG by département and name
    direct = df.filter(
        pl.col("_valid_id") & pl.col("_first") & pl.col("_not_epci") & pl.col("_is_commune")
    )
    if communes is not None:
        matches = match_commune_sirens(direct, communes)
    else:
        matches = pl.DataFrame(schema={"siren": pl.String, "commune_insee": pl.String})
    df = df.join(
        matches.rename({"commune_insee": "_commune"}), on="siren", how="left", maintain_order="left"
    )
    kept, quarantined = partition(
        df,
        _link_rules(properties),
        source_id=source_id,
        source_file=source_file,
        raw_columns=LINK_RAW_COLUMNS,
    )
    members = conform(
        kept.with_columns(
            pl.lit(phase, pl.Int8).alias("ti_phase"),
            pl.col("siren").alias("epci_siren"),
            pl.when("_not_epci")
            .then(pl.lit("EPT"))
            .otherwise(pl.lit("EPCI"))
            .alias("grouping_type"),
            pl.lit(is_synthetic).alias("is_synthetic"),
        ),
        TERRITORY_MEMBERS,
        name="territory_members",
    )
    stats = SourceStats(
        source_id, source_file, "territory x grouping link", links.height, members.height
    )
    return CleanResult(
        tables={
            "territories": _territories_table(df, members, phase, is_synthetic),
            "territory_members": members,
            "commune_members": _commune_links(df, members, ept_members, phase),
        },
        quarantine={"territory_members": quarantined},
        stats=[stats],
    )


# --------------------------------------------------------------------------------------------
# Shapes
# --------------------------------------------------------------------------------------------


def _douglas_peucker(
    points: np.ndarray, tolerance: float, bounds: Sequence[tuple[int, int]] | None = None
) -> np.ndarray:
    """Boolean mask of the points kept by Douglas-Peucker within each ``(start, end)`` interval
    (end points always kept; default: the whole array).

    Vectorised level by level: every open interval of every ring is split at once.
    """
    n = len(points)
    keep = np.zeros(n, dtype=bool)
    if n == 0:
        return keep
    if bounds is None:
        bounds = [(0, n - 1)]
    starts = np.array([b[0] for b in bounds], dtype=np.int64)
    ends = np.array([b[1] for b in bounds], dtype=np.int64)
    keep[starts] = True
    keep[ends] = True
    while starts.size:
        lengths = ends - starts - 1
        mask = lengths > 0
        starts, ends, lengths = starts[mask], ends[mask], lengths[mask]
        if not starts.size:
            break
        group = np.repeat(np.arange(starts.size), lengths)
        bounds_at = np.cumsum(lengths) - lengths
        idx = starts[group] + 1 + np.arange(lengths.sum()) - bounds_at[group]
        a = points[starts[group]]
        d = points[ends[group]] - a
        p = points[idx] - a
        norm = np.hypot(d[:, 0], d[:, 1])
        cross = np.abs(d[:, 0] * p[:, 1] - d[:, 1] * p[:, 0])
        # degenerate interval (closed ring): distance to the start point
        dist = np.where(norm > 0, cross / np.where(norm > 0, norm, 1.0), np.hypot(p[:, 0], p[:, 1]))
        gmax = np.maximum.reduceat(dist, bounds_at)
        pos = np.flatnonzero(dist == gmax[group])[::-1]
        first = np.empty(starts.size, dtype=np.int64)
        first[group[pos]] = idx[pos]  # reversed: the first maximum of each interval wins
        split = gmax > tolerance
        mids = first[split]
        keep[mids] = True
        starts = np.concatenate([starts[split], mids])
        ends = np.concatenate([mids, ends[split]])
    return keep


def _round_ring(points: np.ndarray, decimals: int) -> list[list[float]]:
    rounded = np.round(points, decimals)
    out: list[list[float]] = []
    for x, y in rounded.tolist():
        if not out or out[-1] != [x, y]:
            out.append([x, y])
    if out and out[0] != out[-1]:
        out.append(out[0])
    return out


def _signed_area(ring: Sequence[Sequence[float]]) -> float:
    """Planar shoelace area in lon/lat (positive = counter-clockwise with latitude up)."""
    a = np.asarray(ring, dtype=float)
    return float(np.sum(a[:-1, 0] * a[1:, 1] - a[1:, 0] * a[:-1, 1]) / 2.0)


def _orient(rings: list[list[list[float]]]) -> list[list[list[float]]]:
    """Wind a polygon as d3-geo / Vega / Altair expect: exterior clockwise, holes
    counter-clockwise (the reverse of RFC 7946, which d3 would draw as the whole globe
    minus the shape)."""
    out = []
    for k, ring in enumerate(rings):
        clockwise = _signed_area(ring) < 0
        out.append(ring if clockwise == (k == 0) else ring[::-1])
    return out


def _rings_of(geometry: dict[str, Any] | None) -> list[Any]:
    """Every polygon ring of a geometry, in traversal order."""
    if not geometry:
        return []
    kind = geometry.get("type")
    if kind == "Polygon":
        return list(geometry["coordinates"])
    if kind == "MultiPolygon":
        return [r for poly in geometry["coordinates"] for r in poly]
    if kind == "GeometryCollection":
        return [r for g in geometry.get("geometries", []) for r in _rings_of(g)]
    return []


def _simplify_rings(
    rings: Sequence[Any], tolerance: float, decimals: int
) -> list[list[list[float]] | None]:
    """Simplify many rings in one vectorised pass; None for rings collapsing below 4 points."""
    arrays = [np.asarray([p[:2] for p in r], dtype=float).reshape(-1, 2) for r in rings]
    sizes = [len(a) for a in arrays]
    if not arrays or sum(sizes) == 0:
        return [None] * len(arrays)
    points = np.concatenate(arrays)
    offsets = np.cumsum([0, *sizes])
    bounds = [(int(offsets[i]), int(offsets[i + 1]) - 1) for i in range(len(arrays)) if sizes[i]]
    keep = _douglas_peucker(points, tolerance, bounds)
    out: list[list[list[float]] | None] = []
    for i, size in enumerate(sizes):
        if size < 4:
            out.append(None)
            continue
        lo, hi = offsets[i], offsets[i + 1]
        ring = _round_ring(points[lo:hi][keep[lo:hi]], decimals)
        out.append(ring if len(ring) >= 4 else None)
    return out


def _rebuild(geometry: dict[str, Any] | None, done: Any, decimals: int) -> dict[str, Any] | None:
    """Rebuild ``geometry`` taking its simplified rings from the iterator ``done``."""
    if not geometry:
        return None
    kind = geometry.get("type")
    coords = geometry.get("coordinates")
    if kind == "Point":
        return {"type": "Point", "coordinates": [round(float(c), decimals) for c in coords[:2]]}
    if kind == "MultiPoint":
        return {
            "type": "MultiPoint",
            "coordinates": [[round(float(c), decimals) for c in p[:2]] for p in coords],
        }
    if kind in ("Polygon", "MultiPolygon"):
        polygons = [coords] if kind == "Polygon" else list(coords)
        kept = []
        for rings in polygons:
            simplified = [next(done) for _ in rings]
            if simplified and simplified[0] is not None:
                kept.append(_orient([simplified[0], *(h for h in simplified[1:] if h is not None)]))
        if not kept:  # never let a territory vanish: keep its largest part, rounded only
            largest = max(polygons, key=lambda r: len(r[0]) if r else 0)
            if largest:
                outer = _round_ring(np.asarray([p[:2] for p in largest[0]], float), decimals)
                kept = [_orient([outer])] if len(outer) >= 4 else []
        if not kept:
            return None
        if len(kept) == 1:
            return {"type": "Polygon", "coordinates": kept[0]}
        return {"type": "MultiPolygon", "coordinates": kept}
    if kind == "GeometryCollection":
        parts = [_rebuild(g, done, decimals) for g in geometry.get("geometries", [])]
        return {"type": "GeometryCollection", "geometries": [g for g in parts if g]}
    return None


def simplify_geometries(
    geometries: Sequence[dict[str, Any] | None],
    tolerance: float = SHAPE_TOLERANCE_DEG,
    decimals: int = SHAPE_DECIMALS,
) -> list[dict[str, Any] | None]:
    """Simplify GeoJSON geometries (Douglas-Peucker on every ring, coordinates rounded).

    Rings are wound the d3-geo way (exterior clockwise in lon/lat, holes counter-clockwise), so
    Altair's ``mark_geoshape`` draws them as they are; rings that collapse below 4 points are
    dropped (small islands and holes), but a polygonal geometry never vanishes (its largest part
    is kept, rounded only). Points are rounded. Other geometry types become None.
    """
    rings = [r for g in geometries for r in _rings_of(g)]
    done = iter(_simplify_rings(rings, tolerance, decimals))
    return [_rebuild(g, done, decimals) for g in geometries]


def simplify_geometry(
    geometry: dict[str, Any] | None,
    tolerance: float = SHAPE_TOLERANCE_DEG,
    decimals: int = SHAPE_DECIMALS,
) -> dict[str, Any] | None:
    """Simplify one GeoJSON geometry (see :func:`simplify_geometries`)."""
    return simplify_geometries([geometry], tolerance, decimals)[0]


def build_territory_shapes(
    features: Sequence[dict[str, Any]],
    territories: pl.DataFrame,
    *,
    id_property: str,
    tolerance: float = SHAPE_TOLERANCE_DEG,
    decimals: int = SHAPE_DECIMALS,
    is_synthetic: bool = False,
) -> pl.DataFrame:
    """One simplified geometry (compact GeoJSON text) per territory of ``territories``."""
    ids: list[str] = []
    geometries: list[dict[str, Any] | None] = []
    for feature in features:
        ti_id = _clean(feature["properties"].get(id_property))
        ti_id = ti_id.lower() if ti_id else None
        if ti_id is None or ti_id in ids:
            continue
        ids.append(ti_id)
        geometries.append(feature.get("geometry"))
    rows = [
        {"ti_id": ti_id, "geometry_geojson": json.dumps(g, separators=(",", ":")) if g else None}
        for ti_id, g in zip(ids, simplify_geometries(geometries, tolerance, decimals), strict=True)
    ]
    shapes = pl.DataFrame(rows, schema={"ti_id": pl.String, "geometry_geojson": pl.String})
    out = territories.select("ti_id", "ti_phase", "ti_name", "region_code").join(
        shapes, on="ti_id", how="inner", maintain_order="left"
    )
    return conform(
        out.with_columns(pl.lit(is_synthetic).alias("is_synthetic")),
        TERRITORY_SHAPES,
        name="territory_shapes",
    )


def _shape_rules(id_property: str, territories: pl.DataFrame) -> list[Rule]:
    """Quarantine rules of features read for their shape only, in priority order."""
    ti_id = pl.col("ti_id")
    missing = [
        Rule(
            "missing_property",
            pl.col("_missing") == prop,
            prop,
            pl.format("feature {} has no '{}'", pl.col(ROW_COL), pl.col("_missing")),
        )
        for prop in ("properties", id_property)
    ]
    return [
        *missing,
        Rule(
            "invalid_ti_id",
            ~ti_id.fill_null("").str.contains(TI_ID_RE),
            id_property,
            pl.col("ti_id_raw"),
        ),
        Rule("duplicate_territory", ~ti_id.is_first_distinct(), id_property, ti_id),
        Rule(
            "unknown_territory",
            ~ti_id.is_in(territories.get_column("ti_id").implode()),
            id_property,
            ti_id,
        ),
        Rule("missing_geometry", ~pl.col("has_geometry"), "geometry"),
    ]


def read_ti_shapes(
    path: Path,
    territories: pl.DataFrame,
    *,
    phase: int,
    source_id: str | None = None,
    is_synthetic: bool = False,
) -> CleanResult:
    """Shapes only, from a TI GeoJSON, for ``territories`` read elsewhere (grouping CSV).

    Unit of accounting: the feature. Quarantine (``territory_shapes``): ``missing_property``,
    ``invalid_ti_id``, ``duplicate_territory``, ``unknown_territory`` (not in ``territories``),
    ``missing_geometry``.
    """
    path = Path(path)
    id_property = PHASE1_PROPERTIES[0] if phase == 1 else PHASE2_PROPERTIES[0]
    source_id = source_id or f"ti_phase{phase}"
    features = read_geojson_features(path)
    problems = feature_problems(features, (id_property,))
    frame = pl.DataFrame(
        {
            ROW_COL: list(range(1, len(features) + 1)),
            "ti_id_raw": [_clean(feature_properties(f).get(id_property)) for f in features],
            "has_geometry": [isinstance(f, dict) and bool(f.get("geometry")) for f in features],
            "_missing": [problems.get(i) for i in range(1, len(features) + 1)],
        },
        schema={
            ROW_COL: pl.Int64,
            "ti_id_raw": pl.String,
            "has_geometry": pl.Boolean,
            "_missing": pl.String,
        },
    ).with_columns(pl.col("ti_id_raw").str.to_lowercase().alias("ti_id"))
    kept, quarantined = partition(
        frame,
        _shape_rules(id_property, territories),
        source_id=source_id,
        source_file=path.name,
        raw_columns=("ti_id_raw",),
    )
    shapes = build_territory_shapes(
        [features[i - 1] for i in kept.get_column(ROW_COL).to_list()],
        territories,
        id_property=id_property,
        is_synthetic=is_synthetic,
    )
    stats = SourceStats(
        source_id, path.name, "feature (territory shape)", len(features), shapes.height
    )
    return CleanResult(
        tables={"territory_shapes": shapes},
        quarantine={"territory_shapes": quarantined},
        stats=[stats],
    )


# --------------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------------


def _read_ti_geojson(
    path: Path,
    epci: pl.DataFrame,
    communes: pl.DataFrame | None,
    *,
    phase: int,
    source_id: str,
    is_synthetic: bool,
    ept_members: pl.DataFrame | None = None,
) -> CleanResult:
    path = Path(path)
    props = PHASE1_PROPERTIES if phase == 1 else PHASE2_PROPERTIES
    features = read_geojson_features(path)
    problems = feature_problems(features, props)
    links = parse_phase1_features(features) if phase == 1 else parse_phase2_features(features)
    missing = pl.DataFrame(
        {"_feature": list(problems), "_missing": list(problems.values())},
        schema={"_feature": pl.Int64, "_missing": pl.String},
    )
    links = links.join(missing, on="_feature", how="left", maintain_order="left")
    result = resolve_groupings(
        links,
        epci,
        communes,
        phase=phase,
        source_id=source_id,
        source_file=path.name,
        is_synthetic=is_synthetic,
        ept_members=ept_members,
        properties=props,
    )
    result.tables["territory_shapes"] = build_territory_shapes(
        [f for i, f in enumerate(features, start=1) if i not in problems],
        result.tables["territories"],
        id_property=props[0],
        is_synthetic=is_synthetic,
    )
    return result


def read_ti_phase1(
    path: Path,
    epci: pl.DataFrame,
    communes: pl.DataFrame | None = None,
    *,
    source_id: str = "ti_phase1",
    is_synthetic: bool = False,
    ept_members: pl.DataFrame | None = None,
) -> CleanResult:
    """Phase-1 GeoJSON (``id_ti, lib_ti, lib_groupement, siren_groupement``).

    Tables ``territories``, ``territory_members``, ``territory_shapes``, ``commune_members``;
    quarantine ``territory_members``. ``epci`` is the COG EPCI table; ``communes`` (optional)
    lets communes listed directly be attributed; ``ept_members`` (optional) resolves Grand
    Paris EPTs (see :func:`resolve_groupings`). A feature lacking a property is quarantined
    with all its links (``missing_property``); the other features are read.
    """
    return _read_ti_geojson(
        path,
        epci,
        communes,
        phase=1,
        source_id=source_id,
        is_synthetic=is_synthetic,
        ept_members=ept_members,
    )


def read_ti_phase2(
    path: Path,
    epci: pl.DataFrame,
    communes: pl.DataFrame | None = None,
    *,
    source_id: str = "ti_phase2",
    is_synthetic: bool = False,
    ept_members: pl.DataFrame | None = None,
) -> CleanResult:
    """Phase-2 GeoJSON (``id_territoire, lib_territoire, liste_geo``); see :func:`read_ti_phase1`."""
    return _read_ti_geojson(
        path,
        epci,
        communes,
        phase=2,
        source_id=source_id,
        is_synthetic=is_synthetic,
        ept_members=ept_members,
    )


def read_ti_groupings_csv(
    path: Path,
    phase: int,
    epci: pl.DataFrame,
    communes: pl.DataFrame | None = None,
    *,
    source_id: str | None = None,
    is_synthetic: bool = False,
    ept_members: pl.DataFrame | None = None,
) -> CleanResult:
    """ANCT's grouping-level CSV (``id_ti, lib_ti, siren_groupement, lib_groupement,
    nature_juridique``; one line per link; ``,`` or ``;`` separated). No shapes (see
    :func:`read_ti_shapes`). ``source_row`` is the line number; ``nature_juridique`` ``EPT`` /
    ``COM`` also classify groupings; ``ept_members`` resolves EPTs (:func:`resolve_groupings`)."""
    if phase not in (1, 2):
        raise InputFileError(path, "phase 1 or 2", found=repr(phase))
    path = Path(path)
    raw = read_csv_text(path, GROUPINGS_CSV_COLUMNS, separator=None)
    links = raw.select(
        pl.col(ROW_COL),
        pl.col(ROW_COL).alias("_feature"),
        pl.lit(0, pl.Int32).alias("_link"),
        pl.col("id_ti").str.strip_chars().alias("ti_id_raw"),
        clean_text(pl.col("lib_ti")).alias("ti_name"),
        pl.col("siren_groupement").str.strip_chars().alias("siren_raw"),
        clean_text(pl.col("lib_groupement")).alias("grouping_name"),
        pl.col("nature_juridique").str.strip_chars().alias("nature_juridique"),
    )
    # in a flat file a territory spans many lines: they all belong to one "feature"
    links = links.with_columns(
        pl.col(ROW_COL).min().over(pl.col("ti_id_raw").str.to_lowercase()).alias("_feature")
    )
    return resolve_groupings(
        links,
        epci,
        communes,
        phase=phase,
        source_id=source_id or f"ti_phase{phase}_groupings",
        source_file=path.name,
        is_synthetic=is_synthetic,
        ept_members=ept_members,
    )


# --------------------------------------------------------------------------------------------
# Commune attribution
# --------------------------------------------------------------------------------------------


def build_commune_territories(
    communes: pl.DataFrame,
    territory_members: pl.DataFrame,
    commune_members: pl.DataFrame | None = None,
    *,
    is_synthetic: bool = False,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Commune -> territory per phase, through EPCI membership and ``commune_members``
    (communes listed directly, ``via`` ``"commune"``, or members of an EPT member of the
    territory, ``via`` ``"EPT <SIREN>"``; a frame without ``via`` lists communes directly).

    A commune gets at most one territory per phase. When several apply (an EPCI listed by two
    territories of the same phase, or a commune listed directly by one territory while its EPCI
    belongs to another), the direct listing wins, then the smallest ``ti_id``; every link set
    aside is returned in the second frame (quarantine schema, ``source_id``
    :data:`DERIVED_SOURCE_ID`, reason ``commune_in_several_territories``, ``source_row`` null).
    On the real files there is none.
    """
    members = territory_members.lazy()
    if "grouping_type" in territory_members.columns:
        members = members.filter(pl.col("grouping_type") == "EPCI")
    via_epci = (
        communes.lazy()
        .select("commune_insee", "epci_siren")
        .join(
            members.select("ti_id", "ti_phase", "epci_siren"),
            on="epci_siren",
            how="inner",
        )
        .select(
            "commune_insee",
            "ti_phase",
            "ti_id",
            pl.lit(1).alias("_priority"),
            pl.format("EPCI {}", pl.col("epci_siren")).alias("_via"),
        )
    )
    frames = [via_epci]
    if commune_members is not None and commune_members.height:
        via = pl.col("via") if "via" in commune_members.columns else pl.lit("commune")
        direct = via.fill_null("commune") == "commune"
        frames.append(
            commune_members.lazy().select(
                "commune_insee",
                pl.col("ti_phase").cast(pl.Int8),
                "ti_id",
                pl.when(direct).then(0).otherwise(1).alias("_priority"),
                pl.when(direct)
                .then(pl.lit("commune listed directly"))
                .otherwise(via)
                .alias("_via"),
            )
        )
    links = (
        pl.concat(frames)
        .unique(["commune_insee", "ti_phase", "ti_id"], keep="first", maintain_order=True)
        .sort("commune_insee", "ti_phase", "_priority", "ti_id")
        .with_columns(
            pl.int_range(pl.len()).over("commune_insee", "ti_phase").alias("_rank"),
            pl.len().over("commune_insee", "ti_phase").alias("_n"),
        )
        .collect()
    )
    kept = links.filter(pl.col("_rank") == 0)
    dropped = links.filter(pl.col("_rank") > 0)
    commune_territories = conform(
        kept.with_columns(pl.lit(is_synthetic).alias("is_synthetic")),
        COMMUNE_TERRITORIES,
        name="commune_territories",
    )
    if dropped.height == 0:
        return commune_territories, empty_frame(QUARANTINE)
    chosen = kept.select("commune_insee", "ti_phase", pl.col("ti_id").alias("_chosen"))
    dropped = dropped.join(chosen, on=["commune_insee", "ti_phase"], how="left")
    quarantine = dropped.select(
        pl.lit(DERIVED_SOURCE_ID, pl.String).alias("source_id"),
        pl.lit(None, pl.String).alias("source_file"),
        pl.lit(None, pl.Int64).alias("source_row"),
        pl.lit("ti_id", pl.String).alias("column"),
        pl.lit("commune_in_several_territories", pl.String).alias("reason"),
        pl.format(
            "commune {} ({}) also in {}; kept {}",
            pl.col("commune_insee"),
            pl.col("_via"),
            pl.col("ti_id"),
            pl.col("_chosen"),
        ).alias("detail"),
        pl.struct("commune_insee", "ti_phase", "ti_id", "_via")
        .map_elements(
            lambda r: json_row(
                {
                    "commune_insee": r["commune_insee"],
                    "ti_phase": r["ti_phase"],
                    "ti_id": r["ti_id"],
                    "via": r["_via"],
                }
            ),
            return_dtype=pl.String,
        )
        .alias("raw_json"),
    )
    return commune_territories, quarantine
