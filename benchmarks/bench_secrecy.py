"""Benchmark: secrecy over the whole publication (protect_publication) and its audit.

Run: ``.venv/bin/python benchmarks/bench_secrecy.py [--quick]``. Prints figures and ratios (no
pass/fail), all measured in this one run:

- ``protect_publication`` on synthetic fund tables (1,416 projects, the fund's size, and twice
  that) and on the processed demo snapshot when there is one, with the scopes the reports print
  (France, régions, sectors, sizes, years, in/out TI and région x territory for both phases,
  territory sheets): scopes, atoms, primary and secondary cells, rounds, LP solves, seconds
  (best of 3), and the ratio to the table-by-table ``apply_secrecy`` of the same tables;
- one LP bound: warm-started HiGHS (``LinearBounds``) against a cold ``scipy.optimize.linprog``;
- ``audit_secrecy`` on a run of pages written from the protected cells (every masked value of
  every measure bounded by LP).
"""

from __future__ import annotations

import argparse
import html
import json
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from _timing import best_time as timed
from scipy.optimize import linprog

from analyse.estimate.leverage import make_synthetic_projects, summarise_leverage
from analyse.estimate.secrecy import (
    ADDITIVE_MEASURES,
    DIM_ORDER,
    LinearBounds,
    apply_secrecy,
    cell_key,
    protect_publication,
)
from analyse.figures.scopes import FAMILIES, add_dimensions


def scopes_of(projects: pl.DataFrame) -> list[dict[str, str]]:
    scopes: list[dict[str, str]] = []
    for family in FAMILIES:
        if not family:
            scopes.append({})
            continue
        for row in projects.select(family).unique().rows():
            if len(family) == 1 and family[0].startswith("ti_") and row[0] == "hors":
                continue
            scopes.append(dict(zip(family, row, strict=True)))
    return scopes


def table_by_table(projects: pl.DataFrame) -> int:
    """Yesterday's approach: apply_secrecy on each published table separately."""
    masked = 0
    for family in FAMILIES[1:]:
        table = summarise_leverage(projects, list(family), margins=True)
        masked += int(apply_secrecy(table, keys=list(family))["is_masked"].sum())
    return masked


def bench_protect(projects: pl.DataFrame, label: str, repeat: int) -> pl.DataFrame:
    scopes = scopes_of(projects)
    diag: dict[str, Any] = {}
    seconds, out = timed(lambda: protect_publication(projects, scopes, diagnostics=diag), repeat)
    t_tables, _ = timed(lambda: table_by_table(projects), repeat)
    print(
        f"{label:<26}{projects.height:>9,}{diag['n_scopes']:>8}{diag['n_atoms']:>7}"
        f"{diag['n_primary']:>9}{diag['n_secondary']:>10}{diag['n_rounds']:>7}"
        f"{diag['n_lp_solves']:>9}{seconds:>9.2f}{seconds / t_tables:>10.1f}"
    )
    return out


def bench_lp(projects: pl.DataFrame, out: pl.DataFrame, n: int) -> None:
    """Bounds of ``n`` masked cells' aid: warm-started model vs cold linprog, same answers."""
    atoms = projects.group_by(DIM_ORDER).agg(pl.col("aid_eur").sum())
    scopes = [
        {d: v for d, v in r.items() if v is not None} for r in out.select(DIM_ORDER).to_dicts()
    ]
    ones = np.ones(atoms.height, dtype=bool)
    member = np.array(
        [np.all([ones, *[atoms[d].to_numpy() == v for d, v in s.items()]], axis=0) for s in scopes],
        dtype=float,
    )
    x = atoms["aid_eur"].to_numpy() / atoms["aid_eur"].mean()
    published = ~out["is_masked"].to_numpy() & (member.sum(axis=1) > 0)
    b = member[published] @ x
    targets = np.flatnonzero(out["is_masked"].to_numpy())[:n]
    solver = LinearBounds(member[published], b, b, np.zeros(len(x)), np.full(len(x), 1e6))
    solver.solve(np.zeros(len(x)))  # first (cold) solve, as in protect_publication
    t_warm, warm = timed(lambda: [solver.solve(member[i])[0] for i in targets], 1)
    t_cold, cold = timed(
        lambda: [
            linprog(member[i], A_eq=member[published], b_eq=b, bounds=(0, 1e6), method="highs").fun
            for i in targets
        ],
        1,
    )
    assert np.allclose(warm, cold, atol=1e-6)
    print(
        f"\nLP bound of a masked cell ({len(targets)} cells): warm HiGHS {1e3 * t_warm / len(targets):.1f} ms, "
        f"cold linprog {1e3 * t_cold / len(targets):.1f} ms, ratio cold/warm {t_cold / t_warm:.1f}"
    )


