"""Benchmark of the cleaning step (figures and ratios, not pass/fail).

    .venv/bin/python benchmarks/bench_clean.py [--quick]

1. ``analyse.clean.run_clean`` on the real files of the shipped reference snapshot
   (``data/reference``, decompressed into a temporary raw folder) into a temporary processed
   folder: per-step timings from ``quality["timings_s"]`` and the total.
2. The fund-extract cleaner (``clean_fund_projects``: read + clean, Polars) on 100k and 1M
   projects from ``analyse.demo.generate_fund_projects(n, seed)`` written in the operator-export
   format (``;``, title line, k€ with decimal commas and no-break-space thousands, dd/mm/yyyy
   dates), attributed with the geography the generated communes belong to (the real COG 2023 of
   the reference snapshot, or the synthetic demo world when the generator places projects
   there). 0.5 % of the rows get a corrupted SIREN check digit and 0.2 % are exact copies of
   earlier rows, so that the quarantine and de-duplication paths run too (kept / quarantined
   counts printed).
3. The same cleaning written plainly with pandas (``read_csv``, string ops, numpy Luhn check,
   merges, ``drop_duplicates``) on the same files: both times, the ratio pandas / Polars, and a
   fairness check (same kept rows, same sums of ``aid_eur`` / ``investment_eur``, same number of
   projects attributed to a territory of each phase).
4. Peak memory: every measured run happens in a fresh Python process (this script re-invoked
   with a hidden ``--step``), which reports its own high-water RSS (``VmHWM``, see
   :func:`_rss_mb`) -- the peak of that run alone -- and the same mark just before the timed
   part (imports and lookup tables loaded), so Polars and pandas peaks are measured separately.

Times are single cold runs in a fresh process: wall clock and CPU (user + system, all threads;
steadier than wall time on a shared machine), with whatever cores Polars finds. The last lines
set the 1M-row figures against the targets of issue 13 (<= 3 s wall, >= 5x pandas, <= 1 GB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

DEMO_SEED = 2018
PROJECT_SEED = 2018  # the demo geography of the same seed holds the generated communes
SHARE_BAD_SIREN = 0.005
SHARE_DUPLICATE = 0.002
RESULT_PREFIX = "BENCH_RESULT "
REL_TOL = 1e-6


# ---------------------------------------------------------------------------------------------
# measured steps (each runs in its own process)


def _rss_mb() -> float:
    """Peak resident set size of this process so far, in MB.

    Linux: ``VmHWM`` of ``/proc/self/status``, the high-water mark of this program's own memory.
    Not ``ru_maxrss``: after fork + exec the kernel carries the parent's peak over into the
    child's ``ru_maxrss`` (and ``RUSAGE_CHILDREN`` is a maximum over all children), so a child
    started by a parent holding 1M generated rows would report the parent's size. Elsewhere,
    ``ru_maxrss`` (KiB on Linux, bytes on macOS) is the fallback.
    """
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def _cpu_s() -> float:
    """User + system CPU time of this process (all threads), in seconds."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def step_real(raw_dir: Path) -> dict[str, Any]:
    """``run_clean`` on the real files into a temporary processed folder."""
    from analyse.clean import run_clean

    base = _rss_mb()
    with tempfile.TemporaryDirectory(prefix="bench_clean_real_") as tmp:
        cpu, start = _cpu_s(), time.perf_counter()
        quality = run_clean(raw_dir, Path(tmp) / "processed")
        seconds, cpu = time.perf_counter() - start, _cpu_s() - cpu
    sources = quality["sources"]
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "timings_s": quality["timings_s"],
        "rows_in": sum(int(s.get("rows_in", 0)) for s in sources.values()),
        "rows_out": sum(int(s.get("rows_out", 0)) for s in sources.values()),
        "rows_quarantined": sum(int(s.get("rows_quarantined", 0)) for s in sources.values()),
        "base_mb": base,
        "peak_mb": _rss_mb(),
    }


