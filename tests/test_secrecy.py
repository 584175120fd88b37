"""Statistical secrecy: primary rules fire exactly when they should; masked cells never leak.

The leak check is independent of the implementation: every published row (cell or margin) is a
linear function of the table's finest cells; an attacker knows the visible rows (and the grand
total when it is published elsewhere). A masked row is exactly recoverable iff its vector lies in
the span of the visible rows' vectors.
"""

from __future__ import annotations

import zlib
from itertools import combinations, product

import numpy as np
import polars as pl
import pytest

from analyse.errors import ParameterError
from analyse.estimate.leverage import make_synthetic_projects, summarise_leverage
from analyse.estimate.secrecy import (
    PRIMARY_DOMINANCE,
    PRIMARY_FREQUENCY,
    SECONDARY,
    apply_secrecy,
)
from analyse.schemas import PROJECTS


def leaks(out: pl.DataFrame, keys: list[str], *, total_row: bool) -> list[int]:
    """Masked rows of ``out`` whose value visible rows determine exactly (should be empty)."""
    has_margin = "total_over" in out.columns
    levels = [
        frozenset(v.split(",")) if v else frozenset()
        for v in (out["total_over"].to_list() if has_margin else [None] * out.height)
    ]
    rows = out.select(keys).rows()
    cells = [r for r, lv in zip(rows, levels, strict=True) if not lv]
    vectors = []
    for r, lv in zip(rows, levels, strict=True):
        keep = [i for i, k in enumerate(keys) if k not in lv]
        vectors.append(np.array([all(c[i] == r[i] for i in keep) for c in cells], dtype=float))
    masked = out["is_masked"].to_list()
    visible = [v for v, m in zip(vectors, masked, strict=True) if not m]
    if total_row and frozenset(keys) not in levels:  # grand total published outside the table
        visible.append(np.ones(len(cells)))
    base = np.array(visible) if visible else np.zeros((0, len(cells)))
    rank = np.linalg.matrix_rank(base) if len(base) else 0
    return [
        i
        for i, (v, m) in enumerate(zip(vectors, masked, strict=True))
        if m and np.linalg.matrix_rank(np.vstack([base, v])) == rank
    ]


def random_cube(rng: np.random.Generator, sizes: list[int], *, margins: str) -> pl.DataFrame:
    """Random table over keys k0, k1... with ``margins`` = "all", "none" or "first" (aggregates
    over the first key only, plus nothing else)."""
    keys = [f"k{i}" for i in range(len(sizes))]
    cells = [c for c in product(*[range(s) for s in sizes]) if rng.random() > 0.12]
    if not cells:
        cells = [tuple(0 for _ in sizes)]
    n_firms = rng.choice(
        [1, 2, 3, 4, 5, 8, 12], size=len(cells), p=[0.1, 0.1, 0.2, 0.2, 0.2, 0.1, 0.1]
    )
    share = np.where(
        rng.random(len(cells)) < 0.15,
        rng.uniform(0.86, 1.0, len(cells)),
        rng.uniform(0.1, 0.85, len(cells)),
    )
    share = np.where(n_firms == 1, 1.0, share)
    aid = np.round(rng.lognormal(13, 1, len(cells)), -2)
    records = [
        {
            **{k: str(v) for k, v in zip(keys, c, strict=True)},
            "total_over": None,
            "n_firms": int(f),
            "max_firm_share": float(s),
            "aid_eur": float(a),
            "n_projects": int(f) + 1,
        }
        for c, f, s, a in zip(cells, n_firms, share, aid, strict=True)
    ]
    if margins == "all":
        levels = [set(c) for size in range(1, len(keys) + 1) for c in combinations(keys, size)]
    elif margins == "first":
        levels = [{keys[0]}]
    else:
        levels = []
    for level in levels:
        groups: dict[tuple, list[dict]] = {}
        for rec in records[: len(cells)]:
            sig = tuple(None if k in level else rec[k] for k in keys)
            groups.setdefault(sig, []).append(rec)
        for sig, members in groups.items():
            total = sum(m["aid_eur"] for m in members)
            records.append(
                {
                    **dict(zip(keys, sig, strict=True)),
                    "total_over": ",".join(k for k in keys if k in level),
                    "n_firms": sum(m["n_firms"] for m in members),
                    "max_firm_share": max(m["max_firm_share"] * m["aid_eur"] for m in members)
                    / total,
                    "aid_eur": total,
                    "n_projects": sum(m["n_projects"] for m in members),
                }
            )
    schema = {
        **dict.fromkeys(keys, pl.String),
        "total_over": pl.String,
        "n_firms": pl.Int64,
        "max_firm_share": pl.Float64,
        "aid_eur": pl.Float64,
        "n_projects": pl.Int64,
    }
    return pl.DataFrame(records, schema=schema)


