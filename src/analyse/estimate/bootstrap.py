"""Confidence intervals for the leverage ratios: clustered, chosen by Monte Carlo coverage.

Estimand. Each leverage ratio is a ratio of sums over the projects of a cell (``sum(investment) /
sum(aid)``, jobs per M EUR of aid...; :data:`analyse.estimate.leverage.RATIO_PARTS`). Its interval
is for the **superpopulation ratio** ``E[numerator] / E[denominator]`` of the process that
generated the cell's projects: how much the figure could differ had the same process produced
another set of projects. Descriptive uncertainty only: nothing here is causal, and the announced
figures are taken as exact (no measurement error, no non-response).

Clusters. Projects of the same intercommunalité (EPCI), territory or firm share a labour market,
an envelope and an instructing team, so their ratios are correlated: every method works on
**cluster sums** (``cluster="epci_siren"`` by default; a project whose cluster is unknown is its
own cluster), within each group of ``by``. Assumed: clusters independent of each other, drawn
from one process per group; nothing is assumed about correlations within a cluster.

Default method, ``"jackknife_log"``: a t interval on the **log** of the ratio, ``log R +- t_q *
se_J / R``, where ``se_J`` is the leave-one-cluster-out **jackknife** standard error of the ratio
(``(G-1)/G * sum_g (R_(-g) - R)^2``, the cluster-robust CR3 variance, which corrects the downward
bias of the plug-in variance when a few large clusters carry most of the amounts) and ``t_q`` is
the Student quantile with **small-sample degrees of freedom**: the smaller of (a) the
Bell-McCaffrey / Satterthwaite degrees of freedom of that variance under the working model for
which the ratio of sums is the best linear estimator (cluster residual variance proportional to
the cluster's denominator, e.g. its aid), which falls towards 1 as the aid concentrates in a few
clusters, and (b) an empirical Satterthwaite value, whose variance of the variance comes from how
far each cluster's contribution departs from its working-model share, which falls when a few
clusters dominate the variance more than their aid explains (heavy tails). The log scale keeps the
interval positive and roughly follows the right skew of amounts; no resampling is involved, so
the interval is deterministic (identical on every page and every run) and costs microseconds.

Why (``benchmarks/bench_intervals.py``, table ``interval_study.csv``, ``docs/intervals.md``):
amounts are heavy-tailed (log-normal with sigma 1.3, or Pareto(1.3), infinite variance) and
cluster sizes unequal, so a cell's aid sits in a few clusters and the sample rarely shows the
tail. Over 2 amount laws x 3 cluster-size designs x 5 ratios, the percentile cluster bootstrap
(the former default) covers 0.78-0.86 at 7 clusters and 0.90-0.95 at 500, missing mostly on one
side (truth above the interval); BCa, the basic bootstrap, bootstrap-t (raw or log), a jackknife
with G-1 degrees of freedom and CR2 with Bell-McCaffrey degrees of freedom all stay below 0.93
somewhere. ``"jackknife_log"`` covers 0.930-0.969 in the 306 printed scenarios (7 to 1,250
clusters), one of them at 0.9296 (Monte Carlo s.e. 0.0026); its intervals are about 30 % wider
than the percentile ones, which is what covering costs. Groups with fewer than
:func:`min_clusters_for` clusters (:data:`MIN_CLUSTERS` = 7; 30 for the mean of per-project
ratios, whose skewed per-project values need more) keep their point estimate but get no interval
(``reason="too_few_clusters"``): at 5 clusters coverage already leaves the band (0.92-0.97) and
intervals span more than twice the estimate.

Not covered: intervals are pointwise (one cell at a time, no multiplicity adjustment); misses stay
lopsided (the truth lies above the interval about twice as often as below); a cell whose
amounts sit in one or two clusters gets a very wide but honest interval; dependence *between*
clusters (e.g. EPCI of one labour market) is not modelled.

Other methods (``method=``), kept for comparison: ``"percentile"``, ``"basic"`` (reflected
percentile, not range-preserving), ``"bca"`` (bias-corrected and accelerated, acceleration from
the cluster jackknife), ``"studentized"`` (bootstrap-t with the linearised cluster-robust standard
error of each replicate) and ``"studentized_log"`` (the same on the log ratio). The bootstrap
resamples clusters with replacement: cluster sums are aggregated once, each replicate's sums come
from one matrix product with a ``(n_boot x n_clusters)`` matrix of multinomial counts. Each group
draws from its own generator seeded by ``seed`` and the group's key values, so a group's interval
does not depend on the batch it is computed in. To get intervals for arbitrary (even overlapping)
cells, stack the projects once per cell with a label column and pass ``by=[label]``: every label
is a group, seeded by its own value.

Reasons for a null interval (``reason``): ``too_few_clusters``; ``zero_denominator`` (no aid, or no
job: no estimate either); ``nonpositive_estimate`` (log-scale methods need a positive ratio);
``unstable_denominator`` (one cluster carries the whole denominator, so a leave-one-out ratio is
undefined, or more than 1% of bootstrap replicates have a zero denominator; below that share such
replicates are dropped); ``bca_undefined`` (every replicate on one side of the estimate);
``unbounded`` (a bound overflows: the data cannot bound the ratio).
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from statistics import NormalDist
from typing import Any, NamedTuple

import numpy as np
import polars as pl
from scipy.special import stdtrit

from analyse.errors import ParameterError
from analyse.estimate.leverage import (
    RATIO_METRICS,
    RATIO_PARTS,
    Projects,
    check_by,
    check_columns,
    with_project_parts,
)

#: Default interval method (see the module docstring and ``docs/intervals.md``).
DEFAULT_METHOD = "jackknife_log"
#: Methods that need no resampling (``n_boot`` and ``seed`` are ignored, ``n_boot`` is null).
ANALYTIC_METHODS = ("jackknife_log",)
#: Bootstrap methods.
BOOTSTRAP_METHODS = ("percentile", "bca", "basic", "studentized", "studentized_log")
METHODS = (*ANALYTIC_METHODS, *BOOTSTRAP_METHODS)
_STUDENTIZED = ("studentized", "studentized_log")
_LOG_METHODS = ("jackknife_log", "studentized_log")
_NORMAL = NormalDist()
#: Minimum number of clusters in a group for an interval to be reported: the smallest count
#: from which the Monte Carlo study (``interval_study.csv``) shows coverage of the default method
#: between 0.93 and 0.97 in every design (at 5 clusters: up to 0.974).
MIN_CLUSTERS = 7
#: Larger minimum where the study asks for it: the mean of per-project ratios (a plain mean of
#: skewed values) covers down to 0.915 below 30 clusters of single projects.
MIN_CLUSTERS_BY_METRIC: dict[str, int] = {"mean_project_investment_per_aid": 30}
#: Largest share of bootstrap replicates with a zero denominator tolerated (they are dropped).
MAX_INVALID_SHARE = 0.01
#: Bound on the size of one block of bootstrap weights (elements), to cap memory.
_BLOCK_ELEMENTS = 4_000_000


def min_clusters_for(metric: str) -> int:
    """Minimum number of clusters for an interval of ``metric`` (the study's rule)."""
    return MIN_CLUSTERS_BY_METRIC.get(metric, MIN_CLUSTERS)


class Intervals(NamedTuple):
    """Bounds, standard errors and reasons (null interval) for the columns of one group."""

    low: np.ndarray
    high: np.ndarray
    se: np.ndarray
    reasons: list[str | None]


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


# -------------------------------------------------------------------------------- jackknife


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / den, np.nan)


