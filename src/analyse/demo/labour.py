"""Synthetic quarterly unemployment rates by zone d'emploi, with a planted label effect.

Model (rates in %, quarters t = 2003-T1 ... 2023-T3, zones z)::

    rate[z, t] = national[t] + level[z] + (sensitivity[z] - 1) * (national[t] - mean national)
                 + ar1[z, t] + effect[z, t]

``national`` is a piecewise-linear cycle (2008-09 rise, 2013-15 plateau, 2020-T2 dip and
2020-T3 COVID spike), ``level`` a zone effect correlated with treatment intensity (labelled
zones are more industrial and have more unemployment: selection on levels, which zone fixed
effects absorb), ``ar1`` an AR(1) noise. The PLANTED effect is::

    effect[z, t] = EFFECT_PP * intensity[z] * min(1, (k + 1) / RAMP_QUARTERS),  k = t - 2018-T4 >= 0

with ``intensity[z]`` the share of the zone's communes whose EPCI belongs to a phase-1
territory. Trends are parallel by construction, so a two-way fixed-effects estimate recovers it.
Rates are rounded to 1 decimal like INSEE's.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from analyse.reference import LABEL_PERIOD

#: True effect of full treatment intensity on the unemployment rate, percentage points.
EFFECT_PP = -0.30
#: Quarters over which the effect ramps in, starting with the label quarter.
RAMP_QUARTERS = 4
FIRST_YEAR, LAST_YEAR, LAST_QUARTER = 2003, 2023, 3
#: Overseas zones (Guadeloupe, Martinique, La Réunion) start in 2014-T1; Guyane and Mayotte absent.
OVERSEAS_START = "2014-T1"
NOT_PUBLISHED_REGIONS = ("03", "06")

#: (period, national rate %) knots of the national cycle.
NATIONAL_KNOTS: tuple[tuple[str, float], ...] = (
    ("2003-T1", 8.3), ("2006-T2", 8.9), ("2008-T1", 7.2), ("2009-T4", 9.5), ("2011-T2", 9.2),
    ("2013-T2", 10.3), ("2015-T2", 10.4), ("2017-T4", 9.0), ("2019-T4", 8.1), ("2020-T1", 7.8),
    ("2020-T2", 7.1), ("2020-T3", 9.0), ("2020-T4", 8.0), ("2021-T4", 7.4), ("2022-T4", 7.1),
    ("2023-T3", 7.4),
)  # fmt: skip


def list_periods() -> list[str]:
    """Quarter labels ``2003-T1`` ... ``2023-T3``."""
    return [
        f"{y}-T{q}"
        for y in range(FIRST_YEAR, LAST_YEAR + 1)
        for q in range(1, 5)
        if (y, q) <= (LAST_YEAR, LAST_QUARTER)
    ]


def quarter_label(period: str) -> str:
    """INSEE's long label of a quarter: ``1er trimestre 2003``, ``2e trimestre 2003``."""
    year, q = period.split("-T")
    return f"{'1er' if q == '1' else q + 'e'} trimestre {year}"


def _index(period: str) -> int:
    year, q = period.split("-T")
    return int(year) * 4 + int(q) - 1


def national_cycle(periods: list[str]) -> np.ndarray:
    """The national unemployment rate (%) on ``periods`` (interpolated between knots)."""
    x = np.array([_index(p) for p, _ in NATIONAL_KNOTS], dtype=float)
    y = np.array([v for _, v in NATIONAL_KNOTS])
    return np.interp([_index(p) for p in periods], x, y)


def effect_path(periods: list[str]) -> np.ndarray:
    """Planted effect per unit of intensity on ``periods`` (pp; 0 before the label quarter)."""
    k = np.array([_index(p) - _index(LABEL_PERIOD) for p in periods])
    ramp = np.clip((k + 1) / RAMP_QUARTERS, 0.0, 1.0)
    return EFFECT_PP * ramp


def zone_intensity(communes: pl.DataFrame, treated_communes: pl.Series) -> pl.DataFrame:
    """Share of each zone's communes that are in a phase-1 territory (ze2020_code, intensity)."""
    return (
        communes.with_columns(treated=pl.col("commune_insee").is_in(treated_communes.implode()))
        .group_by("ze2020_code")
        .agg(intensity=pl.col("treated").mean())
        .sort("ze2020_code")
    )


def simulate_rates(
    rng: np.random.Generator, zones: pl.DataFrame, intensity: pl.DataFrame
) -> tuple[list[str], pl.DataFrame, np.ndarray]:
    """Rates of every published zone: ``(periods, zones, rates[z, t])`` (NaN = not published)."""
    periods = list_periods()
    z = zones.join(intensity, on="ze2020_code", how="left").with_columns(
        pl.col("intensity").fill_null(0.0)
    )
    z = z.filter(~pl.col("region_code").is_in(list(NOT_PUBLISHED_REGIONS))).sort("ze2020_code")
    n, t = z.height, len(periods)
    nat = national_cycle(periods)
    overseas = z["region_code"].is_in(["01", "02", "04"]).to_numpy()
    inten = z["intensity"].to_numpy()
    level = rng.normal(0.0, 1.4, size=n) + 1.2 * inten - 0.6
    level = np.where(overseas, rng.normal(14.0, 3.0, size=n), level)
    sens = np.clip(rng.normal(1.0, 0.08, size=n), 0.7, 1.3)
    shocks = rng.normal(0.0, 0.12, size=(n, t))
    ar = np.zeros((n, t))
    ar[:, 0] = shocks[:, 0] / np.sqrt(1 - 0.7**2)
    for j in range(1, t):
        ar[:, j] = 0.7 * ar[:, j - 1] + shocks[:, j]
    rates = nat[None, :] + level[:, None] + (sens[:, None] - 1) * (nat - nat.mean())[None, :]
    rates = rates + ar + inten[:, None] * effect_path(periods)[None, :]
    rates = np.round(np.clip(rates, 2.0, 40.0), 1)
    start = periods.index(OVERSEAS_START)
    rates[np.ix_(overseas, np.arange(t) < start)] = np.nan
    return periods, z, rates


def simulate_parts(
    rng: np.random.Generator, zones: pl.DataFrame, rates: np.ndarray
) -> tuple[list[tuple[str, str]], np.ndarray]:
    """Rates of the regional parts ``RRXX`` of interregional zones ``00XX``: ((code, name), rates)."""
    from analyse.reference import REGION_NAMES

    labels: list[tuple[str, str]] = []
    rows: list[np.ndarray] = []
    for i, (code, name, regions) in enumerate(
        zones.select("ze2020_code", "ze2020_name", "regions").iter_rows()
    ):
        if not code.startswith("00"):
            continue
        for region in regions:
            offset = rng.normal(0.0, 0.4)
            noise = rng.normal(0.0, 0.1, size=rates.shape[1])
            rows.append(np.round(rates[i] + offset + noise, 1))
            labels.append((f"{region}{code[2:]}", f"{name} - partie {REGION_NAMES[region]}"))
    order = np.argsort([c for c, _ in labels], kind="stable")
    return [labels[k] for k in order], np.array([rows[k] for k in order])