def check_primary_rules(table: pl.DataFrame, out: pl.DataFrame) -> None:
    freq = table["n_firms"] < 3
    dom = ~freq & (table["max_firm_share"] > 0.85)
    reason = out["mask_reason"]
    assert ((reason == PRIMARY_FREQUENCY).fill_null(False) == freq).all()
    assert ((reason == PRIMARY_DOMINANCE).fill_null(False) == dom).all()
    assert (out["is_masked"] == reason.is_not_null()).all()
    # masked values are null (never 0); visible values are unchanged
    assert out.filter("is_masked")["aid_eur"].is_null().all()
    assert out.filter("is_masked")["n_projects"].is_null().all()
    visible = ~out["is_masked"]
    assert (out["aid_eur"].filter(visible) == table["aid_eur"].filter(visible)).all()


@pytest.mark.parametrize(
    ("sizes", "margins", "total_row", "n_tables"),
    [
        ([8], "none", True, 60),  # 1-D breakdown, its total published elsewhere
        ([8], "all", True, 60),  # 1-D breakdown with its total row
        ([6, 6], "all", True, 250),  # 2-D table with row, column and grand totals
        ([5, 4], "first", True, 60),  # 2-D with column totals only, grand total published
        ([5, 4], "none", True, 60),  # 2-D cells, grand total published
        ([4, 4, 3], "all", True, 100),  # 3-D cube with every margin
        ([6], "none", False, 60),  # no published total: primary suppression only
    ],
)
def test_random_tables_never_leak(
    sizes: list[int], margins: str, total_row: bool, n_tables: int
) -> None:
    """Many random tables; multi-equation leaks (a few % of 2-D/3-D tables) are exercised too."""
    rng = np.random.default_rng(zlib.crc32(repr((sizes, margins, total_row)).encode()))
    keys = [f"k{i}" for i in range(len(sizes))]
    n_masked = 0
    for _ in range(n_tables):
        dims = [int(rng.integers(1, s + 1)) for s in sizes]
        table = random_cube(rng, dims, margins=margins)
        if (
            margins != "all"
            and total_row
            and table.filter(pl.col("total_over").is_null())
            .select(pl.col(keys[-1]).n_unique())
            .item()
            < 2
        ):
            continue  # one cell (or column) equals the outside total: cannot be protected here
        out = apply_secrecy(table, keys=keys, total_row=total_row, drop_control_cols=False)
        check_primary_rules(table, out)
        assert leaks(out, keys, total_row=total_row) == []
        if not total_row:
            assert (out["mask_reason"] != SECONDARY).all()
        n_masked += out["is_masked"].sum()
    assert n_masked > 0  # the random tables do exercise masking


def test_single_masked_cell_gets_the_next_smallest_as_partner() -> None:
    table = pl.DataFrame(
        {
            "region_code": ["11", "24", "27", "28"],
            "n_firms": [2, 10, 7, 9],
            "max_firm_share": [0.6, 0.2, 0.3, 0.1],
            "aid_eur": [5.0e5, 9.0e6, 1.0e6, 3.0e6],
        }
    )
    out = apply_secrecy(table, keys=["region_code"])
    assert out["mask_reason"].to_list() == [PRIMARY_FREQUENCY, None, SECONDARY, None]
    assert "max_firm_share" not in out.columns  # control column never published
    # without a published total, nothing needs a partner
    alone = apply_secrecy(table, keys=["region_code"], total_row=False)
    assert alone["mask_reason"].to_list() == [PRIMARY_FREQUENCY, None, None, None]


def test_nothing_masked_when_rules_pass() -> None:
    table = pl.DataFrame(
        {"k": ["a", "b"], "n_firms": [3, 4], "max_firm_share": [0.85, 0.5], "aid_eur": [1.0, 2.0]}
    )
    out = apply_secrecy(table, keys=["k"])
    assert not out["is_masked"].any() and out["aid_eur"].to_list() == [1.0, 2.0]


