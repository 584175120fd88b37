"""Leverage ratios, cluster bootstrap and sensitivity variants, on synthetic projects."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from analyse.errors import ParameterError
from analyse.estimate.bootstrap import (
    METHODS,
    bootstrap_leverage,
    draw_cluster_weights,
    min_clusters_for,
)
from analyse.estimate.leverage import (
    METRICS,
    RATIO_METRICS,
    describe_metrics,
    make_synthetic_projects,
    summarise_leverage,
)
from analyse.estimate.sensitivity import VARIANTS, sensitivity_leverage
from analyse.schemas import PROJECTS, validate

TRUE_RATIO = 9.4
TRUE_JOBS = 47.6


def make_projects(rows: list[dict]) -> pl.DataFrame:
    """A projects table in the PROJECTS schema from a few hand-written fields per row."""
    defaults = {c: None for c in PROJECTS}
    full = []
    for i, row in enumerate(rows, start=1):
        rec = {**defaults, "project_id": f"P{i}", "source_row": i, "is_synthetic": True}
        rec.update(row)
        full.append(rec)
    return pl.DataFrame(full, schema=dict(PROJECTS))


@pytest.fixture(scope="module")
def synthetic() -> pl.DataFrame:
    return make_synthetic_projects(1416, seed=7)


# ---------------------------------------------------------------------------------- leverage


def test_synthetic_projects_follow_the_schema(synthetic: pl.DataFrame) -> None:
    validate(synthetic, PROJECTS, name="projects")
    assert synthetic.height == 1416
    assert synthetic["is_synthetic"].all()
    assert synthetic["project_id"].n_unique() == 1416
    # Luhn-valid SIREN
    for siren in synthetic["siren"].unique().head(50).to_list():
        digits = [int(d) for d in siren]
        total = sum(
            d if i % 2 == 0 else (2 * d - 9 if 2 * d > 9 else 2 * d) for i, d in enumerate(digits)
        )
        assert total % 10 == 0, siren
    # every EPCI sits in one région and one phase-1 territory at most
    per_epci = synthetic.group_by("epci_siren").agg(
        pl.col("region_code").n_unique(), pl.col("ti_id_phase1").n_unique()
    )
    assert per_epci["region_code"].max() == 1
    assert per_epci["ti_id_phase1"].max() == 1


def test_ratios_by_hand() -> None:
    projects = make_projects(
        [
            {"siren": "A", "aid_eur": 1.0e5, "investment_eur": 1.0e6, "jobs_created": 4.0},
            {"siren": "B", "aid_eur": 3.0e5, "investment_eur": 1.5e6, "jobs_created": 6.0},
            {"siren": "B", "aid_eur": 1.0e5, "investment_eur": None, "jobs_created": 0.0},
        ]
    )
    row = summarise_leverage(projects).row(0, named=True)
    assert row["n_projects"] == 3 and row["n_firms"] == 2
    assert row["aid_eur"] == pytest.approx(5.0e5)
    # pairwise complete: the project without investment is left out of investment ratios
    assert row["investment_per_aid_eur"] == pytest.approx(2.5e6 / 4.0e5)
    assert row["private_investment_per_aid_eur"] == pytest.approx((2.5e6 - 4.0e5) / 4.0e5)
    assert row["mean_project_investment_per_aid"] == pytest.approx((10.0 + 5.0) / 2)
    assert row["jobs_created_per_meur_aid"] == pytest.approx(10.0 / 0.5)
    assert row["aid_per_job_created_eur"] == pytest.approx(5.0e5 / 10.0)
    # firm B holds 4/5 of aid; of investment, A holds 1.0/2.5
    assert row["max_firm_share_aid"] == pytest.approx(0.8)
    assert row["max_firm_share_investment"] == pytest.approx(1.5 / 2.5)
    assert row["max_firm_share"] == pytest.approx(0.8)


def test_zero_and_missing_denominators_give_null_not_inf() -> None:
    projects = make_projects(
        [{"siren": "A", "aid_eur": 1.0e5, "investment_eur": 2.0e5, "jobs_created": 0.0}]
    )
    row = summarise_leverage(projects).row(0, named=True)
    assert row["aid_per_job_created_eur"] is None
    assert row["jobs_maintained_per_meur_aid"] is None  # never reported
    assert row["jobs_maintained"] is None  # a sum of nothing is unknown, not 0


def test_groups_add_up_to_the_nation(synthetic: pl.DataFrame) -> None:
    nation = summarise_leverage(synthetic).row(0, named=True)
    for by in (["region_code"], ["ti_id_phase1"], ["sector"], ["firm_size"], ["decision_year"]):
        table = summarise_leverage(synthetic, by)
        assert table["n_projects"].sum() == nation["n_projects"]
        assert table["aid_eur"].sum() == pytest.approx(nation["aid_eur"])
        # the national ratio of sums is the aid-weighted mean of the group ratios
        weighted = (table["investment_per_aid_eur"] * table["aid_eur"]).sum() / table[
            "aid_eur"
        ].sum()
        assert weighted == pytest.approx(nation["investment_per_aid_eur"])


def test_derived_territory_keys_follow_the_phase(synthetic: pl.DataFrame) -> None:
    for phase in (1, 2):
        in_ti = summarise_leverage(synthetic, ["in_ti"], phase=phase)
        expected = synthetic[f"ti_id_phase{phase}"].is_not_null().sum()
        assert in_ti.filter(pl.col("in_ti"))["n_projects"].item() == expected
        assert (in_ti["ti_phase"] == phase).all()
        by_ti = summarise_leverage(synthetic, ["ti_id"], phase=phase)
        assert by_ti.height == synthetic[f"ti_id_phase{phase}"].n_unique()
    with pytest.raises(ParameterError):
        summarise_leverage(synthetic, ["ti_id"], phase=3)
    with pytest.raises(ParameterError):
        summarise_leverage(synthetic, ["no_such_column"])


def test_margins_are_exact_aggregates(synthetic: pl.DataFrame) -> None:
    table = summarise_leverage(synthetic, ["region_code", "firm_size"], margins=True)
    assert set(table["total_over"].unique().to_list()) == {
        None,
        "firm_size",
        "region_code",
        "region_code,firm_size",
    }
    grand = table.filter(pl.col("total_over") == "region_code,firm_size").row(0, named=True)
    nation = summarise_leverage(synthetic).row(0, named=True)
    for col in ("n_projects", "n_firms", "aid_eur", "max_firm_share", "investment_per_aid_eur"):
        assert grand[col] == pytest.approx(nation[col])
    regions = table.filter(pl.col("total_over") == "firm_size").drop("total_over", "firm_size")
    assert_frame_equal(regions, summarise_leverage(synthetic, ["region_code"]), rel_tol=1e-9)


def test_ratio_of_sums_recovers_the_truth() -> None:
    big = make_synthetic_projects(60_000, seed=11, n_epci=20_000)
    row = summarise_leverage(big).row(0, named=True)
    assert row["investment_per_aid_eur"] == pytest.approx(TRUE_RATIO, rel=0.02)
    assert row["jobs_created_per_meur_aid"] == pytest.approx(TRUE_JOBS, rel=0.02)
    assert row["private_investment_per_aid_eur"] == pytest.approx(TRUE_RATIO - 1, rel=0.025)


def test_metrics_are_documented() -> None:
    table = describe_metrics()
    assert set(RATIO_METRICS) <= set(METRICS)
    assert (table["kind"] == "descriptive").all()
    assert table["label_fr"].str.len_chars().min() > 0
    summary = summarise_leverage(make_synthetic_projects(50, seed=1))
    assert set(METRICS) <= set(summary.columns)


# ---------------------------------------------------------------------------------- bootstrap


def test_cluster_weights_are_multinomial_counts() -> None:
    w = draw_cluster_weights(np.random.default_rng(0), 4000, 7)
    assert w.shape == (4000, 7)
    assert (w.sum(axis=1) == 7).all()
    # each cluster is drawn Binomial(7, 1/7) times: mean 1, variance 6/7
    assert w.mean() == pytest.approx(1.0, abs=0.02)
    assert w.var() == pytest.approx(6 / 7, rel=0.05)


def test_bootstrap_estimate_matches_summary(synthetic: pl.DataFrame) -> None:
    boot = bootstrap_leverage(synthetic, ["region_code"], n_boot=199)
    summary = summarise_leverage(synthetic, ["region_code"])
    for metric in RATIO_METRICS:
        joined = boot.filter(pl.col("metric") == metric).join(summary, on="region_code")
        assert joined.height == summary.height
        np.testing.assert_allclose(joined["estimate"], joined[metric])
        ok = joined.filter(pl.col("reason").is_null())
        assert (ok["ci_low"] <= ok["estimate"]).all() and (ok["estimate"] <= ok["ci_high"]).all()
    assert set(boot.columns) >= {
        "region_code",
        "metric",
        "estimate",
        "ci_low",
        "ci_high",
        "n_clusters",
        "n_projects",
        "method",
        "reason",
    }


def test_bootstrap_is_reproducible_and_batch_independent(synthetic: pl.DataFrame) -> None:
    kw = {"n_boot": 199, "method": "percentile"}
    a = bootstrap_leverage(synthetic, ["region_code"], seed=5, **kw)
    b = bootstrap_leverage(synthetic, ["region_code"], seed=5, **kw)
    assert_frame_equal(a, b, rel_tol=1e-9)  # sums may differ in the last bits across runs
    c = bootstrap_leverage(synthetic, ["region_code"], seed=6, **kw)
    assert not a["ci_low"].equals(c["ci_low"])
    # a région alone gets the same interval as in the batch of all régions
    alone = bootstrap_leverage(
        synthetic.filter(pl.col("region_code") == "84"), ["region_code"], seed=5, **kw
    )
    assert_frame_equal(alone, a.filter(pl.col("region_code") == "84"), rel_tol=1e-9)
    # the default interval is analytic: no seed, no replications
    d5 = bootstrap_leverage(synthetic, ["region_code"], seed=5)
    d6 = bootstrap_leverage(synthetic, ["region_code"], seed=6, n_boot=99)
    assert_frame_equal(d5, d6.with_columns(pl.lit(None, dtype=pl.Int64).alias("n_boot")))
    assert d5["n_boot"].is_null().all() and (d5["method"] == "jackknife_log").all()


def test_too_few_clusters_get_null_interval_with_reason() -> None:
    projects = make_synthetic_projects(200, seed=3, n_epci=40)
    one_epci = projects.filter(pl.col("epci_siren") == projects["epci_siren"][0])
    boot = bootstrap_leverage(one_epci)
    assert boot["n_clusters"].unique().to_list() == [1]
    assert boot["ci_low"].is_null().all() and boot["ci_high"].is_null().all()
    assert boot["estimate"].is_not_null().any()
    assert set(boot["reason"].to_list()) <= {"too_few_clusters", "zero_denominator"}
    by_ti = bootstrap_leverage(projects, ["ti_id"]).with_columns(
        pl.col("metric").map_elements(min_clusters_for, return_dtype=pl.Int64).alias("minimum")
    )
    few = by_ti.filter(pl.col("n_clusters") < pl.col("minimum"))
    assert few.height > 0 and few["ci_low"].is_null().all()
    enough = by_ti.filter((pl.col("n_clusters") >= pl.col("minimum")) & (pl.col("estimate") > 0))
    assert enough.height > 0 and enough["ci_low"].is_not_null().all()


def test_clustering_widens_intervals_when_clusters_matter() -> None:
    projects = make_synthetic_projects(1500, seed=21, n_epci=60, cluster_sd=0.8, project_sd=0.2)
    kw = {"n_boot": 499, "metrics": ["investment_per_aid_eur"]}
    by_epci = bootstrap_leverage(projects, cluster="epci_siren", **kw).row(0, named=True)
    by_project = bootstrap_leverage(projects, cluster="project_id", **kw).row(0, named=True)
    assert by_epci["se"] > 1.5 * by_project["se"]


def test_bootstrap_methods_and_parameters(synthetic: pl.DataFrame) -> None:
    for method in METHODS:
        row = bootstrap_leverage(synthetic, n_boot=299, method=method).row(0, named=True)
        assert row["method"] == method and row["reason"] is None
        assert row["ci_low"] < row["estimate"] < row["ci_high"]
    for bad in ({"method": "normal"}, {"ci": 1.5}, {"n_boot": 1}, {"metrics": ["aid_eur"]}):
        with pytest.raises(ParameterError):
            bootstrap_leverage(synthetic, **bad)


# -------------------------------------------------------------------------------- sensitivity


def test_sensitivity_variants(synthetic: pl.DataFrame) -> None:
    out = sensitivity_leverage(synthetic, metrics=["investment_per_aid_eur"])
    assert out["variant"].to_list() == list(VARIANTS)
    n = dict(zip(out["variant"], out["n_projects"], strict=True))
    assert n["baseline"] == n["winsorised"] == synthetic.height
    assert n["without_top_aid"] == synthetic.height - math.ceil(0.01 * synthetic.height)
    reported = synthetic.filter(
        pl.col("aid_paid_eur").is_not_null() & pl.col("investment_realised_eur").is_not_null()
    )
    assert n["announced_realised_subset"] == n["realised"] == reported.height
    est = dict(zip(out["variant"], out["estimate"], strict=True))
    assert est["baseline"] == pytest.approx(
        summarise_leverage(synthetic)["investment_per_aid_eur"][0]
    )
    expected_realised = reported["investment_realised_eur"].sum() / reported["aid_paid_eur"].sum()
    assert est["realised"] == pytest.approx(expected_realised)
    expected_announced = reported["investment_eur"].sum() / reported["aid_eur"].sum()
    assert est["announced_realised_subset"] == pytest.approx(expected_announced)


def test_winsorising_and_dropping_top_aid() -> None:
    projects = make_synthetic_projects(500, seed=2)
    # one absurd project: 1000 x the largest aid, ratio 1
    outlier = (
        projects.head(1)
        .with_columns(
            pl.lit("OUTLIER").alias("project_id"),
            (pl.col("aid_eur") * 0 + projects["aid_eur"].max() * 1000).alias("aid_eur"),
        )
        .with_columns(pl.col("aid_eur").alias("investment_eur"))
    )
    with_outlier = pl.concat([projects, outlier])
    out = sensitivity_leverage(with_outlier, metrics=["investment_per_aid_eur"])
    est = dict(zip(out["variant"], out["estimate"], strict=True))
    clean = summarise_leverage(projects)["investment_per_aid_eur"][0]
    assert est["baseline"] < 2  # dominated by the outlier
    assert est["without_top_aid"] == pytest.approx(
        summarise_leverage(
            with_outlier.sort("aid_eur", descending=True).slice(math.ceil(0.01 * 501))
        )["investment_per_aid_eur"][0]
    )
    assert abs(est["without_top_aid"] - clean) < abs(est["baseline"] - clean)
    assert abs(est["winsorised"] - clean) < abs(est["baseline"] - clean)


def test_sensitivity_with_bootstrap_and_groups(synthetic: pl.DataFrame) -> None:
    out = sensitivity_leverage(
        synthetic,
        ["in_ti"],
        metrics=["investment_per_aid_eur"],
        n_boot=99,
        variants=["baseline", "realised"],
    )
    assert out.height == 4
    assert {"ci_low", "ci_high", "in_ti", "ti_phase", "variant_label_fr"} <= set(out.columns)
    with pytest.raises(ParameterError):
        sensitivity_leverage(synthetic, variants=["nope"])
