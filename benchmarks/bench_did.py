"""Benchmark of the label DiD / event study (figures and ratios, not pass/fail).

    .venv/bin/python benchmarks/bench_did.py [--reps 1000] [--seed 0] [--processed SNAPSHOT]

1. Event study on the full real panel (302 zones d'emploi × 83 quarters, 2003-T1..2023-T3) when
   ``../shared/data/raw`` is present, else on a synthetic panel of the same size: wall time.
2. The same two-way FE event study by the within transformation vs statsmodels OLS with explicit
   zone and quarter dummy columns (cluster-robust): times, ratio and the largest differences.
3. Monte Carlo (``--reps`` panels of 302 zones × 24 quarters with a planted effect): bias, RMSE,
   mean SE / SD and 95 % coverage of the binary and intensity DiD, coverage of the event-study
   lags and size of the pre-trend test.
4. The whole bundle (``run_label_counterfactual``) with and without the Rambachan–Roth bounds,
   side by side; the decision and the breakdown values it gives; the pyfixest oracle's time
   for the same event study (ratio).
5. Staggered, heterogeneous effects (``--reps / 10`` panels): bias of the imputation estimator
   and of static TWFE against the true ATT.

Real inputs: ``--processed`` (a snapshot folder), else the shipped reference files
(``data/reference``, materialised in a temporary folder), else ``../shared/data/raw``, else a
synthetic panel of the same size.

BLAS threads are set to 1 unless already set (``OPENBLAS_NUM_THREADS`` etc.): on a small shared
machine multithreaded BLAS makes these many small solves 10-50× slower.
"""

from __future__ import annotations

import os

for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import statsmodels.api as sm  # noqa: E402
from _timing import median_time as timed  # noqa: E402

from analyse.estimate import did  # noqa: E402
from analyse.paths import get_shared_raw_dir  # noqa: E402

NAMES = ("labour_panel", "communes", "commune_territories", "commune_typologies")


def read_real_panel(raw: Path) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """The real files through the project's own cleaners (labour, communes, TI, typologies)."""
    from analyse.clean.pipeline import build_core_tables

    tables, _, _ = build_core_tables(raw)
    return tuple(tables[n] for n in NAMES)  # type: ignore[return-value]


def read_inputs(processed: Path | None) -> tuple[tuple[pl.DataFrame, ...] | None, str]:
    """Real inputs from a snapshot, the shipped reference files or ../shared (else None)."""
    if processed is not None:
        from analyse.tables import read_core_table

        return tuple(read_core_table(n, processed) for n in NAMES), f"snapshot {processed}"
    try:
        import tempfile

        from analyse.refdata import materialise_reference

        folder = Path(tempfile.mkdtemp(prefix="bench_did_"))
        materialise_reference(folder)
        return read_real_panel(folder), "shipped reference files (data/reference)"
    except Exception as exc:  # noqa: BLE001 - fall back to ../shared, then synthetic
        print(f"(reference files unavailable: {exc})")
    shared = get_shared_raw_dir()
    if shared is not None:
        try:
            return read_real_panel(shared), str(shared)
        except (FileNotFoundError, ValueError) as exc:
            print(f"(../shared raw files unusable: {exc})")
    return None, "synthetic"


def bench_event_study(panel: pl.DataFrame, label: str) -> None:
    print(
        f"\n## 1. Event study on the {label} "
        f"({panel['ze2020_code'].n_unique()} zones, {panel['quarter_index'].n_unique()} quarters, "
        f"{panel.height} rows)"
    )
    t_full, es = timed(lambda: did.fit_event_study(panel, start=None))
    print(
        f"whole panel 2003-T1.. (8 leads, 12 lags, binned): {t_full * 1e3:.0f} ms "
        f"(alternating-projection sweeps: {es.fit.n_iterations}, n_obs {es.fit.n_obs})"
    )
    t_win, es_w = timed(lambda: did.fit_event_study(panel))
    print(
        f"default window {did.DEFAULT_START}..: {t_win * 1e3:.0f} ms "
        f"(sweeps: {es_w.fit.n_iterations}; 0 = exact balanced demeaning)"
    )
    pre = did.compute_pretrend_test(es_w)
    cols = ["rel_quarter", "is_binned", "estimate", "std_error", "ci_low", "ci_high", "p_value"]
    with pl.Config(tbl_rows=30, float_precision=3):
        print(es_w.coefficients.select(cols))
        print(pre.select("test", "statistic", "distribution", "p_value"))


