"""Synthetic geography: communes, EPCI, zones d'emploi and Territoires d'industrie (both phases).

Région and département codes are the real INSEE codes (reference geography); every name, commune
code, SIREN and zone is invented. Sizes are smaller than real (about 5,000 communes, 1,250 EPCI,
300 zones d'emploi) but the structure is the real one, quirks included: four island communes in
no EPCI (``ZZZZZZZZZ``), the Métropole de Lyon's ``METLYON`` nature, interregional zones
d'emploi coded ``00XX`` with regional parts ``RRXX``, territories whose groupings are not EPCIs
(EPT-like SIRENs, commune SIRENs), a grouping name holding ", ", point geometries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from analyse.demo.formats import hexagon, make_luhn_codes, numbers_to_digits
from analyse.reference import OVERSEAS_REGIONS, REGION_NAMES

#: Real département codes by région (COG 2023).
REGION_DEPARTEMENTS: dict[str, tuple[str, ...]] = {
    "01": ("971",),
    "02": ("972",),
    "03": ("973",),
    "04": ("974",),
    "06": ("976",),
    "11": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "24": ("18", "28", "36", "37", "41", "45"),
    "27": ("21", "25", "39", "58", "70", "71", "89", "90"),
    "28": ("14", "27", "50", "61", "76"),
    "32": ("02", "59", "60", "62", "80"),
    "44": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),
    "52": ("44", "49", "53", "72", "85"),
    "53": ("22", "29", "35", "56"),
    "75": ("16", "17", "19", "23", "24", "33", "40", "47", "64", "79", "86", "87"),
    "76": ("09", "11", "12", "30", "31", "32", "34", "46", "48", "65", "66", "81", "82"),
    "84": ("01", "03", "07", "15", "26", "38", "42", "43", "63", "69", "73", "74"),
    "93": ("04", "05", "06", "13", "83", "84"),
    "94": ("2A", "2B"),
}

#: Approximate centre (lon, lat) and spread (degrees) of each région, for map positions.
REGION_CENTRES: dict[str, tuple[float, float, float]] = {
    "01": (-61.55, 16.20, 0.12),
    "02": (-61.02, 14.65, 0.10),
    "03": (-52.80, 4.70, 0.35),
    "04": (55.53, -21.13, 0.12),
    "06": (45.14, -12.82, 0.05),
    "11": (2.50, 48.72, 0.40),
    "24": (1.70, 47.50, 0.90),
    "27": (4.80, 47.20, 0.90),
    "28": (0.10, 49.10, 0.80),
    "32": (2.75, 50.00, 0.70),
    "44": (5.60, 48.70, 1.00),
    "52": (-0.80, 47.45, 0.80),
    "53": (-2.90, 48.15, 0.80),
    "75": (0.20, 45.20, 1.20),
    "76": (2.10, 43.70, 1.10),
    "84": (4.50, 45.50, 1.00),
    "93": (6.10, 43.95, 0.70),
    "94": (9.10, 42.15, 0.25),
}

#: Territories per région in phase 1 (149) and phase 2 (183), as in the programme's lists.
TERRITORIES_PER_REGION: dict[int, dict[str, int]] = {
    1: {
        "01": 1, "02": 2, "03": 3, "04": 2, "11": 9, "24": 8, "27": 10, "28": 8, "32": 14,
        "44": 15, "52": 17, "53": 10, "75": 14, "76": 9, "84": 17, "93": 8, "94": 2,
    },
    2: {
        "01": 3, "02": 2, "03": 2, "04": 2, "06": 1, "11": 11, "24": 12, "27": 10, "28": 10,
        "32": 17, "44": 21, "52": 18, "53": 10, "75": 16, "76": 14, "84": 24, "93": 8, "94": 2,
    },
}  # fmt: skip

#: Pairs of neighbouring régions sharing an interregional zone d'emploi (00XX codes).
INTERREGIONAL_PAIRS: tuple[tuple[str, str], ...] = (
    ("28", "52"), ("93", "84"), ("93", "76"), ("32", "11"), ("27", "84"), ("24", "27"),
    ("24", "28"), ("24", "75"), ("75", "76"), ("44", "27"), ("52", "53"), ("28", "32"),
    ("76", "84"), ("24", "11"),
)  # fmt: skip

#: Island communes outside every EPCI (département, count): EPCI code ZZZZZZZZZ.
ISLAND_COMMUNES: tuple[tuple[str, int], ...] = (("22", 1), ("29", 2), ("85", 1))

NO_EPCI = "ZZZZZZZZZ"


@dataclass(frozen=True)
class Geography:
    """The synthetic geography (all codes are strings)."""

    #: commune_insee, commune_name, departement_code, region_code, epci_siren, ze2020_code,
    #: postal_code, lon, lat
    communes: pl.DataFrame
    #: epci_siren, epci_name, epci_nature, departement_code, region_code
    epci: pl.DataFrame
    #: ze2020_code, ze2020_name, region_code ("00" when interregional), regions (list)
    zones: pl.DataFrame
    #: departement_code, departement_name, region_code
    departements: pl.DataFrame


@dataclass(frozen=True)
class Territories:
    """Synthetic Territoires d'industrie of both phases."""

    #: ti_phase, ti_id, ti_name, region_code, geometry (dict)
    territories: list[dict]
    #: ti_phase, ti_id, position, grouping_siren, grouping_name, grouping_kind (epci/ept/commune)
    members: pl.DataFrame


