"""Project-level regressions of the acceleration fund (statsmodels), as tidy Polars frames.

Both models describe how announced investment and jobs co-vary with the aid granted *among funded
projects*. Projects select into the fund (firms with larger plans apply for, and get, more aid;
the State picks projects), so the coefficients are **descriptive associations, not causal
effects** of aid: every row says so in its ``kind`` and ``assumptions`` columns.

Every estimator returns the columns of :data:`TIDY_SCHEMA`: ``term, estimate, std_error, ci_low,
ci_high, p_value, n_obs, n_clusters, model, kind, assumptions``. Standard errors are
cluster-robust (statsmodels ``cov_type="cluster"``: CRV1 with the small-sample factor
``G/(G-1) × (N-1)/(N-K)``), intervals and p-values use Student's t with ``G - 1`` df.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import polars as pl
import statsmodels.api as sm
from statsmodels.discrete.discrete_model import NegativeBinomial

from analyse.errors import ParameterError

#: Columns and dtypes of every tidy estimate frame of ``analyse.estimate``.
TIDY_SCHEMA: dict[str, type[pl.DataType]] = {
    "term": pl.String,
    "estimate": pl.Float64,
    "std_error": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "p_value": pl.Float64,
    "n_obs": pl.Int64,
    "n_clusters": pl.Int64,
    "model": pl.String,
    "kind": pl.String,
    "assumptions": pl.String,
}

KIND_DESCRIPTIVE = "descriptive association"

SELECTION_CAVEAT = (
    "Among funded projects only; projects select into the fund (applications, State choice), so "
    "the coefficient is a conditional association, not the causal effect of aid. Announced "
    "(not realised) amounts and jobs."
)


def make_tidy_frame(rows: Sequence[Mapping[str, Any]]) -> pl.DataFrame:
    """A frame with exactly :data:`TIDY_SCHEMA` from row dicts (missing keys become null)."""
    return pl.DataFrame(
        [{c: row.get(c) for c in TIDY_SCHEMA} for row in rows], schema=TIDY_SCHEMA, orient="row"
    )


def _check_columns(df: pl.DataFrame, columns: Sequence[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ParameterError(f"{what}: missing columns {missing} (has {df.columns})")


def _prepare_projects(
    projects: pl.DataFrame, outcome: str, categorical: Sequence[str], cluster: str
) -> pl.DataFrame:
    """Rows usable for a model: positive aid, non-null outcome, categories and cluster."""
    needed = ["aid_eur", outcome, *categorical, cluster]
    _check_columns(projects, needed, "projects")
    return projects.select(list(dict.fromkeys(needed))).drop_nulls().filter(pl.col("aid_eur") > 0)


def _design(df: pl.DataFrame, categorical: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Constant, log(aid) and treatment-coded dummies (reference = first sorted level)."""
    columns = [np.ones(df.height), np.log(df["aid_eur"].to_numpy())]
    names = ["const", "log_aid_eur"]
    for col in categorical:
        values = df[col].cast(pl.String).to_numpy()
        for level in sorted(set(values))[1:]:
            columns.append((values == level).astype(float))
            names.append(f"{col}[{level}]")
    return np.column_stack(columns), names


def _clusters(df: pl.DataFrame, cluster: str) -> np.ndarray:
    _, codes = np.unique(df[cluster].cast(pl.String).to_numpy(), return_inverse=True)
    if codes.max(initial=0) < 1:
        raise ParameterError(f"cluster-robust errors need at least 2 distinct {cluster!r} values")
    return codes.ravel()


def _row(res: Any, index: int, term: str, n_obs: int, n_clusters: int, model: str, alpha: float):
    ci = np.asarray(res.conf_int(alpha=alpha))[index]
    return {
        "term": term,
        "estimate": float(np.asarray(res.params)[index]),
        "std_error": float(np.asarray(res.bse)[index]),
        "ci_low": float(ci[0]),
        "ci_high": float(ci[1]),
        "p_value": float(np.asarray(res.pvalues)[index]),
        "n_obs": n_obs,
        "n_clusters": n_clusters,
        "model": model,
        "kind": KIND_DESCRIPTIVE,
        "assumptions": SELECTION_CAVEAT,
    }


