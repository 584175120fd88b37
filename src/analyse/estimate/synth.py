"""A counterfactual for each territory sheet: synthetic control of its local unemployment.

For every Territoire d'industrie (phase 1, and phase 2), the treated series is the territory's
unemployment rate: the mean of its zones d'emploi weighted by the territory's population in each
zone (``communes.population``, INSEE population légale) or, when that column is absent, by its
number of communes there. Donors are zones d'emploi outside any Territoire d'industrie (of either
phase): at most ``donor_max_share`` (default 5 %) of their population (or communes) in a TI.

Estimator: synthetic control with an intercept ("demeaned" SC; Doudchenko & Imbens 2016, Ferman &
Pinto 2021): non-negative donor weights summing to one minimise the pre-label squared gap between
the territory's and the donors' rates, each taken as deviation from its own pre-label mean. The
intercept lets a territory with structurally higher unemployment than every donor still be
matched on its dynamics (plain SC needs it inside the donors' convex hull). Pre-label window
``pre_start`` (2014-T1, first quarter of the overseas zones) to the quarter before the label;
the label quarter (2018-T4, partially treated) is left out of both the fit and the gap.

Reported per territory (``synth_summary``): the pre-label fit (RMSPE, percentage points), the gap
after the label (mean of observed − synthetic over 2019-T1..2019-T4, before COVID-19), and a
placebo-in-space p-value: each donor is synthesised from the other donors (once, reused for all
territories) and the p-value is the share of the ``J + 1`` units (donors and the territory) whose
post/pre RMSPE ratio is at least the territory's (Abadie, Diamond & Hainmueller 2010). Gaps from
2020-T1 are shown (``synth_series.segment = "mixed"``) but mix the label with the France Relance
fund and COVID-19: not causal.

Printing rule (``is_printed``): the counterfactual is printed only when the label falls inside
the panel, the territory has a published rate, at least ``min_donors`` donors exist, and the
pre-label RMSPE is at most ``max_rmspe_pp`` (default 0.15 point: the synthetic control follows
the territory's quarterly rate to within about a seventh of a point before the label, a fraction
of the post-label gaps of interest; on the real panel the median fit is about 0.05 point and the
rule drops overseas, Corsican and a few steeply trending industrial territories that no donor
combination follows). Otherwise the sheet prints "n.d." with ``nd_reason``:
``labelled_after_panel`` (phase-2 territory labelled from November 2023, after the panel's last
quarter 2023-T3, and not continuing a phase-1 territory), ``no_data``, ``few_donors``,
``poor_fit``. A phase-2 territory most of whose weight (>= 50 %) lay in phase-1 territories is
treated as continuing them (label date of phase 1, ``continues_phase1``).

Causal reading: the gap is the label's effect on the territory only if, absent the label, the
territory would have followed its synthetic control (which fits its past) — an assumption,
weaker than parallel trends with all zones, and unverifiable; the placebo p-value says how
unusual the gap is among donors with no label. Solver: exact simplex-constrained least squares
per unit (Lawson–Hanson NNLS on the problem augmented with a heavily weighted sum-to-one row,
then an exact equality-constrained polish on the support); everything else is vectorised.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import polars as pl
from scipy import optimize

from analyse.errors import ParameterError
from analyse.estimate import did
from analyse.reference import LABEL_PERIOD

#: First quarter of treatment of phase 2 (label from November 2023), after the panel's end.
PHASE2_LABEL_PERIOD = "2023-T4"
MAX_RMSPE_PP = 0.15
MIN_DONORS = 10
DONOR_MAX_SHARE = 0.05
POST_END = did.PRE_COVID_END

SUMMARY_SCHEMA: dict[str, type[pl.DataType]] = {
    "ti_id": pl.String,
    "ti_phase": pl.Int8,
    "weighting": pl.String,
    "label_period": pl.String,
    "continues_phase1": pl.Boolean,
    "n_zones": pl.Int32,
    "n_donors": pl.Int32,
    "n_donors_used": pl.Int32,
    "pre_start": pl.String,
    "pre_end": pl.String,
    "post_start": pl.String,
    "post_end": pl.String,
    "rmspe_pre_pp": pl.Float64,
    "rmspe_post_pp": pl.Float64,
    "rmspe_ratio": pl.Float64,
    "gap_post_pp": pl.Float64,
    "gap_mixed_pp": pl.Float64,
    "p_value_placebo": pl.Float64,
    "n_placebos": pl.Int32,
    "max_rmspe_pp": pl.Float64,
    "is_printed": pl.Boolean,
    "nd_reason": pl.String,
    "top_donors": pl.String,
    "kind": pl.String,
}

KIND_SYNTH = (
    "causal under assumptions (absent the label the territory would have followed its "
    "synthetic control; no spillovers to donor zones)"
)


# ---------------------------------------------------------------------------- solver


def simplex_least_squares(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``argmin ‖a w − b‖²`` over ``w >= 0, Σ w = 1`` (exact on the solution's support).

    NNLS on ``[a; λ·1'] w ≈ [b; λ]`` with a large ``λ`` finds the support; the equality-
    constrained least squares on that support is then solved exactly (KKT system) and kept
    when non-negative.
    """
    n = a.shape[1]
    scale = max(float(np.abs(a).max()), 1e-12)
    lam = 1e4 * scale * np.sqrt(a.shape[0])
    w, _ = optimize.nnls(np.vstack([a, np.full((1, n), lam)]), np.r_[b, lam], maxiter=50 * n)
    w = w / w.sum() if w.sum() > 0 else np.full(n, 1.0 / n)
    support = np.flatnonzero(w > 1e-12)
    k = len(support)
    sub = a[:, support]
    kkt = np.zeros((k + 1, k + 1))
    kkt[:k, :k] = sub.T @ sub
    kkt[:k, k] = kkt[k, :k] = 1.0
    try:
        sol = np.linalg.solve(kkt, np.r_[sub.T @ b, 1.0])[:k]
    except np.linalg.LinAlgError:
        return w
    if np.all(sol >= -1e-12):
        exact = np.zeros(n)
        exact[support] = np.clip(sol, 0.0, None)
        return exact / exact.sum()
    return w