def test_masked_margin_is_protected_through_other_margins() -> None:
    # row total of région "b" fails dominance while its cells pass: it must not be recoverable
    table = pl.DataFrame(
        {
            "r": ["a", "a", "b", "b", "a", "b", None, None, None],
            "s": ["x", "y", "x", "y", None, None, "x", "y", None],
            "total_over": [None, None, None, None, "s", "s", "r", "r", "r,s"],
            "n_firms": [5, 5, 5, 5, 10, 10, 10, 10, 20],
            "max_firm_share": [0.3, 0.3, 0.3, 0.3, 0.2, 0.9, 0.2, 0.2, 0.1],
            "aid_eur": [1.0, 2.0, 3.0, 4.0, 3.0, 7.0, 4.0, 6.0, 10.0],
        }
    )
    out = apply_secrecy(table, keys=["r", "s"])
    assert out["mask_reason"][5] == PRIMARY_DOMINANCE
    assert leaks(out, ["r", "s"], total_row=True) == []
    assert out["is_masked"].sum() >= 3


def test_end_to_end_from_projects() -> None:
    projects = make_synthetic_projects(250, seed=4)
    for keys in (["region_code"], ["region_code", "firm_size"], ["in_ti", "sector"]):
        table = summarise_leverage(projects, keys, margins=True)
        out = apply_secrecy(table, keys=keys)
        assert leaks(out, keys, total_row=True) == []
        assert out.filter("is_masked")["investment_per_aid_eur"].is_null().all()
        assert out["ti_phase"].is_not_null().all() if "ti_phase" in out.columns else True
        assert not any(c.startswith("max_firm_share") for c in out.columns)


def test_dominance_computed_from_projects() -> None:
    base = {c: None for c in PROJECTS}
    rows = []
    # région 11: 4 firms, one holds 90% of aid; région 24: 4 balanced firms; 53: 2 firms
    for i, (region, siren, aid) in enumerate(
        [("11", "A", 90.0), ("11", "B", 4.0), ("11", "C", 3.0), ("11", "D", 3.0)]
        + [("24", s, 25.0) for s in "EFGH"]
        + [("53", "I", 10.0), ("53", "J", 10.0), ("53", "J", 10.0)]
    ):
        rows.append(
            {
                **base,
                "project_id": f"P{i}",
                "siren": siren,
                "region_code": region,
                "aid_eur": aid,
                "investment_eur": 10 * aid,
                "is_synthetic": True,
            }
        )
    projects = pl.DataFrame(rows, schema=dict(PROJECTS))
    out = apply_secrecy(summarise_leverage(projects, ["region_code"]), keys=["region_code"])
    reasons = dict(zip(out["region_code"], out["mask_reason"], strict=True))
    assert reasons["11"] == PRIMARY_DOMINANCE
    assert reasons["53"] == PRIMARY_FREQUENCY
    assert reasons["24"] is None  # 11 and 53 are both masked: only their sum is recoverable


def test_bad_parameters() -> None:
    table = pl.DataFrame({"k": ["a"], "n_firms": [3], "max_firm_share": [0.5], "aid_eur": [1.0]})
    with pytest.raises(ParameterError):
        apply_secrecy(table, keys=["nope"])
    with pytest.raises(ParameterError):
        apply_secrecy(pl.concat([table, table]), keys=["k"])  # duplicate cell


def test_unprotectable_cell_is_reported() -> None:
    table = pl.DataFrame({"k": ["a"], "n_firms": [1], "max_firm_share": [1.0], "aid_eur": [1.0]})
    with pytest.warns(UserWarning, match="recoverable from a published total"):
        out = apply_secrecy(table, keys=["k"])
    assert out["is_masked"].all()


# ============================================================================================
# protect_publication: secrecy over the whole publication
# ============================================================================================

from scipy import sparse  # noqa: E402
from scipy.optimize import linprog  # noqa: E402

from analyse.cellkeys import DIM_ORDER, cell_key, parse_cell_key  # noqa: E402
from analyse.estimate.secrecy import (  # noqa: E402
    ADDITIVE_MEASURES,
    LinearBounds,
    protect_publication,
    protection_targets,
)
from analyse.figures.scopes import add_dimensions  # noqa: E402

AMOUNTS = ("aid_eur", "investment_eur", "jobs_created", "jobs_maintained")


