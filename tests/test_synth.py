"""Synthetic control per territory sheet: solver, known gaps, printing rule, real run (issue 11,
item 6)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from scipy import optimize

from analyse.estimate import synth
from analyse.tables import read_core_table


def test_simplex_least_squares_is_the_constrained_optimum():
    rng = np.random.default_rng(0)
    for _ in range(20):
        a = rng.normal(size=(19, 12))
        b = a @ rng.dirichlet(np.ones(12)) + rng.normal(0, 0.5, 19)
        w = synth.simplex_least_squares(a, b)
        assert w.min() >= 0 and w.sum() == pytest.approx(1.0, abs=1e-12)
        ref = optimize.minimize(
            lambda x, a=a, b=b: np.sum((a @ x - b) ** 2), np.full(12, 1 / 12), method="SLSQP",
            bounds=[(0, 1)] * 12, constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
            options={"ftol": 1e-14, "maxiter": 1000},
        )  # fmt: skip
        assert np.sum((a @ w - b) ** 2) <= ref.fun + 1e-9


def _world(gaps=(-0.5, 0.0, 0.3, -0.2, 0.0), seed=1):
    labour, _ = synth.simulate_synthetic_world(n_treated=len(gaps), gap_pp=gaps, seed=seed)
    zones = labour["ze2020_code"].unique().sort().to_list()
    communes = pl.DataFrame({"commune_insee": [f"C{z}" for z in zones], "ze2020_code": zones})
    treated = [z for z in zones if z.startswith("T")]
    territories = pl.DataFrame({
        "commune_insee": [f"C{z}" for z in treated] + ["CT000", "CNONE"],
        "ti_phase": pl.Series([1] * len(treated) + [2, 2], dtype=pl.Int8),
        "ti_id": [f"ti-{z}" for z in treated] + ["ti-p2a", "ti-p2b"],
    })  # fmt: skip
    return labour, communes, territories


def test_known_gaps_are_recovered_with_placebo_p_values():
    gaps = (-0.5, 0.0, 0.3, -0.2, 0.0)
    labour, communes, territories = _world(gaps)
    out = synth.run_synthetic_controls(labour, communes, territories, min_donors=5)
    s = out["synth_summary"].filter(pl.col("ti_phase") == 1).sort("ti_id")
    np.testing.assert_allclose(s["gap_post_pp"].to_numpy(), gaps, atol=0.06)
    assert s["is_printed"].all() and s["rmspe_pre_pp"].max() < 0.1
    p = dict(zip(s["ti_id"], s["p_value_placebo"], strict=True))
    n = s["n_placebos"][0]
    assert p["ti-T000"] == pytest.approx(1 / (n + 1))  # the largest gap beats every donor
    assert p["ti-T001"] > 0.2 and p["ti-T004"] > 0.2  # no effect: an ordinary donor-like ratio
    w = out["synth_weights"].group_by("ti_id").agg(pl.col("weight").sum())
    assert w["weight"].to_list() == pytest.approx([1.0] * w.height, abs=2e-3)
    paths = out["synth_series"].filter(pl.col("ti_id") == "ti-T000")
    assert set(paths["segment"]) == {"pre", "label_quarter", "post", "mixed"}
    assert paths.filter(pl.col("segment") == "pre")["period"].max() == "2018-T3"


def test_nd_reasons_and_the_printing_rule():
    labour, communes, territories = _world()
    # one treated unit made unpredictable before the label: poor fit
    rng = np.random.default_rng(3)
    noisy = labour.with_columns(
        pl.when(pl.col("ze2020_code") == "T004")
        .then(pl.col("unemployment_rate_pct") + pl.Series(rng.normal(0, 0.6, labour.height)))
        .otherwise(pl.col("unemployment_rate_pct"))
        .alias("unemployment_rate_pct")
    )
    communes = pl.concat([communes, pl.DataFrame({"commune_insee": ["CNONE"],
                                                  "ze2020_code": ["Z999"]})])  # fmt: skip
    out = synth.run_synthetic_controls(noisy, communes, territories, min_donors=5)
    s = dict(zip(out["synth_summary"]["ti_id"], out["synth_summary"]["nd_reason"], strict=True))
    assert s["ti-T004"] == "poor_fit"
    assert s["ti-p2a"] is None  # phase 2 but its commune is in a phase-1 TI: continues phase 1
    assert s["ti-p2b"] == "labelled_after_panel"
    assert s["ti-T000"] is None
    summary = out["synth_summary"]
    assert summary.filter(pl.col("ti_id") == "ti-p2a")["continues_phase1"][0]
    assert (summary["is_printed"] == summary["nd_reason"].is_null()).all()
    few = synth.run_synthetic_controls(labour, communes, territories, min_donors=100)
    assert set(few["synth_summary"]["nd_reason"].drop_nulls()) <= {
        "few_donors", "labelled_after_panel",
    }  # fmt: skip


@pytest.mark.real_data
def test_every_real_territory_sheet_gets_a_row_within_the_time_budget(real_processed: Path):
    labour, communes, ct, territories = (
        read_core_table(name, real_processed)
        for name in ("labour_panel", "communes", "commune_territories", "territories")
    )
    t0 = time.perf_counter()
    out = synth.run_synthetic_controls(labour, communes, ct, territories)
    elapsed = time.perf_counter() - t0
    assert elapsed < 30
    s = out["synth_summary"]
    counts = dict(s.group_by("ti_phase").len().iter_rows())
    assert counts == dict(territories.group_by("ti_phase").len().iter_rows())
    assert s.filter(pl.col("is_printed")).height > 0
    printed = s.filter(pl.col("is_printed"))
    assert (printed["rmspe_pre_pp"] <= synth.MAX_RMSPE_PP).all()
    assert printed["p_value_placebo"].is_between(0, 1, closed="right").all()
    assert s.filter(~pl.col("is_printed"))["nd_reason"].null_count() == 0
    # phase-2 territories labelled after the panel are never printed
    late = s.filter(pl.col("nd_reason") == "labelled_after_panel")
    assert (late["ti_phase"] == 2).all() and not late["continues_phase1"].any()