def step_polars(csv_path: Path, mapping_path: Path, processed_dir: Path) -> dict[str, Any]:
    """The library's fund cleaner, as ``analyse clean`` runs it: ``clean_fund_projects``."""
    import polars as pl

    from analyse.clean.extract_mapping import load_mapping
    from analyse.clean.projects import clean_fund_projects

    mapping = load_mapping(mapping_path)
    communes = pl.read_parquet(processed_dir / "communes.parquet")
    commune_territories = pl.read_parquet(processed_dir / "commune_territories.parquet")
    base = _rss_mb()
    timings: dict[str, float] = {}
    cpu, start = _cpu_s(), time.perf_counter()
    projects, quarantine = clean_fund_projects(
        csv_path, mapping, communes, commune_territories, is_synthetic=True, timings=timings
    )
    seconds, cpu = time.perf_counter() - start, _cpu_s() - cpu
    reasons = quarantine.group_by("reason").len().sort("reason").iter_rows()
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "read_s": timings["read_s"],
        "timings_s": {k: v for k, v in timings.items() if k.endswith("_s")},
        "rows_in": int(timings["rows_in"]),
        "kept": projects.height,
        "quarantined": quarantine.height,
        "by_reason": {r: int(n) for r, n in reasons},
        "aid_eur": float(projects["aid_eur"].sum()),
        "investment_eur": float(projects["investment_eur"].sum()),
        "in_ti_phase1": int(projects.select(pl.col("ti_id_phase1").is_not_null().sum()).item()),
        "in_ti_phase2": int(projects.select(pl.col("ti_id_phase2").is_not_null().sum()).item()),
        "base_mb": base,
        "peak_mb": _rss_mb(),
    }


def step_pandas(csv_path: Path, mapping_path: Path, processed_dir: Path) -> dict[str, Any]:
    """The same cleaning written plainly with pandas (see :func:`clean_plain_pandas`)."""
    import pandas as pd
    import yaml

    mapping = yaml.safe_load(mapping_path.read_text(encoding="utf-8"))
    communes = pd.read_csv(processed_dir / "communes.csv", dtype=str)
    commune_territories = pd.read_csv(processed_dir / "commune_territories.csv", dtype=str)
    base = _rss_mb()
    cpu, start = _cpu_s(), time.perf_counter()
    raw = read_plain_pandas(csv_path, mapping)
    read_s = time.perf_counter() - start
    projects = clean_plain_pandas(raw, mapping, communes, commune_territories)
    seconds, cpu = time.perf_counter() - start, _cpu_s() - cpu
    return {
        "seconds": seconds,
        "cpu_s": cpu,
        "read_s": read_s,
        "rows_in": len(raw),
        "kept": len(projects),
        "quarantined": len(raw) - len(projects),
        "aid_eur": float(projects["aid_eur"].sum()),
        "investment_eur": float(projects["investment_eur"].sum()),
        "in_ti_phase1": int(projects["ti_id_phase1"].notna().sum()),
        "in_ti_phase2": int(projects["ti_id_phase2"].notna().sum()),
        "base_mb": base,
        "peak_mb": _rss_mb(),
    }


# ---------------------------------------------------------------------------------------------
# the plain pandas version
#
# It applies the rules that matter on this operator export: valid SIREN (9 digits, or the first
# 9 of a 14-digit SIRET, Luhn checksum), amounts and date present and parsable, no negative
# amount or jobs count, aid <= investment, firm size one of TPE/PME/ETI/GE, commune code in the
# COG, département given == the commune's, then exact duplicates and reused project ids (first
# row kept). It OMITS what the library does for messier files, none of which occurs in these
# synthetic files (so kept rows and sums must agree): matching a commune by name within its
# département when the code is missing or unknown (and the "ambiguous" case); département from
# the postal code; recoding firm-size labels ("Grande entreprise" -> GE, firm_size_values);
# missing-value markers ("NC", "-", "N/A") vs unparsable text, and quarantining unparsable
# OPTIONAL amounts / jobs (here they silently become NaN); units written in cells ("12 k€"),
# accounting parentheses, "1.234,56" / "1,234.56" grouping rules; Excel serial dates and a time
# part; leading zeros lost by numeric cells (8-digit SIRENs, "1004" communes are only zfilled);
# Corsican / overseas département codes; encoding checks; line numbers and a reason, the raw
# values and details per quarantined row (here only a count).