def bench_dummies(panel: pl.DataFrame) -> None:
    print("\n## 2. Within transformation vs statsmodels OLS with dummy columns (whole panel)")
    t_within, es = timed(lambda: did.fit_event_study(panel, start=None, reference=-1, fe_df="full"))
    df = panel.filter(pl.col(did.OUTCOME).is_not_null())
    rel = np.clip(df["quarter_index"].to_numpy() - did.parse_period(did.LABEL_PERIOD), -8, 12)
    dose = df["treatment_intensity"].to_numpy()
    ks = [k for k in range(-8, 13) if k != -1]
    zone = df["ze2020_code"].to_numpy()
    quarter = df["quarter_index"].to_numpy()

    def with_dummies():
        zl, ql = np.unique(zone), np.unique(quarter)
        x = np.column_stack(
            [dose * (rel == k) for k in ks]
            + [np.ones(df.height)]
            + [(zone[:, None] == zl[None, 1:]).astype(float)]
            + [(quarter[:, None] == ql[None, 1:]).astype(float)]
        )
        groups = np.unique(zone, return_inverse=True)[1]
        return sm.OLS(df[did.OUTCOME].to_numpy(), x).fit(
            cov_type="cluster", cov_kwds={"groups": groups}, use_t=True
        ), x.shape

    t_dummy, (res, shape) = timed(with_dummies, repeat=2)
    coef = es.coefficients.filter(pl.col("std_error").is_not_null())
    d_est = np.max(np.abs(coef["estimate"].to_numpy() - res.params[: len(ks)]))
    d_se = np.max(np.abs(coef["std_error"].to_numpy() / res.bse[: len(ks)] - 1))
    print(
        f"within (numpy): {t_within * 1e3:.0f} ms; statsmodels dummies {shape[0]}×{shape[1]}: "
        f"{t_dummy * 1e3:.0f} ms; ratio {t_dummy / t_within:.0f}×"
    )
    print(f"max |Δ estimate| = {d_est:.2e}; max relative Δ SE (fe_df='full') = {d_se:.2e}")


