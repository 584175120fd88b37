"""Benchmark: cluster-bootstrap CIs for every région and territory, secrecy, Monte Carlo coverage.

Run: ``.venv/bin/python benchmarks/bench_leverage.py [--reps 1000] [--quick]``. Prints figures and
ratios (no pass/fail): time of bootstrap intervals for all régions and all territories on a
realistic synthetic projects table (1,416 projects, the fund's size) and on 100,000 projects,
per group; the speed-up of the vectorised bootstrap over a row-resampling loop; the time of
statistical-secrecy masking; and the coverage of the 95% interval in a Monte Carlo run.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import polars as pl
from _timing import best_time as timed

from analyse.estimate.bootstrap import bootstrap_leverage
from analyse.estimate.leverage import make_synthetic_projects, summarise_leverage
from analyse.estimate.secrecy import apply_secrecy

TRUE_RATIO = 9.4
TRUE_JOBS = 47.6


def naive_bootstrap(projects: pl.DataFrame, n_boot: int, seed: int) -> tuple[float, float]:
    """Reference: resample EPCI clusters and re-sum their rows in a Python loop (nation only)."""
    rng = np.random.default_rng(seed)
    aid = projects["aid_eur"].to_numpy()
    inv = projects["investment_eur"].to_numpy()
    codes = projects["epci_siren"].to_numpy()
    clusters = [np.flatnonzero(codes == c) for c in np.unique(codes)]
    k = len(clusters)
    ratios = np.empty(n_boot)
    for b in range(n_boot):
        rows = np.concatenate([clusters[i] for i in rng.integers(0, k, size=k)])
        ratios[b] = inv[rows].sum() / aid[rows].sum()
    low, high = np.quantile(ratios, [0.025, 0.975])
    return float(low), float(high)


def bench_batch(projects: pl.DataFrame, label: str, n_boot: int) -> None:
    print(f"\n## {label}: {projects.height:,} projects, n_boot = {n_boot}")
    print(f"{'groups':<34}{'n groups':>9}{'with CI':>9}{'total s':>10}{'ms/group':>10}")
    runs = [
        ("nation (cluster EPCI)", None, "epci_siren"),
        ("régions (cluster EPCI)", ["region_code"], "epci_siren"),
        ("territories ph.1 (cluster EPCI)", ["ti_id"], "epci_siren"),
        ("territories ph.1 (cluster firm)", ["ti_id"], "siren"),
        ("territories ph.2 (cluster EPCI)", ["ti_id_phase2"], "epci_siren"),
    ]
    for name, by, cluster in runs:
        seconds, out = timed(
            lambda by=by, cluster=cluster: bootstrap_leverage(
                projects, by, cluster=cluster, n_boot=n_boot
            ),
            repeat=2,
        )
        n_groups = out.select(by or []).n_unique() if by else 1
        with_ci = out.filter(pl.col("metric") == "investment_per_aid_eur")["ci_low"].is_not_null()
        print(
            f"{name:<34}{n_groups:>9}{int(with_ci.sum()):>9}{seconds:>10.3f}"
            f"{1000 * seconds / n_groups:>10.2f}"
        )


def bench_naive(projects: pl.DataFrame, n_boot: int) -> None:
    t_vec, _ = timed(
        lambda: bootstrap_leverage(projects, n_boot=n_boot, metrics=["investment_per_aid_eur"])
    )
    t_naive, _ = timed(lambda: naive_bootstrap(projects, n_boot, 1), repeat=1)
    print(
        f"nation, {projects.height:,} projects, n_boot {n_boot}: vectorised {t_vec:.3f} s, "
        f"row-resampling loop {t_naive:.3f} s, ratio {t_naive / t_vec:.1f}x"
    )


def bench_secrecy(projects: pl.DataFrame) -> None:
    print(f"\n## Statistical secrecy ({projects.height:,} projects)")
    for keys in (
        ["region_code"],
        ["ti_id"],
        ["region_code", "firm_size"],
        ["region_code", "sector"],
    ):
        table = summarise_leverage(projects, keys, margins=True)
        seconds, out = timed(lambda table=table, keys=keys: apply_secrecy(table, keys=keys))
        counts = out["mask_reason"].value_counts().filter(pl.col("mask_reason").is_not_null())
        detail = ", ".join(f"{r} {c}" for r, c in counts.sort("mask_reason").iter_rows())
        print(
            f"{' x '.join(keys):<26} rows {out.height:>5}  masked {int(out['is_masked'].sum()):>4}"
            f"  {seconds * 1000:>8.1f} ms  ({detail})"
        )


def monte_carlo(reps: int, n_boot: int) -> None:
    print(f"\n## Monte Carlo coverage: {reps} samples of 1,416 projects, n_boot {n_boot}, 95% CI")
    methods = ("percentile", "bca")
    hits = {(m, metric): 0 for m in methods for metric in ("inv", "jobs")}
    widths: dict[str, list[float]] = {m: [] for m in methods}
    start = time.perf_counter()
    for rep in range(reps):
        projects = make_synthetic_projects(1416, seed=50_000 + rep)
        for method in methods:
            out = bootstrap_leverage(
                projects,
                n_boot=n_boot,
                seed=rep,
                method=method,
                metrics=["investment_per_aid_eur", "jobs_created_per_meur_aid"],
            )
            inv, jobs = out.row(0, named=True), out.row(1, named=True)
            hits[(method, "inv")] += inv["ci_low"] <= TRUE_RATIO <= inv["ci_high"]
            hits[(method, "jobs")] += jobs["ci_low"] <= TRUE_JOBS <= jobs["ci_high"]
            widths[method].append(inv["ci_high"] - inv["ci_low"])
    seconds = time.perf_counter() - start
    se = math.sqrt(0.95 * 0.05 / reps)
    for method in methods:
        cov_inv = hits[(method, "inv")] / reps
        cov_jobs = hits[(method, "jobs")] / reps
        print(
            f"{method:<11} investment/aid coverage {cov_inv:.3f}, jobs/M EUR coverage "
            f"{cov_jobs:.3f} (binomial sd at 0.95: {se:.3f}); mean width {np.mean(widths[method]):.3f}"
        )
    print(f"total {seconds:.1f} s, {1000 * seconds / reps:.1f} ms per sample (both methods)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000, help="Monte Carlo samples")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    n_boot = 499 if args.quick else 1999
    fund = make_synthetic_projects(1416, seed=2018)
    big = make_synthetic_projects(20_000 if args.quick else 100_000, seed=2019)
    print("# Leverage bootstrap benchmark (synthetic projects)")
    bench_batch(fund, "Fund-sized table", n_boot)
    bench_batch(big, "Large table", n_boot)
    print("\n## Vectorised cluster bootstrap vs row-resampling loop")
    bench_naive(fund, n_boot)
    bench_naive(big, 199 if not args.quick else 99)
    bench_secrecy(fund)
    monte_carlo(100 if args.quick else args.reps, 499 if args.quick else 999)


if __name__ == "__main__":
    main()