def _luhn_valid(codes: Any, length: int) -> Any:
    """Boolean numpy array: ``codes`` (pandas str Series) are ``length`` digits passing Luhn."""
    import numpy as np

    shape = codes.str.fullmatch(rf"[0-9]{{{length}}}").fillna(False).to_numpy(dtype=bool)
    out = np.zeros(len(codes), dtype=bool)
    if shape.any():
        text = "".join(codes[shape].tolist()).encode("ascii")
        digits = np.frombuffer(text, dtype=np.uint8).reshape(-1, length).astype(np.int16) - 48
        doubled = (length - 1 - np.arange(length)) % 2 == 1  # every 2nd digit from the right
        digits[:, doubled] *= 2
        digits[digits > 9] -= 9
        out[shape] = digits.sum(axis=1) % 10 == 0
    return out


def _la_poste_valid(codes: Any) -> Any:
    """La Poste SIRETs (SIREN 356000000): valid when their digit sum is a multiple of 5."""
    import numpy as np

    poste = codes.str.fullmatch(r"356000000[0-9]{5}").fillna(False).to_numpy(dtype=bool)
    out = np.zeros(len(codes), dtype=bool)
    if poste.any():
        text = "".join(codes[poste].tolist()).encode("ascii")
        digits = np.frombuffer(text, dtype=np.uint8).reshape(-1, 14).astype(np.int16) - 48
        out[poste] = digits.sum(axis=1) % 5 == 0
    return out


def read_plain_pandas(csv_path: Path, mapping: dict[str, Any]) -> Any:
    """``pd.read_csv`` with the mapping's separator, skipped rows and encoding; all text."""
    import pandas as pd

    raw = pd.read_csv(
        csv_path,
        sep=mapping.get("delimiter", ","),
        skiprows=int(mapping.get("skip_rows", 0)),
        encoding=mapping.get("encoding", "utf-8"),
        dtype=str,
    )
    raw.columns = raw.columns.str.strip()
    return raw.dropna(how="all")