def departement_name(code: str) -> str:
    """Invented name of a département (clearly fictional)."""
    return f"Département-Démo {code}"


def build_geography(rng: np.random.Generator) -> Geography:
    """Communes, EPCI, zones d'emploi and départements of the demo."""
    # --- départements and their centres
    dep_rows = []
    for region, deps in REGION_DEPARTEMENTS.items():
        lon0, lat0, spread = REGION_CENTRES[region]
        for dep in deps:
            dlon, dlat = rng.uniform(-spread, spread, size=2)
            dep_rows.append((dep, region, lon0 + dlon, lat0 + 0.7 * dlat, spread))
    # --- communes: INSEE code = département + 3 digits (97x + 2 digits overseas)
    com_code, com_dep, com_reg, com_lon, com_lat = [], [], [], [], []
    for dep, region, lon, lat, spread in dep_rows:
        overseas = region in OVERSEAS_REGIONS
        n = int(rng.integers(14, 23)) if overseas else int(rng.integers(30, 71))
        width, top = (2, 60) if overseas else (3, 700)
        numbers = np.sort(rng.choice(np.arange(1, top), size=n, replace=False))
        com_code += [f"{dep}{k:0{width}d}" for k in numbers]
        com_dep += [dep] * n
        com_reg += [region] * n
        local = 0.3 * spread if overseas else 0.35
        com_lon += list(lon + rng.uniform(-local, local, size=n))
        com_lat += list(lat + rng.uniform(-0.7 * local, 0.7 * local, size=n))
    communes = pl.DataFrame(
        {
            "commune_insee": com_code,
            "departement_code": com_dep,
            "region_code": com_reg,
            "lon": np.round(com_lon, 5),
            "lat": np.round(com_lat, 5),
        }
    ).with_columns(commune_name=pl.lit("Commune-Démo ") + pl.col("commune_insee"))
    # postal codes: département prefix + digits of the INSEE code (not the INSEE code itself)
    communes = communes.with_columns(
        postal_code=pl.when(pl.col("departement_code").str.len_chars() == 3)
        .then(pl.col("departement_code") + pl.col("commune_insee").str.slice(3, 2))
        .otherwise(
            pl.col("departement_code").replace({"2A": "20", "2B": "20"})
            + pl.lit("0")
            + pl.col("commune_insee").str.slice(3, 2)
        )
    )

    # --- island communes outside any EPCI
    island = np.zeros(communes.height, dtype=bool)
    deps = communes["departement_code"].to_numpy()
    for dep, k in ISLAND_COMMUNES:
        idx = np.flatnonzero(deps == dep)
        island[idx[-k:]] = True

    # --- EPCI: consecutive runs of communes within a département (about 4 communes each)
    epci_of = np.empty(communes.height, dtype=object)
    epci_rows: list[tuple[int, str, str]] = []  # (index, dep, region)
    com_regions = communes["region_code"].to_list()
    for dep in dict.fromkeys(deps):
        idx = [int(i) for i in np.flatnonzero(deps == dep) if not island[i]]
        pos = 0
        while pos < len(idx):
            size = 1 + int(rng.poisson(3.0))
            chunk = idx[pos : pos + size]
            if len(idx) - (pos + size) in (1, 2):  # no tiny leftover EPCI at the end
                chunk = idx[pos:]
            k = len(epci_rows)
            epci_of[chunk] = k
            epci_rows.append((k, dep, com_regions[chunk[0]]))
            pos += len(chunk)
    n_epci = len(epci_rows)
    sirens = _epci_sirens(rng, [d for _, d, _ in epci_rows])
    natures = rng.choice(
        np.array(["CC", "CA", "CU", "ME"], dtype=object), size=n_epci, p=[0.79, 0.18, 0.012, 0.018]
    )
    lyon = [k for k, d, _ in epci_rows if d == "69"]
    if lyon:
        natures[lyon[0]] = "METLYON"
    counters: dict[str, int] = {}
    names = []
    for (_k, dep, _r), nature in zip(epci_rows, natures, strict=True):
        counters[dep] = counters.get(dep, 0) + 1
        label = {"ME": "Métropole-Démo", "METLYON": "Métropole-Démo"}.get(nature, f"{nature} Démo")
        names.append(f"{label} {dep}-{counters[dep]:02d}")
    epci = pl.DataFrame(
        {
            "epci_siren": sirens,
            "epci_name": names,
            "epci_nature": natures.tolist(),
            "departement_code": [d for _, d, _ in epci_rows],
            "region_code": [r for _, _, r in epci_rows],
        }
    )
    siren_by_index = np.array(sirens, dtype=object)
    epci_col = [
        NO_EPCI if island[i] else siren_by_index[epci_of[i]] for i in range(communes.height)
    ]
    communes = communes.with_columns(epci_siren=pl.Series(epci_col, dtype=pl.String))

    # --- zones d'emploi: consecutive runs of about 16 communes within a région
    regions = communes["region_code"].to_numpy()
    zone_of = np.empty(communes.height, dtype=object)
    zone_members: dict[str, list[int]] = {}
    for region in REGION_DEPARTEMENTS:
        idx = np.flatnonzero(regions == region)
        n_zones = {"01": 3, "02": 2, "03": 2, "04": 3, "06": 1}.get(region)
        if n_zones is None:
            n_zones = max(2, round(len(idx) / 16))
        cuts = np.sort(rng.choice(np.arange(1, len(idx)), size=n_zones - 1, replace=False))
        for z, chunk in enumerate(np.split(idx, cuts), start=1):
            code = f"{region}{z:02d}"
            zone_of[chunk] = code
            zone_members[code] = list(chunk)
    # interregional zones: merge one zone of each région of a pair into a 00XX zone
    used: set[str] = set()
    interregional: dict[str, tuple[str, ...]] = {}
    for k, (ra, rb) in enumerate(INTERREGIONAL_PAIRS):
        parts = []
        for region in (ra, rb):
            candidates = [c for c in zone_members if c[:2] == region and c not in used]
            pick = candidates[-1] if region == ra else candidates[0]
            used.add(pick)
            parts.append(pick)
        code = f"00{51 + k:02d}"
        members = zone_members.pop(parts[0]) + zone_members.pop(parts[1])
        zone_of[members] = code
        zone_members[code] = members
        interregional[code] = (ra, rb)
    # renumber regional zones RR01.. (gaps left by merged ones are closed)
    renumber: dict[str, str] = {}
    for region in REGION_DEPARTEMENTS:
        olds = sorted(c for c in zone_members if c[:2] == region and c not in interregional)
        for z, old in enumerate(olds, start=1):
            renumber[old] = f"{region}{z:02d}"
    zone_codes = [renumber.get(z, z) for z in zone_of]
    communes = communes.with_columns(ze2020_code=pl.Series(zone_codes, dtype=pl.String))
    zone_list = sorted(set(zone_codes))
    zones = pl.DataFrame(
        {
            "ze2020_code": zone_list,
            "ze2020_name": [f"Bassin-Démo {c}" for c in zone_list],
            "region_code": [("00" if c in interregional else c[:2]) for c in zone_list],
            "regions": [list(interregional.get(c, (c[:2],))) for c in zone_list],
        }
    )
    departements = pl.DataFrame(
        {
            "departement_code": [d for d, *_ in dep_rows],
            "departement_name": [departement_name(d) for d, *_ in dep_rows],
            "region_code": [r for _, r, *_ in dep_rows],
        }
    )
    communes = communes.select(
        "commune_insee",
        "commune_name",
        "departement_code",
        "region_code",
        "epci_siren",
        "ze2020_code",
        "postal_code",
        "lon",
        "lat",
    ).sort("commune_insee")
    return Geography(
        communes=communes,
        epci=epci.sort("epci_siren"),
        zones=zones,
        departements=departements,
    )


