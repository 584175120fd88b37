"""Sensitivity of the leverage ratios to outliers and to announced vs realised amounts.

Each variant transforms the projects table, then the same ratios are computed (and, optionally,
their cluster-bootstrap intervals). Variants (:data:`VARIANTS`):

- ``baseline``: all projects, amounts as announced.
- ``winsorised``: ``aid_eur``, ``investment_eur``, ``jobs_created`` and ``jobs_maintained`` clipped
  to their 1st and 99th percentiles, each column separately. Percentiles are taken over the whole
  input (not within each group) so that groups are treated alike.
- ``without_top_aid``: the largest 1% of projects by aid (``ceil(1% x n)``, ties broken by
  ``project_id``) removed, over the whole input.
- ``announced_realised_subset``: announced amounts, on the projects that report both
  ``aid_paid_eur`` and ``investment_realised_eur``.
- ``realised``: the same subset with ``aid_eur`` <- ``aid_paid_eur`` and ``investment_eur`` <-
  ``investment_realised_eur``. Realised jobs are not reported, so job ratios are null. Comparing it
  with ``announced_realised_subset`` (same projects) isolates the announced-vs-realised gap from
  the selection of projects that report realised figures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from analyse.errors import ParameterError
from analyse.estimate.bootstrap import bootstrap_leverage
from analyse.estimate.leverage import (
    RATIO_METRICS,
    RATIO_PARTS,
    Projects,
    check_by,
    summarise_leverage,
)

#: Variants in output order, with French label and description (for report tables).
VARIANTS: dict[str, dict[str, str]] = {
    "baseline": {
        "label_fr": "Référence",
        "description_fr": "Tous les projets, montants annoncés.",
    },
    "winsorised": {
        "label_fr": "Montants écrêtés (1er et 99e centiles)",
        "description_fr": (
            "Aide, investissement et emplois ramenés aux 1er et 99e centiles nationaux."
        ),
    },
    "without_top_aid": {
        "label_fr": "Sans les 1 % de projets les plus aidés",
        "description_fr": "Les 1 % de projets recevant les aides les plus élevées sont retirés.",
    },
    "announced_realised_subset": {
        "label_fr": "Montants annoncés, projets renseignant le réalisé",
        "description_fr": (
            "Montants annoncés, restreints aux projets dont l'aide versée et l'investissement "
            "réalisé sont connus."
        ),
    },
    "realised": {
        "label_fr": "Montants réalisés",
        "description_fr": (
            "Aide versée et investissement réalisé, sur les mêmes projets (emplois réalisés non "
            "renseignés)."
        ),
    },
}

WINSOR_COLUMNS = ("aid_eur", "investment_eur", "jobs_created", "jobs_maintained")


def winsorise_projects(
    projects: Projects, *, quantiles: tuple[float, float] = (0.01, 0.99)
) -> pl.LazyFrame:
    """Lazy query: amounts and job counts clipped to their ``quantiles`` over the whole input."""
    lo, hi = quantiles
    if not 0 <= lo < hi <= 1:
        raise ParameterError(
            f"winsorising quantiles must satisfy 0 <= lo < hi <= 1, got {quantiles}"
        )
    return projects.lazy().with_columns(
        pl.col(c).clip(
            pl.col(c).quantile(lo, interpolation="linear"),
            pl.col(c).quantile(hi, interpolation="linear"),
        )
        for c in WINSOR_COLUMNS
    )


def drop_top_aid_projects(projects: Projects, *, share: float = 0.01) -> pl.LazyFrame:
    """Lazy query: without the ``ceil(share x n)`` projects with the largest aid (ties: project_id)."""
    if not 0 <= share < 1:
        raise ParameterError(f"share must be in [0, 1), got {share!r}")
    lf = projects.lazy()
    n_aided = lf.select(pl.col("aid_eur").is_not_null().sum()).collect().item()
    k = math.ceil(share * n_aided)
    if k == 0:
        return lf
    top = (
        lf.filter(pl.col("aid_eur").is_not_null())
        .sort(["aid_eur", "project_id"], descending=[True, False])
        .head(k)
        .select("project_id")
    )
    return lf.join(top, on="project_id", how="anti")


def realised_subset(projects: Projects) -> pl.LazyFrame:
    """Lazy query: projects reporting both ``aid_paid_eur`` and ``investment_realised_eur``."""
    return projects.lazy().filter(
        pl.col("aid_paid_eur").is_not_null() & pl.col("investment_realised_eur").is_not_null()
    )


def as_realised(projects: Projects) -> pl.LazyFrame:
    """Lazy query: realised subset with realised amounts in place of announced ones, jobs null."""
    return realised_subset(projects).with_columns(
        pl.col("aid_paid_eur").alias("aid_eur"),
        pl.col("investment_realised_eur").alias("investment_eur"),
        pl.lit(None, dtype=pl.Float64).alias("jobs_created"),
        pl.lit(None, dtype=pl.Float64).alias("jobs_maintained"),
    )


def make_variants(
    projects: Projects,
    *,
    winsor_quantiles: tuple[float, float] = (0.01, 0.99),
    top_share: float = 0.01,
) -> dict[str, pl.LazyFrame]:
    """Every variant's projects table (lazy), keyed as :data:`VARIANTS`."""
    lf = projects.lazy()
    return {
        "baseline": lf,
        "winsorised": winsorise_projects(lf, quantiles=winsor_quantiles),
        "without_top_aid": drop_top_aid_projects(lf, share=top_share),
        "announced_realised_subset": realised_subset(lf),
        "realised": as_realised(lf),
    }