def fit_synthetic_controls(
    treated: np.ndarray, donors: np.ndarray, pre: np.ndarray, *, intercept: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Weights ``(J, K)`` and synthetic series ``(T, K)`` for ``K`` treated series.

    ``treated`` ``(T, K)``, ``donors`` ``(T, J)``, ``pre`` boolean ``(T,)`` marks the fitting
    quarters. With ``intercept`` every series is centred on its pre-period mean before fitting and
    the synthetic series is shifted back to the treated pre-period mean.
    """
    y1, y0 = np.atleast_2d(treated.T).T, donors
    m1 = y1[pre].mean(axis=0) if intercept else np.zeros(y1.shape[1])
    m0 = y0[pre].mean(axis=0) if intercept else np.zeros(y0.shape[1])
    a = y0[pre] - m0
    w = np.column_stack([simplex_least_squares(a, y1[pre, k] - m1[k]) for k in range(y1.shape[1])])
    synthetic = (y0 - m0) @ w + m1
    return w, synthetic


def _rmspe(gap: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(gap[mask] ** 2, axis=0))


# ---------------------------------------------------------------------------- inputs


def territory_zone_weights(
    communes: pl.DataFrame, commune_territories: pl.DataFrame, *, weighting: str = "auto"
) -> pl.DataFrame:
    """Weight of each zone in each territory: ``ti_id, ti_phase, ze2020_code, weight,
    weight_phase1, weighting`` (population of the territory's communes in the zone, or their
    count; ``weight_phase1``: the part also in a phase-1 TI)."""
    use = did.resolve_exposure(communes, "auto" if weighting == "auto" else weighting)  # type: ignore[arg-type]
    cols = ["commune_insee", "ze2020_code"] + (
        [did.POPULATION_COLUMN] if use == "population" else []
    )
    base = communes.filter(pl.col("ze2020_code").is_not_null()).select(cols).unique("commune_insee")
    w = (
        pl.col(did.POPULATION_COLUMN).cast(pl.Float64).fill_null(0.0)
        if use == "population"
        else pl.lit(1.0)
    )
    phase1 = commune_territories.filter(pl.col("ti_phase") == 1).select("commune_insee").unique()
    return (
        commune_territories.select("commune_insee", "ti_id", "ti_phase")
        .unique()
        .join(base, on="commune_insee", how="inner")
        .with_columns(
            w.alias("_w"),
            pl.col("commune_insee").is_in(phase1["commune_insee"].implode()).alias("_p1"),
        )
        .group_by("ti_id", "ti_phase", "ze2020_code")
        .agg(
            pl.col("_w").sum().alias("weight"),
            (pl.col("_w") * pl.col("_p1")).sum().alias("weight_phase1"),
        )
        .with_columns(pl.lit(use).alias("weighting"))
        .sort("ti_id", "ze2020_code")
    )  # fmt: skip


def donor_zones(
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    *,
    max_share: float = DONOR_MAX_SHARE,
    weighting: str = "auto",
) -> list[str]:
    """Zones d'emploi with at most ``max_share`` of their population (or communes) in a TI of
    either phase."""
    any_ti = commune_territories.with_columns(pl.lit(1, dtype=pl.Int8).alias("ti_phase"))
    use = did.resolve_exposure(communes, "auto" if weighting == "auto" else weighting)  # type: ignore[arg-type]
    share = did.compute_zone_treatment(
        communes, any_ti, phase=1, weights=did.POPULATION_COLUMN if use == "population" else None
    )
    return share.filter(pl.col("treatment_intensity") <= max_share)["ze2020_code"].to_list()


def _rate_matrix(labour_panel: pl.DataFrame, quarters: np.ndarray) -> tuple[list[str], np.ndarray]:
    """Zones with a complete series over ``quarters`` and their rates ``(T, Z)``."""
    lo, hi = int(quarters.min()), int(quarters.max())
    wide = (
        labour_panel.filter(pl.col("quarter_index").is_between(lo, hi))
        .filter(pl.col(did.OUTCOME).is_not_null())
        .select("ze2020_code", "quarter_index", did.OUTCOME)
        .pivot("quarter_index", index="ze2020_code", values=did.OUTCOME)
        .sort("ze2020_code")
    )
    cols = [str(q) for q in quarters]
    present = [c for c in cols if c in wide.columns]
    if len(present) < len(cols):
        raise ParameterError("labour panel: quarters missing for every zone in the window")
    wide = wide.drop_nulls(cols)
    return wide["ze2020_code"].to_list(), wide.select(cols).to_numpy().T


# ---------------------------------------------------------------------------- runner


def run_synthetic_controls(
    labour_panel: pl.DataFrame,
    communes: pl.DataFrame,
    commune_territories: pl.DataFrame,
    territories: pl.DataFrame | None = None,
    *,
    label_period: str = LABEL_PERIOD,
    phase2_label_period: str = PHASE2_LABEL_PERIOD,
    pre_start: str = did.DEFAULT_START,
    post_end: str = POST_END,
    weighting: str = "auto",
    donor_max_share: float = DONOR_MAX_SHARE,
    max_rmspe_pp: float = MAX_RMSPE_PP,
    min_donors: int = MIN_DONORS,
    intercept: bool = True,
    n_top_donors: int = 3,
) -> dict[str, pl.DataFrame]:
    """Synthetic controls for every territory of ``commune_territories`` (and of ``territories``,
    so territories with no commune still get a row). Returns plain frames:

    * ``synth_summary`` (:data:`SUMMARY_SCHEMA`): one row per territory (see module docstring);
      ``top_donors`` lists the ``n_top_donors`` largest weights as ``"code:weight"`` joined by
      ``";"``.
    * ``synth_series``: ``ti_id, ti_phase, period, quarter_index, observed_pct, synthetic_pct,
      gap_pp, segment`` (``pre``, ``label_quarter``, ``post``, ``mixed``) for every fitted
      territory, ``pre_start`` to the end of the panel.
    * ``synth_weights``: ``ti_id, ti_phase, ze2020_code, weight`` (weights above 0.001).
    * ``synth_placebos``: ``ze2020_code, rmspe_pre_pp, rmspe_post_pp, rmspe_ratio, gap_post_pp``
      of each donor synthesised from the others.
    """
    event = did.parse_period(label_period)
    first = did.parse_period(pre_start)
    last = int(labour_panel["quarter_index"].max())
    quarters = np.arange(first, last + 1)
    pre = quarters < event
    post = (quarters > event) & (quarters <= did.parse_period(post_end))
    mixed = quarters > did.parse_period(post_end)
    zones, rates = _rate_matrix(labour_panel, quarters)
    zone_pos = {z: i for i, z in enumerate(zones)}
    donors = [z for z in donor_zones(communes, commune_territories, max_share=donor_max_share,
                                     weighting=weighting) if z in zone_pos]  # fmt: skip
    y0 = rates[:, [zone_pos[z] for z in donors]]
    tzw = territory_zone_weights(communes, commune_territories, weighting=weighting)
    ids = tzw.select("ti_id", "ti_phase").unique()
    if territories is not None:
        ids = pl.concat(
            [ids, territories.select("ti_id", pl.col("ti_phase").cast(pl.Int8))]
        ).unique()
    ids = ids.sort("ti_phase", "ti_id")
    # treated series: weighted mean over the territory's zones with a complete series
    use = tzw.filter(pl.col("ze2020_code").is_in(zones)).with_columns(
        pl.col("ze2020_code").replace_strict(zone_pos, return_dtype=pl.Int64).alias("_pos")
    )
    keyed = {(r[0], r[1]): r[2:] for r in use.group_by("ti_id", "ti_phase").agg(
        pl.col("_pos"), pl.col("weight"), pl.col("weight_phase1")).iter_rows()}  # fmt: skip
    totals = dict(
        tzw.group_by("ti_id", "ti_phase")
        .agg((pl.col("weight_phase1").sum() / pl.col("weight").sum()).alias("s"))
        .select(pl.concat_str("ti_id", pl.col("ti_phase").cast(pl.String), separator="|"), "s")
        .iter_rows()
    )
    fit_ids, series, meta = [], [], []
    for ti_id, phase in ids.iter_rows():
        share1 = totals.get(f"{ti_id}|{phase}") or 0.0
        continues = phase == 2 and share1 >= 0.5
        reason = None
        if phase == 2 and not continues and did.parse_period(phase2_label_period) > last:
            reason = "labelled_after_panel"
        entry = keyed.get((ti_id, phase))
        if reason is None and (entry is None or sum(entry[1]) <= 0):
            reason = "no_data"
        if reason is None and len(donors) < min_donors:
            reason = "few_donors"
        meta.append((ti_id, phase, continues, reason))
        if reason is None:
            pos, w = np.asarray(entry[0]), np.asarray(entry[1], dtype=float)
            series.append(rates[:, pos] @ (w / w.sum()))
            fit_ids.append((ti_id, phase))
    summary_rows, path_frames, weight_rows = [], [], []
    placebo = _donor_placebos(y0, pre, post, intercept)
    if fit_ids:
        y1 = np.column_stack(series)
        w, synth = fit_synthetic_controls(y1, y0, pre, intercept=intercept)
        gap = y1 - synth
        rm_pre, rm_post = _rmspe(gap, pre), _rmspe(gap, post)
        ratio = rm_post / np.maximum(rm_pre, 1e-12)
        ratios = placebo["rmspe_ratio"].to_numpy()
        pvals = (1 + (ratios[None, :] >= ratio[:, None]).sum(axis=1)) / (1 + len(ratios))
        for k, (ti_id, phase) in enumerate(fit_ids):
            top = np.argsort(-w[:, k])[:n_top_donors]
            weight_rows += [
                (ti_id, phase, donors[j], float(w[j, k])) for j in np.flatnonzero(w[:, k] > 1e-3)
            ]
            path_frames.append(
                _paths(ti_id, phase, quarters, y1[:, k], synth[:, k], event, pre, post, mixed)
            )
            summary_rows.append({
                "ti_id": ti_id, "ti_phase": phase, "n_donors_used": int((w[:, k] > 1e-3).sum()),
                "rmspe_pre_pp": float(rm_pre[k]), "rmspe_post_pp": float(rm_post[k]),
                "rmspe_ratio": float(ratio[k]), "gap_post_pp": float(gap[post, k].mean()),
                "gap_mixed_pp": float(gap[mixed, k].mean()) if mixed.any() else None,
                "p_value_placebo": float(pvals[k]), "n_placebos": len(ratios),
                "top_donors": ";".join(f"{donors[j]}:{w[j, k]:.3f}" for j in top if w[j, k] > 1e-3),
            })  # fmt: skip
    fitted = {(r["ti_id"], r["ti_phase"]): r for r in summary_rows}
    n_zones = dict(
        ((r[0], r[1]), r[2]) for r in tzw.group_by("ti_id", "ti_phase").len().iter_rows()
    )
    weighting_used = tzw["weighting"][0] if tzw.height else "communes"
    rows = []
    for ti_id, phase, continues, reason in meta:
        row = fitted.get((ti_id, phase), {})
        if reason is None and row["rmspe_pre_pp"] > max_rmspe_pp:
            reason = "poor_fit"
        lp = label_period if (phase == 1 or continues) else phase2_label_period
        rows.append({
            "ti_id": ti_id, "ti_phase": phase, "weighting": weighting_used, "label_period": lp,
            "continues_phase1": continues, "n_zones": n_zones.get((ti_id, phase), 0),
            "n_donors": len(donors), "pre_start": pre_start,
            "pre_end": did.format_period(event - 1), "post_start": did.format_period(event + 1),
            "post_end": post_end, "max_rmspe_pp": max_rmspe_pp, "is_printed": reason is None,
            "nd_reason": reason,
            "kind": KIND_SYNTH, **row,
        })  # fmt: skip
    return {
        "synth_summary": pl.DataFrame(rows, schema=SUMMARY_SCHEMA, orient="row"),
        "synth_series": pl.concat(path_frames) if path_frames else _empty_paths(),
        "synth_weights": pl.DataFrame(
            weight_rows,
            schema={"ti_id": pl.String, "ti_phase": pl.Int8, "ze2020_code": pl.String, "weight": pl.Float64},
            orient="row",
        ),
        "synth_placebos": placebo.with_columns(pl.Series("ze2020_code", donors, dtype=pl.String)).select(
            "ze2020_code", "rmspe_pre_pp", "rmspe_post_pp", "rmspe_ratio", "gap_post_pp"
        ),
    }  # fmt: skip


def _donor_placebos(
    y0: np.ndarray, pre: np.ndarray, post: np.ndarray, intercept: bool
) -> pl.DataFrame:
    """Each donor synthesised from the other donors (placebo-in-space distribution)."""
    n = y0.shape[1]
    rows = []
    for j in range(n):
        others = np.delete(y0, j, axis=1)
        _, synth = fit_synthetic_controls(y0[:, [j]], others, pre, intercept=intercept)
        gap = y0[:, j] - synth[:, 0]
        r_pre = float(np.sqrt(np.mean(gap[pre] ** 2)))
        r_post = float(np.sqrt(np.mean(gap[post] ** 2)))
        rows.append((r_pre, r_post, r_post / max(r_pre, 1e-12), float(gap[post].mean())))
    return pl.DataFrame(
        rows,
        schema={"rmspe_pre_pp": pl.Float64, "rmspe_post_pp": pl.Float64,
                "rmspe_ratio": pl.Float64, "gap_post_pp": pl.Float64},
        orient="row",
    )  # fmt: skip


def _paths(ti_id, phase, quarters, observed, synthetic, event, pre, post, mixed) -> pl.DataFrame:
    segment = np.where(
        pre, "pre", np.where(post, "post", np.where(mixed, "mixed", "label_quarter"))
    )
    return pl.DataFrame(
        {
            "ti_id": ti_id,
            "ti_phase": pl.Series([phase] * len(quarters), dtype=pl.Int8),
            "period": [did.format_period(int(q)) for q in quarters],
            "quarter_index": pl.Series(quarters, dtype=pl.Int32),
            "observed_pct": observed,
            "synthetic_pct": synthetic,
            "gap_pp": observed - synthetic,
            "segment": segment,
        }
    )


def _empty_paths() -> pl.DataFrame:
    return pl.DataFrame(
        schema={"ti_id": pl.String, "ti_phase": pl.Int8, "period": pl.String,
                "quarter_index": pl.Int32, "observed_pct": pl.Float64,
                "synthetic_pct": pl.Float64, "gap_pp": pl.Float64, "segment": pl.String}
    )  # fmt: skip


def simulate_synthetic_world(
    *,
    n_donors: int = 40,
    n_treated: int = 5,
    first_period: str = "2014-T1",
    n_quarters: int = 39,
    label_period: str = LABEL_PERIOD,
    gap_pp: Sequence[float] | float = -0.5,
    noise: float = 0.05,
    seed: int | None = None,
) -> tuple[pl.DataFrame, np.ndarray]:
    """Verification data: donors from 3 latent factors, treated units exact convex combinations
    of donors plus a level shift, plus ``gap_pp`` (per treated unit) after the label quarter.

    Returns the labour-panel-shaped frame (zones ``D000..``, ``T000..``) and the true weights
    ``(n_donors, n_treated)``.
    """
    rng = np.random.default_rng(seed)
    q0 = did.parse_period(first_period)
    qi = q0 + np.arange(n_quarters)
    factors = np.cumsum(rng.normal(0, 0.3, (n_quarters, 3)), axis=0)
    loadings = rng.uniform(0.2, 1.5, (3, n_donors))
    donors = 8.0 + rng.normal(0, 1.0, n_donors) + factors @ loadings
    donors += rng.normal(0, noise, donors.shape)
    weights = np.zeros((n_donors, n_treated))
    for k in range(n_treated):
        pick = rng.choice(n_donors, 4, replace=False)
        weights[pick, k] = rng.dirichlet(np.ones(4))
    gaps = np.broadcast_to(np.asarray(gap_pp, dtype=float), (n_treated,))
    after = (qi > did.parse_period(label_period)).astype(float)
    treated = donors @ weights + rng.normal(0, 1.0, n_treated) + after[:, None] * gaps[None, :]
    codes = [f"D{j:03d}" for j in range(n_donors)] + [f"T{k:03d}" for k in range(n_treated)]
    values = np.column_stack([donors, treated])
    frame = pl.DataFrame(
        {
            "ze2020_code": np.repeat(codes, n_quarters),
            "region_code": "84",
            "period": np.tile([did.format_period(int(q)) for q in qi], len(codes)),
            "quarter_index": np.tile(qi, len(codes)).astype(np.int32),
            did.OUTCOME: values.T.ravel(),
            "is_synthetic": True,
        }
    )
    return frame, weights
