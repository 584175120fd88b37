"""Benchmark of the per-territory synthetic controls (figures and ratios, not pass/fail).

    .venv/bin/python benchmarks/bench_synth.py [--repeat 5] [--processed SNAPSHOT_DIR]

1. ``run_synthetic_controls`` on the real inputs (every phase-1 and phase-2 territory, donor
   placebos included: ``--processed``, else the shipped reference files, else
   ``../shared/data/raw``), else on a synthetic world of the same size (332 territories, 35
   donors): median wall time, with one BLAS thread and with the
   library default, side by side (budget: 30 s on 2 cores).
2. The simplex-constrained least squares (NNLS + exact polish) against scipy SLSQP on the same
   332 fits: time ratio and the largest objective difference.
3. What the sheets will print: counts by phase and ``nd_reason``, distribution of the pre-label
   fit and of the placebo p-values.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import polars as pl
from _timing import median_time as timed
from scipy import optimize

from analyse.estimate import synth
from analyse.estimate.threads import single_threaded_blas
from analyse.paths import get_shared_raw_dir


def read_real_inputs(raw: Path) -> tuple[pl.DataFrame, ...]:
    """Labour panel, communes, commune territories and territories through the cleaners."""
    from analyse.clean.pipeline import build_core_tables

    tables, _, _ = build_core_tables(raw)
    names = ("labour_panel", "communes", "commune_territories", "territories")
    return tuple(tables[n] for n in names)


def synthetic_inputs() -> tuple[pl.DataFrame, ...]:
    """A synthetic world of the real size: 35 donors, 332 territories of one zone each."""
    labour, _ = synth.simulate_synthetic_world(n_donors=35, n_treated=332, gap_pp=0.0, seed=1)
    zones = labour["ze2020_code"].unique().sort().to_list()
    communes = pl.DataFrame({"commune_insee": [f"C{z}" for z in zones], "ze2020_code": zones})
    treated = [z for z in zones if z.startswith("T")]
    ct = pl.DataFrame(
        {
            "commune_insee": [f"C{z}" for z in treated],
            "ti_phase": pl.Series([1 if i < 149 else 2 for i in range(332)], dtype=pl.Int8),
            "ti_id": [f"ti-{z}" for z in treated],
        }
    )
    return labour, communes, ct, ct.select("ti_id", "ti_phase").unique()


def bench_solver(n_problems: int = 332, t_pre: int = 19, n_donors: int = 35) -> None:
    print("\n## 2. Simplex-constrained least squares: NNLS + exact polish vs scipy SLSQP")
    rng = np.random.default_rng(0)
    problems = []
    for _ in range(n_problems):
        a = np.cumsum(rng.normal(0, 0.3, (t_pre, n_donors)), axis=0)
        b = a @ rng.dirichlet(np.ones(n_donors)) + rng.normal(0, 0.1, t_pre)
        problems.append((a, b))

    def ours():
        return [synth.simplex_least_squares(a, b) for a, b in problems]

    def slsqp():
        out = []
        for a, b in problems:
            res = optimize.minimize(
                lambda x, a=a, b=b: np.sum((a @ x - b) ** 2),
                np.full(n_donors, 1 / n_donors),
                jac=lambda x, a=a, b=b: 2 * a.T @ (a @ x - b),
                method="SLSQP",
                bounds=[(0, 1)] * n_donors,
                constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
                options={"ftol": 1e-12, "maxiter": 500},
            )
            out.append(res.x)
        return out

    with single_threaded_blas():
        t_ours, w_ours = timed(ours, 3)
        t_ref, w_ref = timed(slsqp, 1)
    gap = max(
        float(np.sum((a @ w1 - b) ** 2) - np.sum((a @ w2 - b) ** 2))
        for (a, b), w1, w2 in zip(problems, w_ours, w_ref, strict=True)
    )
    print(
        f"{n_problems} fits ({t_pre} quarters × {n_donors} donors): ours {t_ours * 1e3:.0f} ms, "
        f"SLSQP {t_ref * 1e3:.0f} ms, ratio {t_ref / t_ours:.1f}×; "
        f"max (ours − SLSQP) objective {gap:+.2e} (negative = ours lower)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--processed", type=Path, help="read core tables from this snapshot")
    args = parser.parse_args()
    raw = get_shared_raw_dir()
    inputs, label = None, "synthetic world of the real size (no real inputs)"
    if args.processed is not None:
        from analyse.tables import read_core_table

        names = ("labour_panel", "communes", "commune_territories", "territories")
        inputs = tuple(read_core_table(n, args.processed) for n in names)
        label = f"real core tables of {args.processed}"
    else:
        try:
            import tempfile

            from analyse.refdata import materialise_reference

            folder = Path(tempfile.mkdtemp(prefix="bench_synth_"))
            materialise_reference(folder)
            inputs, label = read_real_inputs(folder), "shipped reference files (data/reference)"
        except Exception as exc:  # noqa: BLE001 - fall back to ../shared, then synthetic
            print(f"(reference files unavailable: {exc})")
    if inputs is None and raw is not None:
        try:
            inputs, label = read_real_inputs(raw), "real inputs of ../shared"
        except (FileNotFoundError, ValueError) as exc:
            print(f"(real inputs unavailable: {exc})")
    if inputs is None:
        inputs = synthetic_inputs()
    labour, communes, ct, territories = inputs
    print(f"# bench_synth on the {label}")
    print("\n## 1. run_synthetic_controls: every territory sheet + donor placebos")

    def run():
        return synth.run_synthetic_controls(labour, communes, ct, territories)

    t_default, out = timed(run, args.repeat)
    with single_threaded_blas():
        t_single, _ = timed(run, args.repeat)
    s = out["synth_summary"]
    print(
        f"{s.height} territories ({s.filter(pl.col('ti_phase') == 1).height} phase 1, "
        f"{s.filter(pl.col('ti_phase') == 2).height} phase 2), "
        f"{out['synth_placebos'].height} donor placebos"
    )
    print(
        f"median of {args.repeat}: default BLAS threads {t_default:.3f} s, one BLAS thread "
        f"{t_single:.3f} s (ratio {t_default / t_single:.2f}); budget 30 s "
        f"({30 / max(t_default, t_single):.0f}× headroom)"
    )
    bench_solver()
    print("\n## 3. What the sheets print")
    with pl.Config(tbl_rows=20):
        print(s.group_by("ti_phase", "nd_reason").len().sort("ti_phase", "nd_reason"))
        print(
            s.filter(pl.col("is_printed"))
            .select("rmspe_pre_pp", "gap_post_pp", "p_value_placebo")
            .describe()
        )


if __name__ == "__main__":
    main()
