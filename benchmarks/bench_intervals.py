"""Monte Carlo study: which 95 % interval covers the fund's ratios of sums, from how many clusters.

Run: ``nice -n 10 .venv/bin/python benchmarks/bench_intervals.py [--quick] [--reps N]
[--boot-reps N] [--write]``. ``--write`` saves the table to ``src/analyse/estimate/
interval_study.csv`` (shipped; the national review's methodology shows it). Prints, per scenario
and method, the coverage of the 95 % interval, its Monte Carlo standard error, the lower / upper
miss rates and the median relative width; then the coverage range of each method over the
scenarios where an interval is printed, the smallest cluster count from which the default method
stays within 0.93-0.97, and the time of the default intervals for a fund-sized run (~600 cells).

Design (superpopulation; the truth is **analytic**, no large simulation needed):

* clusters: ``G`` in 5 ... 1,250; sizes ``heavy`` (``floor(Pareto(1.5))`` capped at 200: most
  clusters hold 1-3 projects, a few hold dozens, like EPCI), ``moderate`` (``1 + Poisson(1.8)``)
  or ``firms`` (``1 + Poisson(0.08)``, firm clusters);
* aid ``X_i``: log-normal (sigma 1.3) or Pareto (alpha 1.3, infinite variance), mean EUR 405 k;
* investment ``Y_i = X_i (1 + (R - 1) u_g e_i)`` with ``R = 9.4``, cluster effect ``u_g`` and
  project noise ``e_i`` log-normal of mean 1 (sigma 0.35 and 0.6, the synthetic generator's);
* jobs created ``~ Poisson(J X_i / 1e6 v_g eta_i)``, ``J = 47.6``, ``v``, ``eta`` as ``u``, ``e``.

``u, e, v, eta`` are independent of the aid and of the cluster sizes, all of mean 1, so the
superpopulation ratios are exactly: investment per aid ``R``, private investment per aid
``R - 1``, jobs per M EUR ``J``, aid per job ``1e6 / J`` and mean project ratio ``R``.

Methods, all on the same samples: bootstrap (``percentile`` - the former default -, ``basic``,
``bca``, ``studentized``, ``studentized_log``; on the first ``--boot-reps`` replications, 999
resamples; one weight matrix is shared by blocks of 10 replications, whose data are independent)
and analytic (``jackknife_t`` / ``jackknife_t_log``: jackknife SE with t(G-1); ``cr2_bm_log``:
CR2 variance with Bell-McCaffrey degrees of freedom; ``jackknife_bm_log``: jackknife variance with
Bell-McCaffrey degrees of freedom; ``jackknife_log``: the default, whose degrees of freedom are
the smaller of Bell-McCaffrey and the empirical Satterthwaite value).
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np
import polars as pl
from _timing import best_time
from scipy import stats

from analyse.estimate import bootstrap as bs
from analyse.estimate.leverage import make_synthetic_projects

TRUE_RATIO = 9.4
TRUE_JOBS = 47.6
#: Metric -> superpopulation value (see the module docstring).
TRUTH = {
    "investment_per_aid_eur": TRUE_RATIO,
    "private_investment_per_aid_eur": TRUE_RATIO - 1,
    "jobs_created_per_meur_aid": TRUE_JOBS,
    "aid_per_job_created_eur": 1e6 / TRUE_JOBS,
    "mean_project_investment_per_aid": TRUE_RATIO,
}
METRICS = tuple(TRUTH)
AMOUNTS = ("lognormal", "pareto")
SIZES = ("heavy", "moderate", "firms")
N_CLUSTERS = (5, 7, 10, 15, 20, 30, 40, 60, 100, 250, 500, 1250)
BOOT_METHODS = bs.BOOTSTRAP_METHODS
ANALYTIC = ("jackknife_t", "jackknife_t_log", "cr2_bm_log", "jackknife_bm_log", "jackknife_log")
METHODS = (*BOOT_METHODS, *ANALYTIC)
BAND = (0.93, 0.97)
MEAN_AID_EUR = 405_000.0
CLUSTER_SD, PROJECT_SD = 0.35, 0.6
OUT = Path(__file__).resolve().parents[1] / "src" / "analyse" / "estimate" / "interval_study.csv"


# ------------------------------------------------------------------------------- simulation


def _lognormal_mean1(rng: np.random.Generator, sd: float, size: int) -> np.ndarray:
    return rng.lognormal(-(sd**2) / 2, sd, size)


def cluster_sizes(rng: np.random.Generator, n: int, design: str) -> np.ndarray:
    if design == "heavy":
        return np.minimum(200, np.floor(1 + rng.pareto(1.5, n))).astype(np.int64)
    return 1 + rng.poisson(1.8 if design == "moderate" else 0.08, n)


def aid_amounts(rng: np.random.Generator, n: int, amounts: str) -> np.ndarray:
    if amounts == "lognormal":
        return rng.lognormal(math.log(MEAN_AID_EUR) - 1.3**2 / 2, 1.3, n)
    alpha = 1.3  # classical Pareto with scale x_m: mean alpha x_m / (alpha - 1)
    return MEAN_AID_EUR * (alpha - 1) / alpha * (1 + rng.pareto(alpha, n))


def simulate(
    rng: np.random.Generator, reps: int, n_clusters: int, amounts: str, design: str
) -> tuple[np.ndarray, np.ndarray]:
    """Cluster sums ``(G, reps * M)`` of each metric's numerator and denominator (rep-major)."""
    cells = reps * n_clusters
    sizes = cluster_sizes(rng, cells, design)
    cl = np.repeat(np.arange(cells), sizes)
    x = aid_amounts(rng, len(cl), amounts)
    u, v = _lognormal_mean1(rng, CLUSTER_SD, cells), _lognormal_mean1(rng, CLUSTER_SD, cells)
    e, eta = _lognormal_mean1(rng, PROJECT_SD, len(cl)), _lognormal_mean1(rng, PROJECT_SD, len(cl))
    y = x * (1 + (TRUE_RATIO - 1) * u[cl] * e)
    jobs = rng.poisson(TRUE_JOBS * x / 1e6 * v[cl] * eta).astype(np.float64)
    parts = [(y, x), (y - x, x), (jobs, x / 1e6), (x, jobs), (y / x, np.ones_like(x))]

    def sums(w: np.ndarray) -> np.ndarray:  # (cells,) -> (G, reps)
        return np.bincount(cl, weights=w, minlength=cells).reshape(reps, n_clusters).T

    num = np.stack([sums(a) for a, _ in parts], axis=2)  # (G, reps, M)
    den = np.stack([sums(b) for _, b in parts], axis=2)
    return num.reshape(n_clusters, -1), den.reshape(n_clusters, -1)