def bench_monte_carlo(reps: int, seed: int) -> None:
    print(
        f"\n## 3. Monte Carlo: {reps} synthetic panels of 302 zones × 24 quarters "
        f"(2016-T1..2021-T4; AR(1) rho 0.5; zone and quarter FE)"
    )
    rng = np.random.default_rng(seed)
    path = [-0.2, -0.4, -0.5]
    truth_post = -0.5  # constant effect for the DiD rows
    rows: dict[str, list[tuple[float, float, bool]]] = {"binary": [], "intensity": []}
    es_hits, es_n, rejections = 0, 0, 0
    t0 = time.perf_counter()
    for _ in range(reps):
        for treatment in ("binary", "intensity"):
            panel = did.simulate_did_panel(
                n_zones=302,
                n_quarters=24,
                first_period="2016-T1",
                treatment=treatment,
                effect=truth_post,
                seed=rng,
            )
            r = did.estimate_did(panel, treatment=treatment, start=None, end=None).row(
                0, named=True
            )
            rows[treatment].append(
                (r["estimate"], r["std_error"], r["ci_low"] <= truth_post <= r["ci_high"])
            )
        panel = did.simulate_did_panel(
            n_zones=302, n_quarters=24, first_period="2016-T1", effect_path=path, seed=rng
        )
        es = did.fit_event_study(panel, treatment="binary", leads=6, lags=8, start=None)
        coef = es.coefficients.filter(pl.col("std_error").is_not_null())
        k = coef["rel_quarter"].to_numpy()
        truth = np.array([path[min(j, len(path) - 1)] if j >= 0 else 0.0 for j in k])
        es_hits += int(
            np.sum((coef["ci_low"].to_numpy() <= truth) & (truth <= coef["ci_high"].to_numpy()))
        )
        es_n += len(k)
        rejections += did.compute_pretrend_test(es)["p_value"][0] < 0.05
    elapsed = time.perf_counter() - t0
    print(
        f"{elapsed:.1f} s ({elapsed / reps * 1e3:.0f} ms per replication: 2 DiD + 1 event "
        f"study + 1 Wald test, simulation included)"
    )
    print("treatment  truth   bias      RMSE    meanSE/SD  coverage95")
    for treatment, vals in rows.items():
        est = np.array([v[0] for v in vals])
        se = np.array([v[1] for v in vals])
        cov = np.mean([v[2] for v in vals])
        print(
            f"{treatment:9s}  {truth_post:+.2f}  {est.mean() - truth_post:+.5f}  "
            f"{np.sqrt(np.mean((est - truth_post) ** 2)):.5f}  "
            f"{se.mean() / est.std(ddof=1):.3f}      {cov:.3f}"
        )
    print(
        f"event study (6 leads, 8 lags): coverage of all {es_n} coefficient CIs "
        f"{es_hits / es_n:.3f}; pre-trend test rejection rate at 5 %: {rejections / reps:.3f}"
    )


def bench_bundle(labour, communes, territories, typologies, panel) -> None:
    print("\n## 4. The bundle, the decision, the sensitivity bounds")
    from analyse.estimate.threads import single_threaded_blas

    def run(with_honest: bool):
        return did.run_label_counterfactual(
            labour, communes, territories, typologies, with_honest=with_honest
        )

    t_full, out = timed(lambda: run(True), repeat=3)
    t_light, _ = timed(lambda: run(False), repeat=3)
    print(
        f"run_label_counterfactual: {t_full:.2f} s with honest bounds, {t_light:.2f} s without "
        f"(ratio {t_full / t_light:.1f})"
    )
    cols = ["treatment", "exposure", "estimate", "p_value", "pretrend_p_value",
            "placebo_p_value", "max_abs_lead", "decision"]  # fmt: skip
    with pl.Config(tbl_rows=20, float_precision=3, tbl_width_chars=160, fmt_str_lengths=40):
        print(out["decision"].select(cols))
        print(out["honest_breakdown"].select("treatment", "exposure", "restriction",
                                             "breakdown_m", "status"))  # fmt: skip
        for key in ("did", "imputation", "placebo", "covid_windows", "matched"):
            print(out[key].select("treatment", "exposure", "spec", "estimate", "std_error",
                                  "p_value", "p_value_holm"))  # fmt: skip
    try:
        import pandas as pd
        import pyfixest as pf
    except ImportError:  # pragma: no cover
        return
    df = panel.filter(pl.col(did.OUTCOME).is_not_null())
    rel = np.clip(df["quarter_index"].to_numpy() - did.parse_period(did.LABEL_PERIOD), -8, 12)
    dose = df["treatment_intensity"].to_numpy()
    ks = [k for k in range(-8, 13) if k != -1]
    regs = {f"e{i}": dose * (rel == k) for i, k in enumerate(ks)}
    data = pd.DataFrame({**{c: df[c].to_numpy() for c in ("ze2020_code", "quarter_index",
                                                           did.OUTCOME)}, **regs})  # fmt: skip
    fml = f"{did.OUTCOME} ~ {' + '.join(regs)} | ze2020_code + quarter_index"
    with single_threaded_blas():
        t_ours, es = timed(lambda: did.fit_event_study(panel, start=None, reference=-1,
                                                       fe_df="full"))  # fmt: skip
        t_pf, fit = timed(lambda: pf.feols(fml, data=data, vcov={"CRV1": "ze2020_code"},
                                           ssc=pf.ssc(k_fixef="full")), repeat=3)  # fmt: skip
    coef = es.coefficients.filter(pl.col("std_error").is_not_null())
    d_est = np.max(np.abs(coef["estimate"].to_numpy() - fit.coef().to_numpy()))
    d_se = np.max(np.abs(coef["std_error"].to_numpy() - fit.se().to_numpy()))
    print(
        f"event study, whole panel: ours {t_ours * 1e3:.0f} ms, pyfixest {t_pf * 1e3:.0f} ms "
        f"(ratio {t_pf / t_ours:.1f}×); max |Δ estimate| {d_est:.1e}, max |Δ SE| {d_se:.1e}"
    )