#: The figures stage's dimensions (ti_pX = territory or "hors", "nr" when not given).
with_dims = add_dimensions


def publication_scopes(projects: pl.DataFrame) -> list[dict[str, str]]:
    """What the reports print: France, régions, sectors, sizes, years, in/out TI per phase,
    région x sector, région x territory per phase (with "hors") and each territory alone."""
    families = [
        ("region_code",), ("sector",), ("firm_size",), ("decision_year",), ("in_ti_p1",),
        ("in_ti_p2",), ("region_code", "sector"), ("region_code", "ti_p1"),
        ("region_code", "ti_p2"), ("ti_p1",), ("ti_p2",),
    ]  # fmt: skip
    scopes: list[dict[str, str]] = [{}]
    for family in families:
        rows = projects.select(family).unique().sort(list(family)).rows()
        scopes += [
            dict(zip(family, r, strict=True))
            for r in rows
            if not (len(family) == 1 and family[0].startswith("ti_") and r[0] == "hors")
        ]
    return scopes


def attack(
    projects: pl.DataFrame, out: pl.DataFrame, measures: tuple[str, ...] = ADDITIVE_MEASURES
) -> list[tuple[str, str, float, float, float]]:
    """Independent attacker: cold LPs over the atoms (distinct dimension combinations), every
    published scope's exact sum; returns masked (cell, measure, value, lo, hi) recovered or
    bounded within +-25 % (integer measures: bounds rounded to integers; 0 must not be known)."""
    atoms = projects.group_by(DIM_ORDER).agg(
        pl.len().alias("n_projects"), *[pl.col(m).fill_null(0).sum() for m in AMOUNTS]
    )
    rows = [{d: v for d, v in r.items() if v is not None} for r in out.select(DIM_ORDER).to_dicts()]
    member = np.array(
        [
            np.all([atoms[d].to_numpy() == v for d, v in s.items()], axis=0)
            if s
            else np.ones(atoms.height, dtype=bool)
            for s in rows
        ],
        dtype=float,
    )
    masked = out["is_masked"].to_numpy()
    published = ~masked & (member.sum(axis=1) > 0)
    a_eq = sparse.csr_array(member[published])
    leaks = []
    for m in measures:
        x = atoms[m].cast(pl.Float64).to_numpy()
        unit = max(x.sum() / len(x), 1e-9)
        b = member[published] @ x / unit
        seen: set[bytes] = set()
        for i in np.flatnonzero(masked):
            if member[i].tobytes() in seen:  # same projects as a cell already attacked
                continue
            seen.add(member[i].tobytes())
            v = member[i] @ x
            bounds = []
            for sign in (1, -1):
                res = linprog(sign * member[i], A_eq=a_eq, b_eq=b, bounds=(0, None), method="highs")
                assert res.status in (0, 3), res.message  # optimal, or unbounded above
                bounds.append(res.fun * sign * unit if res.status == 0 else np.inf)
            lo, hi = bounds
            if m in ("n_projects", "jobs_created", "jobs_maintained"):
                lo, hi = np.ceil(lo - 1e-6), np.floor(hi + 1e-6)
            tol = 1e-6 * max(1.0, v)
            if hi - lo <= tol or lo > 0.75 * v + tol or hi < 1.25 * v - tol:
                leaks.append((out["cell_key"][int(i)], m, v, lo, hi))
    return leaks


def project_rows(records: list[tuple]) -> pl.DataFrame:
    """Projects from (region, ti_p1, ti_p2, sector, siren, aid, investment, jobs) tuples."""
    rows = []
    for region, t1, t2, sector, siren, aid, inv, jobs in records:
        rows.append(
            {
                "region_code": region,
                "ti_p1": t1,
                "ti_p2": t2,
                "in_ti_p1": "non" if t1 == "hors" else "oui",
                "in_ti_p2": "non" if t2 == "hors" else "oui",
                "sector": sector,
                "firm_size": "PME",
                "decision_year": "2021",
                "siren": siren,
                "aid_eur": float(aid),
                "investment_eur": float(inv),
                "jobs_created": float(jobs),
                "jobs_maintained": float(2 * jobs),
            }
        )
    return pl.DataFrame(rows, schema_overrides={"siren": pl.String})