def sensitivity_leverage(
    projects: Projects,
    by: Sequence[str] | None = None,
    *,
    phase: int = 1,
    metrics: Sequence[str] = RATIO_METRICS,
    variants: Sequence[str] | None = None,
    winsor_quantiles: tuple[float, float] = (0.01, 0.99),
    top_share: float = 0.01,
    n_boot: int | None = None,
    cluster: str = "epci_siren",
    ci: float = 0.95,
    seed: int = 2018,
) -> pl.DataFrame:
    """Leverage ratios under each variant of :data:`VARIANTS`, tidy (one row per variant, group,
    metric).

    Columns: ``variant``, ``variant_label_fr``, the keys of ``by`` (``ti_phase`` too for derived
    keys), ``metric``, ``estimate``, ``n_projects`` (projects of the group in that variant) and,
    when ``n_boot`` is given, the cluster-bootstrap columns of
    :func:`analyse.estimate.bootstrap.bootstrap_leverage` (``ci_low``, ``ci_high``, ``se``,
    ``n_clusters``, ``reason``...). Descriptive, like the baseline.
    """
    keys = check_by(by)
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in RATIO_PARTS]
    if unknown:
        raise ParameterError(f"metrics must be among {list(RATIO_PARTS)}, got {metrics}")
    names = list(variants) if variants is not None else list(VARIANTS)
    bad = [v for v in names if v not in VARIANTS]
    if bad:
        raise ParameterError(f"unknown variants {bad}; known: {list(VARIANTS)}")
    frames = make_variants(projects, winsor_quantiles=winsor_quantiles, top_share=top_share)
    out = []
    for name in names:
        lf = frames[name]
        if n_boot is not None:
            table = bootstrap_leverage(
                lf,
                keys,
                cluster=cluster,
                n_boot=n_boot,
                ci=ci,
                seed=seed,
                metrics=metrics,
                phase=phase,
            )
        else:
            summary = summarise_leverage(lf, keys, phase=phase)
            index = [c for c in summary.columns if c in keys or c == "ti_phase"]
            table = summary.unpivot(
                index=[*index, "n_projects"],
                on=metrics,
                variable_name="metric",
                value_name="estimate",
            )
            table = table.select(*index, "metric", "estimate", "n_projects")
        out.append(
            table.with_columns(
                pl.lit(name).alias("variant"),
                pl.lit(VARIANTS[name]["label_fr"]).alias("variant_label_fr"),
            )
        )
    result = pl.concat(out, how="vertical_relaxed")
    first = ["variant", "variant_label_fr"]
    return result.select(*first, *[c for c in result.columns if c not in first])