def leave_one_out_ratios(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``(k, p)`` ratios of sums without each cluster (NaN where the rest has no denominator)."""
    return _ratio(num.sum(axis=0) - num, den.sum(axis=0) - den)


def satterthwaite_df(den: np.ndarray, c: np.ndarray, omega: np.ndarray | None = None) -> np.ndarray:
    """Bell-McCaffrey degrees of freedom of ``sum_g c_g e_g^2`` for each column (``(p,)``).

    ``e = Y - R X`` are the cluster residuals of the ratio of sums (``X`` = ``den``), assumed
    independent with variances proportional to ``omega`` (default ``|den|``: the working model
    under which the ratio of sums is the best linear unbiased estimator). Returns ``tr(T)^2 /
    tr(T^2)`` with ``T = C^1/2 B Omega B' C^1/2`` and ``B = I - x 1'/sum(x)``, computed in
    O(k) from the rank-2 structure of ``T`` (Bell & McCaffrey 2002; Imbens & Kolesar 2016).
    """
    x = np.abs(den)
    om = x if omega is None else np.abs(omega)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = x / x.sum(axis=0)  # both invariances: df does not depend on the scales of x and omega
        om = om / om.sum(axis=0)
        cw = c * om
        tr = cw.sum(axis=0) + (c * x * x).sum(axis=0) - 2 * (c * x * om).sum(axis=0)
        k11, k12 = 1.0, -1.0  # K = [[sum(om)/S^2, -1/S], [-1/S, 0]] with S = sum(om) = 1
        a11 = (c * cw * x * x).sum(axis=0)
        a12 = (c * cw * om * x).sum(axis=0)
        b11, b12, b22 = (c * x * x).sum(axis=0), (c * x * om).sum(axis=0), (c * om * om).sum(axis=0)
        m11, m12, m21, m22 = k11 * b11 + k12 * b12, k11 * b12 + k12 * b22, k12 * b11, k12 * b12
        tr2 = (
            (cw * cw).sum(axis=0)
            + 2 * (k11 * a11 + 2 * k12 * a12)
            + m11**2
            + 2 * m12 * m21
            + m22**2
        )
        return tr * tr / tr2


def empirical_df(v: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """Empirical Satterthwaite degrees of freedom of ``V = sum_g v_g`` per column (``(p,)``).

    ``2 V^2 / Var(V)``, where ``Var(V) = sum_g Var(v_g)`` is estimated by the squared deviations
    of each cluster's contribution ``v_g`` from its expectation under the working model
    (``V * expected_g / sum(expected)``): no normality assumed, so a few clusters that contribute
    far more than their share give few degrees of freedom. Infinite when no contribution deviates.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        total = v.sum(axis=0)
        spread = ((v - total * expected / expected.sum(axis=0)) ** 2).sum(axis=0)
        return np.where(spread > 0, 2 * total**2 / spread, np.inf)


def jackknife_log_intervals(
    num: np.ndarray, den: np.ndarray, *, ci: float = 0.95
) -> tuple[Intervals, np.ndarray]:
    """Default interval for each column of cluster sums ``num``, ``den`` (``(k, p)``, k >= 2).

    Returns the intervals (``se`` = jackknife standard error of the ratio) and the degrees of
    freedom used (``(p,)``). Vectorised over columns: the Monte Carlo study passes thousands of
    simulated groups at once.
    """
    k = num.shape[0]
    tot_num, tot_den = num.sum(axis=0), den.sum(axis=0)
    est = _ratio(tot_num, tot_den)
    jack = leave_one_out_ratios(num, den)
    se = np.sqrt((k - 1) / k * ((jack - est) ** 2).sum(axis=0))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        share = np.abs(den) / np.abs(den).sum(axis=0)
        c = 1.0 / (1.0 - share) ** 2  # CR3 weights: sum_g c_g e_g^2 / S^2 is the jackknife sum
        resid = num - est * den
        # E[c_g e_g^2] under the working model (variance proportional to the denominator):
        # c_g (B Omega B')_gg = c_g share_g (1 - share_g)
        expected = c * share * (1.0 - share)
        df = np.fmin(satterthwaite_df(den, c), empirical_df(c * resid * resid, expected))
        q = stdtrit(df, 1 - (1 - ci) / 2)  # Student quantile (fractional df)
        half = np.where(se == 0, 0.0, q * se / est)
        low, high = est * np.exp(-half), est * np.exp(half)
    reasons: list[str | None] = []
    for j in range(num.shape[1]):
        if not np.isfinite(est[j]):
            reasons.append("zero_denominator")
        elif est[j] <= 0:
            reasons.append("nonpositive_estimate")
        elif not np.isfinite(jack[:, j]).all():
            reasons.append("unstable_denominator")
        elif not (np.isfinite(low[j]) and np.isfinite(high[j])):
            reasons.append("unbounded")
        else:
            reasons.append(None)
    ok = np.array([r is None for r in reasons])
    low, high = np.where(ok, low, np.nan), np.where(ok, high, np.nan)
    return Intervals(low, high, np.where(ok, se, np.nan), reasons), df


# -------------------------------------------------------------------------------- bootstrap


def draw_cluster_weights(rng: np.random.Generator, n_boot: int, n_clusters: int) -> np.ndarray:
    """``(n_boot, n_clusters)`` multinomial counts: clusters drawn with replacement, ``n_clusters``
    draws per replicate (each row sums to ``n_clusters``)."""
    dtype = np.int32 if n_boot * n_clusters < 2**31 else np.int64  # int32: several times faster
    flat = rng.integers(0, n_clusters, size=(n_boot, n_clusters), dtype=dtype)
    flat += (np.arange(n_boot, dtype=dtype) * n_clusters)[:, None]  # one bin range per replicate
    return np.bincount(flat.ravel(), minlength=n_boot * n_clusters).reshape(n_boot, n_clusters)


def bootstrap_replicates(
    num: np.ndarray, den: np.ndarray, weights: np.ndarray, *, studentized: bool = False
) -> tuple[np.ndarray, np.ndarray | None]:
    """Replicate ratios ``(B, p)`` for cluster weights ``(B, k)`` and, if ``studentized``, each
    replicate's linearised variance ``sum_g w_g (Y_g - R* X_g)^2 / X*^2`` (NaN where a replicate's
    denominator is not positive). One matrix product for every column."""
    p = num.shape[1]
    if not studentized:
        sums = weights @ np.hstack([num, den])
        return _ratio(sums[:, :p], sums[:, p:]), None
    est = _ratio(num.sum(axis=0), den.sum(axis=0))
    resid = num - np.nan_to_num(est) * den  # centred: no cancellation in the variance
    sums = weights @ np.hstack([num, den, resid * resid, resid * den, den * den])
    b_num, b_den, ee, ex, xx = (sums[:, i * p : (i + 1) * p] for i in range(5))
    ratio = _ratio(b_num, b_den)
    delta = ratio - est
    with np.errstate(divide="ignore", invalid="ignore"):
        var = np.maximum(ee - 2 * delta * ex + delta * delta * xx, 0.0) / (b_den * b_den)
    return ratio, var


def bootstrap_ratio_sums(
    num: np.ndarray, den: np.ndarray, *, n_boot: int, rng: np.random.Generator
) -> np.ndarray:
    """Bootstrap replicates ``(n_boot, m)`` of ``sum(num) / sum(den)`` from cluster sums ``(k, m)``.

    Replicates with a non-positive denominator are NaN.
    """
    return _draw_replicates(num, den, n_boot=n_boot, rng=rng, studentized=False)[0]


def _draw_replicates(
    num: np.ndarray, den: np.ndarray, *, n_boot: int, rng: np.random.Generator, studentized: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Replicates drawn in blocks of at most ``_BLOCK_ELEMENTS`` weights."""
    k = num.shape[0]
    block = max(1, _BLOCK_ELEMENTS // max(k, 1))
    ratios, variances = [], []
    for start in range(0, n_boot, block):
        w = draw_cluster_weights(rng, min(block, n_boot - start), k).astype(np.float64)
        r, v = bootstrap_replicates(num, den, w, studentized=studentized)
        ratios.append(r)
        variances.append(v)
    return np.vstack(ratios), (np.vstack(variances) if studentized else None)  # type: ignore[arg-type]


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


def _studentized_bounds(
    est: float, se_hat: float, boot: np.ndarray, var: np.ndarray, alpha: float, log: bool
) -> tuple[float, float] | None:
    """Bootstrap-t bounds from replicate ratios and variances (None: too many invalid pivots)."""
    if se_hat == 0:
        return est, est
    with np.errstate(divide="ignore", invalid="ignore"):
        if log:
            t = (np.log(boot) - np.log(est)) / (np.sqrt(var) / boot)
        else:
            t = (boot - est) / np.sqrt(var)
    t = t[np.isfinite(t)]
    if len(t) < (1 - MAX_INVALID_SHARE) * len(boot):
        return None
    q_low, q_high = np.quantile(t, [alpha / 2, 1 - alpha / 2])
    if log:
        s = se_hat / est
        with np.errstate(over="ignore"):
            return est * np.exp(-q_high * s), est * np.exp(-q_low * s)
    return est - q_high * se_hat, est - q_low * se_hat


def bootstrap_intervals(
    num: np.ndarray,
    den: np.ndarray,
    boot: np.ndarray,
    boot_var: np.ndarray | None = None,
    *,
    method: str,
    ci: float = 0.95,
) -> Intervals:
    """Bootstrap interval of each column from its replicates (``boot``, ``(B, p)``); studentized
    methods also need ``boot_var`` (see :func:`bootstrap_replicates`). ``se`` = standard deviation
    of the valid replicates."""
    p, n_boot = num.shape[1], boot.shape[0]
    est = _ratio(num.sum(axis=0), den.sum(axis=0))
    alpha = 1.0 - ci
    low, high, se = np.full(p, np.nan), np.full(p, np.nan), np.full(p, np.nan)
    reasons: list[str | None] = [None] * p
    jack = leave_one_out_ratios(num, den) if method == "bca" else None
    se_hat = None
    if method in _STUDENTIZED:
        resid = num - np.nan_to_num(est) * den
        se_hat = np.sqrt((resid * resid).sum(axis=0)) / den.sum(axis=0)
    for j in range(p):
        if not np.isfinite(est[j]):
            reasons[j] = "zero_denominator"
            continue
        if method in _LOG_METHODS and est[j] <= 0:
            reasons[j] = "nonpositive_estimate"
            continue
        b = boot[:, j]
        valid = np.isfinite(b)
        if valid.sum() < (1 - MAX_INVALID_SHARE) * n_boot or valid.sum() < 2:
            reasons[j] = "unstable_denominator"
            continue
        se[j] = b[valid].std(ddof=1)
        bounds: tuple[float, float] | None
        if method in _STUDENTIZED:
            assert boot_var is not None and se_hat is not None
            bounds = _studentized_bounds(
                est[j], se_hat[j], b[valid], boot_var[valid, j], alpha, method == "studentized_log"
            )
            if bounds is None:
                reasons[j] = "unstable_denominator"
                continue
            if not np.isfinite(bounds).all():
                reasons[j] = "unbounded"
                continue
        elif method == "bca":
            jj = jack[:, j] if jack is not None else np.array([])
            jj = jj[np.isfinite(jj)]
            probs = _bca_probs(b[valid], est[j], jj, alpha) if len(jj) > 1 else None
            if probs is None:
                reasons[j] = "bca_undefined"
                continue
            q = np.quantile(b[valid], probs)
            bounds = (q[0], q[1])
        else:
            q = np.quantile(b[valid], [alpha / 2, 1 - alpha / 2])
            bounds = (2 * est[j] - q[1], 2 * est[j] - q[0]) if method == "basic" else (q[0], q[1])
        low[j], high[j] = bounds
    return Intervals(low, high, se, reasons)


def ratio_intervals(
    num: np.ndarray,
    den: np.ndarray,
    *,
    method: str = DEFAULT_METHOD,
    ci: float = 0.95,
    n_boot: int = 1999,
    rng: np.random.Generator | None = None,
) -> Intervals:
    """Interval of each ratio ``sum(num[:, j]) / sum(den[:, j])`` from cluster sums ``(k, p)``.

    The array-level entry point (no grouping, no minimum cluster count): ``bootstrap_leverage``
    calls it once per group. ``rng`` is required by the bootstrap methods.
    """
    if method in ANALYTIC_METHODS:
        return jackknife_log_intervals(num, den, ci=ci)[0]
    if rng is None:
        raise ParameterError(f"method {method!r} resamples: pass rng")
    boot, var = _draw_replicates(
        num, den, n_boot=n_boot, rng=rng, studentized=method in _STUDENTIZED
    )
    return bootstrap_intervals(num, den, boot, var, method=method, ci=ci)


# -------------------------------------------------------------------------------- per group


def _check_args(
    metrics: list[str], method: str, ci: float, n_boot: int, min_clusters: int | None
) -> None:
    unknown = [m for m in metrics if m not in RATIO_PARTS]
    if unknown or not metrics:
        raise ParameterError(f"metrics must be among {list(RATIO_PARTS)}, got {metrics}")
    if method not in METHODS:
        raise ParameterError(f"method must be one of {METHODS}, got {method!r}")
    if not 0 < ci < 1:
        raise ParameterError(f"ci must be in (0, 1), got {ci!r}")
    if n_boot < 2:
        raise ParameterError(f"n_boot must be at least 2, got {n_boot!r}")
    if min_clusters is not None and min_clusters < 2:
        raise ParameterError(f"min_clusters must be at least 2, got {min_clusters!r}")


def _group_bounds(sums: pl.DataFrame, keys: list[str]) -> list[tuple[tuple[Any, ...], int, int]]:
    """(key, first row, last row + 1) of each group in the sorted cluster sums."""
    if not keys:
        return [((), 0, sums.height)] if sums.height else []
    bounds = (
        sums.select(keys)
        .with_row_index("_i")
        .group_by(keys, maintain_order=True)
        .agg(pl.col("_i").min().alias("_start"), (pl.col("_i").max() + 1).alias("_stop"))
    )
    return [
        (tuple(r[k] for k in keys), r["_start"], r["_stop"]) for r in bounds.iter_rows(named=True)
    ]


def bootstrap_leverage(
    projects: Projects,
    by: Sequence[str] | None = None,
    *,
    cluster: str = "epci_siren",
    n_boot: int = 1999,
    ci: float = 0.95,
    seed: int = 2018,
    metrics: Sequence[str] = RATIO_METRICS,
    method: str = DEFAULT_METHOD,
    min_clusters: int | None = None,
    phase: int = 1,
) -> pl.DataFrame:
    """Cluster-robust confidence intervals of leverage ratios per group of ``by``.

    ``by`` and ``phase`` work as in :func:`analyse.estimate.leverage.summarise_leverage` (``None``
    = nation; ``ti_id`` / ``in_ti`` derived for ``phase``); ``cluster`` names the cluster unit
    (``epci_siren`` default, ``ti_id`` = territories of ``phase``, ``siren`` = firms...).
    ``metrics`` are ratio metrics of :data:`analyse.estimate.leverage.RATIO_METRICS`. ``method``:
    ``"jackknife_log"`` (default, analytic: ``n_boot`` and ``seed`` unused) or a bootstrap method
    (see the module docstring). Descriptive uncertainty only, not a causal interval.
    ``min_clusters``: ``None`` applies the study's rule (:func:`min_clusters_for`:
    :data:`MIN_CLUSTERS`, more for some metrics); an integer forces one minimum for every metric.

    Returns one row per group and metric: the keys, ``metric``, ``estimate`` (ratio of sums on all
    the group's projects, identical to ``summarise_leverage``), ``ci_low``, ``ci_high``, ``se``
    (jackknife standard error, or standard deviation of the bootstrap replicates),
    ``n_clusters``, ``n_projects``, ``n_boot`` (null for analytic methods), ``ci_level``,
    ``method``, ``cluster`` and ``reason`` (null when the interval is reported; see the module
    docstring).
    """
    keys = check_by(by)
    metrics = list(metrics)
    _check_args(metrics, method, ci, n_boot, min_clusters)
    sums = cluster_sums_query(
        projects, keys, cluster=cluster, metrics=metrics, phase=phase
    ).collect()
    num = np.nan_to_num(sums.select([f"_num_{m}" for m in metrics]).to_numpy().astype(np.float64))
    den = np.nan_to_num(sums.select([f"_den_{m}" for m in metrics]).to_numpy().astype(np.float64))
    n_proj = sums["n_projects"].to_numpy()

    m = len(metrics)
    minimum = np.array([min_clusters or min_clusters_for(metric) for metric in metrics])
    rows: dict[str, list[Any]] = {k: [] for k in keys}
    cols: dict[str, list[Any]] = {
        c: [] for c in ("metric", "estimate", "ci_low", "ci_high", "se", "n_clusters", "n_projects")
    }
    reasons: list[str | None] = []
    for key, start, stop in _group_bounds(sums, keys):
        g_num, g_den = num[start:stop], den[start:stop]
        k = stop - start
        est = _ratio(g_num.sum(axis=0), g_den.sum(axis=0))
        few = k < minimum
        if few.all():
            res = Intervals(np.full(m, np.nan), np.full(m, np.nan), np.full(m, np.nan), [None] * m)
        else:
            rng = (
                None
                if method in ANALYTIC_METHODS
                else np.random.default_rng(_group_seed(seed, key))
            )
            res = ratio_intervals(g_num, g_den, method=method, ci=ci, n_boot=n_boot, rng=rng)
        for j in np.flatnonzero(few):
            res.low[j] = res.high[j] = res.se[j] = np.nan
            res.reasons[j] = "too_few_clusters" if np.isfinite(est[j]) else "zero_denominator"
        for j, metric in enumerate(metrics):
            for i, kname in enumerate(keys):
                rows[kname].append(key[i])
            cols["metric"].append(metric)
            cols["estimate"].append(est[j])
            cols["ci_low"].append(res.low[j])
            cols["ci_high"].append(res.high[j])
            cols["se"].append(res.se[j])
            cols["n_clusters"].append(k)
            cols["n_projects"].append(int(n_proj[start:stop].sum()))
            reasons.append(res.reasons[j])

    out = pl.DataFrame(
        {**rows, **cols, "reason": reasons},
        schema={
            **{k: sums.schema[k] for k in keys},
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
        pl.lit(None if method in ANALYTIC_METHODS else n_boot, dtype=pl.Int64).alias("n_boot"),
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