def test_cell_keys_round_trip_and_match_the_figures_stage() -> None:
    scope = {"ti_p2": "ti-8401", "region_code": "84"}
    assert cell_key(scope) == "region_code=84;ti_p2=ti-8401"
    assert cell_key({}) == "*" and parse_cell_key("*") == {}
    assert parse_cell_key(cell_key(scope)) == scope
    with pytest.raises(ParameterError):
        parse_cell_key("region=84")
    scopes_mod = pytest.importorskip("analyse.figures.scopes")
    assert scopes_mod.DIM_ORDER == DIM_ORDER
    assert scopes_mod.cell_key(scope) == cell_key(scope)


def test_protection_targets() -> None:
    lo, hi = protection_targets(np.array([1.0, 2.0, 4.0, 0.0]), "n_projects")
    assert lo.tolist() == [0.0, 1.0, 3.0, 0.0]  # one project: the attacker must not exclude 0
    assert hi.tolist() == [2.0, 3.0, 5.0, 1.0]  # ... nor 2; a zero must not be known either
    lo, hi = protection_targets(np.array([100.0]), "aid_eur", 0.25)
    assert (lo[0], hi[0]) == (75.0, 125.0)


def test_warm_started_bounds_match_cold_linprog() -> None:
    rng = np.random.default_rng(5)
    a = (rng.random((30, 60)) < 0.15).astype(float)
    x = rng.uniform(0, 10, 60)
    b = a @ x
    solver = LinearBounds(a, b, b, np.zeros(60), np.full(60, 1e4))
    for j in range(0, 60, 7):
        for sign in (1, -1):
            cost = np.zeros(60)
            cost[j] = 1.0
            warm = solver.solve(cost, maximise=sign < 0)[0]
            cold = sign * linprog(sign * cost, A_eq=a, b_eq=b, bounds=(0, 1e4), method="highs").fun
            assert warm == pytest.approx(cold, abs=1e-6)
    solver.set_row_bounds(0, -np.inf, np.inf)  # a freed row only widens the bounds
    assert solver.solve(np.ones(60))[0] <= x.sum() + 1e-9


def test_primary_rules_on_projects() -> None:
    projects = project_rows(
        [
            # région 11: 4 firms, A holds 90 % of the aid
            ("11", "hors", "hors", "Chimie", "A", 90, 100, 1),
            ("11", "hors", "hors", "Chimie", "B", 4, 100, 1),
            ("11", "hors", "hors", "Chimie", "C", 3, 100, 1),
            ("11", "hors", "hors", "Chimie", "D", 3, 100, 1),
            # région 24: 3 firms, E holds 86 % of the investment only
            ("24", "hors", "hors", "Bois", "E", 10, 860, 1),
            ("24", "hors", "hors", "Bois", "F", 10, 70, 1),
            ("24", "hors", "hors", "Bois", "G", 10, 70, 1),
            # région 53: 2 firms over 3 projects
            ("53", "hors", "hors", "Bois", "H", 10, 10, 1),
            ("53", "hors", "hors", "Bois", "I", 10, 10, 1),
            ("53", "hors", "hors", "Bois", "I", 10, 10, 1),
            # région 75: one known firm and two projects of unknown firms = 3 firms; 85 % exactly
            ("75", "hors", "hors", "Bois", "J", 85, 85, 1),
            ("75", "hors", "hors", "Bois", None, 10, 10, 1),
            ("75", "hors", "hors", "Bois", None, 5, 5, 1),
        ]
    )
    scopes = [{"region_code": r} for r in ("11", "24", "53", "75", "93")]
    out = protect_publication(projects, scopes)
    reason = dict(zip(out["cell_key"], out["mask_reason"], strict=True))
    assert reason["region_code=11"] == PRIMARY_DOMINANCE
    assert reason["region_code=24"] == PRIMARY_DOMINANCE
    assert reason["region_code=53"] == PRIMARY_FREQUENCY
    assert reason["region_code=75"] is None  # unknown firms count one each; 85 % is allowed
    assert reason["region_code=93"] is None  # empty scope: no firm's data, published as 0
    firms = dict(zip(out["cell_key"], out["n_firms"], strict=True))
    assert firms["region_code=75"] == 3 and firms["region_code=93"] == 0
    assert out.columns[:2] == ["cell_key", "region_code"] and out.height == 5