def fit_investment_elasticity(
    projects: pl.DataFrame,
    *,
    fixed_effects: Sequence[str] = ("region_code", "sector", "firm_size"),
    cluster: str = "epci_siren",
    alpha: float = 0.05,
) -> pl.DataFrame:
    """Elasticity of announced investment to aid: ``log(investment_eur) ~ log(aid_eur) + FE``.

    OLS with dummies for each of ``fixed_effects`` and standard errors clustered by ``cluster``
    (statsmodels ``cov_type="cluster"``). Rows with non-positive aid or investment, or a null in
    any used column, are left out (``n_obs`` says how many were used). One row, term
    ``log_aid_eur``: a **descriptive association** (projects select into the fund), not the
    causal effect of aid on investment.
    """
    df = _prepare_projects(projects, "investment_eur", fixed_effects, cluster).filter(
        pl.col("investment_eur") > 0
    )
    x, names = _design(df, fixed_effects)
    if df.height <= x.shape[1]:
        raise ParameterError(f"{df.height} usable projects for {x.shape[1]} parameters")
    groups = _clusters(df, cluster)
    y = np.log(df["investment_eur"].to_numpy())
    res = sm.OLS(y, x).fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)
    fe = "+".join(fixed_effects) or "none"
    model = f"ols log(investment_eur) ~ log(aid_eur) | FE {fe}, cluster {cluster}"
    n_clusters = int(groups.max()) + 1
    return make_tidy_frame(
        [_row(res, names.index("log_aid_eur"), "log_aid_eur", df.height, n_clusters, model, alpha)]
    )


def fit_jobs_model(
    projects: pl.DataFrame,
    *,
    family: Literal["poisson", "negbin"] = "poisson",
    controls: Sequence[str] = ("firm_size", "sector", "region_code"),
    cluster: str = "epci_siren",
    outcome: str = "jobs_created",
    alpha: float = 0.05,
    maxiter: int = 200,
) -> pl.DataFrame:
    """Count model of announced jobs on ``log(aid_eur)`` and categorical ``controls``.

    ``family="poisson"``: Poisson GLM (log link; pseudo-ML, consistent for the conditional mean
    even when counts are over-dispersed or non-integer). ``family="negbin"``: NB2 negative binomial
    by maximum likelihood (statsmodels ``NegativeBinomial``, dispersion ``alpha`` estimated).
    Standard errors clustered by ``cluster``.

    Rows (all **descriptive associations** among funded projects):

    * ``log_aid_eur`` — the coefficient ``b``: elasticity of expected jobs to aid
      (``d log E[jobs] / d log aid``);
    * ``semi_elasticity_per_meur`` — ``b / mean(aid in EUR M)``: change in log expected jobs per
      extra EUR 1 M of aid, at the mean aid;
    * ``jobs_per_meur_at_mean`` — ``b × mean(fitted jobs) / mean(aid in EUR M)``: implied extra
      jobs per EUR 1 M of aid at the means (means held fixed: their sampling error is ignored,
      so the interval only scales that of ``b``);
    * ``alpha`` (negbin only) — NB2 dispersion.
    """
    if family not in ("poisson", "negbin"):
        raise ParameterError(f"family must be 'poisson' or 'negbin', got {family!r}")
    df = _prepare_projects(projects, outcome, controls, cluster).filter(pl.col(outcome) >= 0)
    x, names = _design(df, controls)
    if df.height <= x.shape[1] + 1:
        raise ParameterError(f"{df.height} usable projects for {x.shape[1]} parameters")
    groups = _clusters(df, cluster)
    y = df[outcome].to_numpy().astype(float)
    cov = {"cov_type": "cluster", "cov_kwds": {"groups": groups}, "use_t": True}
    poisson = sm.GLM(y, x, family=sm.families.Poisson())
    if family == "poisson":
        res = poisson.fit(maxiter=maxiter, **cov)
        fitted = np.asarray(res.fittedvalues)
    else:
        start = poisson.fit(maxiter=maxiter).params
        nb = NegativeBinomial(y, x, loglike_method="nb2")
        res = nb.fit(
            start_params=np.append(start, 0.5),
            method="bfgs",
            maxiter=max(maxiter, 500),
            disp=0,
            **cov,
        )
        if not res.mle_retvals.get("converged", True):
            res = nb.fit(start_params=res.params, method="newton", maxiter=maxiter, disp=0, **cov)
        fitted = np.asarray(res.predict())
    label = "poisson glm" if family == "poisson" else "negative binomial (nb2)"
    ctrl = "+".join(controls) or "none"
    model = f"{label} {outcome} ~ log(aid_eur) + {ctrl}, cluster {cluster}"
    n_clusters = int(groups.max()) + 1
    i = names.index("log_aid_eur")
    base = _row(res, i, "log_aid_eur", df.height, n_clusters, model, alpha)
    mean_aid_meur = float(df["aid_eur"].mean()) / 1e6
    rows = [base]
    for term, scale in (
        ("semi_elasticity_per_meur", 1.0 / mean_aid_meur),
        ("jobs_per_meur_at_mean", float(fitted.mean()) / mean_aid_meur),
    ):
        rows.append(
            {
                **base,
                "term": term,
                "estimate": base["estimate"] * scale,
                "std_error": base["std_error"] * scale,
                "ci_low": base["ci_low"] * scale,
                "ci_high": base["ci_high"] * scale,
            }
        )
    if family == "negbin":
        rows.append(
            _row(res, len(np.asarray(res.params)) - 1, "alpha", df.height, n_clusters, model, alpha)
        )
    return make_tidy_frame(rows)