def bench_staggered(reps: int, seed: int) -> None:
    from analyse.estimate import imputation as imp

    print(f"\n## 5. Staggered heterogeneous effects ({reps} panels of 150 zones × 32 quarters)")
    ramp = tuple(-0.1 * (h + 1) for h in range(10))
    waves = (("2017-T1", 0.35, ramp), ("2021-T1", 0.3, (0.0, 0.0, -0.4)))
    rng = np.random.default_rng(seed)
    err_bjs, err_twfe, t_bjs = [], [], 0.0
    for _ in range(reps):
        panel = imp.simulate_staggered_panel(n_zones=150, waves=waves, seed=rng)
        treated = panel.filter(pl.col("quarter_index") >= pl.col("first_treated_quarter"))
        truth = float(treated["true_effect"].mean())
        t0 = time.perf_counter()
        row = imp.estimate_imputation(panel, start=None, end=None, label_quarter="post",
                                      adoption_column="first_treated_quarter")  # fmt: skip
        t_bjs += time.perf_counter() - t0
        x = (panel["quarter_index"] >= panel["first_treated_quarter"]).fill_null(False)
        static = did._fit(panel, x.cast(pl.Float64).to_numpy()[:, None], ["d"],
                          outcome=did.OUTCOME, fe_df="nested", weighted=False)  # fmt: skip
        err_bjs.append(row["estimate"][0] - truth)
        err_twfe.append(float(static.params[0]) - truth)
    for name, err in (("imputation (BJS)", err_bjs), ("static TWFE", err_twfe)):
        e = np.asarray(err)
        print(f"{name:17s} bias {e.mean():+.4f}  RMSE {np.sqrt(np.mean(e**2)):.4f}")
    print(f"imputation: {t_bjs / reps * 1e3:.1f} ms per panel")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--processed", type=Path, help="read core tables from this snapshot")
    args = parser.parse_args()
    print(f"# bench_did (BLAS threads: OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']})")
    t0 = time.perf_counter()
    inputs, where = read_inputs(args.processed)
    if inputs is not None:
        print(f"real inputs ({where}) read in {time.perf_counter() - t0:.1f} s")
        labour, communes, territories, typologies = inputs
        zt = did.compute_zone_treatment(communes, territories)
        panel = did.build_did_panel(labour, zt)
        label = "real INSEE panel"
        bench_bundle(labour, communes, territories, typologies, panel)
    else:
        panel = did.simulate_did_panel(
            n_zones=302, n_quarters=83, first_period="2003-T1", effect=-0.3, seed=1
        )
        label = "synthetic panel of the real panel's size (no real inputs)"
    bench_event_study(panel, label)
    bench_dummies(panel)
    bench_monte_carlo(args.reps, args.seed)
    bench_staggered(max(args.reps // 10, 20), args.seed)


if __name__ == "__main__":
    main()
