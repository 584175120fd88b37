"""Two-way fixed-effects OLS by the within transformation, with cluster-robust errors (numpy).

The fixed effects (zone and quarter) are absorbed, never estimated as dummy columns:

* balanced panel (every zone × quarter cell exactly once, weights constant within a zone):
  exact demeaning ``x_it - x̄_i - x̄_t + x̄`` (weighted means across zones when weights are given);
* otherwise: alternating projections (method of alternating projections, Guimarães & Portugal
  2010; Gaure 2013), iterated until the group means are zero to ``tol``.

By Frisch-Waugh-Lovell, OLS of the demeaned outcome on the demeaned regressors gives exactly the
coefficients of OLS with zone and quarter dummies. The cluster-robust covariance is CRV1 on the
demeaned regressors, as Stata/reghdfe and R/fixest compute it::

    V = (X'X)^-1 (sum_g s_g s_g') (X'X)^-1 × G/(G-1) × (N-1)/(N-K),   t and F with G-1 df

where ``K`` counts the slopes plus the absorbed fixed effects that are *not* nested in the
clusters (``fe_df="nested"``, the reghdfe/fixest default: with zone FE nested in zone clusters,
the zone FE cost no degree of freedom, so ``K = k + T - 1``). ``fe_df="full"`` counts every
absorbed FE (``K = k + n_zones + n_quarters - 1``) and reproduces statsmodels OLS with explicit
dummies and ``cov_type="cluster"`` to numerical precision (tests/test_did.py checks both).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import sparse, stats
from scipy.sparse.csgraph import connected_components

from analyse.errors import ParameterError

FeDf = Literal["nested", "full"]


@dataclass(frozen=True)
class WithinFit:
    """Result of :func:`fit_within_ols` (coefficients of the non-absorbed regressors only)."""

    terms: tuple[str, ...]
    params: np.ndarray
    vcov: np.ndarray
    n_obs: int
    n_clusters: int
    n_slopes: int
    n_absorbed_df: int  # absorbed fixed effects counted in the small-sample K
    df_resid: int  # degrees of freedom of t and F statistics: G - 1
    resid: np.ndarray
    n_iterations: int  # alternating-projection sweeps (0 when demeaned exactly)

    @property
    def std_errors(self) -> np.ndarray:
        """Cluster-robust standard errors."""
        return np.sqrt(np.diag(self.vcov))

    def conf_int(self, alpha: float = 0.05) -> np.ndarray:
        """``(k, 2)`` confidence intervals from Student's t with ``G - 1`` df."""
        q = stats.t.ppf(1.0 - alpha / 2.0, self.df_resid)
        se = self.std_errors
        return np.column_stack([self.params - q * se, self.params + q * se])

    def p_values(self) -> np.ndarray:
        """Two-sided p-values of ``coef = 0`` (Student's t with ``G - 1`` df)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            t = self.params / self.std_errors
        return 2.0 * stats.t.sf(np.abs(t), self.df_resid)

    def wald_test(
        self, r_matrix: np.ndarray, q: np.ndarray | None = None, *, use_f: bool = True
    ) -> tuple[float, int, int | None, float]:
        """Joint Wald test of ``R b = q``: (statistic, df_num, df_den, p-value).

        With ``use_f`` the statistic is ``W / r`` compared with ``F(r, G - 1)`` (as Stata's
        ``test`` after a clustered regression and statsmodels ``wald_test(use_f=True)``); otherwise
        ``W`` is compared with ``chi2(r)`` and ``df_den`` is ``None``.
        """
        r = np.atleast_2d(np.asarray(r_matrix, dtype=float))
        q = np.zeros(r.shape[0]) if q is None else np.asarray(q, dtype=float)
        diff = r @ self.params - q
        middle = r @ self.vcov @ r.T
        wald = float(diff @ np.linalg.solve(middle, diff))
        df_num = r.shape[0]
        if use_f:
            stat = wald / df_num
            return stat, df_num, self.df_resid, float(stats.f.sf(stat, df_num, self.df_resid))
        return wald, df_num, None, float(stats.chi2.sf(wald, df_num))


def encode_groups(values: Sequence[object] | np.ndarray) -> tuple[np.ndarray, int]:
    """Integer codes ``0..n-1`` of the distinct values, and ``n``."""
    uniques, codes = np.unique(np.asarray(values), return_inverse=True)
    return codes.astype(np.int64).ravel(), len(uniques)


def _mean_operator(codes: np.ndarray, n: int, w: np.ndarray) -> sparse.csr_matrix:
    """Sparse ``(n_groups, n_obs)`` matrix whose product with ``x`` gives weighted group means."""
    wsum = np.bincount(codes, weights=w, minlength=n)
    return sparse.csr_matrix(
        (w / wsum[codes], (codes, np.arange(len(codes)))), shape=(n, len(codes))
    )


def _is_balanced(codes_a: np.ndarray, n_a: int, codes_b: np.ndarray, n_b: int) -> bool:
    if codes_a.size != n_a * n_b:
        return False
    cells = np.bincount(codes_a * n_b + codes_b, minlength=n_a * n_b)
    return bool(np.all(cells == 1))


def demean_two_way(
    data: np.ndarray,
    codes_a: np.ndarray,
    codes_b: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    tol: float = 1e-11,
    max_iter: int = 10_000,
) -> tuple[np.ndarray, int]:
    """Residuals of ``data`` (n,) or (n, k) on two sets of fixed effects, and the sweep count.

    ``codes_a``/``codes_b`` are integer codes (see :func:`encode_groups`). With ``weights`` the
    projection is weighted (WLS). Exact for a balanced panel whose weights are constant within
    ``a``; otherwise alternating projections until every ``a``-group mean is below
    ``tol × (1 + max |data|)``.
    """
    x = np.asarray(data, dtype=float)
    one_d = x.ndim == 1
    x = x.reshape(len(x), -1).copy()
    n_a = int(codes_a.max()) + 1
    n_b = int(codes_b.max()) + 1
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    if np.any(np.bincount(codes_a, weights=w, minlength=n_a) <= 0) or np.any(
        np.bincount(codes_b, weights=w, minlength=n_b) <= 0
    ):
        raise ParameterError(
            "every fixed-effect level needs at least one observation of weight > 0"
        )
    mean_a_op = _mean_operator(codes_a, n_a, w)
    mean_b_op = _mean_operator(codes_b, n_b, w)

    counts_a = np.bincount(codes_a, minlength=n_a)
    w_mean_a = np.bincount(codes_a, weights=w, minlength=n_a) / counts_a
    weights_const_in_a = weights is None or np.allclose(w, w_mean_a[codes_a])
    if weights_const_in_a and _is_balanced(codes_a, n_a, codes_b, n_b):
        grand = (w[:, None] * x).sum(axis=0) / w.sum()
        out = x - (mean_a_op @ x)[codes_a] - (mean_b_op @ x)[codes_b] + grand
        return (out.ravel() if one_d else out), 0

    scale = 1.0 + np.abs(x).max(axis=0)
    for sweep in range(1, max_iter + 1):
        x -= (mean_b_op @ x)[codes_b]
        mean_a = mean_a_op @ x
        x -= mean_a[codes_a]
        if np.all(np.abs(mean_a).max(axis=0) <= tol * scale):
            return (x.ravel() if one_d else x), sweep
    raise ParameterError(
        f"alternating projections did not converge in {max_iter} sweeps (tol={tol})"
    )


def count_absorbed_df(
    codes_a: np.ndarray,
    codes_b: np.ndarray,
    clusters: np.ndarray,
    *,
    fe_df: FeDf = "nested",
) -> int:
    """Degrees of freedom used by the two absorbed fixed effects (for the small-sample K).

    ``full``: ``n_a + n_b - c`` with ``c`` connected components of the bipartite a-b graph
    (``c = 1`` in any panel with common quarters). ``nested``: a fixed effect whose levels are
    nested in the clusters counts 0 (reghdfe / fixest ``fixef.K = "nested"``).
    """
    n_a = int(codes_a.max()) + 1
    n_b = int(codes_b.max()) + 1
    graph = sparse.coo_matrix(
        (np.ones(len(codes_a)), (codes_a, codes_b + n_a)), shape=(n_a + n_b, n_a + n_b)
    )
    n_comp, labels = connected_components(graph, directed=False)
    # isolated nodes cannot exist (every level observed), so components are the redundancies
    del labels
    total = n_a + n_b - n_comp
    if fe_df == "full":
        return total
    if fe_df != "nested":
        raise ParameterError(f"fe_df must be 'nested' or 'full', got {fe_df!r}")

    def _nested(codes: np.ndarray, n: int) -> bool:
        first = np.full(n, -1, dtype=np.int64)
        first[codes] = clusters  # last write wins; compare with all
        return bool(np.all(first[codes] == clusters))

    nested_a = _nested(codes_a, n_a)
    nested_b = _nested(codes_b, n_b)
    if nested_a and nested_b:
        return 0
    if nested_a:
        return n_b - n_comp
    if nested_b:
        return n_a - n_comp
    return total


def compute_cluster_vcov(
    x: np.ndarray, resid: np.ndarray, clusters: np.ndarray, *, n_params_total: int
) -> np.ndarray:
    """CRV1 covariance ``bread · meat · bread × G/(G-1) × (N-1)/(N-K)`` (``K = n_params_total``).

    ``x`` and ``resid`` are the (weighted, demeaned) regressors and residuals.
    """
    n, k = x.shape
    codes, n_groups = encode_groups(clusters)
    if n_groups < 2:
        raise ParameterError("cluster-robust errors need at least 2 clusters")
    if n <= n_params_total:
        raise ParameterError(f"{n} observations for {n_params_total} parameters")
    scores = x * resid[:, None]
    sums = np.empty((n_groups, k))
    for j in range(k):
        sums[:, j] = np.bincount(codes, weights=scores[:, j], minlength=n_groups)
    bread = np.linalg.inv(x.T @ x)
    meat = sums.T @ sums
    factor = n_groups / (n_groups - 1.0) * (n - 1.0) / (n - n_params_total)
    vcov = factor * bread @ meat @ bread
    return (vcov + vcov.T) / 2.0


def fit_within_ols(
    y: np.ndarray,
    x: np.ndarray,
    *,
    codes_a: np.ndarray,
    codes_b: np.ndarray,
    clusters: np.ndarray,
    terms: Sequence[str],
    weights: np.ndarray | None = None,
    fe_df: FeDf = "nested",
    tol: float = 1e-11,
) -> WithinFit:
    """OLS/WLS of ``y`` on ``x`` with two absorbed fixed effects and CRV1 errors by ``clusters``.

    Rows must be complete (no NaN) and weights strictly positive. Raises :class:`ParameterError`
    when a regressor is (numerically) absorbed by the fixed effects.
    """
    y = np.asarray(y, dtype=float)
    x = np.asarray(x, dtype=float).reshape(len(y), -1)
    if x.shape[1] != len(terms):
        raise ParameterError(f"{x.shape[1]} regressors for {len(terms)} term names")
    if not (np.all(np.isfinite(y)) and np.all(np.isfinite(x))):
        raise ParameterError("outcome and regressors must be finite (drop missing rows first)")
    if weights is not None and np.any(np.asarray(weights) <= 0):
        raise ParameterError("weights must be > 0 (drop zero-weight rows first)")
    both, n_sweeps = demean_two_way(
        np.column_stack([y, x]), codes_a, codes_b, weights=weights, tol=tol
    )
    sw = np.ones(len(y)) if weights is None else np.sqrt(np.asarray(weights, dtype=float))
    yt = both[:, 0] * sw
    xt = both[:, 1:] * sw[:, None]
    raw_scale = np.sqrt((x**2).sum(axis=0)) + 1e-300
    left = np.sqrt((xt**2).sum(axis=0)) / raw_scale
    absorbed = [t for t, v in zip(terms, left, strict=True) if v < 1e-9]
    if absorbed:
        raise ParameterError(f"regressors absorbed by the fixed effects (no variation): {absorbed}")
    params, _, rank, _ = np.linalg.lstsq(xt, yt, rcond=None)
    if rank < xt.shape[1]:
        raise ParameterError(f"collinear regressors after the within transformation: {list(terms)}")
    resid = yt - xt @ params
    n_abs = count_absorbed_df(codes_a, codes_b, clusters, fe_df=fe_df)
    vcov = compute_cluster_vcov(xt, resid, clusters, n_params_total=xt.shape[1] + n_abs)
    n_clusters = len(np.unique(clusters))
    return WithinFit(
        terms=tuple(terms),
        params=params,
        vcov=vcov,
        n_obs=len(y),
        n_clusters=n_clusters,
        n_slopes=xt.shape[1],
        n_absorbed_df=n_abs,
        df_resid=n_clusters - 1,
        resid=resid,
        n_iterations=n_sweeps,
    )
