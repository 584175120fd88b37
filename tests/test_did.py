"""DiD / event study for the TI label: exactness against statsmodels, Monte Carlo, real panel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from analyse.errors import ParameterError
from analyse.estimate import did
from analyse.estimate.models import TIDY_SCHEMA
from analyse.estimate.panel import demean_two_way, encode_groups, fit_within_ols
from analyse.tables import read_core_table

# ---------------------------------------------------------------------------- helpers


def _dummies(codes: np.ndarray) -> np.ndarray:
    """Treatment-coded dummies (first level dropped)."""
    levels = np.unique(codes)
    return (codes[:, None] == levels[None, 1:]).astype(float)


def _statsmodels_twfe(df: pl.DataFrame, x: np.ndarray, weights: np.ndarray | None = None):
    """The same regression with explicit zone and quarter dummies, clustered by zone."""
    zone = df["ze2020_code"].to_numpy()
    quarter = df["quarter_index"].to_numpy()
    design = np.column_stack([x, np.ones(df.height), _dummies(zone), _dummies(quarter)])
    y = df[did.OUTCOME].to_numpy()
    model = sm.OLS(y, design) if weights is None else sm.WLS(y, design, weights=weights)
    groups, _ = encode_groups(zone)
    return model.fit(cov_type="cluster", cov_kwds={"groups": groups}, use_t=True)


def _row(frame: pl.DataFrame, term: str) -> dict:
    return frame.filter(pl.col("term") == term).row(0, named=True)


# ---------------------------------------------------------------------------- periods, inputs


def test_period_round_trip_and_bad_input():
    assert did.parse_period("2018-T4") == 2018 * 4 + 3
    assert did.format_period(did.parse_period("2003-T1")) == "2003-T1"
    with pytest.raises(ParameterError, match="2018-T4"):
        did.parse_period("2018Q4")


def test_compute_zone_treatment_counts_shares_and_threshold():
    communes = pl.DataFrame(
        {
            "commune_insee": ["01001", "01002", "01003", "02001", "02002", "03001"],
            "ze2020_code": ["Z1", "Z1", "Z1", "Z2", "Z2", "Z3"],
            "pop": [100.0, 100.0, 800.0, 1.0, 1.0, 5.0],
        }
    )
    territories = pl.DataFrame(
        {
            "commune_insee": ["01001", "01002", "02001", "03001", "03001"],
            "ti_phase": pl.Series([1, 1, 1, 2, 2], dtype=pl.Int8),
            "ti_id": ["ti-1", "ti-1", "ti-2", "ti-9", "ti-9"],
        }
    )
    out = did.compute_zone_treatment(communes, territories, threshold=0.5)
    assert out["ze2020_code"].to_list() == ["Z1", "Z2", "Z3"]
    assert out["n_communes"].to_list() == [3, 2, 1]
    assert out["n_communes_ti"].to_list() == [2, 1, 0]
    assert out["treatment_intensity"].to_list() == pytest.approx([2 / 3, 0.5, 0.0])
    assert out["treated"].to_list() == [True, True, False]
    weighted = did.compute_zone_treatment(communes, territories, threshold=0.6, weights="pop")
    assert weighted["treatment_intensity"].to_list() == pytest.approx([0.2, 0.5, 0.0])
    assert weighted["treated"].to_list() == [False, False, False]
    phase2 = did.compute_zone_treatment(communes, territories, phase=2)
    assert phase2["n_communes_ti"].to_list() == [0, 0, 1]


def test_build_did_panel_refuses_zones_without_treatment():
    panel = did.simulate_did_panel(n_zones=4, n_quarters=14, first_period="2019-T1", seed=1)
    labour = panel.select("ze2020_code", "region_code", "period", "quarter_index", did.OUTCOME)
    zt = panel.group_by("ze2020_code").agg(
        pl.col("treatment_intensity").first(), pl.col("treated").first()
    )
    built = did.build_did_panel(labour, zt)
    assert built.height == labour.height
    assert built.filter(pl.col("is_covid_quarter"))["period"].unique().sort().to_list() == [
        "2020-T1",
        "2020-T2",
        "2020-T3",
        "2020-T4",
        "2021-T1",
        "2021-T2",
        "2021-T3",
        "2021-T4",
    ]
    with pytest.raises(ParameterError, match="no treatment row"):
        did.build_did_panel(labour, zt.filter(pl.col("ze2020_code") != "S000"))


# ---------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("balanced", [True, False])
def test_event_study_equals_statsmodels_with_dummies(balanced: bool):
    panel = did.simulate_did_panel(
        n_zones=14, n_quarters=10, first_period="2017-T3", effect=0.5, seed=3
    )
    if not balanced:  # drop a few cells: alternating projections instead of exact demeaning
        panel = panel.with_row_index("i").filter(~pl.col("i").is_in([2, 31, 77, 78])).drop("i")
    es = did.fit_event_study(
        panel,
        treatment="binary",
        leads=3,
        lags=2,
        reference=-1,
        start=None,
        end=None,
        fe_df="full",
    )
    assert (es.fit.n_iterations == 0) == balanced
    # independent construction of the binned event-time interactions
    rel = np.clip(panel["quarter_index"].to_numpy() - did.parse_period("2018-T4"), -3, 2)
    dose = panel["treated"].cast(pl.Float64).to_numpy()
    ks = [-3, -2, 0, 1, 2]
    res = _statsmodels_twfe(panel, np.column_stack([dose * (rel == k) for k in ks]))
    coef = es.coefficients.filter(pl.col("std_error").is_not_null())
    assert coef["rel_quarter"].to_list() == ks
    np.testing.assert_allclose(coef["estimate"], res.params[:5], rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(coef["std_error"], res.bse[:5], rtol=1e-8)
    np.testing.assert_allclose(coef["p_value"], res.pvalues[:5], rtol=1e-6, atol=1e-12)
    np.testing.assert_allclose(
        coef.select("ci_low", "ci_high").to_numpy(), res.conf_int()[:5], rtol=1e-8, atol=1e-10
    )
    # joint Wald test of the leads = statsmodels wald_test (F with G-1 df)
    r = np.zeros((2, res.params.size))
    r[0, 0] = r[1, 1] = 1.0
    expected = res.wald_test(r, use_f=True, scalar=True)
    got = did.compute_pretrend_test(es).row(0, named=True)
    assert got["statistic"] == pytest.approx(float(expected.statistic), rel=1e-8)
    assert got["p_value"] == pytest.approx(float(expected.pvalue), rel=1e-6)
    assert got["df_den"] == 13 and got["df_num"] == 2


def test_nested_fixed_effects_only_change_the_small_sample_factor():
    panel = did.simulate_did_panel(n_zones=12, n_quarters=8, first_period="2018-T1", seed=5)
    full = did.estimate_did(panel, start=None, end=None, fe_df="full")
    nested = did.estimate_did(panel, start=None, end=None, fe_df="nested")
    zones, quarters = 12, 8 - 1  # the label quarter 2018-T4 is dropped (partially treated)
    n, k = zones * quarters, 1
    assert nested["n_obs"][0] == n
    k_full, k_nested = k + zones + quarters - 1, k + quarters - 1
    assert nested["estimate"][0] == pytest.approx(full["estimate"][0], rel=1e-12)
    assert nested["std_error"][0] / full["std_error"][0] == pytest.approx(
        np.sqrt((n - k_full) / (n - k_nested)), rel=1e-10
    )


def test_weighted_did_equals_statsmodels_wls():
    panel = did.simulate_did_panel(n_zones=16, n_quarters=8, first_period="2018-T1", seed=9)
    weights = pl.DataFrame(
        {"ze2020_code": [f"S{i:03d}" for i in range(16)], "match_weight": [1.0, 2.0, 0.5, 3.0] * 4}
    )
    out = did.estimate_did(
        panel, treatment="intensity", start=None, end=None, zone_weights=weights, fe_df="full"
    )
    event = did.parse_period("2018-T4")  # label quarter dropped, post from 2019-T1 (default)
    df = panel.join(weights, on="ze2020_code").filter(pl.col("quarter_index") != event)
    x = (df["treatment_intensity"] * (df["quarter_index"] > event)).to_numpy()
    res = _statsmodels_twfe(df, x.astype(float), weights=df["match_weight"].to_numpy())
    assert out["estimate"][0] == pytest.approx(res.params[0], rel=1e-8)
    assert out["std_error"][0] == pytest.approx(res.bse[0], rel=1e-8)


def test_alternating_projections_reach_the_projection():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 30, 500)
    b = rng.integers(0, 12, 500)
    x = rng.normal(size=500)
    got, sweeps = demean_two_way(x, encode_groups(a)[0], encode_groups(b)[0])
    design = np.column_stack([np.ones(500), _dummies(a), _dummies(b)])
    expected = x - design @ np.linalg.lstsq(design, x, rcond=None)[0]
    assert sweeps > 0
    np.testing.assert_allclose(got, expected, atol=1e-8)


def test_absorbed_regressor_is_refused():
    panel = did.simulate_did_panel(n_zones=6, n_quarters=6, first_period="2018-T1", seed=2)
    zone, _ = encode_groups(panel["ze2020_code"].to_numpy())
    quarter, _ = encode_groups(panel["quarter_index"].to_numpy())
    with pytest.raises(ParameterError, match="absorbed"):
        fit_within_ols(
            panel[did.OUTCOME].to_numpy(),
            panel["treatment_intensity"].to_numpy(),  # time-invariant: absorbed by zone FE
            codes_a=zone,
            codes_b=quarter,
            clusters=zone,
            terms=["intensity"],
        )


# ---------------------------------------------------------------------------- Monte Carlo


def test_did_monte_carlo_bias_and_coverage():
    rng = np.random.default_rng(20181122)
    reps, effect = 200, -0.4
    est, se, hits = np.empty(reps), np.empty(reps), 0
    for r in range(reps):
        panel = did.simulate_did_panel(
            n_zones=80, n_quarters=16, first_period="2016-T1", effect=effect, rho=0.6, seed=rng
        )
        row = did.estimate_did(panel, treatment="binary", start=None, end=None).row(0, named=True)
        est[r], se[r] = row["estimate"], row["std_error"]
        hits += row["ci_low"] <= effect <= row["ci_high"]
    bias = est.mean() - effect
    assert abs(bias) < 3 * est.std(ddof=1) / np.sqrt(reps)  # unbiased
    assert abs(bias) < 0.1 * se.mean()
    assert 0.85 < se.mean() / est.std(ddof=1) < 1.15  # CRV1 SE calibrated
    # binomial(200, 0.95): sd 1.5 pp; accept about 3 sd around 95 %
    assert 0.905 <= hits / reps <= 0.99


def test_intensity_did_recovers_dose_effect():
    rng = np.random.default_rng(7)
    est = []
    for _ in range(40):
        panel = did.simulate_did_panel(
            n_zones=80,
            n_quarters=16,
            first_period="2016-T1",
            treatment="intensity",
            effect=0.8,
            seed=rng,
        )
        est.append(
            did.estimate_did(panel, treatment="intensity", start=None, end=None)["estimate"][0]
        )
    est = np.asarray(est)
    assert abs(est.mean() - 0.8) < 3 * est.std(ddof=1) / np.sqrt(len(est))


PATH = [0.2, 0.4, 0.6]  # effect at k = 0, 1, then 0.6 from k = 2 on
LEADS, LAGS = 4, 4


@pytest.fixture(scope="module")
def event_study_mc() -> dict[str, np.ndarray]:
    """200 panels with a dynamic effect and no pre-trend: event-study estimates and p-values."""
    rng = np.random.default_rng(42)
    reps = 200
    estimates, pvals = [], []
    for _ in range(reps):
        panel = did.simulate_did_panel(
            n_zones=100,
            n_quarters=20,
            first_period="2016-T1",
            effect_path=PATH,
            rho=0.5,
            seed=rng,
        )
        es = did.fit_event_study(
            panel, treatment="binary", leads=LEADS, lags=LAGS, reference=-1, start=None, end=None
        )
        estimates.append(es.coefficients["estimate"].to_numpy())
        pvals.append(did.compute_pretrend_test(es)["p_value"][0])
    return {
        "rel": es.coefficients["rel_quarter"].to_numpy(),
        "estimates": np.asarray(estimates),
        "pvals": np.asarray(pvals),
    }


def test_event_study_leads_zero_and_lags_follow_the_path(event_study_mc):
    rel, est = event_study_mc["rel"], event_study_mc["estimates"]
    assert rel.tolist() == list(range(-LEADS, LAGS + 1))
    truth = np.array([PATH[min(k, len(PATH) - 1)] if k >= 0 else 0.0 for k in rel])
    mc_se = est.std(axis=0, ddof=1) / np.sqrt(est.shape[0]) + 1e-12
    z = (est.mean(axis=0) - truth) / mc_se
    assert np.all(np.abs(z[rel != -1]) < 4), dict(
        zip(rel.tolist(), z.round(2).tolist(), strict=True)
    )
    assert np.all(est[:, rel == -1] == 0.0)


def test_pretrend_test_has_nominal_size(event_study_mc):
    rate = float(np.mean(event_study_mc["pvals"] < 0.05))
    assert 0.01 <= rate <= 0.10  # 5 % ± about 3 binomial sd over 200 replications
    # and its p-values are roughly uniform under the null
    assert 0.4 < float(np.mean(event_study_mc["pvals"])) < 0.6


def test_pretrend_test_and_placebo_detect_a_planted_pretrend():
    rng = np.random.default_rng(99)
    rejections, placebo_hits = 0, 0
    for _ in range(30):
        panel = did.simulate_did_panel(
            n_zones=100, n_quarters=20, first_period="2016-T1", pretrend_slope=0.06, seed=rng
        )
        test = did.compute_pretrend_test(
            panel, treatment="binary", leads=LEADS, lags=LAGS, start=None, end=None
        )
        rejections += test["p_value"][0] < 0.05
        placebo = did.estimate_placebo_did(
            panel, placebo_period="2017-T3", treatment="binary", start=None
        )
        placebo_hits += placebo["p_value"][0] < 0.05
    assert rejections >= 27
    assert placebo_hits >= 27


# ---------------------------------------------------------------------------- options


def test_covid_options_and_labels():
    panel = did.simulate_did_panel(n_zones=30, n_quarters=32, first_period="2016-T1", seed=4)
    base = did.estimate_did(panel, start=None, end=None)
    excluded = did.estimate_did(panel, start=None, end=None, covid="exclude")
    controlled = did.estimate_did(panel, start=None, end=None, covid="control")
    n_covid = panel.filter(pl.col("is_covid_quarter")).height
    assert excluded["n_obs"][0] == base["n_obs"][0] - n_covid
    assert controlled["term"].to_list() == ["intensity_x_post", "intensity_x_covid"]
    # the window reaches 2020: label, fund and COVID cannot be separated
    assert controlled["kind"].to_list() == [did.KIND_MIXED, did.KIND_DESCRIPTIVE]
    assert list(base.columns) == [*did.DID_LABELS, *TIDY_SCHEMA]
    # one adoption date: the treatment x COVID dummy reproduces dropping the COVID quarters
    assert controlled["estimate"][0] == pytest.approx(excluded["estimate"][0], abs=1e-10)
    baseline = did.estimate_did(panel, start=None, end=None, covid="baseline")
    assert baseline["term"].to_list() == ["intensity_x_post"]  # nuisance slopes not reported
    assert abs(baseline["estimate"][0] - excluded["estimate"][0]) > 1e-6
    pre_covid = did.estimate_did(panel, start=None, end="2019-T4")
    assert pre_covid["kind"][0] == did.KIND_CAUSAL
    with pytest.raises(ParameterError, match="covid"):
        did.fit_event_study(panel, covid="control")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="before the label"):
        did.estimate_placebo_did(panel, end="2019-T1")
    with pytest.raises(ParameterError, match="event_period"):
        did.estimate_did(panel, start=None, end="2018-T2")


def test_event_study_without_binning_trims_the_window():
    panel = did.simulate_did_panel(n_zones=30, n_quarters=24, first_period="2015-T1", seed=6)
    binned = did.estimate_event_study(panel, leads=3, lags=2, reference=-1, start=None)
    trimmed = did.estimate_event_study(
        panel, leads=3, lags=2, reference=-1, start=None, bin_endpoints=False
    )
    assert binned["is_binned"].to_list() == [True, False, False, False, False, True]
    assert not trimmed["is_binned"].any()
    assert trimmed["n_obs"][0] == 30 * 6 < binned["n_obs"][0]
    assert binned.filter(pl.col("rel_quarter") == -1)["kind"][0] == did.KIND_REFERENCE
    # end bins are pooled averages, never causal
    assert binned.filter(pl.col("is_binned"))["kind"].to_list() == [did.KIND_POOLED] * 2


# ---------------------------------------------------------------------------- matching


def _synthetic_inputs(seed: int, *, n_zones: int = 120, effect: float = -0.3, slope: float = 0.08):
    """Core-table-shaped inputs where the typology drives both treatment and trends.

    Zones with more "rural" communes are more often in a TI *and* have a rising unemployment
    trend, so the naive DiD is biased and matching on the typology shares should fix it.
    """
    rng = np.random.default_rng(seed)
    n_com = 20
    rural_p = rng.uniform(0.05, 0.95, n_zones)
    rural = rng.random((n_zones, n_com)) < rural_p[:, None]
    rural_share = rural.mean(axis=1)
    treated = rng.random(n_zones) < 0.15 + 0.7 * rural_share
    in_ti = rng.random((n_zones, n_com)) < np.where(treated, 0.85, 0.1)[:, None]
    zones = [f"Z{i:03d}" for i in range(n_zones)]
    commune = [[f"{i:03d}{j:02d}" for j in range(n_com)] for i in range(n_zones)]
    communes = pl.DataFrame(
        {
            "commune_insee": [c for row in commune for c in row],
            "ze2020_code": np.repeat(zones, n_com),
        }
    )
    territories = pl.DataFrame(
        {
            "commune_insee": [
                c for i, row in enumerate(commune) for j, c in enumerate(row) if in_ti[i, j]
            ],
        }
    ).with_columns(pl.lit(1, dtype=pl.Int8).alias("ti_phase"), pl.lit("ti-0001").alias("ti_id"))
    typologies = pl.DataFrame(
        {
            "commune_insee": communes["commune_insee"],
            "densite_level": np.where(rural.ravel(), "Rural", "Urbain"),
            "centralite_level": "Communes non centre",
            "ruralite_level": np.where(rng.random(n_zones * n_com) < 0.5, " A", " B"),
        }
    )
    zt = did.compute_zone_treatment(communes, territories)
    treated_real = zt.sort("ze2020_code")["treated"].to_numpy()
    q0 = did.parse_period("2014-T1")
    qi = q0 + np.arange(39)  # 2014-T1 .. 2023-T3
    k = qi - did.parse_period("2018-T4")
    y = (
        8.0
        + rng.normal(0, 1.5, n_zones)[:, None]
        + np.cumsum(rng.normal(0, 0.2, len(qi)))[None, :]
        + slope * rural_share[:, None] * k[None, :]
        + effect * treated_real[:, None] * (k >= 0)[None, :]
        + rng.normal(0, 0.15, (n_zones, len(qi)))
    )
    labour = pl.DataFrame(
        {
            "ze2020_code": np.repeat(zones, len(qi)),
            "region_code": "84",
            "period": np.tile([did.format_period(int(q)) for q in qi], n_zones),
            "quarter_index": np.tile(qi, n_zones).astype(np.int32),
            did.OUTCOME: y.ravel(),
        }
    )
    return labour, communes, territories, typologies


def test_matching_balances_typologies_and_removes_confounded_trend():
    labour, communes, territories, typologies = _synthetic_inputs(123)
    out = did.run_label_counterfactual(labour, communes, territories, typologies)
    assert set(out) == {
        "zone_treatment",
        "did",
        "imputation",
        "event_study",
        "pretrend_test",
        "placebo",
        "covid_windows",
        "matched",
        "matching_pairs",
        "matching_balance",
        "decision",
        "honest",
        "honest_breakdown",
        "validation",
    }
    n_treated = int(out["zone_treatment"]["treated"].sum())
    assert out["matching_pairs"].height == n_treated  # 1 neighbour each
    balance = out["matching_balance"].filter(pl.col("covariate") == "densite_level=Rural")
    assert abs(balance["smd_after"][0]) < 0.25 * abs(balance["smd_before"][0])
    main = out["did"].filter(pl.col("spec") == did.SPEC_MAIN)
    naive = _row(main.filter(pl.col("treatment") == "binary"), "binary_x_post")
    matched = _row(out["matched"], "binary_x_post")
    assert abs(naive["estimate"] - (-0.3)) > 3 * naive["std_error"]  # confounded
    assert abs(matched["estimate"] - (-0.3)) < 3 * matched["std_error"]
    assert abs(matched["estimate"] + 0.3) < abs(naive["estimate"] + 0.3)
    weights = did.compute_match_weights(out["matching_pairs"])
    assert weights["match_weight"].sum() == pytest.approx(2 * n_treated)
    # the confounded pre-trend shows in the diagnostics, and the decision rule withdraws the
    # causal reading of every (unmatched-design) row of the specification
    assert out["pretrend_test"].filter(pl.col("treatment") == "binary")["p_value"][0] < 0.05
    assert out["decision"]["parallel_trends_doubtful"].all()
    assert matched["kind"] == did.KIND_DOUBTFUL
    assert out["placebo"]["kind"].to_list() == [did.KIND_DIAGNOSTIC] * 2


def test_propensity_matching_runs():
    labour, communes, territories, typologies = _synthetic_inputs(5, n_zones=80)
    zt = did.compute_zone_treatment(communes, territories)
    pairs = did.match_zones_on_typologies(
        zt, communes, typologies, method="propensity", n_neighbors=2
    )
    assert pairs.height == 2 * int(zt["treated"].sum())
    assert set(pairs["neighbor_rank"]) == {1, 2}
    weights = did.compute_match_weights(pairs)
    control_weight = weights.join(zt, on="ze2020_code").filter(~pl.col("treated"))
    assert control_weight["match_weight"].sum() == pytest.approx(int(zt["treated"].sum()))


# ---------------------------------------------------------------------------- real panel


@pytest.mark.real_data
def test_counterfactual_runs_on_the_real_302_zone_panel(real_processed: Path):
    labour, communes, territories, typologies = (
        read_core_table(name, real_processed)
        for name in ("labour_panel", "communes", "commune_territories", "commune_typologies")
    )
    assert labour["ze2020_code"].n_unique() == 302
    out = did.run_label_counterfactual(labour, communes, territories, typologies)
    zt = out["zone_treatment"]
    assert zt.height == 306 and zt["treatment_intensity"].is_between(0, 1).all()
    assert 0 < zt["treated"].sum() < zt.height
    es = out["event_study"]
    n_specs = out["decision"].height  # intensity × (population and commune count), binary
    assert n_specs == (3 if "population" in communes.columns else 2)
    assert es.height == n_specs * (8 + 12 + 1)
    assert es["n_clusters"].unique().to_list() == [302]
    for key in ("did", "event_study", "placebo", "covid_windows", "matched"):
        frame = out[key].filter(pl.col("std_error").is_not_null())
        assert frame.height > 0
        assert (
            frame.select(
                pl.col("estimate", "std_error", "ci_low", "ci_high").is_finite().all()
            ).row(0)
            == (True,) * 4
        )
        assert frame["std_error"].min() > 0
    pre = out["pretrend_test"]
    assert pre["p_value"].is_between(0, 1).all() and pre["df_den"].to_list() == [301] * n_specs
    # the whole-panel (2003-T1..2023-T3, unbalanced: overseas zones start in 2014) event study
    full = did.fit_event_study(did.build_did_panel(labour, zt), start=None)
    assert full.fit.n_obs == labour[did.OUTCOME].drop_nulls().len()
    assert full.fit.n_iterations > 0


# ---------------------------------------------------------------------------- timing (issue 11)


def test_label_quarter_is_partial_by_default_and_the_former_timing_dilutes():
    # an effect of -0.4 that starts in 2019-T1 (k = 1), almost no noise: every definition's
    # answer is known exactly
    panel = did.simulate_did_panel(
        n_zones=40, n_quarters=24, first_period="2016-T1", effect_path=[0.0, -0.4],
        sigma=1e-9, treatment="binary", seed=11,
    )  # fmt: skip
    common = {"treatment": "binary", "start": None, "end": "2019-T4"}
    excluded = did.estimate_did(panel, **common)
    own = did.estimate_did(panel, label_quarter="own_term", **common)
    former = did.estimate_did(panel, label_quarter="post", **common)
    assert excluded["estimate"][0] == pytest.approx(-0.4, abs=1e-6)
    assert excluded["post_start"][0] == "2019-T1"
    assert "2018-T4 excluded" in excluded["sample"][0]
    assert own["term"].to_list() == ["binary_x_post", "binary_x_label_quarter"]
    assert own["estimate"].to_list() == pytest.approx([-0.4, 0.0], abs=1e-6)
    assert own["kind"][1] == did.KIND_PARTIAL
    # the former definition averages the label quarter (no effect yet) into the post period
    assert former["estimate"][0] == pytest.approx(-0.4 * 4 / 5, abs=1e-6)
    assert did.first_post_period("2018-T4", "post") == "2018-T4"
    with pytest.raises(ParameterError, match="label_quarter"):
        did.estimate_did(panel, label_quarter="half", **common)  # type: ignore[arg-type]


def test_event_study_reference_window_is_a_linear_reparametrisation():
    panel = did.simulate_did_panel(n_zones=30, n_quarters=20, first_period="2016-T1", seed=8)
    single = did.fit_event_study(panel, treatment="binary", leads=6, lags=4, reference=-1,
                                 start=None, end=None)  # fmt: skip
    window = did.fit_event_study(panel, treatment="binary", leads=6, lags=4,
                                 reference=(-4, -3, -2, -1), start=None, end=None)  # fmt: skip
    b1 = single.coefficients["estimate"].to_numpy()
    rel = single.coefficients["rel_quarter"].to_numpy()
    in_ref = np.isin(rel, [-4, -3, -2, -1])
    expected = b1 - b1[in_ref].mean()
    got = window.coefficients
    np.testing.assert_allclose(got["estimate"].to_numpy(), expected, atol=1e-10)
    assert got.filter(pl.col("in_reference"))["estimate"].sum() == pytest.approx(0.0, abs=1e-10)
    # standard errors: the same contrasts computed from the single-reference covariance
    ks = list(single.options["rel_quarters"])
    t = np.zeros((len(rel), len(ks)))
    for row, k in enumerate(rel):
        if k != -1:
            t[row, ks.index(k)] += 1
        for j in (-4, -3, -2):
            t[row, ks.index(j)] -= 0.25
    se = np.sqrt(np.diag(t @ single.fit.vcov @ t.T))
    np.testing.assert_allclose(got["std_error"].to_numpy(), se, rtol=1e-10)
    # the joint pre-trend test does not depend on the normalisation
    assert did.compute_pretrend_test(window)["p_value"][0] == pytest.approx(
        did.compute_pretrend_test(single)["p_value"][0], rel=1e-10
    )


def test_event_study_kinds_follow_the_calendar():
    panel = did.simulate_did_panel(n_zones=30, n_quarters=39, first_period="2014-T1", seed=2)
    es = did.estimate_event_study(panel, treatment="binary")
    kinds = dict(zip(es["rel_quarter"].to_list(), es["kind"].to_list(), strict=True))
    assert kinds[-8] == kinds[12] == did.KIND_POOLED
    assert {kinds[k] for k in range(-7, 0)} == {did.KIND_DIAGNOSTIC}
    assert kinds[0] == did.KIND_PARTIAL
    assert {kinds[k] for k in range(1, 5)} == {did.KIND_CAUSAL}  # 2019-T1..2019-T4
    assert {kinds[k] for k in range(5, 12)} == {did.KIND_MIXED}  # 2020-T1 onwards
    bins = es.filter(pl.col("is_binned")).select("period_first", "period_last").rows()
    assert bins == [("2014-T1", "2016-T4"), ("2021-T4", "2023-T3")]
    assert es.filter(pl.col("in_reference"))["period_first"].to_list() == [
        "2017-T4", "2018-T1", "2018-T2", "2018-T3",
    ]  # fmt: skip


# ---------------------------------------------------------------------------- exposure


def test_population_exposure_when_the_column_is_there():
    communes = pl.DataFrame(
        {
            "commune_insee": ["01001", "01002", "01003", "02001", "02002", "03001"],
            "ze2020_code": ["Z1", "Z1", "Z1", "Z2", "Z2", "Z3"],
            "population": pl.Series([100, 100, 800, None, None, 5], dtype=pl.Int64),
        }
    )
    territories = pl.DataFrame(
        {
            "commune_insee": ["01001", "01002", "02001"],
            "ti_phase": pl.Series([1, 1, 1], dtype=pl.Int8),
            "ti_id": ["ti-1", "ti-1", "ti-2"],
        }
    )
    assert did.resolve_exposure(communes) == "communes"  # 2 of 6 populations missing
    assert did.resolve_exposure(communes.drop("population")) == "communes"
    assert did.resolve_exposure(communes.fill_null(10)) == "population"
    with pytest.raises(ParameterError, match="population"):
        did.resolve_exposure(communes.drop("population"), "population")
    out = did.compute_zone_treatment(communes, territories, weights="population")
    # Z1 by population; Z2 has no population at all: falls back to its commune share
    assert out["treatment_intensity"].to_list() == pytest.approx([0.2, 0.5, 0.0])
    assert out["exposure"].to_list() == ["population", "communes", "population"]
    assert did.panel_exposure(out) == "population"


def test_bundle_states_the_exposure_and_keeps_commune_counts_alongside():
    labour, communes, territories, typologies = _synthetic_inputs(7, n_zones=60)
    rng = np.random.default_rng(0)
    communes = communes.with_columns(
        pl.Series("population", rng.integers(50, 5000, communes.height), dtype=pl.Int64)
    )
    out = did.run_label_counterfactual(labour, communes, territories, typologies,
                                       with_honest=False)  # fmt: skip
    main = out["did"].filter(pl.col("spec") == did.SPEC_MAIN)
    assert main.select("treatment", "exposure").rows() == [
        ("intensity", "population"), ("intensity", "communes"), ("binary", "population"),
    ]  # fmt: skip
    dec = out["decision"]
    assert dec.filter(pl.col("is_headline")).select("treatment", "exposure").rows() == [
        ("intensity", "population")
    ]
    assert out["zone_treatment"]["exposure"].unique().to_list() == ["population"]
    assert "intensity_communes" in out["zone_treatment"].columns
    assert set(out["event_study"]["exposure"]) == {"population", "communes"}


# ---------------------------------------------------------------------------- external oracle


def _pyfixest_frame(df: pl.DataFrame, columns: dict[str, np.ndarray]):
    import pandas as pd

    data = {c: df[c].to_numpy() for c in ("ze2020_code", "quarter_index", did.OUTCOME)}
    return pd.DataFrame({**data, **columns})


def _check_against_pyfixest(panel: pl.DataFrame, start: str | None, end: str | None) -> None:
    """TWFE DiD and event study by pyfixest (CRV1 by zone) = ours, to 1e-6."""
    pf = pytest.importorskip("pyfixest")
    event = did.parse_period("2018-T4")
    df = panel.filter(pl.col(did.OUTCOME).is_not_null())
    if start is not None:
        df = df.filter(pl.col("quarter_index") >= did.parse_period(start))
    if end is not None:
        df = df.filter(pl.col("quarter_index") <= did.parse_period(end))
    # DiD, default timing: label quarter dropped, post from 2019-T1
    d = df.filter(pl.col("quarter_index") != event)
    x = (d["treatment_intensity"] * (d["quarter_index"] > event)).to_numpy()
    fml = f"{did.OUTCOME} ~ x | ze2020_code + quarter_index"
    for fe_df, k_fixef in (("full", "full"), ("nested", "nonnested")):
        ours = did.estimate_did(panel, start=start, end=end, fe_df=fe_df).row(0, named=True)
        fit = pf.feols(fml, data=_pyfixest_frame(d, {"x": x}), vcov={"CRV1": "ze2020_code"},
                       ssc=pf.ssc(k_fixef=k_fixef))  # fmt: skip
        assert ours["estimate"] == pytest.approx(float(fit.coef().iloc[0]), abs=1e-6)
        se = float(fit.se().iloc[0])
        if fe_df == "nested":
            # pyfixest counts the T quarter effects, we count T - 1 (reghdfe): one K apart
            n, k = ours["n_obs"], 1 + d["quarter_index"].n_unique() - 1
            se *= np.sqrt((n - k - 1) / (n - k))
        assert ours["std_error"] == pytest.approx(se, abs=1e-6)
    # event study (reference 2018-T3, 4 leads, 4 lags, binned ends)
    rel = np.clip(df["quarter_index"].to_numpy() - event, -4, 4)
    dose = df["treatment_intensity"].to_numpy()
    ks = [k for k in range(-4, 5) if k != -1]
    cols = {f"e{i}": dose * (rel == k) for i, k in enumerate(ks)}
    fit = pf.feols(f"{did.OUTCOME} ~ {' + '.join(cols)} | ze2020_code + quarter_index",
                   data=_pyfixest_frame(df, cols), vcov={"CRV1": "ze2020_code"},
                   ssc=pf.ssc(k_fixef="full"))  # fmt: skip
    es = did.estimate_event_study(panel, leads=4, lags=4, reference=-1, start=start, end=end,
                                  fe_df="full").filter(pl.col("std_error").is_not_null())  # fmt: skip
    np.testing.assert_allclose(es["estimate"].to_numpy(), fit.coef().to_numpy(), atol=1e-6)
    np.testing.assert_allclose(es["std_error"].to_numpy(), fit.se().to_numpy(), atol=1e-6)


def test_twfe_and_event_study_match_pyfixest_on_a_synthetic_panel():
    panel = did.simulate_did_panel(n_zones=60, n_quarters=24, first_period="2016-T1",
                                   treatment="intensity", effect=-0.3, seed=4)  # fmt: skip
    _check_against_pyfixest(panel, None, None)


@pytest.mark.real_data
def test_twfe_and_event_study_match_pyfixest_on_the_real_panel(real_processed: Path):
    labour, communes, territories = (
        read_core_table(name, real_processed)
        for name in ("labour_panel", "communes", "commune_territories")
    )
    panel = did.build_did_panel(labour, did.compute_zone_treatment(communes, territories))
    _check_against_pyfixest(panel, did.DEFAULT_START, did.PRE_COVID_END)


# ---------------------------------------------------------------------------- validation


@pytest.mark.real_data
def test_planted_delta_on_the_real_file_moves_the_headline_by_exactly_delta(
    real_processed: Path,
):
    labour, communes, territories, typologies = (
        read_core_table(name, real_processed)
        for name in ("labour_panel", "communes", "commune_territories", "commune_typologies")
    )
    base = did.run_label_counterfactual(labour, communes, territories, typologies,
                                        with_honest=False)  # fmt: skip
    zt = base["zone_treatment"].select("ze2020_code", "treatment_intensity", "treated")
    post = pl.col("quarter_index") >= did.parse_period(did.first_post_period())
    delta = -0.37

    def headline(out: dict, treatment: str) -> float:
        main = out["did"].filter((pl.col("spec") == did.SPEC_MAIN)
                                 & (pl.col("treatment") == treatment))  # fmt: skip
        return main.filter(pl.col("exposure") == out["decision"].filter(
            pl.col("is_headline"))["exposure"][0])["estimate"][0]  # fmt: skip

    for treatment, dose in (("binary", pl.col("treated").cast(pl.Float64)),
                            ("intensity", pl.col("treatment_intensity"))):  # fmt: skip
        moved = labour.join(zt, on="ze2020_code", how="left").with_columns(
            (pl.col(did.OUTCOME) + pl.when(post).then(delta * dose).otherwise(0.0)).alias(
                did.OUTCOME
            )
        )
        out = did.run_label_counterfactual(moved.drop(zt.columns[1:]), communes, territories,
                                           typologies, with_honest=False)  # fmt: skip
        assert headline(out, treatment) - headline(base, treatment) == pytest.approx(
            delta, abs=1e-9
        )


def test_planted_targets_are_the_estimators_applied_to_the_planted_surface():
    labour, communes, territories, typologies = _synthetic_inputs(3, n_zones=80, slope=0.0,
                                                                  effect=0.0)  # fmt: skip
    zt = did.compute_zone_treatment(communes, territories)
    periods = labour["period"].unique().sort().to_list()
    ramp = {p: -0.3 * min(1.0, (did.parse_period(p) - did.parse_period("2018-T4") + 1) / 4)
            for p in periods if p >= "2018-T4"}  # fmt: skip
    manifest = {"zone_intensity": dict(zt.select("ze2020_code", "treatment_intensity").rows()),
                "event_time_effect_per_unit_intensity": ramp}  # fmt: skip
    from analyse.estimate.decision import planted_effect_from_manifest

    planted = planted_effect_from_manifest(manifest)
    shifted = (
        labour.join(planted, on=["ze2020_code", "period"], how="left")
        .with_columns(
            (pl.col(did.OUTCOME) + pl.col("planted_effect_pp").fill_null(0.0)).alias(did.OUTCOME)
        )
        .drop("planted_effect_pp")
    )
    out = did.run_label_counterfactual(shifted, communes, territories, typologies,
                                       planted_effect=planted, with_honest=False)  # fmt: skip
    main = out["did"].filter((pl.col("spec") == did.SPEC_MAIN)
                             & (pl.col("treatment") == "intensity")).row(0, named=True)  # fmt: skip
    # 2019-T1..2019-T4 = k 1..4 of a 4-quarter ramp: (0.5 + 0.75 + 1 + 1) / 4 of -0.3
    assert main["planted_target"] == pytest.approx(-0.3 * 0.8125, abs=1e-9)
    former = out["did"].filter((pl.col("spec") == did.SPEC_TIMING_OLD)
                               & (pl.col("treatment") == "intensity")).row(0, named=True)  # fmt: skip
    assert former["planted_target"] == pytest.approx(-0.3 * 0.7, abs=1e-9)  # k 0..4
    assert out["placebo"]["planted_target"].to_list() == pytest.approx([0.0, 0.0], abs=1e-12)
    val = out["validation"]
    assert val.height > 10 and val["target_in_ci"].mean() > 0.8
    assert np.abs(val.filter(pl.col("block") == "did")["z_score"].to_numpy()).max() < 4