# ------------------------------------------------------------------------------ candidates


def analytic_bounds(num: np.ndarray, den: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Bounds of the analytic candidates for every column (NaN where undefined)."""
    g = num.shape[0]
    est = num.sum(axis=0) / den.sum(axis=0)
    default, _ = bs.jackknife_log_intervals(num, den)
    se_j = np.sqrt((g - 1) / g * ((bs.leave_one_out_ratios(num, den) - est) ** 2).sum(axis=0))
    share = den / den.sum(axis=0)
    resid = num - est * den
    c2, c3 = 1 / (1 - share), 1 / (1 - share) ** 2
    se_cr2 = np.sqrt((c2 * resid * resid).sum(axis=0)) / den.sum(axis=0)
    q_g1 = stats.t.ppf(0.975, g - 1)
    q_bm2 = stats.t.ppf(0.975, bs.satterthwaite_df(den, c2))
    q_bm3 = stats.t.ppf(0.975, bs.satterthwaite_df(den, c3))

    def log_t(q: np.ndarray | float, se: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return est * np.exp(-q * se / est), est * np.exp(q * se / est)

    return {
        "jackknife_t": (est - q_g1 * se_j, est + q_g1 * se_j),
        "jackknife_t_log": log_t(q_g1, se_j),
        "cr2_bm_log": log_t(q_bm2, se_cr2),
        "jackknife_bm_log": log_t(q_bm3, se_j),
        "jackknife_log": (default.low, default.high),
    }


def boot_bounds(
    num: np.ndarray, den: np.ndarray, rng: np.random.Generator, n_boot: int
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Bounds of the bootstrap candidates, one shared weight matrix for all columns."""
    w = bs.draw_cluster_weights(rng, n_boot, num.shape[0]).astype(np.float64)
    boot, var = bs.bootstrap_replicates(num, den, w, studentized=True)
    out = {}
    for method in BOOT_METHODS:
        iv = bs.bootstrap_intervals(num, den, boot, var, method=method)
        out[method] = (iv.low, iv.high)
    return out


# ------------------------------------------------------------------------------------ study


class Tally:
    """Coverage counts and widths of one scenario, per (method, metric)."""

    def __init__(self) -> None:
        self.low: dict[tuple[str, int], list[np.ndarray]] = {}
        self.high: dict[tuple[str, int], list[np.ndarray]] = {}

    def add(self, bounds: dict[str, tuple[np.ndarray, np.ndarray]]) -> None:
        m = len(METRICS)
        for method, (low, high) in bounds.items():
            for j in range(m):
                self.low.setdefault((method, j), []).append(low[j::m])
                self.high.setdefault((method, j), []).append(high[j::m])

    def rows(self) -> list[dict[str, object]]:
        out = []
        for (method, j), lows in self.low.items():
            truth = TRUTH[METRICS[j]]
            low, high = np.concatenate(lows), np.concatenate(self.high[(method, j)])
            ok = np.isfinite(low) & np.isfinite(high)
            n = int(ok.sum())
            cov = float(np.mean((low[ok] <= truth) & (truth <= high[ok]))) if n else math.nan
            out.append(
                {
                    "metric": METRICS[j],
                    "method": method,
                    "n_reps": len(low),
                    "coverage": cov,
                    "mc_se": math.sqrt(cov * (1 - cov) / n) if n else math.nan,
                    "miss_low": float(np.mean(truth < low[ok])) if n else math.nan,
                    "miss_high": float(np.mean(truth > high[ok])) if n else math.nan,
                    "rel_width": float(np.median((high[ok] - low[ok]) / truth)) if n else math.nan,
                    "share_defined": n / len(low),
                }
            )
        return out


def run_scenario(
    amounts: str, design: str, n_clusters: int, *, reps: int, boot_reps: int, n_boot: int, seed: int
) -> list[dict[str, object]]:
    """Every method on the same ``reps`` samples (bootstrap methods on the first ``boot_reps``)."""
    ss = np.random.SeedSequence([seed, AMOUNTS.index(amounts), SIZES.index(design), n_clusters])
    data_rng, boot_rng = (np.random.default_rng(s) for s in ss.spawn(2))
    tally = Tally()
    done = 0
    while done < reps:
        in_boot = done < boot_reps
        block = 10 if in_boot else max(10, min(500, 50_000 // n_clusters))
        block = min(block, reps - done, boot_reps - done if in_boot else reps)
        num, den = simulate(data_rng, block, n_clusters, amounts, design)
        with np.errstate(divide="ignore", invalid="ignore"):
            bounds = analytic_bounds(num, den)
            if in_boot:
                bounds |= boot_bounds(num, den, boot_rng, n_boot)
        tally.add(bounds)
        done += block
    return [
        {"amounts": amounts, "cluster_sizes": design, "n_clusters": n_clusters, **row}
        for row in tally.rows()
    ]


def smallest_printable(table: pl.DataFrame, method: str, metric: str | None = None) -> int | None:
    """Smallest G such that every cell of ``method`` with at least G clusters is in the band."""
    rows = table.filter(pl.col("method") == method)
    if metric is not None:
        rows = rows.filter(pl.col("metric") == metric)
    per_g = (
        rows.group_by("n_clusters")
        .agg(pl.col("coverage").min().alias("lo"), pl.col("coverage").max().alias("hi"))
        .sort("n_clusters", descending=True)
    )
    best = None
    for g, lo, hi in per_g.iter_rows():
        if not BAND[0] <= lo <= hi <= BAND[1]:
            break
        best = g
    return best


def print_scenario(rows: list[dict[str, object]]) -> None:
    head = rows[0]
    print(
        f"\n### {head['amounts']} amounts, {head['cluster_sizes']} cluster sizes, "
        f"G = {head['n_clusters']}  (coverage per metric: {', '.join(m[:12] for m in METRICS)})"
    )
    by_method: dict[str, list[dict[str, object]]] = {}
    for r in rows:
        by_method.setdefault(str(r["method"]), []).append(r)
    for method in METHODS:
        rs = by_method.get(method)
        if not rs:
            continue
        cov = " ".join(f"{float(r['coverage']):.3f}" for r in rs)  # type: ignore[arg-type]
        se = max(float(r["mc_se"]) for r in rs)  # type: ignore[arg-type]
        lo = np.mean([float(r["miss_low"]) for r in rs])  # type: ignore[arg-type]
        hi = np.mean([float(r["miss_high"]) for r in rs])  # type: ignore[arg-type]
        w = float(rs[0]["rel_width"])  # type: ignore[arg-type]
        print(
            f"  {method:<17} {cov}  (mc se <= {se:.3f}, n={rs[0]['n_reps']})  miss low {lo:.3f} "
            f"high {hi:.3f}  rel. width (inv/aid) {w:.3f}"
        )


def with_rule(table: pl.DataFrame) -> pl.DataFrame:
    """``printed`` (the package's minimum cluster count for the metric) and ``chosen`` columns."""
    minimum = pl.col("metric").replace_strict(
        {m: bs.min_clusters_for(m) for m in METRICS}, return_dtype=pl.Int64
    )
    return table.with_columns(
        (pl.col("n_clusters") >= minimum).alias("printed"),
        (pl.col("method") == bs.DEFAULT_METHOD).alias("chosen"),
    )


def summarise(table: pl.DataFrame) -> None:
    rule = ", ".join(f"{m} {bs.min_clusters_for(m)}" for m in METRICS)
    print(f"\n## Coverage range over printed scenarios (minimum clusters: {rule}); band {BAND}")
    printed = table.filter(pl.col("printed"))
    for method in METHODS:
        t = printed.filter(pl.col("method") == method)
        if t.height == 0:
            continue
        out = t.filter((pl.col("coverage") < BAND[0]) | (pl.col("coverage") > BAND[1])).height
        print(
            f"  {method:<17} min {t['coverage'].min():.3f}  max {t['coverage'].max():.3f}  "
            f"cells outside the band {out:>4} / {t.height}  mean miss low "
            f"{t['miss_low'].mean():.3f} high {t['miss_high'].mean():.3f}"
        )
    for method in ("percentile", bs.DEFAULT_METHOD):
        by_metric = {m: smallest_printable(table, method, m) for m in METRICS}
        print(f"  {method}: every cell in the band from G = (None: never) {by_metric}")


def markdown_summary(table: pl.DataFrame) -> str:
    """Two markdown tables for ``docs/intervals.md``: every method over the printed scenarios,
    then the default and the percentile bootstrap by number of clusters."""
    printed = table.filter(pl.col("printed"))
    ref = printed.filter(pl.col("chosen")).select(
        "amounts", "cluster_sizes", "n_clusters", "metric", pl.col("rel_width").alias("ref")
    )
    lines = [
        "| method | coverage min | coverage max | cells outside 0.93-0.97 | miss low | miss high "
        "| width / default |",
        "|---|---|---|---|---|---|---|",
    ]
    for method in METHODS:
        t = printed.filter(pl.col("method") == method)
        if t.height == 0:
            continue
        out = t.filter((pl.col("coverage") < BAND[0]) | (pl.col("coverage") > BAND[1])).height
        ratio = t.join(ref, on=["amounts", "cluster_sizes", "n_clusters", "metric"])
        lines.append(
            f"| {method} | {t['coverage'].min():.3f} | {t['coverage'].max():.3f} | "
            f"{out} / {t.height} | {t['miss_low'].mean():.3f} | {t['miss_high'].mean():.3f} | "
            f"{(ratio['rel_width'] / ratio['ref']).median():.2f} |"
        )
    lines += [
        "",
        "| clusters | default, printed cells: coverage min-max | default: width (inv./aid, "
        "median) | percentile: coverage min-max |",
        "|---|---|---|---|",
    ]
    for g in sorted(table["n_clusters"].unique().to_list()):
        cells = table.filter(pl.col("n_clusters") == g)
        d = cells.filter(pl.col("chosen"))
        shown = d.filter(pl.col("printed"))
        cov = (
            f"{shown['coverage'].min():.3f}-{shown['coverage'].max():.3f}"
            if shown.height
            else f"not printed ({d['coverage'].min():.3f}-{d['coverage'].max():.3f})"
        )
        pct = cells.filter(pl.col("method") == "percentile")
        w = d.filter(pl.col("metric") == "investment_per_aid_eur")["rel_width"].median()
        lines.append(
            f"| {g} | {cov} | {w:.2f} | {pct['coverage'].min():.3f}-{pct['coverage'].max():.3f} |"
        )
    return "\n".join(lines)


# ------------------------------------------------------------------------------------ speed


def bench_speed() -> None:
    """Intervals of ~600 fund cells x 4 ratios (the figures stage's load), default vs percentile."""
    projects = make_synthetic_projects(1416, seed=2018)
    families = [
        [],
        ["region_code"],
        ["sector"],
        ["firm_size"],
        ["decision_year"],
        ["ti_id_phase1"],
        ["ti_id_phase2"],
        ["region_code", "sector"],
        ["region_code", "firm_size"],
        ["region_code", "decision_year"],
    ]
    metrics = [
        "investment_per_aid_eur",
        "jobs_created_per_meur_aid",
        "private_investment_per_aid_eur",
        "aid_per_job_created_eur",
    ]

    def run(method: str, n_boot: int = 1999) -> int:
        return sum(
            bs.bootstrap_leverage(
                projects, fam or None, metrics=metrics, method=method, n_boot=n_boot
            ).height
            for fam in families
        )

    n_rows = run(bs.DEFAULT_METHOD)
    t_default = best_time(lambda: run(bs.DEFAULT_METHOD))[0]
    t_pct = best_time(lambda: run("percentile"), repeat=1)[0]
    cells = n_rows // len(metrics)
    print(f"\n## Speed: {cells} cells x {len(metrics)} ratios (1,416 projects, EPCI clusters)")
    print(
        f"  {bs.DEFAULT_METHOD}: {t_default:.3f} s ({1000 * t_default / cells:.2f} ms/cell); "
        f"percentile bootstrap (1,999 resamples): {t_pct:.3f} s; ratio {t_pct / t_default:.1f}x; "
        f"budget 5 s: {'well under' if t_default < 1 else 'CHECK'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small grid and few replications")
    parser.add_argument("--reps", type=int, default=None, help="replications (analytic methods)")
    parser.add_argument("--boot-reps", type=int, default=None, help="replications (bootstrap)")
    parser.add_argument("--n-boot", type=int, default=999, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=20_250)
    parser.add_argument("--write", action="store_true", help=f"write {OUT.name}")
    parser.add_argument(
        "--recompute", action="store_true", help=f"re-apply the printing rule to {OUT.name} only"
    )
    args = parser.parse_args()
    if args.recompute:
        table = with_rule(pl.read_csv(OUT).drop("printed", "chosen"))
        summarise(table)
        print("\n" + markdown_summary(table))
        if args.write:
            table.write_csv(OUT)
        return
    reps = args.reps or (600 if args.quick else 10_000)
    boot_reps = min(reps, args.boot_reps or (300 if args.quick else 2_000))
    grid = (7, 20, 100, 500) if args.quick else N_CLUSTERS
    print(
        f"# Interval coverage study: {reps} replications ({boot_reps} for bootstrap methods, "
        f"{args.n_boot} resamples), 95 % intervals, seed {args.seed}"
    )
    start = time.perf_counter()
    rows: list[dict[str, object]] = []
    for amounts in AMOUNTS:
        for design in SIZES:
            for g in grid:
                t0 = time.perf_counter()
                scen = run_scenario(
                    amounts, design, g, reps=reps, boot_reps=boot_reps, n_boot=args.n_boot,
                    seed=args.seed,
                )  # fmt: skip
                print_scenario(scen)
                print(f"  ({time.perf_counter() - t0:.1f} s)")
                rows += scen
    table = with_rule(pl.DataFrame(rows)).sort(
        "amounts", "cluster_sizes", "n_clusters", "metric", "method"
    )
    summarise(table)
    print(f"\nstudy time {time.perf_counter() - start:.0f} s")
    if args.write:
        table.with_columns(pl.col(pl.Float64).round(4)).write_csv(OUT)
        print(f"wrote {OUT} ({table.height} rows)")
    bench_speed()


if __name__ == "__main__":
    main()