def clean_plain_pandas(
    raw: Any, mapping: dict[str, Any], communes: Any, commune_territories: Any
) -> Any:
    """Kept projects (canonical columns, EUR, attributed); quarantined rows are only counted."""
    import pandas as pd

    factors = {"EUR": 1.0, "kEUR": 1e3, "MEUR": 1e6}
    units = mapping.get("units") or {}
    date_format = (mapping.get("date_formats") or ["%d/%m/%Y"])[0]
    df = raw.rename(columns={header: field for field, header in mapping["columns"].items()})
    out = pd.DataFrame(index=df.index)
    for field in ("project_id", "firm_name", "sector", "commune_name"):
        out[field] = df[field].str.strip()

    def number(s: pd.Series) -> pd.Series:
        text = s.str.replace(r"[\s\u00a0\u202f]", "", regex=True).str.replace(",", ".")
        return pd.to_numeric(text, errors="coerce")

    for field in ("aid_eur", "investment_eur", "aid_paid_eur", "investment_realised_eur"):
        out[field] = number(df[field]) * factors[units.get(field, "EUR")]
    for field in ("jobs_created", "jobs_maintained"):
        out[field] = number(df[field])
    out["decision_date"] = pd.to_datetime(
        df["decision_date"].str.strip(), format=date_format, errors="coerce"
    )
    out["firm_size"] = df["firm_size"].str.strip().str.upper()

    digits = df["siren_or_siret"].str.replace(r"[\s./\-]", "", regex=True)
    siren = digits.str.slice(0, 9).where(digits.str.fullmatch(r"[0-9]{9}|[0-9]{14}").fillna(False))
    siren_ok = _luhn_valid(siren, 9) & (siren != "000000000").to_numpy(dtype=bool)
    siret_ok = (_luhn_valid(digits, 14) | _la_poste_valid(digits)) & ~digits.str.startswith(
        "000000000"
    ).fillna(True).to_numpy(dtype=bool)
    out["siren"] = siren.where(siren_ok)
    out["siret"] = digits.where(siret_ok)

    # attribution: commune -> EPCI, département, région, zone d'emploi, territory of each phase
    ti = (
        commune_territories.sort_values(["commune_insee", "ti_phase", "ti_id"])
        .drop_duplicates(["commune_insee", "ti_phase"])
        .pivot(index="commune_insee", columns="ti_phase", values="ti_id")
        .rename(columns=lambda p: f"ti_id_phase{p}")
        .reset_index()
    )
    lookup = (
        communes[["commune_insee", "epci_siren", "departement_code", "region_code", "ze2020_code"]]
        .drop_duplicates("commune_insee")
        .merge(ti, on="commune_insee", how="left")
    )
    for phase in (1, 2):
        if f"ti_id_phase{phase}" not in lookup:
            lookup[f"ti_id_phase{phase}"] = pd.Series(pd.NA, index=lookup.index, dtype=str)
    out["commune_insee"] = df["commune_insee"].str.strip().str.zfill(5)
    out = out.merge(lookup, on="commune_insee", how="left", validate="many_to_one")
    out.index = df.index
    dep_given = df["departement_code"].str.strip().str.zfill(2)

    amounts_ok = out["aid_eur"].notna() & out["investment_eur"].notna()
    not_negative = ~(
        out[["aid_eur", "investment_eur", "aid_paid_eur", "investment_realised_eur"]]
        .lt(0)
        .any(axis=1)
        | out[["jobs_created", "jobs_maintained"]].lt(0).any(axis=1)
    )
    keep = (
        siren_ok
        & amounts_ok
        & not_negative
        & out["decision_date"].notna()
        & ~(out["aid_eur"] > out["investment_eur"])
        & (out["firm_size"].isna() | out["firm_size"].isin(["TPE", "PME", "ETI", "GE"]))
        & out["epci_siren"].notna()
        & (dep_given.isna() | (dep_given == out["departement_code"]))
    )
    kept = out[keep]
    content = [
        "project_id", "siren", "siret", "firm_key", "decision_date", "aid_eur", "investment_eur",
        "aid_paid_eur", "investment_realised_eur", "jobs_created", "jobs_maintained",
        "commune_insee", "sector", "firm_size",
    ]  # fmt: skip
    kept = kept.assign(firm_key=kept["firm_name"].str.upper())
    kept = kept.drop_duplicates(subset=content, keep="first")
    kept = kept[kept["project_id"].isna() | ~kept["project_id"].duplicated(keep="first")]
    kept = kept.assign(decision_year=kept["decision_date"].dt.year.astype("Int16"))
    return kept.drop(columns="firm_key")


# ---------------------------------------------------------------------------------------------
# set-up (parent process)


def dirty_projects(df: Any, seed: int) -> Any:
    """Corrupt the SIREN check digit of 0.5 % of rows and overwrite 0.2 % with earlier rows."""
    import numpy as np
    import polars as pl

    n = df.height
    rng = np.random.default_rng([seed, 99])
    bad = np.zeros(n, dtype=bool)
    bad[rng.choice(n, size=int(n * SHARE_BAD_SIREN), replace=False)] = True
    ident = pl.col("siren_or_siret")
    corrupted = pl.concat_str(
        ident.str.slice(0, 8),
        ((ident.str.slice(8, 1).cast(pl.Int32) + 1) % 10).cast(pl.String),
        ident.str.slice(9),
    )
    df = df.with_columns(
        pl.when(pl.Series(bad)).then(corrupted).otherwise(ident).alias("siren_or_siret")
    )
    n_dup = int(n * SHARE_DUPLICATE)
    if n_dup:
        sources = rng.integers(0, n - n_dup, size=n_dup)
        df = pl.concat([df.head(n - n_dup), df[sources]])
    return df


