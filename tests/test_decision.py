"""Decision rule on the diagnostics, Holm adjustment, relabelling (issue 11, item 2)."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from statsmodels.stats.multitest import multipletests

from analyse.estimate import decision as dec
from analyse.estimate import did


def _decide(panel: pl.DataFrame) -> dict:
    """The decision of the binary specification on a simulated 2014-T1..2019-T4 panel."""
    main = did.estimate_did(panel, treatment="binary", start=None, end="2019-T4")
    es = did.fit_event_study(panel, treatment="binary", start=None, end="2019-T4")
    pre = did.compute_pretrend_test(es)
    placebo = did.estimate_placebo_did(panel, treatment="binary", start=None)
    return dec.decide_parallel_trends(
        main.row(0, named=True), pre.row(0, named=True), placebo.row(0, named=True),
        es.coefficients, is_headline=True,
    )  # fmt: skip


def _trigger_rate(reps: int, seed: int, **planted) -> float:
    rng = np.random.default_rng(seed)
    hits = 0
    for _ in range(reps):
        panel = did.simulate_did_panel(n_zones=150, n_quarters=24, first_period="2014-T1",
                                       effect=-0.3, treatment="binary", seed=rng, **planted)  # fmt: skip
        hits += _decide(panel)["parallel_trends_doubtful"]
    return hits / reps


@pytest.mark.parametrize(("quarters", "slope"), [(2, 0.15), (4, 0.08), (6, 0.05)])
def test_planted_pretrends_of_2_4_6_quarters_trigger_the_rule(quarters: int, slope: float):
    # treated zones start diverging `quarters` quarters before the label (slope pp/quarter)
    rate = _trigger_rate(40, 100 + quarters, pretrend_slope=slope, pretrend_quarters=quarters)
    assert rate >= 0.9


def test_no_pretrend_rarely_triggers_the_rule():
    # two diagnostics at 10 %: about one panel in five fires although parallel trends hold
    rate = _trigger_rate(100, 7)
    assert 0.05 <= rate <= 0.35


def test_a_lead_as_large_as_a_significant_effect_triggers_the_rule():
    panel = did.simulate_did_panel(n_zones=150, n_quarters=24, first_period="2014-T1",
                                   effect=-0.3, treatment="binary", sigma=0.05, seed=3)  # fmt: skip
    bump = (pl.col("period") == "2017-T2") & pl.col("treated")
    clean = _decide(panel)
    assert not clean["parallel_trends_doubtful"]
    shocked = _decide(panel.with_columns(
        pl.when(bump).then(pl.col(did.OUTCOME) - 0.5).otherwise(pl.col(did.OUTCOME))
        .alias(did.OUTCOME)))  # fmt: skip
    assert shocked["fails_lead_size"] and shocked["parallel_trends_doubtful"]
    assert shocked["max_lead_rel_quarter"] == -6  # 2017-T2
    assert shocked["decision"] == dec.DECISION_DOUBTFUL


def test_holm_matches_statsmodels_and_ignores_nulls():
    p = [0.01, 0.04, None, 0.03, 0.2, 0.001]
    got = dec.holm_adjust(p)
    finite = [v for v in p if v is not None]
    expected = multipletests(finite, method="holm")[1]
    np.testing.assert_allclose(got[np.isfinite(got)], expected, rtol=1e-12)
    assert np.isnan(got[2])
    frame = pl.DataFrame({"g": ["a", "a", "b", "b"], "p_value": [0.01, 0.04, 0.01, None]})
    out = dec.add_holm(frame, "fam", over="g")
    assert out["p_value_holm"].to_list() == pytest.approx([0.02, 0.04, 0.01, None], nan_ok=True)
    assert out["holm_family"].to_list() == ["fam: a", "fam: a", "fam: b", "fam: b"]


def test_apply_decision_relabels_only_causal_rows_of_doubtful_specifications():
    frame = pl.DataFrame({
        "treatment": ["intensity", "intensity", "intensity", "binary"],
        "exposure": ["communes"] * 4,
        "kind": [did.KIND_CAUSAL, did.KIND_MIXED, did.KIND_DIAGNOSTIC, did.KIND_CAUSAL],
    })  # fmt: skip
    decision = pl.DataFrame({"treatment": ["intensity", "binary"], "exposure": ["communes"] * 2,
                             "parallel_trends_doubtful": [True, False]})  # fmt: skip
    out = dec.apply_decision(frame, decision)
    assert out["kind"].to_list() == [
        did.KIND_DOUBTFUL, did.KIND_MIXED, did.KIND_DIAGNOSTIC, did.KIND_CAUSAL,
    ]  # fmt: skip