def _epci_sirens(rng: np.random.Generator, deps: list[str]) -> list[str]:
    """Unique Luhn-valid EPCI SIRENs: ``2000xxxx`` + key, or ``24`` + département + 4 + key."""
    out: list[str] = []
    seen: set[str] = set()
    for dep in deps:
        while True:
            if rng.random() < 0.6:
                prefix = "2000" + f"{int(rng.integers(0, 10_000)):04d}"
            else:
                d2 = "20" if dep in ("2A", "2B") else dep[:2]
                prefix = "24" + d2 + f"{int(rng.integers(0, 10_000)):04d}"
            code = make_luhn_codes(np.array([[int(c) for c in prefix]]))[0]
            if code not in seen:
                seen.add(code)
                out.append(code)
                break
    return out


def _other_sirens(rng: np.random.Generator, prefix: str, n: int, exclude: set[str]) -> list[str]:
    """``n`` unique Luhn-valid SIRENs starting with ``prefix`` and not in ``exclude``."""
    out: list[str] = []
    while len(out) < n:
        rest = numbers_to_digits(rng.integers(0, 10 ** (8 - len(prefix)), size=1), 8 - len(prefix))
        head = np.array([[int(c) for c in prefix]])
        code = make_luhn_codes(np.column_stack([head, rest]))[0]
        if code not in exclude and code not in out:
            out.append(code)
    return out