def test_one_dimension_table_with_its_total() -> None:
    # région 11 has 2 firms; the France total is published: a partner must be masked, and one
    # at least 25 % of région 11 on every measure (région 27 is too small to cover it)
    records = [("11", "hors", "hors", "Bois", f"A{i}", 100, 1000, 10) for i in range(2)]
    records += [("27", "hors", "hors", "Bois", f"B{i}", 10, 100, 1) for i in range(3)]
    records += [("28", "hors", "hors", "Bois", f"C{i}", 40, 400, 4) for i in range(3)]
    records += [("32", "hors", "hors", "Bois", f"D{i}", 500, 5000, 50) for i in range(3)]
    projects = project_rows(records)
    scopes = [{}, *[{"region_code": r} for r in ("11", "27", "28", "32")]]
    out = protect_publication(projects, scopes)
    reason = dict(zip(out["cell_key"], out["mask_reason"], strict=True))
    assert reason["region_code=11"] == PRIMARY_FREQUENCY
    assert reason["region_code=28"] == SECONDARY  # smallest partner that covers 25 %
    assert reason["region_code=27"] is None and reason["region_code=32"] is None
    assert attack(projects, out) == []
    # without the secondary cell the independent attacker recovers région 11
    primary_only = out.with_columns(
        pl.col("mask_reason").str.starts_with("primary").fill_null(False).alias("is_masked")
    )
    assert {(k, m) for k, m, *_ in attack(projects, primary_only)} >= {
        ("region_code=11", "aid_eur")
    }


def test_two_dimension_table_and_every_margin() -> None:
    projects = with_dims(make_synthetic_projects(160, seed=11))
    scopes = [{}]
    for family in (("region_code",), ("sector",), ("region_code", "sector")):
        scopes += [
            dict(zip(family, r, strict=True)) for r in projects.select(family).unique().rows()
        ]
    out = protect_publication(projects, scopes)
    assert out.filter(pl.col("mask_reason") == SECONDARY).height > 0
    assert attack(projects, out) == []


def test_multi_hierarchy_national_sector_margins_and_region_totals() -> None:
    """The issue's leak: a région x sector cell of 1 firm, recovered from the national sector
    total minus the other régions' cells of that sector, once every table is read together."""
    rng = np.random.default_rng(3)
    regions = [f"{r:02d}" for r in (11, 24, 27, 28, 32, 44, 52, 53, 75, 76, 84, 93)]
    records = []
    for r in regions:
        for s in ("Bois", "Chimie", "Textile"):
            n = 1 if (r, s) == ("84", "Chimie") else int(rng.integers(3, 6))
            records += [
                (r, "hors", "hors", s, f"{r}{s}{i}", *(rng.integers(10, 100) * np.array([1, 9, 1])))
                for i in range(n)
            ]
    projects = project_rows(records)
    scopes = [
        {},
        *[{"region_code": r} for r in regions],
        *[{"sector": s} for s in ("Bois", "Chimie", "Textile")],
    ]
    scopes += [
        {"region_code": r, "sector": s} for r in regions for s in ("Bois", "Chimie", "Textile")
    ]
    out = protect_publication(projects, scopes)
    masked = set(out.filter("is_masked")["cell_key"])
    assert "region_code=84;sector=Chimie" in masked
    assert len(masked) >= 4  # at least a rectangle of the région x sector table
    assert "*" not in masked
    assert attack(projects, out) == []


def test_territory_with_two_firms_next_to_its_region_total() -> None:
    """A territory of 2 firms, its région's total, the région's other territories and "hors"
    (both phases), and the territory's sheet: all published on different pages."""
    records = [
        ("84", "ti-8401", "ti-8401", "Bois", "A", 200, 2000, 5),
        ("84", "ti-8401", "ti-8401", "Bois", "B", 150, 1500, 3),
    ]
    for i in range(4):
        records.append(("84", "ti-8402", "ti-8402", "Chimie", f"C{i}", 100 + i, 900, 2))
        records.append(("84", "ti-8403", "ti-8403", "Bois", f"D{i}", 300 + i, 2500, 4))
        records.append(("84", "hors", "hors", "Textile", f"E{i}", 80 + i, 700, 1))
        records.append(("27", "hors", "hors", "Bois", f"F{i}", 90 + i, 800, 2))
    projects = project_rows(records)
    out = protect_publication(projects, publication_scopes(projects))
    reason = dict(zip(out["cell_key"], out["mask_reason"], strict=True))
    assert reason["region_code=84;ti_p2=ti-8401"] == PRIMARY_FREQUENCY
    assert reason["ti_p2=ti-8401"] == PRIMARY_FREQUENCY  # the sheet: the same projects
    assert attack(projects, out) == []


