"""Cluster-bootstrap confidence intervals for the leverage ratios (descriptive uncertainty).

Why a cluster bootstrap: projects of the same intercommunalité (EPCI) or territory share a labour
market, a regional envelope and often an instructing team, so their ratios are correlated;
resampling projects one by one would understate the uncertainty. We resample whole clusters
(``cluster="epci_siren"`` by default, or ``"ti_id"``, ``"ti_id_phase1"``, ``"siren"``...), within
each group of ``by`` (a région's interval resamples that région's EPCI). Projects whose cluster is
unknown are each their own cluster.

How, fast: the ratios are ratios of sums, so a bootstrap replicate only needs the cluster sums of
each numerator and denominator. We aggregate once per (group, cluster), draw for each group a
``(n_boot x n_clusters)`` matrix of multinomial counts (how often each cluster is drawn when
drawing ``n_clusters`` clusters with replacement, i.e. the classic nonparametric bootstrap), and
get every replicate's sums in one matrix product. No row is resampled in Python.

Interval: **percentile** by default. It is transformation-respecting and range-preserving (a
ratio interval never goes below zero), needs no variance formula, and behaves well here because
the ratios are smooth functions of sums over hundreds of clusters (the Monte Carlo test checks its
coverage on synthetic data with cluster random effects). ``method="bca"`` (bias-corrected and
accelerated, acceleration from the leave-one-cluster-out jackknife) corrects for bias and skewness
and is preferable for skewed ratios such as ``aid_per_job_created_eur`` in small groups, at the
price of more Monte Carlo noise in the tails; ``method="basic"`` (reflected percentile) is offered
for comparison but is not range-preserving.

Reproducibility: each group draws from its own generator seeded by ``seed`` and the group's key
values, so a région's interval is the same whether it is computed alone or in a batch of all
régions, and every metric of a group uses the same replicates.

Groups with fewer than ``min_clusters`` clusters (default 5) keep their point estimate but get a
null interval and ``reason="too_few_clusters"``: with 4 clusters there are only 35 distinct
resamples and percentile intervals badly under-cover. Other reasons: ``zero_denominator`` (no
aid, or no job, in the group: no estimate), ``unstable_denominator`` (more than 1% of
replicates have a zero denominator; below that share, such replicates are dropped) and, for BCa,
``bca_undefined`` (every replicate on one side of the estimate).

Territories usually have fewer than 5 EPCI with projects, so EPCI-clustered intervals are mostly
null at territory level; ``cluster="siren"`` (firms) gives territory intervals that account for
firms with several projects but assume independence between firms of the same EPCI.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any

import numpy as np
import polars as pl

from analyse.errors import ParameterError
from analyse.estimate.leverage import (
    RATIO_METRICS,
    RATIO_PARTS,
    Projects,
    check_by,
    check_columns,
    with_project_parts,
)

METHODS = ("percentile", "bca", "basic")
_NORMAL = NormalDist()
#: Minimum number of clusters in a group for an interval to be reported.
MIN_CLUSTERS = 5
#: Largest share of replicates with a zero denominator tolerated (they are dropped).
MAX_INVALID_SHARE = 0.01
#: Bound on the size of one block of bootstrap weights (elements), to cap memory.
_BLOCK_ELEMENTS = 4_000_000


def cluster_sums_query(
    projects: Projects,
    by: Sequence[str] | None,
    *,
    cluster: str = "epci_siren",
    metrics: Sequence[str] = RATIO_METRICS,
    phase: int = 1,
) -> pl.LazyFrame:
    """Lazy query: one row per (group, cluster) with ``n_projects`` and the sums of every ratio part.

    Rows are sorted by group keys (nulls last) then cluster, so each group is a contiguous block.
    A null cluster value becomes a singleton cluster named after the project.
    """
    keys = check_by(by)
    lf = with_project_parts(projects, phase=phase)
    check_columns(lf, [*keys, cluster], "bootstrap_leverage(by=..., cluster=...)")
    cl = pl.coalesce(
        pl.col(cluster).cast(pl.String), pl.lit("project:") + pl.col("project_id")
    ).alias("_cluster")
    parts = [c for m in metrics for c in (f"_num_{m}", f"_den_{m}")]
    return (
        lf.with_columns(cl)
        .group_by([*keys, "_cluster"])
        .agg(pl.len().alias("n_projects"), *[pl.col(c).sum() for c in parts])
        .sort([*keys, "_cluster"], nulls_last=True)
    )


def _group_seed(seed: int, key: tuple[Any, ...]) -> np.random.SeedSequence:
    """Seed of one group: stable across runs and batches (CRC32 of the key's repr)."""
    return np.random.SeedSequence([seed, zlib.crc32(repr(key).encode("utf-8"))])


def draw_cluster_weights(rng: np.random.Generator, n_boot: int, n_clusters: int) -> np.ndarray:
    """``(n_boot, n_clusters)`` multinomial counts: clusters drawn with replacement, ``n_clusters``
    draws per replicate (each row sums to ``n_clusters``)."""
    dtype = np.int32 if n_boot * n_clusters < 2**31 else np.int64  # int32: several times faster
    flat = rng.integers(0, n_clusters, size=(n_boot, n_clusters), dtype=dtype)
    flat += (np.arange(n_boot, dtype=dtype) * n_clusters)[:, None]  # one bin range per replicate
    return np.bincount(flat.ravel(), minlength=n_boot * n_clusters).reshape(n_boot, n_clusters)


def bootstrap_ratio_sums(
    num: np.ndarray, den: np.ndarray, *, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap replicates ``(n_boot, m)`` of ``sum(num) / sum(den)`` from cluster sums ``(k, m)``.

    Replicates with a non-positive denominator are NaN.
    """
    k, m = num.shape
    stacked = np.hstack([num, den])
    out = np.empty((n_boot, m))
    block = max(1, _BLOCK_ELEMENTS // max(k, 1))
    for start in range(0, n_boot, block):
        stop = min(n_boot, start + block)
        w = draw_cluster_weights(rng, stop - start, k).astype(np.float64)
        sums = w @ stacked
        b_num, b_den = sums[:, :m], sums[:, m:]
        with np.errstate(divide="ignore", invalid="ignore"):
            out[start:stop] = np.where(b_den > 0, b_num / b_den, np.nan)
    return out


def _bca_probs(
    boot: np.ndarray, est: float, jack: np.ndarray, alpha: float
) -> tuple[float, float] | None:
    """BCa-adjusted quantile levels, or None when undefined (all replicates on one side)."""
    below = np.mean(boot < est) + 0.5 * np.mean(boot == est)
    if below <= 0 or below >= 1:
        return None
    z0 = _NORMAL.inv_cdf(float(below))
    d = jack.mean() - jack
    denom = 6.0 * (np.sum(d**2) ** 1.5)
    a = np.sum(d**3) / denom if denom > 0 else 0.0
    probs = []
    for z in (_NORMAL.inv_cdf(alpha / 2), _NORMAL.inv_cdf(1 - alpha / 2)):
        probs.append(_NORMAL.cdf(float(z0 + (z0 + z) / (1 - a * (z0 + z)))))
    return probs[0], probs[1]


def _intervals(
    num: np.ndarray,
    den: np.ndarray,
    *,
    n_boot: int,
    ci: float,
    method: str,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str | None]]:
    """Interval bounds, bootstrap standard errors and reasons for the m metrics of one group."""
    m = num.shape[1]
    tot_num, tot_den = num.sum(axis=0), den.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        est = np.where(tot_den > 0, tot_num / tot_den, np.nan)
    boot = bootstrap_ratio_sums(num, den, n_boot=n_boot, rng=rng)
    alpha = 1.0 - ci
    low, high, se = np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan)
    reasons: list[str | None] = [None] * m
    jack = None
    if method == "bca":
        with np.errstate(divide="ignore", invalid="ignore"):
            jd = tot_den[None, :] - den
            jack = np.where(jd > 0, (tot_num[None, :] - num) / jd, np.nan)
    for j in range(m):
        if not np.isfinite(est[j]):
            reasons[j] = "zero_denominator"
            continue
        b = boot[:, j]
        valid = b[np.isfinite(b)]
        if len(valid) < (1 - MAX_INVALID_SHARE) * n_boot or len(valid) < 2:
            reasons[j] = "unstable_denominator"
            continue
        se[j] = valid.std(ddof=1)
        if method == "bca":
            jj = jack[:, j] if jack is not None else np.array([])
            jj = jj[np.isfinite(jj)]
            probs = _bca_probs(valid, est[j], jj, alpha) if len(jj) > 1 else None
            if probs is None:
                reasons[j] = "bca_undefined"
                continue
        else:
            probs = (alpha / 2, 1 - alpha / 2)
        q_low, q_high = np.quantile(valid, probs)
        if method == "basic":
            low[j], high[j] = 2 * est[j] - q_high, 2 * est[j] - q_low
        else:
            low[j], high[j] = q_low, q_high
    return low, high, se, reasons


def bootstrap_leverage(
    projects: Projects,
    by: Sequence[str] | None = None,
    *,
    cluster: str = "epci_siren",
    n_boot: int = 1999,
    ci: float = 0.95,
    seed: int = 2018,
    metrics: Sequence[str] = RATIO_METRICS,
    method: str = "percentile",
    min_clusters: int = MIN_CLUSTERS,
    phase: int = 1,
) -> pl.DataFrame:
    """Cluster-bootstrap confidence intervals of leverage ratios per group of ``by``.

    ``by`` and ``phase`` work as in :func:`analyse.estimate.leverage.summarise_leverage` (``None``
    = nation; ``ti_id`` / ``in_ti`` derived for ``phase``); ``cluster`` names the resampling unit
    (``epci_siren`` default, ``ti_id`` = territories of ``phase``...). ``metrics`` are ratio
    metrics of :data:`analyse.estimate.leverage.RATIO_METRICS`. Descriptive uncertainty only:
    sampling variability of announced figures, not a causal interval.

    Returns one row per group and metric: the keys, ``metric``, ``estimate`` (ratio of sums on all
    the group's projects, identical to ``summarise_leverage``), ``ci_low``, ``ci_high``, ``se``
    (standard deviation of the replicates), ``n_clusters``, ``n_projects``, ``n_boot``,
    ``ci_level``, ``method``, ``cluster`` and ``reason`` (null when the interval is reported; see
    the module docstring).
    """
    keys = check_by(by)
    metrics = list(metrics)
    unknown = [m for m in metrics if m not in RATIO_PARTS]
    if unknown or not metrics:
        raise ParameterError(f"metrics must be among {list(RATIO_PARTS)}, got {metrics}")
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
    if not 0 < ci < 1:
        raise ParameterError(f"ci must be in (0, 1), got {ci!r}")
    if n_boot < 2:
        raise ParameterError(f"n_boot must be at least 2, got {n_boot!r}")
    if min_clusters < 2:
        raise ParameterError(f"min_clusters must be at least 2, got {min_clusters!r}")

    sums = cluster_sums_query(
        projects, keys, cluster=cluster, metrics=metrics, phase=phase
    ).collect()
    num = sums.select([f"_num_{m}" for m in metrics]).to_numpy().astype(np.float64)
    den = sums.select([f"_den_{m}" for m in metrics]).to_numpy().astype(np.float64)
    num, den = np.nan_to_num(num), np.nan_to_num(den)
    n_proj = sums["n_projects"].to_numpy()
    if keys:
        bounds = (
            sums.select(keys)
            .with_row_index("_i")
            .group_by(keys, maintain_order=True)
            .agg(pl.col("_i").min().alias("_start"), (pl.col("_i").max() + 1).alias("_stop"))
        )
        groups = [
            (tuple(r[k] for k in keys), r["_start"], r["_stop"])
            for r in bounds.iter_rows(named=True)
        ]
    else:
        groups = [((), 0, sums.height)] if sums.height else []

    m = len(metrics)
    rows: dict[str, list[Any]] = {k: [] for k in keys}
    cols: dict[str, list[Any]] = {
        c: [] for c in ("metric", "estimate", "ci_low", "ci_high", "se", "n_clusters", "n_projects")
    }
    reasons: list[str | None] = []
    for key, start, stop in groups:
        g_num, g_den = num[start:stop], den[start:stop]
        k = stop - start
        tot_den = g_den.sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            est = np.where(tot_den > 0, g_num.sum(axis=0) / tot_den, np.nan)
        if k < min_clusters:
            low = high = se = np.full(m, np.nan)
            why: list[str | None] = [
                "too_few_clusters" if np.isfinite(e) else "zero_denominator" for e in est
            ]
        else:
            rng = np.random.default_rng(_group_seed(seed, key))
            low, high, se, why = _intervals(
                g_num, g_den, n_boot=n_boot, ci=ci, method=method, rng=rng
            )
        for j, metric in enumerate(metrics):
            for i, kname in enumerate(keys):
                rows[kname].append(key[i])
            cols["metric"].append(metric)
            cols["estimate"].append(est[j])
            cols["ci_low"].append(low[j])
            cols["ci_high"].append(high[j])
            cols["se"].append(se[j])
            cols["n_clusters"].append(k)
            cols["n_projects"].append(int(n_proj[start:stop].sum()))
            reasons.append(why[j])

    schema = {k: sums.schema[k] for k in keys}
    out = pl.DataFrame(
        {**rows, **cols, "reason": reasons},
        schema={
            **schema,
            "metric": pl.String,
            "estimate": pl.Float64,
            "ci_low": pl.Float64,
            "ci_high": pl.Float64,
            "se": pl.Float64,
            "n_clusters": pl.Int64,
            "n_projects": pl.Int64,
            "reason": pl.String,
        },
        nan_to_null=True,
    )
    out = out.with_columns(pl.col(pl.Float64).fill_nan(None)).with_columns(
        pl.lit(n_boot, dtype=pl.Int64).alias("n_boot"),
        pl.lit(ci).alias("ci_level"),
        pl.lit(method).alias("method"),
        pl.lit(cluster).alias("cluster"),
    )
    head = list(keys)
    if any(k in ("ti_id", "in_ti") for k in keys):
        out = out.with_columns(pl.lit(phase, dtype=pl.Int8).alias("ti_phase"))
        head.append("ti_phase")
    tail = ["metric", "estimate", "ci_low", "ci_high", "se", "n_clusters", "n_projects"]
    return out.select(*head, *tail, "n_boot", "ci_level", "method", "cluster", "reason")
