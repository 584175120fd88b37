"""Rambachan–Roth "honest DiD" sensitivity bounds for an event study (own implementation).

Rambachan & Roth (2023), *A More Credible Approach to Parallel Trends*, Review of Economic
Studies 90(5). The event-study coefficients are ``β = τ + δ`` with ``τ_pre = 0``: ``δ`` is the
violation of parallel trends, observed before the label (``δ_pre = E[β_pre]``) and unknown after.
The target is ``θ = l'τ_post`` (here the average effect over the fully treated post quarters).
Instead of assuming ``δ_post = 0``, one bounds how much ``δ_post`` may differ from what the
pre-period shows, and reports a confidence set for ``θ`` valid for every ``δ`` in the set:

* **smoothness** ``Δ^SD(M)``: the slope of ``δ`` may change by at most ``M`` (percentage points
  per quarter, per quarter) between consecutive quarters; ``M = 0`` allows exactly a linear
  trend through the reference quarter, extrapolated from the leads. Inference: the optimal
  fixed-length confidence interval (FLCI, Armstrong & Kolesár 2018), as recommended by the paper
  for this restriction: the affine estimator ``l'β_post + v'β_pre`` whose worst-case bias over
  ``Δ^SD(M)`` and standard error give the shortest interval ``± cv_α(bias/sd)·sd``, with
  ``cv_α(t)`` the ``1-α`` quantile of ``|N(t, 1)|``.
* **relative magnitudes** ``Δ^RM(M̄)``: every post-label change of ``δ`` between consecutive
  quarters is at most ``M̄`` times the largest such change before the label; ``M̄ = 0`` is exact
  parallel trends after the label (the conventional interval). Inference: the conditional /
  least-favourable hybrid moment-inequality test of Andrews, Roth & Pakes (2023), inverted over a
  grid of ``θ``, on the union of the polyhedra "the largest pre-period change is change ``s``
  with sign ``±``" (as in the paper). One documented departure: the post-period nuisance
  parameters are eliminated analytically before the test — under ``Δ^RM`` the post changes only
  face box constraints, so ``∃ δ_post`` reduces to ``|l'β_post − θ| ≤ M̄·‖L‖₁·m`` with
  ``L_j = Σ_{t≥j} l_t`` and ``m`` the largest pre change. The ARP test is then applied to this
  equivalent system without nuisance parameters, where the least-favourable critical value and
  the conditioning bounds are exact and closed-form (no linear programme per grid point). Same
  null hypothesis and identified set as the paper; power can differ slightly from the LP form.

Breakdown values: the smallest ``M`` (or ``M̄``) at which the interval includes 0 — how large a
violation of parallel trends overturns the sign of a significant estimate; 0 when the
conventional interval (or the ``M = 0`` one) already includes 0.

These are sensitivity analyses of the event study's causal reading: under the stated
restriction the interval covers ``θ`` with probability at least ``1 - α`` (asymptotically).
Verified in ``tests/test_honest.py``: ``M = 0`` equals linear extrapolation, ``M̄ = 0`` the
conventional interval, and Monte Carlo coverage at the boundary of each set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from scipy import optimize, special, stats

from analyse.errors import ParameterError

Restriction = Literal["smoothness", "relative_magnitude"]

HONEST_SCHEMA: dict[str, type[pl.DataType]] = {
    "treatment": pl.String,
    "exposure": pl.String,
    "restriction": pl.String,
    "m": pl.Float64,
    "estimate": pl.Float64,
    "ci_low": pl.Float64,
    "ci_high": pl.Float64,
    "includes_zero": pl.Boolean,
    "method": pl.String,
    "target": pl.String,
    "alpha": pl.Float64,
}
BREAKDOWN_SCHEMA: dict[str, type[pl.DataType]] = {
    "treatment": pl.String,
    "exposure": pl.String,
    "restriction": pl.String,
    "breakdown_m": pl.Float64,
    "status": pl.String,
    "m_unit": pl.String,
    "target": pl.String,
    "alpha": pl.Float64,
}

METHOD_FLCI = "FLCI (Armstrong-Kolesar), smoothness Delta^SD(M)"
METHOD_RM = "ARP conditional-LF hybrid test inversion, relative magnitudes Delta^RM(Mbar)"
METHOD_CONVENTIONAL = "conventional (parallel trends after the label)"


@dataclass(frozen=True)
class EventStudyInput:
    """Event-study estimates for the sensitivity analysis (reference quarter omitted).

    ``beta`` stacks the ``n_pre`` pre-label coefficients, oldest first (relative quarters
    ``-n_pre-1 .. -2``; the reference ``-1`` is omitted, its coefficient is 0), then the
    ``n_post`` post coefficients (``0 .. n_post-1``); ``sigma`` is their covariance; ``l_vec``
    weights the post coefficients into the target ``θ = l'τ_post``.
    """

    beta: np.ndarray
    sigma: np.ndarray
    n_pre: int
    n_post: int
    l_vec: np.ndarray

    def __post_init__(self) -> None:
        n = self.n_pre + self.n_post
        if self.beta.shape != (n,) or self.sigma.shape != (n, n):
            raise ParameterError(f"beta must have {n} entries and sigma be {n}×{n}")
        if self.l_vec.shape != (self.n_post,):
            raise ParameterError(f"l_vec must have n_post = {self.n_post} entries")
        if self.n_pre < 1 or self.n_post < 1:
            raise ParameterError("need at least one pre and one post coefficient")

    @property
    def theta_hat(self) -> float:
        return float(self.l_vec @ self.beta[self.n_pre :])

    @property
    def theta_se(self) -> float:
        s = self.sigma[self.n_pre :, self.n_pre :]
        return float(np.sqrt(self.l_vec @ s @ self.l_vec))


def conventional_ci(es: EventStudyInput, alpha: float = 0.05) -> tuple[float, float]:
    """``θ̂ ± z_{1-α/2}·se`` (normal, as in the paper)."""
    z = stats.norm.ppf(1.0 - alpha / 2.0)
    return es.theta_hat - z * es.theta_se, es.theta_hat + z * es.theta_se


# ---------------------------------------------------------------------------- smoothness (FLCI)


def folded_normal_quantile(t: float | np.ndarray, alpha: float) -> float | np.ndarray:
    """``1-α`` quantile ``c`` of ``|N(t, 1)|``: ``Φ(c − t) − Φ(−c − t) = 1 − α`` (Newton)."""
    t_arr = np.abs(np.asarray(t, dtype=float))
    c = np.maximum(t_arr + stats.norm.ppf(1.0 - alpha), stats.norm.ppf(1.0 - alpha / 2.0))
    for _ in range(50):
        f = special.ndtr(c - t_arr) - special.ndtr(-c - t_arr) - (1.0 - alpha)
        step = (
            f
            / (np.exp(-0.5 * (c - t_arr) ** 2) + np.exp(-0.5 * (c + t_arr) ** 2))
            * np.sqrt(2.0 * np.pi)
        )
        c = c - step
        if np.all(np.abs(step) < 1e-13 * (1.0 + c)):
            break
    return float(c) if np.ndim(t) == 0 else c


def _sd_maps(n_pre: int, n_post: int) -> tuple[np.ndarray, np.ndarray]:
    """``G`` (T×(T-2)) and ``trend`` (T): every ``δ`` with ``δ_ref = 0`` is ``c·trend + G·s``,
    ``s`` its second differences. Rows index the full vector with the reference at ``n_pre``."""
    t_len = n_pre + 1 + n_post
    ref = n_pre
    second = np.zeros((t_len - 2, t_len))
    for i in range(1, t_len - 1):
        second[i - 1, i - 1 : i + 2] = (1.0, -2.0, 1.0)
    level = np.zeros(t_len)
    level[ref] = 1.0
    slope = np.zeros(t_len)
    slope[ref + 1], slope[ref] = 1.0, -1.0
    inverse = np.linalg.inv(np.vstack([second, level, slope]))
    return inverse[:, : t_len - 2], inverse[:, t_len - 1]


def _full(es: EventStudyInput, v_pre: np.ndarray) -> np.ndarray:
    return np.concatenate([v_pre, [0.0], es.l_vec])


def _gls_extrapolation(es: EventStudyInput, trend: np.ndarray) -> np.ndarray:
    """Pre-period weights of the minimum-variance estimator invariant to linear trends (the
    optimum at ``M = 0``): ``min v'Σv`` subject to ``trend'v = 0`` with ``v_post = l``."""
    p = es.n_pre
    s_pre = es.sigma[:p, :p]
    cross = es.sigma[:p, p:] @ es.l_vec
    t_pre, t_post = trend[:p], trend[p + 1 :] @ es.l_vec
    s_inv_t = np.linalg.solve(s_pre, t_pre)
    s_inv_c = np.linalg.solve(s_pre, cross)
    lam = (-t_post + t_pre @ s_inv_c) / (t_pre @ s_inv_t)
    return -s_inv_c + lam * s_inv_t


def _cv_slope(t: float, c: float) -> float:
    """``dc/dt`` of the folded-normal quantile (implicit differentiation)."""
    a, b = np.exp(-0.5 * (c - t) ** 2), np.exp(-0.5 * (c + t) ** 2)
    return float((a - b) / (a + b))


def flci_weights(es: EventStudyInput, m: float, alpha: float = 0.05) -> tuple[np.ndarray, float]:
    """Weights ``v`` on ``β̂`` (pre then post) of the optimal FLCI and its half-length.

    They depend on ``Σ``, ``l``, ``m`` and ``α`` only, not on ``β̂``: the interval is
    ``v'β̂ ± half_length`` (see :func:`flci_smoothness`).

    Minimises the half-length ``χ = sd(v)·cv_α(m·‖G'v‖₁ / sd(v))`` over the pre-period weights
    ``v`` of the affine estimator ``l'β̂_post + v'β̂_pre``, among estimators invariant to linear
    trends (otherwise the worst-case bias is infinite). With epigraph variables ``w >= |G'v|``
    the objective is smooth and convex (perspective of the convex ``cv_α``), solved by SLSQP with
    analytic gradients from the ``m = 0`` optimum, which is linear extrapolation of the leads
    (GLS, closed form). The problem is solved on a rescaled covariance (unit mean variance).
    """
    if m < 0:
        raise ParameterError("M must be >= 0")
    p = es.n_pre
    g, trend = _sd_maps(p, es.n_post)
    v_gls = _gls_extrapolation(es, trend)
    scale = float(np.sqrt(np.mean(np.diag(es.sigma))))
    sig = es.sigma / scale**2
    ms = m / scale
    s_pp, cross = sig[:p, :p], sig[:p, p:] @ es.l_vec
    const = float(es.l_vec @ sig[p:, p:] @ es.l_vec)
    gp, g0 = g[:p].T, g[p + 1 :].T @ es.l_vec
    n_w = g.shape[1]

    def chi(z: np.ndarray) -> tuple[float, np.ndarray]:
        v, w = z[:p], z[p:]
        sd = float(np.sqrt(max(v @ s_pp @ v + 2.0 * v @ cross + const, 1e-300)))
        t = ms * float(w.sum()) / sd
        c = folded_normal_quantile(t, alpha)
        slope = _cv_slope(t, c)
        grad = np.empty_like(z)
        grad[:p] = (c - t * slope) * (s_pp @ v + cross) / sd
        grad[p:] = slope * ms
        return sd * c, grad

    z0 = np.r_[v_gls, np.abs(gp @ v_gls + g0)]
    best_v, best = v_gls, chi(z0)[0]
    if ms > 0:
        eye = np.eye(n_w)
        cons = [
            {"type": "eq", "fun": lambda z: z[:p] @ trend[:p] + trend[p + 1 :] @ es.l_vec,
             "jac": lambda z: np.r_[trend[:p], np.zeros(n_w)]},
            {"type": "ineq",
             "fun": lambda z: np.r_[z[p:] - gp @ z[:p] - g0, z[p:] + gp @ z[:p] + g0],
             "jac": lambda z: np.vstack([np.hstack([-gp, eye]), np.hstack([gp, eye])])},
        ]  # fmt: skip
        res = optimize.minimize(
            chi, z0, jac=True, constraints=cons, method="SLSQP",
            options={"maxiter": 1000, "ftol": 1e-14},
        )  # fmt: skip
        v = res.x[:p]
        value = chi(np.r_[v, np.abs(gp @ v + g0)])[0]
        if value < best:
            best_v, best = v, value
    return np.r_[best_v, es.l_vec], best * scale


def flci_smoothness(
    es: EventStudyInput, m: float, alpha: float = 0.05
) -> tuple[float, float, float]:
    """Optimal FLCI for ``θ`` under ``Δ^SD(m)``: ``(centre, lower, upper)``.

    Minimises the half-length ``χ = sd(v)·cv_α(m·‖G'v‖₁ / sd(v))`` over the pre-period weights
    ``v`` of the affine estimator ``l'β̂_post + v'β̂_pre``, among estimators invariant to linear
    trends (otherwise the worst-case bias is infinite); see :func:`flci_weights`.
    """
    v, half = flci_weights(es, m, alpha)
    centre = float(v @ es.beta)
    return centre, centre - half, centre + half


# ---------------------------------------------------------------------------- relative magnitudes


def _trunc_upper_p(x: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """``P(Z >= x | lo <= Z <= hi)`` for a standard normal ``Z`` (stable in both tails)."""
    x = np.clip(x, lo, hi)
    upper = lo > 0  # use survival functions in the upper tail
    num = np.where(
        upper,
        special.ndtr(-x) - special.ndtr(-hi),
        special.ndtr(hi) - special.ndtr(x),
    )
    den = np.where(
        upper,
        special.ndtr(-lo) - special.ndtr(-hi),
        special.ndtr(hi) - special.ndtr(lo),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        p = num / den
    return np.where(den > 1e-300, np.clip(p, 0.0, 1.0), 1.0)


def _pre_changes(n_pre: int) -> np.ndarray:
    """``(n_pre, n_pre + n_post)``-agnostic map: row ``j`` is ``δ_{j+1} − δ_j`` over the pre
    coefficients and the reference (0); returned on the ``n_pre`` pre coordinates."""
    d = np.zeros((n_pre, n_pre))
    for j in range(n_pre):
        d[j, j] = -1.0
        if j + 1 < n_pre:
            d[j, j + 1] = 1.0
    return d


@dataclass(frozen=True)
class _Polyhedron:
    rows: np.ndarray  # (r, n_beta) coefficients on β
    theta_rows: np.ndarray  # (r,) coefficient of θ̄ in each row (Y = rows·β − theta_rows·θ̄)
    sd: np.ndarray  # (r,) standard deviations of the rows
    corr: np.ndarray  # (r, r) correlations
    c_lf: float  # least-favourable critical value (first stage of the hybrid)


class _RelativeMagnitudes:
    """The moment inequalities ``E[Y] <= 0`` of every polyhedron of ``Δ^RM(M̄)``, nuisance
    eliminated: rows ``±Δ_j − σΔ_s`` (``j != s``), ``−σΔ_s`` and
    ``±(θ̂ − θ̄) − M̄·‖L‖₁·σΔ_s``, for each pre change ``s`` and sign ``σ``.

    Draws of ``N(0, Σ)`` (fixed seed) give the least-favourable critical values; they are
    projected once on the pre changes and on the target so each ``M̄`` costs little.
    """

    def __init__(self, es: EventStudyInput, n_draws: int = 5000, seed: int = 0) -> None:
        p, n = es.n_pre, es.n_pre + es.n_post
        self.es = es
        self.changes = np.zeros((p, n))
        self.changes[:, :p] = _pre_changes(p)
        self.theta = np.r_[np.zeros(p), es.l_vec]
        self.l_norm = float(np.abs(np.cumsum(es.l_vec[::-1])[::-1]).sum())
        chol = np.linalg.cholesky(es.sigma + 1e-14 * np.trace(es.sigma) * np.eye(n))
        draws = np.random.default_rng(seed).standard_normal((n_draws, n)) @ chol.T
        self.draw_changes = draws @ self.changes.T
        self.draw_theta = draws @ self.theta
        self._pre_max: dict[tuple[int, float], np.ndarray] = {}

    def _pre_rows(self, s: int, sign: float) -> np.ndarray:
        lead = sign * self.changes[s]
        others = [c for j, c in enumerate(self.changes) if j != s]
        return np.asarray([*(c - lead for c in others), *(-c - lead for c in others), -lead])

    def _pre_draw_max(self, s: int, sign: float, sd: np.ndarray) -> np.ndarray:
        key = (s, sign)
        if key not in self._pre_max:
            dc = self.draw_changes
            lead = sign * dc[:, s]
            others = np.delete(dc, s, axis=1)
            sims = np.column_stack([others - lead[:, None], -others - lead[:, None], -lead])
            self._pre_max[key] = (sims / sd[None, :]).max(axis=1)
        return self._pre_max[key]

    def polyhedra(self, mbar: float, kappa: float) -> list[_Polyhedron]:
        out = []
        for s in range(self.es.n_pre):
            for sign in (1.0, -1.0):
                lead = sign * self.changes[s]
                pre = self._pre_rows(s, sign)
                a = np.vstack([pre, self.theta - mbar * self.l_norm * lead,
                               -self.theta - mbar * self.l_norm * lead])  # fmt: skip
                th = np.zeros(len(a))
                th[-2], th[-1] = 1.0, -1.0
                cov = a @ self.es.sigma @ a.T
                sd = np.sqrt(np.clip(np.diag(cov), 1e-300, None))
                c_lf = np.inf
                if kappa > 0:
                    lead_d = sign * self.draw_changes[:, s] * mbar * self.l_norm
                    top = np.maximum(
                        self._pre_draw_max(s, sign, sd[: len(pre)]),
                        np.maximum(self.draw_theta - lead_d, -self.draw_theta - lead_d) / sd[-1],
                    )
                    c_lf = float(np.quantile(top, 1.0 - kappa))
                out.append(_Polyhedron(a, th, sd, cov / np.outer(sd, sd), c_lf))
        return out


def _rm_accept(
    es: EventStudyInput, poly: _Polyhedron, thetas: np.ndarray, alpha: float, kappa: float
) -> np.ndarray:
    """ARP hybrid test of ``H0: θ = θ̄, δ ∈ polyhedron`` for every ``θ̄`` in ``thetas``.

    Statistic ``η̂ = max_j Y_j/σ_j``; conditional on the selected row and on the part of ``Y``
    independent of ``η̂``, ``η̂`` is a standard normal truncated to ``[V_lo, V_up]`` under the
    least-favourable null; the hybrid first rejects when ``η̂`` exceeds the least-favourable
    critical value at level ``κ``, which also caps ``V_up``, then tests at
    ``(α − κ)/(1 − κ)``.
    """
    y = (poly.rows @ es.beta)[None, :] - thetas[:, None] * poly.theta_rows[None, :]
    z = y / poly.sd
    j_star = np.argmax(z, axis=1)
    eta = z[np.arange(len(thetas)), j_star]
    rho = poly.corr[:, j_star].T
    s = z - rho * eta[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        bounds = np.where(rho < 1.0 - 1e-12, s / (1.0 - rho), -np.inf)
    bounds[np.arange(len(thetas)), j_star] = -np.inf
    v_lo = bounds.max(axis=1)
    v_up = np.full(len(thetas), poly.c_lf)
    level = (alpha - kappa) / (1.0 - kappa) if kappa > 0 else alpha
    p = _trunc_upper_p(eta, v_lo, np.maximum(v_up, v_lo + 1e-12))
    return (eta <= v_up) & (p > level)


def rm_accepts(
    es: EventStudyInput,
    mbar: float,
    thetas: Sequence[float] | np.ndarray,
    *,
    alpha: float = 0.05,
    kappa: float | None = None,
    n_draws: int = 5000,
    seed: int = 0,
    setup: _RelativeMagnitudes | None = None,
) -> np.ndarray:
    """Whether each ``θ̄`` is in the ``Δ^RM(mbar)`` confidence set (union over polyhedra).

    ``kappa``: size of the least-favourable first stage of the hybrid (default ``α/10``, as in
    the paper); ``0`` gives the pure conditional test, which has little power when the selected
    moment has a close, highly correlated competitor — it then fails to reject polyhedra the
    leads plainly contradict, hence the hybrid by default.
    """
    if mbar < 0:
        raise ParameterError("Mbar must be >= 0")
    kappa = alpha / 10.0 if kappa is None else kappa
    thetas = np.atleast_1d(np.asarray(thetas, dtype=float))
    setup = setup or _RelativeMagnitudes(es, n_draws, seed)
    accepted = np.zeros(len(thetas), dtype=bool)
    for poly in setup.polyhedra(mbar, kappa):
        accepted |= _rm_accept(es, poly, thetas, alpha, kappa)
    return accepted


def rm_confidence_set(
    es: EventStudyInput,
    mbar: float,
    *,
    alpha: float = 0.05,
    kappa: float | None = None,
    grid_size: int = 801,
    n_draws: int = 5000,
    seed: int = 0,
    setup: _RelativeMagnitudes | None = None,
) -> tuple[float, float]:
    """``[lower, upper]`` of the ``Δ^RM(mbar)`` confidence set (convex hull of the accepted
    grid, as the paper reports it), refined by bisection at both ends. ``(nan, nan)`` when
    nothing is accepted."""
    if mbar < 0:
        raise ParameterError("Mbar must be >= 0")
    kappa = alpha / 10.0 if kappa is None else kappa
    polys = (setup or _RelativeMagnitudes(es, n_draws, seed)).polyhedra(mbar, kappa)

    def accept(thetas: np.ndarray) -> np.ndarray:
        out = np.zeros(len(thetas), dtype=bool)
        for poly in polys:
            out |= _rm_accept(es, poly, thetas, alpha, kappa)
        return out

    pre = es.beta[: es.n_pre]
    max_change = float(np.abs(_pre_changes(es.n_pre) @ pre).max())
    l_norm = float(np.abs(np.cumsum(es.l_vec[::-1])[::-1]).sum())
    half = 6.0 * es.theta_se + mbar * l_norm * (
        max_change + 6.0 * np.sqrt(es.sigma.diagonal()[: es.n_pre].max())
    )
    for _ in range(6):
        grid = es.theta_hat + np.linspace(-half, half, grid_size)
        ok = accept(grid)
        if not ok.any():
            return float("nan"), float("nan")
        if not (ok[0] or ok[-1]):
            break
        half *= 2.0
    idx = np.flatnonzero(ok)
    step = grid[1] - grid[0]

    def refine(inside: float, outside: float) -> float:
        for _ in range(30):
            mid = 0.5 * (inside + outside)
            if accept(np.array([mid]))[0]:
                inside = mid
            else:
                outside = mid
            if abs(outside - inside) < 1e-7 * max(step, 1e-12):
                break
        return inside

    lo = refine(grid[idx[0]], grid[idx[0]] - step)
    hi = refine(grid[idx[-1]], grid[idx[-1]] + step)
    return lo, hi


# ---------------------------------------------------------------------------- breakdown and frames


def breakdown_value(
    es: EventStudyInput,
    restriction: Restriction,
    *,
    alpha: float = 0.05,
    upper: float | None = None,
    rel_tol: float = 1e-3,
    setup: _RelativeMagnitudes | None = None,
) -> tuple[float | None, str]:
    """Smallest ``M`` (smoothness) or ``M̄`` (relative magnitudes) whose interval includes 0.

    Returns ``(value, status)``: status ``"includes_zero_at_0"`` (value 0: the interval without
    any violation already includes 0 — nothing to overturn), ``"found"`` (bisection to
    ``rel_tol``), or ``"not_found"`` (value None: 0 stays excluded up to ``upper``).
    """
    if restriction == "smoothness":

        def includes(m: float) -> bool:
            _, lo, hi = flci_smoothness(es, m, alpha)
            return lo <= 0.0 <= hi

        upper = upper if upper is not None else 20.0 * es.theta_se
    elif restriction == "relative_magnitude":
        setup = setup or _RelativeMagnitudes(es)

        def includes(m: float) -> bool:
            return bool(rm_accepts(es, m, [0.0], alpha=alpha, setup=setup)[0])

        upper = upper if upper is not None else 20.0
    else:
        raise ParameterError(f"unknown restriction {restriction!r}")
    if includes(0.0):
        return 0.0, "includes_zero_at_0"
    if not includes(upper):
        return None, "not_found"
    lo, hi = 0.0, upper
    while hi - lo > rel_tol * hi:
        mid = 0.5 * (lo + hi) if lo > 0 else hi / 4.0
        lo, hi = (lo, mid) if includes(mid) else (mid, hi)
    return hi, "found"


def compute_honest_bounds(
    es: EventStudyInput,
    *,
    treatment: str,
    exposure: str,
    target: str,
    m_grid: Sequence[float] | None = None,
    mbar_grid: Sequence[float] = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0),
    alpha: float = 0.05,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Sensitivity frames for a chart and the text: ``(bounds, breakdown)``.

    ``bounds`` (:data:`HONEST_SCHEMA`): one row per restriction and ``m`` (``M`` in percentage
    points per quarter², ``M̄`` unitless), plus the conventional interval (``restriction =
    "conventional"``, ``m`` null). ``breakdown`` (:data:`BREAKDOWN_SCHEMA`): one row per
    restriction with the breakdown value and its status. ``m_grid`` defaults to 9 points from 0
    to 3 × the smoothness breakdown (or, without one, to the ``M`` at which the worst-case bias
    of the linear-extrapolation estimator reaches two standard errors).
    """
    rows = []
    lo, hi = conventional_ci(es, alpha)
    common = {"treatment": treatment, "exposure": exposure, "target": target, "alpha": alpha}
    rows.append(
        {**common, "restriction": "conventional", "m": None, "estimate": es.theta_hat,
         "ci_low": lo, "ci_high": hi, "method": METHOD_CONVENTIONAL}
    )  # fmt: skip
    setup = _RelativeMagnitudes(es)
    sd_break, sd_status = breakdown_value(es, "smoothness", alpha=alpha)
    rm_break, rm_status = breakdown_value(es, "relative_magnitude", alpha=alpha, setup=setup)
    if m_grid is None:
        if sd_status == "found" and sd_break:
            top = 3.0 * sd_break
        else:  # M at which the worst-case bias of the M = 0 estimator reaches two errors
            g, trend = _sd_maps(es.n_pre, es.n_post)
            v = np.r_[_gls_extrapolation(es, trend), 0.0, es.l_vec]
            top = 2.0 * es.theta_se / max(float(np.abs(g.T @ v).sum()), 1e-12)
        m_grid = np.linspace(0.0, top, 9)
    for m in m_grid:
        centre, lo, hi = flci_smoothness(es, float(m), alpha)
        rows.append(
            {**common, "restriction": "smoothness", "m": float(m), "estimate": centre,
             "ci_low": lo, "ci_high": hi, "method": METHOD_FLCI}
        )  # fmt: skip
    for mbar in mbar_grid:
        lo, hi = rm_confidence_set(es, float(mbar), alpha=alpha, setup=setup)
        rows.append(
            {**common, "restriction": "relative_magnitude", "m": float(mbar),
             "estimate": es.theta_hat, "ci_low": lo, "ci_high": hi, "method": METHOD_RM}
        )  # fmt: skip
    for row in rows:
        row["includes_zero"] = bool(row["ci_low"] <= 0.0 <= row["ci_high"])
    bounds = pl.DataFrame(rows, schema=HONEST_SCHEMA, orient="row")
    breakdown = pl.DataFrame(
        [
            {**common, "restriction": "smoothness", "breakdown_m": sd_break,
             "status": sd_status, "m_unit": "percentage points per quarter squared"},
            {**common, "restriction": "relative_magnitude", "breakdown_m": rm_break,
             "status": rm_status, "m_unit": "multiple of the largest pre-label change"},
        ],
        schema=BREAKDOWN_SCHEMA,
        orient="row",
    )  # fmt: skip
    return bounds, breakdown
