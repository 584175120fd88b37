"""Every published figure of the fund, computed once: totals, ratios, intervals, secrecy, print.

One row per (cell, measure): the scope's dimensions (null = all), ``cell_key``, ``measure``,
``value`` (null when masked), the interval (``ci_low``, ``ci_high``, ``ci_method``,
``ci_reason`` when none is printed, ``n_clusters``, ``cluster_level``), ``n_projects``,
``n_firms``, ``is_masked``, ``mask_reason`` and the text every page prints (``printed``,
``printed_ci_low``, ``printed_ci_high``). Pages read these rows; a figure shown on several pages
is one row, printed identically everywhere.

Descriptive figures only: amounts declared by the laureates and their ratios, with their
sampling uncertainty (:func:`analyse.estimate.bootstrap.bootstrap_leverage`, default method: a
cluster jackknife of the log ratio with small-sample degrees of freedom; clusters: EPCI, the same
for every scope), not effects of the aid. Secrecy is solved once over the whole publication
(:func:`analyse.estimate.secrecy.protect_publication`): the cells masked there are masked on
every page and in every chart.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import polars as pl

from analyse import formatting as fmt
from analyse.figures.scopes import (
    DIM_ORDER,
    FAMILIES,
    add_dimensions,
    cell_key,
    list_scopes,
)

#: Measures of every cell: counts and sums (additive, but ``n_firms``) then ratios.
COUNT_MEASURES: tuple[str, ...] = ("n_projects", "n_firms", "jobs_created", "jobs_maintained")
AMOUNT_MEASURES: tuple[str, ...] = ("aid_eur", "investment_eur")
RATIO_MEASURES: tuple[str, ...] = (
    "investment_per_aid_eur",
    "jobs_created_per_meur_aid",
    "private_investment_per_aid_eur",
    "aid_per_job_created_eur",
    "mean_project_investment_per_aid",
)
MEASURES: tuple[str, ...] = (*COUNT_MEASURES, *AMOUNT_MEASURES, *RATIO_MEASURES)
#: Resampling unit of every interval (one definition for every level, stated on the pages).
CLUSTER = "epci_siren"
CLUSTER_LABEL_FR = "intercommunalités (EPCI)"

CELLS_SCHEMA: dict[str, Any] = {
    **{d: pl.String for d in DIM_ORDER},
    "cell_key": pl.String,
    "measure": pl.String,
    "value": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "ci_method": pl.String,
    "ci_reason": pl.String,
    "n_clusters": pl.Int64,
    "cluster_level": pl.String,
    "n_projects": pl.Int64,
    "n_firms": pl.Int64,
    "is_masked": pl.Boolean,
    "mask_reason": pl.String,
    "printed": pl.String,
    "printed_ci_low": pl.String,
    "printed_ci_high": pl.String,
}


def format_measure(measure: str, value: Any) -> str:
    """French text of one value, by the measure's unit (the one formatter of every page)."""
    if value is None:
        return fmt.NOT_AVAILABLE
    if measure in AMOUNT_MEASURES or measure == "aid_per_job_created_eur":
        return fmt.format_eur(value)
    if measure in COUNT_MEASURES:
        return fmt.format_int(value)
    return fmt.format_ratio(value, 1)


def _summaries(projects: pl.DataFrame, families: Sequence[tuple[str, ...]]) -> pl.DataFrame:
    """Unmasked totals and ratios of every scope of every family (long over families)."""
    from analyse.estimate.leverage import summarise_leverage

    frames = []
    for family in families:
        summary = summarise_leverage(projects, list(family) or None)
        frames.append(summary.select(*family, *MEASURES))
    return pl.concat(frames, how="diagonal_relaxed")


def _intervals(
    projects: pl.DataFrame,
    families: Sequence[tuple[str, ...]],
    *,
    seed: int,
    n_boot: int,
    method: str = "jackknife_log",
) -> pl.DataFrame:
    """Intervals of the ratios of every scope (the default method draws nothing; bootstrap
    methods seed each cell from ``seed`` and its key)."""
    from analyse.estimate.bootstrap import bootstrap_leverage

    frames = []
    for family in families:
        boot = bootstrap_leverage(
            projects,
            list(family) or None,
            cluster=CLUSTER,
            n_boot=n_boot,
            seed=seed,
            metrics=RATIO_MEASURES,
            method=method,
        )
        frames.append(
            boot.select(
                *family,
                pl.col("metric").alias("measure"),
                "ci_low",
                "ci_high",
                pl.col("method").alias("ci_method"),
                pl.col("reason").alias("ci_reason"),
                pl.col("n_clusters").cast(pl.Int64),
            )
        )
    return pl.concat(frames, how="diagonal_relaxed")


