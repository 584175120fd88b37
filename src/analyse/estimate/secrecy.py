"""French statistical secrecy for business data, applied to published tables of the fund.

Primary suppression (secret statistique des entreprises): a cell is masked when

- fewer than 3 distinct firms contribute to it (``primary_frequency``), or
- one firm makes more than 85% of the cell's amount (``primary_dominance``), checked on aid and
  on investment: ``max_firm_share`` from :func:`analyse.estimate.leverage.summarise_leverage`
  is the larger of the two shares. A null share (no amount) counts as dominated.

Secondary suppression: a masked cell must not be recoverable from published totals. The table's
rows are linked by *equations* "margin = sum of its cells" (a 1-D breakdown and its total; a 2-D
table with row totals, column totals and grand total; any cube of margins). Two passes are iterated
until nothing changes:

1. *Subtraction*: in every equation with exactly one masked member, the smallest visible cell (by
   ``size_col``, aid by default) is masked too, or the margin when every cell is masked.
2. *Linear combinations*: a masked value can also be recovered by combining several equations
   (e.g. a masked cell that is the only link between two groups of masked cells in a 2-D table).
   A masked value is exactly recoverable iff every solution of the equations restricted to masked
   values agrees on it, i.e. iff it has zero weight in every null-space vector of that system.
   Such values get one more cell masked (the smallest visible member of an equation they are in).

This protects against exact recovery, not against narrow bounds (no protection-interval
requirement) nor against differencing between separately published tables (apply secrecy to each
table with the margins it shares with the others, e.g. a région table with the national total).
Masked value columns are set to null, never 0. The control column ``max_firm_share`` (and its
per-amount variants) reveals the largest firm's amount: it is dropped from the output by default.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import polars as pl

from analyse.errors import ParameterError
from analyse.estimate.leverage import MARGIN_COL

PRIMARY_FREQUENCY = "primary_frequency"
PRIMARY_DOMINANCE = "primary_dominance"
SECONDARY = "secondary"
#: Minimum number of distinct firms for a cell to be published.
MIN_FIRMS = 3
#: Largest share of a cell's amount a single firm may hold for the cell to be published.
MAX_FIRM_SHARE = 0.85

#: Columns never treated as values (identifiers of the cell).
_ID_COLUMNS = frozenset({MARGIN_COL, "ti_phase"})

#: One linear constraint: (margin row or None for a published total outside the table, cells).
Equation = tuple[int | None, tuple[int, ...]]


def _levels(table: pl.DataFrame, keys: list[str], margin_col: str) -> list[frozenset[str]]:
    if margin_col not in table.columns:
        return [frozenset()] * table.height
    out = []
    for i, value in enumerate(table[margin_col].to_list()):
        level = (
            frozenset(v.strip() for v in value.split(",") if v.strip()) if value else frozenset()
        )
        bad = level - set(keys)
        if bad:
            raise ParameterError(
                f"row {i + 1}: {margin_col}={value!r} names columns outside keys={keys}: {sorted(bad)}"
            )
        out.append(level)
    return out


def build_equations(
    table: pl.DataFrame,
    keys: Sequence[str],
    *,
    total_row: bool = True,
    margin_col: str = MARGIN_COL,
) -> list[Equation]:
    """Equations linking the rows of ``table`` (row indices): each margin equals the sum of its cells.

    Rows whose ``margin_col`` (comma-separated aggregated keys) is null are inner cells. For every
    margin row aggregating keys ``A`` and every ``a`` in ``A``, the rows aggregating ``A - {a}``
    that share its other key values are its members. With ``total_row`` the grand total is taken
    as published even when the table has no such row (its equation uses the finest level present).
    """
    keys = list(keys)
    levels = _levels(table, keys, margin_col)
    key_values = table.select(keys).rows() if keys else [()] * table.height
    present = set(levels)
    index: dict[tuple[frozenset[str], tuple[Any, ...]], int] = {}
    for i, (level, vals) in enumerate(zip(levels, key_values, strict=True)):
        sig = (level, tuple(v for k, v in zip(keys, vals, strict=True) if k not in level))
        if sig in index:
            raise ParameterError(
                f"rows {index[sig] + 1} and {i + 1} are the same cell of keys {keys} "
                f"(level {sorted(level)}): one row per cell expected"
            )
        index[sig] = i
    full = frozenset(keys)
    virtual = total_row and bool(keys) and full not in present
    parents = (present - {frozenset()}) | ({full} if virtual else set())
    equations: set[Equation] = set()
    for parent in parents:
        # finest published breakdown of this margin: the maximal present levels below it
        subs = [level for level in present if level < parent]
        for child in [c for c in subs if not any(c < other for other in subs)]:
            groups: dict[tuple[Any, ...], list[int]] = {}
            for i, (level, vals) in enumerate(zip(levels, key_values, strict=True)):
                if level == child:
                    sig = tuple(v for k, v in zip(keys, vals, strict=True) if k not in parent)
                    groups.setdefault(sig, []).append(i)
            for sig, members in groups.items():
                margin = None if (virtual and parent == full) else index.get((parent, sig))
                if margin is None and not (virtual and parent == full):
                    continue  # that margin is not published: no constraint
                equations.add((margin, tuple(sorted(members))))
    return sorted(equations, key=lambda e: (-1 if e[0] is None else e[0], e[1]))


def recoverable_cells(masked: np.ndarray, equations: Sequence[Equation]) -> np.ndarray:
    """Masked rows whose value is exactly determined by the visible values and the equations.

    Solves for the null space of the equations restricted to masked rows (per connected component):
    a masked value is determined iff it has zero weight in every null-space vector.
    """
    masked = np.asarray(masked, dtype=bool)
    out = np.zeros(len(masked), dtype=bool)
    rows = []
    for margin, members in equations:
        coef = {}
        if margin is not None and masked[margin]:
            coef[margin] = 1.0
        for j in members:
            if masked[j]:
                coef[j] = coef.get(j, 0.0) - 1.0
        if coef:
            rows.append(coef)
    if not rows:
        return out
    # connected components of masked rows through equations (union-find)
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        parent.setdefault(x, x)
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for coef in rows:
        first, *rest = coef
        for r in rest:
            parent[find(r)] = find(first)
    comps: dict[int, list[dict[int, float]]] = {}
    for coef in rows:
        comps.setdefault(find(next(iter(coef))), []).append(coef)
    for eqs in comps.values():
        var = sorted({j for coef in eqs for j in coef})
        pos = {j: p for p, j in enumerate(var)}
        a = np.zeros((len(eqs), len(var)))
        for r, coef in enumerate(eqs):
            for j, c in coef.items():
                a[r, pos[j]] = c
        _, s, vt = np.linalg.svd(a, full_matrices=True)
        rank = int(np.sum(s > 1e-9 * max(1.0, s.max(initial=0.0))))
        null = vt[rank:]  # rows span the null space
        weight = np.abs(null).max(axis=0) if len(null) else np.zeros(len(var))
        for j, w in zip(var, weight, strict=True):
            if w < 1e-9:
                out[j] = True
    return out


def _order(size: np.ndarray, j: int) -> tuple[bool, float, int]:
    """Sort key of secondary candidates: smallest size first, unknown sizes last, then row."""
    return (bool(np.isnan(size[j])), float(np.nan_to_num(size[j])), j)


def _candidate(
    eq: Equation, masked: np.ndarray, size: np.ndarray, maskable: np.ndarray
) -> int | None:
    """Smallest visible cell of the equation, else its margin if visible, else None."""
    margin, members = eq
    cells = [j for j in members if not masked[j] and maskable[j]]
    if cells:
        return min(cells, key=lambda j: _order(size, j))
    if margin is not None and not masked[margin] and maskable[margin]:
        return margin
    return None


def _nearest_candidate(
    j: int,
    masked: np.ndarray,
    size: np.ndarray,
    maskable: np.ndarray,
    by_row: dict[int, list[Equation]],
) -> int | None:
    """Smallest visible row of the equations nearest to masked row ``j``.

    Breadth-first over equations linked through masked rows: first the equations holding ``j``,
    then those holding the masked rows of these, and so on; None when every linked row is masked.
    """
    seen_rows, seen_eqs, frontier = {j}, set(), [j]
    while frontier:
        eqs = [eq for r in frontier for eq in by_row.get(r, []) if eq not in seen_eqs]
        seen_eqs.update(eqs)
        picks = [p for eq in eqs if (p := _candidate(eq, masked, size, maskable)) is not None]
        if picks:
            return min(picks, key=lambda p: _order(size, p))
        frontier = []
        for margin, members in eqs:
            for r in (*([margin] if margin is not None else []), *members):
                if masked[r] and r not in seen_rows:
                    seen_rows.add(r)
                    frontier.append(r)
    return None


def secondary_suppression(
    primary: np.ndarray, equations: Sequence[Equation], size: np.ndarray
) -> np.ndarray:
    """Rows to mask in addition to ``primary`` so that no masked value is exactly recoverable."""
    masked = np.asarray(primary, dtype=bool).copy()
    size = np.asarray(size, dtype=np.float64)
    maskable = np.ones(len(masked), dtype=bool)
    by_row: dict[int, list[Equation]] = {}
    for eq in equations:
        for j in (*([eq[0]] if eq[0] is not None else []), *eq[1]):
            by_row.setdefault(j, []).append(eq)
    unprotectable: set[int] = set()
    while True:
        changed = False
        for eq in equations:
            margin, members = eq
            nodes = [*members, *([margin] if margin is not None else [])]
            if int(masked[nodes].sum()) == 1:
                pick = _candidate(eq, masked, size, maskable)
                if pick is None:
                    unprotectable.update(j for j in nodes if masked[j])
                else:
                    masked[pick] = True
                    changed = True
        if changed:
            continue
        exposed = recoverable_cells(masked, equations) & ~np.isin(
            np.arange(len(masked)), list(unprotectable)
        )
        for j in np.flatnonzero(exposed):
            best = _nearest_candidate(int(j), masked, size, maskable, by_row)
            if best is not None:
                masked[best] = True
                changed = True
                break  # re-run the cheap subtraction pass first
            unprotectable.add(int(j))
        if not changed:
            break
    if unprotectable:
        warnings.warn(
            f"rows {sorted(i + 1 for i in unprotectable)} stay recoverable from a published total "
            "that is outside this table: mask that total where it is published",
            stacklevel=3,
        )
    return masked & ~np.asarray(primary, dtype=bool)


def apply_secrecy(
    table: pl.DataFrame,
    *,
    keys: Sequence[str],
    firm_count_col: str = "n_firms",
    share_col: str = "max_firm_share",
    value_cols: Sequence[str] | None = None,
    total_row: bool = True,
    size_col: str | None = None,
    min_firms: int = MIN_FIRMS,
    max_share: float = MAX_FIRM_SHARE,
    margin_col: str = MARGIN_COL,
    drop_control_cols: bool = True,
) -> pl.DataFrame:
    """Mask the cells of a published table under statistical secrecy (primary and secondary).

    ``table`` has one row per cell of ``keys``, as from ``summarise_leverage(projects, keys)``, or
    with its margins (``summarise_leverage(..., margins=True)``: rows whose ``total_over`` lists the
    aggregated keys; null for inner cells). ``total_row=True`` declares the grand total published
    (in the table or elsewhere, e.g. the national figure next to a table of régions), so a single
    masked cell must not be recoverable from it.

    ``value_cols`` (default: every numeric column but the keys, ``ti_phase`` and ``total_over``)
    are set to null on masked rows. ``size_col`` (default ``aid_eur``) orders the candidates of
    secondary suppression (smallest first). Adds ``is_masked`` and ``mask_reason``
    (``primary_frequency`` > ``primary_dominance`` > ``secondary``, null when published). With
    ``drop_control_cols`` the share columns (``share_col`` and ``max_firm_share*``) are dropped:
    publishing them would reveal the largest firm's amount.
    """
    keys = list(keys)
    missing = [c for c in [*keys, firm_count_col, share_col] if c not in table.columns]
    if missing:
        raise ParameterError(f"apply_secrecy: columns {missing} missing from the table")
    if value_cols is None:
        value_cols = [
            c
            for c, t in table.schema.items()
            if c not in keys and c not in _ID_COLUMNS and t.is_numeric()
        ]
    value_cols = list(value_cols)
    bad = [c for c in value_cols if c not in table.columns or c in keys]
    if bad:
        raise ParameterError(f"apply_secrecy: value_cols {bad} are missing or are keys")
    if size_col is None:
        size_col = "aid_eur" if "aid_eur" in table.columns else (value_cols or [firm_count_col])[0]
    if size_col not in table.columns:
        raise ParameterError(f"apply_secrecy: size_col {size_col!r} missing from the table")

    firms = table[firm_count_col].cast(pl.Float64).to_numpy()
    share = table[share_col].cast(pl.Float64).to_numpy()
    freq = np.isnan(firms) | (firms < min_firms)
    dom = ~freq & (np.isnan(share) | (share > max_share))
    primary = freq | dom
    equations = build_equations(table, keys, total_row=total_row, margin_col=margin_col)
    size = table[size_col].cast(pl.Float64).to_numpy()
    secondary = secondary_suppression(primary, equations, size)
    reason = [
        PRIMARY_FREQUENCY if f else PRIMARY_DOMINANCE if d else SECONDARY if s else None
        for f, d, s in zip(freq, dom, secondary, strict=True)
    ]
    out = table.with_columns(
        pl.Series("is_masked", primary | secondary, dtype=pl.Boolean),
        pl.Series("mask_reason", reason, dtype=pl.String),
    ).with_columns(
        pl.when(pl.col("is_masked")).then(None).otherwise(pl.col(c)).alias(c) for c in value_cols
    )
    if drop_control_cols:
        out = out.drop([c for c in out.columns if c == share_col or c.startswith("max_firm_share")])
    return out