def build_territories(rng: np.random.Generator, geo: Geography) -> Territories:
    """Phase-1 (149) and phase-2 (183) territories with member groupings and geometries."""
    epci = geo.epci.sort("departement_code", "epci_siren")
    epci_by_region: dict[str, list[str]] = {}
    for siren, region in epci.select("epci_siren", "region_code").iter_rows():
        epci_by_region.setdefault(region, []).append(siren)
    epci_name = dict(epci.select("epci_siren", "epci_name").iter_rows())
    all_sirens = set(epci_name)

    members: list[dict] = []
    territories: list[dict] = []

    # ---- phase 1: disjoint runs of consecutive EPCIs of a région (no EPCI in two territories)
    phase1_sets: dict[str, list[list[str]]] = {}
    for region, n_ti in TERRITORIES_PER_REGION[1].items():
        pool = epci_by_region.get(region, [])
        sizes = 1 + rng.poisson(2.8, size=n_ti)
        cap = max(n_ti, int(0.6 * len(pool)))
        while sizes.sum() > cap:  # small région: shrink the largest territories
            sizes[int(np.argmax(sizes))] -= 1
        gaps = rng.multinomial(len(pool) - int(sizes.sum()), np.full(n_ti + 1, 1.0 / (n_ti + 1)))
        order = rng.permutation(n_ti)
        sets: list[list[str]] = [[] for _ in range(n_ti)]
        pos = int(gaps[0])
        for j, t in enumerate(order):
            sets[t] = pool[pos : pos + int(sizes[t])]
            pos += int(sizes[t]) + int(gaps[j + 1])
        phase1_sets[region] = sets

    # ---- phase 2: ~80 % of phase-1 EPCIs kept, new EPCIs added, regrouped into n2 territories
    phase2_sets: dict[str, list[list[str]]] = {}
    for region, n_ti in TERRITORIES_PER_REGION[2].items():
        pool = epci_by_region.get(region, [])
        old = [s for group in phase1_sets.get(region, []) for s in group]
        kept = [s for s in old if rng.random() < 0.81]
        fresh_pool = [s for s in pool if s not in set(old)]
        n_new = min(len(fresh_pool), max(n_ti - len(kept), int(round(0.34 * len(kept)))))
        fresh = list(rng.choice(fresh_pool, size=n_new, replace=False)) if n_new else []
        order = {s: i for i, s in enumerate(pool)}
        chosen = sorted(set(kept) | {str(s) for s in fresh}, key=order.__getitem__)
        if len(chosen) < n_ti:  # tiny région: add EPCIs so that every territory has one
            chosen = sorted(
                chosen + [s for s in pool if s not in chosen][: n_ti - len(chosen)],
                key=order.__getitem__,
            )
        while len(chosen) < n_ti:  # still short: repeat (an EPCI in two territories)
            chosen.append(chosen[len(chosen) % max(1, len(pool))])
        cuts = np.sort(rng.choice(np.arange(1, len(chosen)), size=n_ti - 1, replace=False))
        phase2_sets[region] = [list(c) for c in np.split(np.array(chosen, dtype=object), cuts)]

    # ---- groupings that are not EPCIs (EPT-like SIRENs, commune SIRENs), as in the real lists
    ept = _other_sirens(rng, "2000", 5, all_sirens)
    com_84 = _other_sirens(rng, "2142", 4, all_sirens)
    com_93 = _other_sirens(rng, "2113", 5, all_sirens)
    com_93b = _other_sirens(rng, "2106", 1, all_sirens)
    extras1: dict[tuple[str, int], list[tuple[str, str, str]]] = {
        ("11", 0): [(ept[0], "EPT Démo Boucle-Nord", "ept")],  # EPT only: resolves to no EPCI
        ("11", 1): [(ept[1], "EPT Démo Plaine-Est", "ept")],
        ("84", 15): [(s, f"Commune-Démo SIREN {s[2:7]}", "commune") for s in com_84],
        ("93", 0): [(s, f"Commune-Démo SIREN {s[2:7]}", "commune") for s in com_93],
        ("93", 2): [(com_93b[0], f"Commune-Démo SIREN {com_93b[0][2:7]}", "commune")],
    }
    extras2: dict[tuple[str, int], list[tuple[str, str, str]]] = {
        ("11", 0): [(ept[0], "EPT Démo Boucle-Nord", "ept")],
        ("11", 1): [(ept[2], "EPT Démo Seine-Amont", "ept"), (ept[3], "EPT Démo Val-Ouest", "ept")],
    }
    only_extras = {(1, "11", 0), (1, "93", 0), (1, "93", 2), (2, "11", 0)}
    comma_name = ("44", 2)  # a phase-1 grouping name holding ", " (breaks naive splitting)

    coords = _epci_centres(geo)
    for phase, sets_by_region, extras in ((1, phase1_sets, extras1), (2, phase2_sets, extras2)):
        for region, sets in sets_by_region.items():
            for n, group in enumerate(sets):
                ti_id = f"ti-{region}{n + 1:02d}"
                rows: list[tuple[str, str, str]] = []
                if (phase, region, n) not in only_extras:
                    for s in group:
                        name = epci_name[s]
                        if phase == 1 and (region, n) == comma_name and not rows:
                            name = f"{name}, Vallée-Démo"
                        rows.append((s, name, "epci"))
                rows += extras.get((region, n), [])
                if not rows:  # never an empty territory
                    pool = epci_by_region[region]
                    s = pool[int(rng.integers(0, len(pool)))]
                    rows = [(s, epci_name[s], "epci")]
                for pos, (s, name, kind) in enumerate(rows):
                    members.append(
                        {
                            "ti_phase": phase,
                            "ti_id": ti_id,
                            "position": pos,
                            "grouping_siren": s,
                            "grouping_name": name,
                            "grouping_kind": kind,
                        }
                    )
                word = "Territoire-Démo" if phase == 1 else "Industrie-Démo"
                ti_name = f"{word} {REGION_NAMES[region]} {n + 1}"
                geometry = _territory_geometry(rng, phase, region, n, rows, coords)
                territories.append(
                    {
                        "ti_phase": phase,
                        "ti_id": ti_id,
                        "ti_name": ti_name,
                        "region_code": region,
                        "geometry": geometry,
                    }
                )
    return Territories(territories=territories, members=pl.DataFrame(members))