def _masks(projects: pl.DataFrame, scopes: list[dict[str, str]]) -> pl.DataFrame:
    """``cell_key``, ``is_masked``, ``mask_reason`` for every scope, solved jointly over the whole
    publication (primary rules, then secondary suppression against an LP attacker)."""
    from analyse.estimate.secrecy import protect_publication

    return protect_publication(projects, scopes).select("cell_key", "is_masked", "mask_reason")


def _with_keys(frame: pl.DataFrame) -> pl.DataFrame:
    dims = [d for d in DIM_ORDER if d in frame.columns]
    missing = [pl.lit(None, pl.String).alias(d) for d in DIM_ORDER if d not in frame.columns]
    frame = frame.with_columns(missing)
    keys = [
        cell_key({d: v for d, v in zip(DIM_ORDER, row, strict=True) if v is not None})
        for row in frame.select(DIM_ORDER).iter_rows()
    ]
    return frame.with_columns(pl.Series("cell_key", keys, dtype=pl.String)).select(
        *DIM_ORDER, "cell_key", *[c for c in frame.columns if c not in (*DIM_ORDER, *dims)]
    )


def _long(summaries: pl.DataFrame) -> pl.DataFrame:
    wide = _with_keys(summaries)
    base = wide.select(
        *DIM_ORDER,
        "cell_key",
        pl.col("n_projects").cast(pl.Int64),
        pl.col("n_firms").cast(pl.Int64),
    )
    values = wide.select("cell_key", *[pl.col(m).cast(pl.Float64) for m in MEASURES]).unpivot(
        index="cell_key", variable_name="measure", value_name="value"
    )
    return base.join(values, on="cell_key", how="left")


def _print_columns(cells: pl.DataFrame) -> pl.DataFrame:
    def text(measure: str, value: Any, masked: bool) -> str:
        return fmt.MASKED if masked else format_measure(measure, value)

    rows = cells.select("measure", "value", "ci_low", "ci_high", "is_masked").iter_rows()
    printed, low, high = [], [], []
    for measure, value, lo, hi, masked in rows:
        printed.append(text(measure, value, masked))
        shown = not masked and lo is not None and hi is not None
        low.append(format_measure(measure, lo) if shown else None)
        high.append(format_measure(measure, hi) if shown else None)
    return cells.with_columns(
        pl.Series("printed", printed, dtype=pl.String),
        pl.Series("printed_ci_low", low, dtype=pl.String),
        pl.Series("printed_ci_high", high, dtype=pl.String),
    )


def compute_fund_cells(
    projects: pl.DataFrame,
    *,
    seed: int = 2018,
    n_boot: int = 1999,
    method: str = "jackknife_log",
    families: Sequence[tuple[str, ...]] = FAMILIES,
    timings: dict[str, float] | None = None,
) -> pl.DataFrame:
    """Every published cell of the fund (see the module docstring for the columns)."""
    timings = timings if timings is not None else {}
    start = time.perf_counter()
    dims = add_dimensions(projects)
    scopes = list_scopes(dims, families)
    cells = _long(_summaries(dims, families))
    timings["fund_summaries_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    masks = _masks(dims, scopes)
    timings["fund_secrecy_s"] = round(time.perf_counter() - start, 3)
    start = time.perf_counter()
    intervals = _with_keys(_intervals(dims, families, seed=seed, n_boot=n_boot, method=method))
    timings["fund_intervals_s"] = round(time.perf_counter() - start, 3)
    cells = (
        cells.join(masks, on="cell_key", how="left")
        .join(
            intervals.select(
                "cell_key", "measure", "ci_low", "ci_high", "ci_method", "ci_reason", "n_clusters"
            ),
            on=["cell_key", "measure"],
            how="left",
        )  # fmt: skip
        .with_columns(
            pl.col("is_masked").fill_null(False),
            pl.when(pl.col("ci_method").is_not_null()).then(pl.lit(CLUSTER)).alias("cluster_level"),
        )
    )
    hide = ["value", "ci_low", "ci_high", "n_projects", "n_firms"]
    cells = cells.with_columns(
        pl.when(pl.col("is_masked")).then(None).otherwise(pl.col(c)).alias(c) for c in hide
    )
    return _print_columns(cells).select(list(CELLS_SCHEMA)).cast(CELLS_SCHEMA)
