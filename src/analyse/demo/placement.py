"""Where the demo's synthetic fund projects go: real communes, in proportion to real patterns.

The fund's per-project extract is not public, so the demo invents it, but on the real geography
(the public reference files of ``data/raw``, read by the project's own cleaners) and calibrated to
what is public:

- projects per région follow the France Relance baromètre's count of industrial firms supported
  by investment aid (real, by département, value at 2022-12-31), except where a published
  regional figure exists (Nouvelle-Aquitaine 126 projects and Île-de-France 160, press, Oct 2021),
  which is matched exactly; the national total is the headline (1,416 projects);
- within a région, départements follow the same baromètre counts; within a département, a firm's
  commune is drawn with probability proportional to population^0.8 (Etalab/INSEE population
  légale; uniform when absent), tilted towards communes of phase-1 Territoires d'industrie so
  that :data:`SHARE_IN_TI` of projects lie in one (Cour des comptes, 2024: "plus des deux tiers"
  of the fund's projects lie in Territoires d'industrie, which hold 48 % of industrial firms);
- a few firms carry several projects (about 7 %), always in the same commune;
- decision dates follow the published cumulative counts of laureates (253 at the start of
  December 2020, 448 on 23 February 2021, 531 on 23 March 2021, 1,416 on 11 October 2021: read
  from the published figures, :func:`date_plan`), from the fund's opening (4 September 2020).

No real firm is named: names and SIREN are invented (Luhn-valid) by :mod:`analyse.demo.fund`.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from analyse.reference import RELANCE_FIRMS_INDICATOR
from analyse.sources import SOURCE_PATHS

#: Published regional figures the demo matches (project counts; aid in ``AID_TARGETS_EUR``).
PROJECT_TARGETS: dict[str, int] = {"75": 126, "11": 160}
#: Published regional aid (Le Moniteur, October 2021), EUR.
AID_TARGETS_EUR: dict[str, float] = {"75": 56.5e6, "11": 51.8e6}
#: Share of projects in a commune of a phase-1 territory (Cour des comptes: over two thirds).
SHARE_IN_TI = 0.70
#: Share of projects whose firm has another project (the rest: one project per firm).
SHARE_REPEAT_FIRMS = 0.07
POPULATION_EXPONENT = 0.8


@dataclass(frozen=True)
class RealWorld:
    """Real communes (with ``postal_code``, ``population``, ``in_ti1``) and supported-firm counts."""

    communes: pl.DataFrame
    firms_by_departement: pl.DataFrame  # departement_code, region_code, n_firms


def _etalab_communes(raw_dir: Path) -> pl.DataFrame | None:
    path = raw_dir / SOURCE_PATHS.get("etalab_communes", "etalab_decoupage/communes.json")
    if not path.is_file():
        return None
    rows = json.loads(path.read_text(encoding="utf-8"))
    return pl.DataFrame(
        {
            "commune_insee": [r.get("code") for r in rows],
            "population_etalab": [r.get("population") for r in rows],
            "postal_code": [(r.get("codesPostaux") or [None])[0] for r in rows],
        },
        schema={
            "commune_insee": pl.String,
            "population_etalab": pl.Int64,
            "postal_code": pl.String,
        },
    ).unique("commune_insee", keep="first")


def load_real_world(raw_dir: Path, tables: dict[str, pl.DataFrame]) -> RealWorld:
    """Communes, phase-1 membership and supported firms from cleaned reference ``tables``."""
    communes = tables["communes"]
    in_ti1 = tables["commune_territories"].filter(pl.col("ti_phase") == 1).select("commune_insee")
    extra = _etalab_communes(Path(raw_dir))
    out = communes.join(
        in_ti1.with_columns(pl.lit(True).alias("in_ti1")), on="commune_insee", how="left"
    ).with_columns(pl.col("in_ti1").fill_null(False))
    if extra is not None:
        out = out.join(extra, on="commune_insee", how="left")
    else:
        out = out.with_columns(
            pl.lit(None, pl.Int64).alias("population_etalab"),
            pl.lit(None, pl.String).alias("postal_code"),
        )
    population = "population" if "population" in out.columns else "population_etalab"
    out = out.with_columns(
        pl.col(population).fill_null(0).cast(pl.Float64).alias("_pop"),
        pl.coalesce("postal_code", pl.col("departement_code").str.slice(0, 2) + "000").alias(
            "postal_code"
        ),
    )
    counts = (
        tables["relance_counts"]
        .filter(
            (pl.col("scale") == "departement") & (pl.col("indicator_id") == RELANCE_FIRMS_INDICATOR)
        )
        .sort("date")
        .group_by("geo_code")
        .agg(pl.col("value").last())
        .rename({"geo_code": "departement_code", "value": "n_firms"})
        .join(communes.select("departement_code", "region_code").unique(), on="departement_code")
        .sort("departement_code")
    )
    return RealWorld(communes=out, firms_by_departement=counts)


#: Opening of the fund (first possible decision), France Relance communiqué of 4 September 2020.
FUND_OPENING = dt.date(2020, 9, 4)


def date_plan(raw_dir: Path) -> list[tuple[dt.date, dt.date, int]] | None:
    """Segments ``(first day, last day, new projects)`` between the published national counts
    of laureates (``published/fund_announcements.csv``); None when that file is absent."""
    path = Path(raw_dir) / SOURCE_PATHS.get(
        "published_announcements", "published/fund_announcements.csv"
    )
    if not path.is_file():
        return None
    rows = (
        pl.read_csv(path, schema_overrides={"projects": pl.Float64, "region": pl.String})
        .filter((pl.col("scope") == "national") & pl.col("projects").is_not_null())
        .with_columns(pl.col("date").str.to_date())
        .group_by("date")
        .agg(pl.col("projects").max())
        .sort("date")
    )
    plan, start, done = [], FUND_OPENING, 0
    for day, count in rows.iter_rows():
        if count > done:
            plan.append((start, day - dt.timedelta(days=1), int(count) - done))
            start, done = day, int(count)
    return plan or None


def _largest_remainder(weights: np.ndarray, total: int) -> np.ndarray:
    share = weights / weights.sum() * total
    base = np.floor(share).astype(np.int64)
    order = np.argsort(-(share - base), kind="stable")
    base[order[: total - int(base.sum())]] += 1
    return base


def count_projects_by_departement(world: RealWorld, n: int) -> pl.DataFrame:
    """Projects per département: régions follow the baromètre (published régions fixed), then
    départements within their région."""
    firms = world.firms_by_departement
    by_region = firms.group_by("region_code").agg(pl.col("n_firms").sum()).sort("region_code")
    fixed = {r: t for r, t in PROJECT_TARGETS.items() if r in by_region["region_code"].to_list()}
    free = by_region.filter(~pl.col("region_code").is_in(list(fixed)))
    n_free = _largest_remainder(free["n_firms"].to_numpy().astype(float), n - sum(fixed.values()))
    region_n = dict(zip(free["region_code"].to_list(), n_free.tolist(), strict=True)) | fixed
    parts = []
    for region, group in firms.group_by("region_code", maintain_order=True):
        counts = _largest_remainder(group["n_firms"].to_numpy().astype(float), region_n[region[0]])
        parts.append(group.with_columns(pl.Series("n_projects", counts, dtype=pl.Int64)))
    return pl.concat(parts).sort("departement_code")


def _ti_tilt(world: RealWorld, per_dep: pl.DataFrame) -> float:
    """The odds multiplier on phase-1 communes that gives :data:`SHARE_IN_TI` in expectation."""
    w = world.communes.with_columns((pl.col("_pop") + 1.0) ** POPULATION_EXPONENT).group_by(
        "departement_code"
    )
    sums = w.agg(
        pl.col("_pop").filter(pl.col("in_ti1")).sum().alias("w_ti"),
        pl.col("_pop").filter(~pl.col("in_ti1")).sum().alias("w_out"),
    ).join(per_dep.select("departement_code", "n_projects"), on="departement_code")
    w_ti, w_out = sums["w_ti"].to_numpy(), sums["w_out"].to_numpy()
    n_dep = sums["n_projects"].to_numpy()

    def share(t: float) -> float:
        p = np.where(w_ti + w_out > 0, w_ti * t / (w_ti * t + w_out + 1e-12), 0.0)
        return float((p * n_dep).sum() / n_dep.sum())

    low, high = 1e-3, 1e3
    for _ in range(60):
        mid = np.sqrt(low * high)
        low, high = (mid, high) if share(mid) < SHARE_IN_TI else (low, mid)
    return float(np.sqrt(low * high))


def place_projects(
    rng: np.random.Generator, world: RealWorld, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``(firm_of, commune_of_firm)``: each project's firm and each firm's row of communes."""
    per_dep = count_projects_by_departement(world, n)
    tilt = _ti_tilt(world, per_dep)
    com = world.communes
    weight = ((com["_pop"].to_numpy() + 1.0) ** POPULATION_EXPONENT) * np.where(
        com["in_ti1"].to_numpy(), tilt, 1.0
    )
    dep_of = com["departement_code"].to_numpy()
    firm_of, commune_of_firm = [], []
    n_firms = 0
    for dep, n_dep in per_dep.select("departement_code", "n_projects").iter_rows():
        if n_dep == 0:
            continue
        rows = np.flatnonzero(dep_of == dep)
        k = max(1, n_dep - int(rng.binomial(n_dep, SHARE_REPEAT_FIRMS)))
        firms = np.concatenate([np.arange(k), rng.integers(0, k, size=n_dep - k)])
        firm_of.append(n_firms + rng.permutation(firms))
        p = weight[rows] / weight[rows].sum()
        commune_of_firm.append(rows[rng.choice(len(rows), size=k, p=p)])
        n_firms += k
    order = rng.permutation(n)  # projects are not listed département by département
    return np.concatenate(firm_of)[order], np.concatenate(commune_of_firm)