def _epci_centres(geo: Geography) -> dict[str, tuple[float, float, int]]:
    """Mean position and number of communes of every EPCI."""
    agg = (
        geo.communes.group_by("epci_siren")
        .agg(pl.col("lon").mean(), pl.col("lat").mean(), pl.len().alias("n"))
        .sort("epci_siren")
    )
    return {s: (lon, lat, n) for s, lon, lat, n in agg.iter_rows()}


def _territory_geometry(
    rng: np.random.Generator,
    phase: int,
    region: str,
    n: int,
    rows: list[tuple[str, str, str]],
    coords: dict[str, tuple[float, float, int]],
) -> dict:
    """A simple geometry: hexagon(s) around member EPCIs; points for commune-only lists."""
    lon0, lat0, spread = REGION_CENTRES[region]
    small = 0.04 if region in OVERSEAS_REGIONS else 0.12
    kinds = {k for _, _, k in rows}
    pts = [coords[s] for s, _, k in rows if k == "epci" and s in coords]
    if pts:
        lon = float(np.mean([p[0] for p in pts]))
        lat = float(np.mean([p[1] for p in pts]))
        radius = small * np.sqrt(sum(p[2] for p in pts) / 4.0)
    else:
        lon = lon0 + float(rng.uniform(-spread, spread)) / 2
        lat = lat0 + float(rng.uniform(-spread, spread)) / 3
        radius = small
    radius = float(min(radius, 0.5))
    if kinds == {"commune"}:
        points = [
            [round(lon + float(rng.normal(0, 0.05)), 6), round(lat + float(rng.normal(0, 0.03)), 6)]
            for _ in rows
        ]
        if len(points) == 1:
            return {"type": "Point", "coordinates": points[0]}
        return {"type": "MultiPoint", "coordinates": points}
    if phase == 1 and "commune" in kinds:
        points = [
            {"type": "Point", "coordinates": [round(lon + 0.02 * i, 6), round(lat - 0.015 * i, 6)]}
            for i, (_, _, k) in enumerate(rows)
            if k == "commune"
        ]
        return {
            "type": "GeometryCollection",
            "geometries": [
                *points,
                {"type": "Polygon", "coordinates": [hexagon(lon, lat, radius)]},
            ],
        }
    if len(pts) >= 4 and n % 3 == 0:
        offset = radius * 1.6
        return {
            "type": "MultiPolygon",
            "coordinates": [
                [hexagon(lon - offset / 2, lat, radius * 0.7)],
                [hexagon(lon + offset / 2, lat + radius * 0.3, radius * 0.6)],
            ],
        }
    return {"type": "Polygon", "coordinates": [hexagon(lon, lat, radius)]}


def phase_communes(geo: Geography, terr: Territories, phase: int) -> pl.DataFrame:
    """Communes whose EPCI is a member grouping of a territory of ``phase`` (commune, ti_id)."""
    links = terr.members.filter(
        (pl.col("ti_phase") == phase) & (pl.col("grouping_kind") == "epci")
    ).select(pl.col("grouping_siren").alias("epci_siren"), "ti_id")
    links = links.unique(subset="epci_siren", keep="first", maintain_order=True)
    return geo.communes.join(links, on="epci_siren", how="inner").select("commune_insee", "ti_id")