def test_adversarial_publication_leaks_nothing() -> None:
    """Built to leak: one firm dominating a sector in one région, a territory of 2 firms next to
    its région total, a territory lying in two régions, tiny sectors, unknown firms."""
    base = with_dims(make_synthetic_projects(100, seed=17))
    extra = project_rows(
        [
            ("84", "ti-8401", "ti-8450", "Chimie", "DOM", 90_000_000, 900_000_000, 400),
            ("84", "ti-8401", "ti-8450", "Chimie", "x1", 50_000, 400_000, 1),
            ("84", "ti-8401", "ti-8450", "Chimie", "x2", 40_000, 300_000, 1),
            ("84", "ti-8499", "ti-8499", "Bois", "T1", 300_000, 2_000_000, 3),
            ("84", "ti-8499", "ti-8499", "Bois", "T2", 200_000, 1_500_000, 2),
            ("27", "ti-8499", "hors", "Bois", "T3", 100_000, 900_000, 1),
            ("27", "hors", "hors", "Textile", None, 60_000, 500_000, 0),
        ]
    )
    columns = [*DIM_ORDER, "siren", *AMOUNTS]
    projects = pl.concat([base.select(columns), extra.select(columns)], how="vertical_relaxed")
    out = protect_publication(projects, publication_scopes(projects))
    reason = dict(zip(out["cell_key"], out["mask_reason"], strict=True))
    assert reason["region_code=84;sector=Chimie"] == PRIMARY_DOMINANCE
    # the territory lying in two régions: its sheet and its part in each région are cells
    assert {"ti_p1=ti-8499", "region_code=84;ti_p1=ti-8499", "region_code=27;ti_p1=ti-8499"} <= set(
        reason
    )
    assert attack(projects, out) == []
    primary_only = out.with_columns(
        pl.col("mask_reason").str.starts_with("primary").fill_null(False).alias("is_masked")
    )
    assert attack(projects, primary_only)  # the dataset does leak without secondary cells


@pytest.mark.parametrize("seed", [1, 2])
def test_random_publications_never_leak(seed: int) -> None:
    projects = with_dims(make_synthetic_projects(90, seed=seed))
    diagnostics: dict = {}
    out = protect_publication(projects, publication_scopes(projects), diagnostics=diagnostics)
    assert diagnostics["n_secondary"] > 0 and diagnostics["n_lp_solves"] > 0
    assert attack(projects, out) == []


def test_bad_inputs() -> None:
    projects = project_rows([("11", "hors", "hors", "Bois", "A", 1, 1, 1)])
    with pytest.raises(ParameterError, match="lack columns"):
        protect_publication(projects.drop("sector"), [{}])
    with pytest.raises(ParameterError, match="without nulls"):
        protect_publication(projects.with_columns(pl.lit(None, pl.String).alias("sector")), [{}])
    with pytest.raises(ParameterError, match="measures"):
        protect_publication(projects, [{}], measures=("ratio",))
    with pytest.raises(ParameterError, match="unknown dimensions"):
        protect_publication(projects, [{"region": "11"}])


def test_a_single_project_cell_cannot_be_read_as_one() -> None:
    """Frequency-masked cells protect their project count too: bounds at least [0, 2]."""
    records = [("11", "hors", "hors", "Bois", "A", 100, 1000, 10)]
    records += [
        (r, "hors", "hors", "Bois", f"{r}{i}", 50, 500, 5) for r in ("24", "27") for i in range(3)
    ]
    projects = project_rows(records)
    out = protect_publication(projects, [{}, *[{"region_code": r} for r in ("11", "24", "27")]])
    assert (
        out.filter(pl.col("cell_key") == "region_code=11")["mask_reason"].item()
        == PRIMARY_FREQUENCY
    )
    assert out["is_masked"].sum() == 2
    assert attack(projects, out, ("n_projects",)) == []
    counts = out.with_columns(pl.col("mask_reason").is_not_null().alias("is_masked"))
    one_only = counts.with_columns((pl.col("cell_key") == "region_code=11").alias("is_masked"))
    assert attack(projects, one_only, ("n_projects",))  # alone, France minus the others gives 1
