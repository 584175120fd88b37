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