def write_pages(run: Path, projects: pl.DataFrame, out: pl.DataFrame) -> None:
    """National and région pages printing every scope's additive values ('s' when masked)."""
    from analyse.audit.pages import format_for

    pages: dict[str, list[str]] = {}
    for row in out.iter_rows(named=True):
        scope = {d: row[d] for d in DIM_ORDER if row[d] is not None}
        part = projects
        for d, v in scope.items():
            part = part.filter(pl.col(d) == v)
        values = {"n_projects": float(part.height)}
        values |= {m: float(part[m].sum()) for m in ADDITIVE_MEASURES[1:]}
        page = f"regions/{scope['region_code']}.html" if "region_code" in scope else "national.html"
        key = html.escape(cell_key(scope))
        cells = [
            f'<td data-cell="{key}" data-measure="{m}">{"s" if row["is_masked"] else format_for(m, v)}</td>'
            for m, v in values.items()
        ]
        pages.setdefault(page, []).append("<tr>" + "".join(cells) + "</tr>")
    for page, rows in pages.items():
        path = run / page
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"<html><body><table>{''.join(rows)}</table></body></html>", "utf-8")


def bench_audit(projects: pl.DataFrame, out: pl.DataFrame) -> None:
    from analyse.audit.secrecy import audit_secrecy

    with tempfile.TemporaryDirectory() as tmp:
        write_pages(Path(tmp), projects, out)
        seconds, result = timed(lambda: audit_secrecy(tmp), 1)
    report = result.to_json()
    print(
        f"\naudit-secrecy on {report['pages']} pages: {report['values']['html']:,} values, "
        f"{report['masked_values']} masked values bounded by LP ({report['lp']['cells']} cells, "
        f"{report['lp']['equations']} equations) in {seconds:.2f} s; verdicts {json.dumps(report['counts'])}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="one repetition, fund size only")
    args = parser.parse_args()
    repeat = 1 if args.quick else 3
    protect_publication(add_dimensions(make_synthetic_projects(50)), [{}])  # imports scipy's HiGHS
    print("## protect_publication (5 additive measures, +-25 %, jointly over every scope)")
    print(
        f"{'data':<26}{'projects':>9}{'scopes':>8}{'atoms':>7}{'primary':>9}{'secondary':>10}"
        f"{'rounds':>7}{'LPs':>9}{'s':>9}{'x tables':>10}"
    )
    fund = add_dimensions(make_synthetic_projects(1416, seed=2018))
    out = bench_protect(fund, "synthetic, fund size", repeat)
    if not args.quick:
        bench_protect(
            add_dimensions(make_synthetic_projects(2832, seed=7)), "synthetic, twice", repeat
        )
        demo = Path("data/processed/core_projects.parquet")
        if demo.exists():
            bench_protect(add_dimensions(pl.read_parquet(demo)), "processed snapshot", repeat)
    print("('x tables': time over table-by-table apply_secrecy of the same 11 tables)")
    bench_lp(fund, out, 40 if args.quick else 120)
    bench_audit(fund, out)


if __name__ == "__main__":
    main()
