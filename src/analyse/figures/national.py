"""National fund figures that are not cells: sensitivity variants, association models and the
reconciliation with published figures (all computed once, read by the national review).

Sensitivity variants and reconciliation rows are national aggregates of the fund (descriptive);
the models are associations with cluster-robust errors (not causal). None of them breaks a cell
down further than France, so they reveal nothing below the published national totals.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from analyse.figures.fund import RATIO_MEASURES

#: Published figures copied into each snapshot by ``analyse clean`` (facts, never inputs).
PUBLISHED_FILES = {
    "published_announcements": "published_fund_announcements.csv",
    "published_milestones": "published_programme_milestones.csv",
}


def compute_sensitivity(projects: pl.DataFrame, *, seed: int) -> pl.DataFrame:
    """National ratios under each sensitivity variant (winsorised, without the top 1 %...)."""
    from analyse.estimate.sensitivity import sensitivity_leverage

    return sensitivity_leverage(projects, None, metrics=RATIO_MEASURES[:2], seed=seed)


def compute_models(projects: pl.DataFrame) -> pl.DataFrame:
    """Elasticity of investment to aid (log-log OLS) and jobs (Poisson GLM), tidy rows."""
    from analyse.estimate.models import fit_investment_elasticity, fit_jobs_model

    inv = fit_investment_elasticity(projects).with_columns(pl.lit("investment").alias("model"))
    jobs = fit_jobs_model(projects, family="poisson").with_columns(pl.lit("jobs").alias("model"))
    return pl.concat([inv, jobs], how="diagonal_relaxed")


def compute_reconciliation(projects: pl.DataFrame, snapshot_dir: Path) -> pl.DataFrame | None:
    """Our aggregates against each published figure (None when no published file is there)."""
    from analyse.estimate.reconciliation import reconcile_with_published

    path = Path(snapshot_dir) / PUBLISHED_FILES["published_announcements"]
    if not path.is_file():
        return None
    return reconcile_with_published(projects, path)


def compute_national(
    projects: pl.DataFrame, snapshot_dir: Path, *, seed: int
) -> dict[str, pl.DataFrame]:
    """The national frames of the bundle (``fund_sensitivity``, ``fund_models``, ...)."""
    out = {
        "fund_sensitivity": compute_sensitivity(projects, seed=seed),
        "fund_models": compute_models(projects),
    }
    reconciliation = compute_reconciliation(projects, snapshot_dir)
    if reconciliation is not None:
        out["fund_reconciliation"] = reconciliation
    return out
