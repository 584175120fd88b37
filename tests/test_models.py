"""Project-level models: recovery of planted coefficients and coverage of their intervals."""

from __future__ import annotations

import warnings

import numpy as np
import polars as pl
import pytest
from scipy import stats

from analyse.errors import ParameterError
from analyse.estimate.models import TIDY_SCHEMA, fit_investment_elasticity, fit_jobs_model

SIZES = np.array(["TPE", "PME", "ETI", "GE"])


def simulate_projects(
    rng: np.random.Generator,
    *,
    n: int = 1200,
    n_epci: int = 80,
    elasticity: float = 0.8,
    jobs_beta: float = 0.6,
    nb_alpha: float | None = None,
) -> pl.DataFrame:
    """Projects with known coefficients; aid correlated with the fixed effects and clustered
    shocks (EPCI) independent of aid."""
    epci = rng.integers(0, n_epci, n)
    region = rng.integers(0, 12, n)
    sector = rng.integers(0, 6, n)
    size = rng.integers(0, 4, n)
    log_aid = 12.0 + 0.4 * size + 0.05 * region + rng.normal(0.0, 1.0, n)
    epci_shock = rng.normal(0.0, 0.4, n_epci)[epci]
    log_inv = (
        1.5
        + elasticity * log_aid
        + 0.08 * region
        - 0.1 * sector
        + 0.3 * size
        + epci_shock
        + rng.normal(0.0, 0.5, n)
    )
    log_mu = -6.5 + jobs_beta * log_aid + 0.2 * size - 0.05 * sector + 0.3 * epci_shock
    mu = np.exp(log_mu)
    if nb_alpha is None:
        jobs = rng.poisson(mu)
    else:
        jobs = rng.poisson(rng.gamma(1.0 / nb_alpha, nb_alpha * mu))
    return pl.DataFrame(
        {
            "project_id": [f"P{i:05d}" for i in range(n)],
            "aid_eur": np.exp(log_aid),
            "investment_eur": np.exp(log_inv),
            "jobs_created": jobs.astype(float),
            "region_code": [f"{11 + r:02d}" for r in region],
            "sector": [f"sector_{s}" for s in sector],
            "firm_size": SIZES[size],
            "epci_siren": [f"2000{e:05d}" for e in epci],
        }
    )


def _term(frame: pl.DataFrame, term: str) -> dict:
    return frame.filter(pl.col("term") == term).row(0, named=True)


def test_elasticity_recovers_planted_coefficient_and_is_labelled_descriptive():
    df = simulate_projects(np.random.default_rng(11))
    out = fit_investment_elasticity(df)
    assert list(out.schema.items()) == list(TIDY_SCHEMA.items())
    row = _term(out, "log_aid_eur")
    assert abs(row["estimate"] - 0.8) < 3 * row["std_error"]
    assert row["ci_low"] < row["estimate"] < row["ci_high"]
    assert row["n_obs"] == df.height and row["n_clusters"] == 80
    assert row["kind"] == "descriptive association"
    assert "not the causal effect" in row["assumptions"]


def test_elasticity_interval_matches_t_with_clusters_minus_one_df():
    df = simulate_projects(np.random.default_rng(12), n_epci=25)
    row = _term(fit_investment_elasticity(df), "log_aid_eur")
    q = stats.t.ppf(0.975, 25 - 1)
    assert row["ci_high"] - row["estimate"] == pytest.approx(q * row["std_error"], rel=1e-9)


def test_elasticity_ci_coverage_monte_carlo():
    rng = np.random.default_rng(2024)
    reps, hits = 120, 0
    for _ in range(reps):
        row = _term(
            fit_investment_elasticity(simulate_projects(rng, n=500, n_epci=60)), "log_aid_eur"
        )
        hits += row["ci_low"] <= 0.8 <= row["ci_high"]
    # binomial(120, 0.95): sd 2.0 pp; accept within about 3 sd
    assert 0.88 <= hits / reps <= 1.0


def test_elasticity_drops_unusable_rows_and_checks_columns():
    df = simulate_projects(np.random.default_rng(13), n=400)
    broken = df.with_columns(
        pl.when(pl.col("project_id") == "P00000")
        .then(None)
        .otherwise(pl.col("epci_siren"))
        .alias("epci_siren"),
        pl.when(pl.col("project_id") == "P00001")
        .then(0.0)
        .otherwise(pl.col("aid_eur"))
        .alias("aid_eur"),
        pl.when(pl.col("project_id") == "P00002")
        .then(-1.0)
        .otherwise(pl.col("investment_eur"))
        .alias("investment_eur"),
    )
    assert _term(fit_investment_elasticity(broken), "log_aid_eur")["n_obs"] == 397
    with pytest.raises(ParameterError, match="firm_size"):
        fit_investment_elasticity(df.drop("firm_size"))


def test_poisson_recovers_coefficient_and_derived_rows_are_consistent():
    df = simulate_projects(np.random.default_rng(21), n=2000)
    out = fit_jobs_model(df, family="poisson")
    b = _term(out, "log_aid_eur")
    assert abs(b["estimate"] - 0.6) < 3 * b["std_error"]
    mean_aid_meur = df["aid_eur"].mean() / 1e6
    semi = _term(out, "semi_elasticity_per_meur")
    assert semi["estimate"] == pytest.approx(b["estimate"] / mean_aid_meur, rel=1e-12)
    # Poisson with a constant: mean fitted value = mean outcome (score equation)
    jobs = _term(out, "jobs_per_meur_at_mean")
    expected = b["estimate"] * df["jobs_created"].mean() / mean_aid_meur
    assert jobs["estimate"] == pytest.approx(expected, rel=1e-6)
    assert jobs["std_error"] == pytest.approx(
        b["std_error"] * df["jobs_created"].mean() / mean_aid_meur, rel=1e-6
    )
    assert set(out["kind"]) == {"descriptive association"}


def test_poisson_ci_coverage_monte_carlo():
    rng = np.random.default_rng(77)
    reps, hits = 120, 0
    for _ in range(reps):
        row = _term(fit_jobs_model(simulate_projects(rng, n=600, n_epci=60)), "log_aid_eur")
        hits += row["ci_low"] <= 0.6 <= row["ci_high"]
    assert 0.88 <= hits / reps <= 1.0


def test_negbin_recovers_coefficient_and_dispersion():
    df = simulate_projects(np.random.default_rng(31), n=2500, nb_alpha=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no convergence warning expected
        out = fit_jobs_model(df, family="negbin")
    b = _term(out, "log_aid_eur")
    alpha = _term(out, "alpha")
    assert abs(b["estimate"] - 0.6) < 3 * b["std_error"]
    # the EPCI shock adds dispersion on top of the gamma mixing, so alpha >= 0.5 on average
    assert 0.3 < alpha["estimate"] < 1.0
    assert "negative binomial" in b["model"]


def test_jobs_model_rejects_unknown_family():
    df = simulate_projects(np.random.default_rng(41), n=200)
    with pytest.raises(ParameterError, match="family"):
        fit_jobs_model(df, family="gaussian")  # type: ignore[arg-type]