def _run_child(step: str, *args: str) -> dict[str, Any] | None:
    """Run ``--step`` in a fresh interpreter; its result dict (None on failure)."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--step", step, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_PREFIX):
            return json.loads(line[len(RESULT_PREFIX) :])
    print(f"  !! step {step} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    return None


def _fmt_rate(rows: int, seconds: float) -> str:
    return f"{rows / seconds:,.0f}" if seconds > 0 else "-"


def _rel_diff(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), abs(b), 1e-300)


def _table_row(step: str, rows: int, res: dict[str, Any], ratio: str = "") -> dict[str, Any]:
    return {
        "step": step,
        "rows": rows,
        "seconds": res["seconds"],
        "cpu_s": res["cpu_s"],
        "peak_mb": res["peak_mb"],
        "base_mb": res["base_mb"],
        "ratio": ratio,
    }


def reference_raw_dir(folder: Path) -> Path:
    """The real public files of the shipped reference snapshot, decompressed into ``folder``."""
    from analyse.refdata import materialise_reference

    materialise_reference(folder)
    return folder


def bench_real(table: list[dict[str, Any]], tmp: Path) -> None:
    print("\n== 1. run_clean on the real files (reference snapshot)")
    start = time.perf_counter()
    raw_dir = reference_raw_dir(tmp / "real_raw")
    print(f"  raw dir: {raw_dir} (decompressed in {time.perf_counter() - start:.1f} s)")
    res = _run_child("real", "--raw", str(raw_dir))
    if res is None:
        return
    timings = dict(res["timings_s"])
    total = timings.pop("total", res["seconds"])
    for name, seconds in timings.items():
        print(f"  {name:<22} {seconds:8.3f} s")
    print(f"  {'total (run_clean)':<22} {total:8.3f} s   (CPU {res['cpu_s']:.2f} s)")
    print(
        f"  rows read {res['rows_in']:,}, in core tables {res['rows_out']:,}, "
        f"quarantined {res['rows_quarantined']:,}; peak RSS {res['peak_mb']:.0f} MB"
    )
    table.append(_table_row("run_clean (real files)", res["rows_in"], res))


def attribution_tables(tmp: Path, sample: Any) -> tuple[Path, str]:
    """Communes and commune -> territory tables for the generated projects, written as parquet
    and CSV (the pandas step reads CSV): from the real COG when the generated communes are real,
    else from the synthetic demo world. Returns the folder and a label."""
    from analyse.clean import build_core_tables
    from analyse.demo import write_demo

    out = tmp / "geo"
    out.mkdir(parents=True, exist_ok=True)
    tables, _, _ = build_core_tables(reference_raw_dir(tmp / "real_raw"))
    label = "real COG 2023 (reference snapshot)"
    codes = sample["commune_insee"].unique()
    if codes.is_in(tables["communes"]["commune_insee"].implode()).mean() < 0.9:
        write_demo(tmp / "synthetic_raw", seed=DEMO_SEED, world="synthetic")
        tables, _, _ = build_core_tables(tmp / "synthetic_raw")
        label = f"synthetic demo world (seed {DEMO_SEED})"
    for name in ("communes", "commune_territories"):
        tables[name].write_parquet(out / f"{name}.parquet")
        tables[name].write_csv(out / f"{name}.csv")
    return out, label


def _print_run(label: str, n: int, res: dict[str, Any]) -> None:
    print(
        f"  {label:<7} {res['seconds']:7.2f} s wall (read {res['read_s']:.2f} s + clean "
        f"{res['seconds'] - res['read_s']:.2f} s), {res['cpu_s']:.2f} s CPU, "
        f"{_fmt_rate(n, res['seconds'])} rows/s; peak {res['peak_mb']:.0f} MB "
        f"(+{res['peak_mb'] - res['base_mb']:.0f} MB over {res['base_mb']:.0f} MB before the step)"
    )
    if res.get("timings_s"):
        steps = ", ".join(f"{k.removesuffix('_s')} {v:.2f} s" for k, v in res["timings_s"].items())
        print(f"          steps: {steps}")
    reasons = f" {res['by_reason']}" if res.get("by_reason") else ""
    print(
        f"          rows in {res['rows_in']:,}: kept {res['kept']:,}, "
        f"quarantined {res['quarantined']:,}{reasons}"
    )


def bench_projects(sizes: tuple[int, ...], table: list[dict[str, Any]], tmp: Path) -> None:
    from analyse.demo import generate_fund_projects, write_fund_extract

    print("\n== 2-3. fund extract cleaning: Polars (library) vs plain pandas")
    start = time.perf_counter()
    geo, label = attribution_tables(tmp, generate_fund_projects(min(sizes), PROJECT_SEED))
    print(f"  geography: {label} ({time.perf_counter() - start:.1f} s)")
    for n in sizes:
        start = time.perf_counter()
        df = dirty_projects(generate_fund_projects(n, PROJECT_SEED), PROJECT_SEED)
        gen_s = time.perf_counter() - start
        csv_path, mapping_path = tmp / f"projects_{n}.csv", tmp / f"mapping_{n}.yml"
        start = time.perf_counter()
        write_fund_extract(df, csv_path, mapping_path)
        write_s = time.perf_counter() - start
        del df
        size_mb = csv_path.stat().st_size / 1e6
        print(
            f"\n  -- {n:,} rows: generated {gen_s:.1f} s, written {write_s:.1f} s "
            f"({size_mb:.0f} MB)"
        )
        args = ("--csv", str(csv_path), "--mapping", str(mapping_path), "--geo", str(geo))
        pol = _run_child("polars", *args)
        pan = _run_child("pandas", *args)
        for name, res in (("polars", pol), ("pandas", pan)):
            if res is not None:
                _print_run(name, n, res)
        ratio = ""
        if pol is not None and pan is not None:
            wall = pan["seconds"] / pol["seconds"]
            cpu = pan["cpu_s"] / pol["cpu_s"]
            ratio = f"{wall:.1f}x"
            print(f"  ratio pandas / polars: {wall:.1f}x wall, {cpu:.1f}x CPU")
            _compare(pol, pan)
        if pol is not None:
            table.append(_table_row("fund cleaning, polars", n, pol))
        if pan is not None:
            table.append(_table_row("fund cleaning, pandas", n, pan, ratio))
        for path in (csv_path, mapping_path):
            path.unlink()


def _compare(pol: dict[str, Any], pan: dict[str, Any]) -> None:
    """Print whether both versions keep the same rows with the same totals."""
    same_rows = pol["kept"] == pan["kept"]
    checks = [f"kept rows {'equal' if same_rows else 'DIFFER'} ({pol['kept']:,} / {pan['kept']:,})"]
    fair = same_rows
    for col in ("aid_eur", "investment_eur"):
        rel = _rel_diff(pol[col], pan[col])
        ok = rel <= REL_TOL
        fair &= ok
        checks.append(
            f"sum {col} {'equal' if ok else 'DIFFER'} ({pol[col]:,.0f} / {pan[col]:,.0f} EUR, "
            f"rel. diff {rel:.1e})"
        )
    for col in ("in_ti_phase1", "in_ti_phase2"):
        ok = pol[col] == pan[col]
        fair &= ok
        checks.append(f"{col} {'equal' if ok else 'DIFFER'} ({pol[col]:,} / {pan[col]:,})")
    print("  fairness (polars / pandas):\n    " + "\n    ".join(checks))
    if not fair:
        diff = pan["kept"] - pol["kept"]
        print(
            f"  !! the versions differ (pandas keeps {diff:+,} rows): see the comment above "
            "clean_plain_pandas for the rules the plain version omits"
        )


def print_table(table: list[dict[str, Any]]) -> None:
    print("\n== Summary (one cold run per line, each in a fresh process)")
    header = (
        f"{'step':<24} {'rows':>10} {'wall s':>8} {'CPU s':>8} {'rows/s':>11} "
        f"{'peak MB':>8} {'+MB step':>9} {'ratio':>6}"
    )
    print(header)
    print("-" * len(header))
    for row in table:
        print(
            f"{row['step']:<24} {row['rows']:>10,} {row['seconds']:>8.2f} {row['cpu_s']:>8.2f} "
            f"{_fmt_rate(row['rows'], row['seconds']):>11} {row['peak_mb']:>8.0f} "
            f"{row['peak_mb'] - row['base_mb']:>9.0f} {row['ratio']:>6}"
        )
    print(
        "rows/s: rows over wall seconds (real files: raw rows read over all sources). peak MB: "
        "high-water RSS of the child process (interpreter, imports and lookup tables included); "
        "+MB step: peak minus the high-water mark just before the timed part; ratio: pandas "
        "wall time / Polars wall time on the same file."
    )


#: Targets of issue 13 for the largest size: wall seconds, ratio to pandas, peak MB.
TARGET_SECONDS, TARGET_RATIO, TARGET_PEAK_MB = 3.0, 5.0, 1000.0


def print_targets(table: list[dict[str, Any]], n: int) -> None:
    """The largest run set against the targets (measured here, in this run)."""
    rows = {r["step"]: r for r in table if r["rows"] == n}
    pol, pan = rows.get("fund cleaning, polars"), rows.get("fund cleaning, pandas")
    if pol is None or pan is None:
        return
    ratio = pan["seconds"] / pol["seconds"]
    checks = [
        (f"Polars wall {pol['seconds']:.2f} s", pol["seconds"] <= TARGET_SECONDS,
         f"<= {TARGET_SECONDS:.0f} s"),
        (f"pandas / Polars {ratio:.1f}x", ratio >= TARGET_RATIO, f">= {TARGET_RATIO:.0f}x"),
        (f"Polars peak {pol['peak_mb']:.0f} MB", pol["peak_mb"] <= TARGET_PEAK_MB,
         f"<= {TARGET_PEAK_MB:.0f} MB"),
    ]  # fmt: skip
    print(f"\n== Targets at {n:,} rows (issue 13), this run")
    for what, ok, target in checks:
        print(f"  {what:<28} target {target:<10} {'met' if ok else 'MISSED'}")
    load = os.getloadavg()[0]
    print(f"  (load average now {load:.1f} on {os.cpu_count()} CPUs: other work slows both sides)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10k and 100k rows (smoke run)")
    hidden = argparse.SUPPRESS
    parser.add_argument("--step", choices=["real", "polars", "pandas"], help=hidden)
    parser.add_argument("--raw", type=Path, help=hidden)
    parser.add_argument("--csv", type=Path, help=hidden)
    parser.add_argument("--mapping", type=Path, help=hidden)
    parser.add_argument("--geo", type=Path, help=hidden)
    args = parser.parse_args(argv)

    if args.step is not None:  # child process: one measured step, result as one JSON line
        if args.step == "real":
            result = step_real(args.raw)
        elif args.step == "polars":
            result = step_polars(args.csv, args.mapping, args.geo)
        else:
            result = step_pandas(args.csv, args.mapping, args.geo)
        print(RESULT_PREFIX + json.dumps(result), flush=True)
        return

    sizes = (10_000, 100_000) if args.quick else (100_000, 1_000_000)
    print(
        f"bench_clean: polars {version('polars')}, pandas {version('pandas')}, "
        f"{os.cpu_count()} CPUs (load average {os.getloadavg()[0]:.1f}: the machine may be "
        f"shared), sizes {', '.join(f'{n:,}' for n in sizes)}"
    )
    table: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_clean_") as tmp_name:
        bench_real(table, Path(tmp_name))
        bench_projects(sizes, table, Path(tmp_name))
    print_table(table)
    print_targets(table, max(sizes))


if __name__ == "__main__":
    main()
