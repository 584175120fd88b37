"""French statistical secrecy for business data: one table, or the whole publication.

Two entry points:

- :func:`protect_publication` is the **publication-wide** protection used by the figures stage:
  primary rules on every published scope, then secondary suppression solved jointly over every
  scope of the run (both phases, totals and "hors TI" rows included) against an attacker who
  solves linear programmes over everything published. Use it for anything that goes on a page.
- :func:`apply_secrecy` secrecy-checks **one table** (its rows and margins only); kept for callers
  that publish a single table in isolation. It does not protect against differencing with other
  tables.

Primary suppression (secret statistique des entreprises): a cell is masked when

- fewer than 3 distinct firms contribute to it (``primary_frequency``), or
- one firm makes more than 85% of the cell's amount (``primary_dominance``), checked on aid and
  on investment: ``max_firm_share`` from :func:`analyse.estimate.leverage.summarise_leverage`
  is the larger of the two shares. A null share (no amount) counts as dominated.

Secondary suppression in :func:`apply_secrecy`: a masked cell must not be recoverable from the
table's published totals. The table's rows are linked by *equations* "margin = sum of its cells"
(a 1-D breakdown and its total; a 2-D table with row totals, column totals and grand total; any
cube of margins). Two passes are iterated until nothing changes:

1. *Subtraction*: in every equation with exactly one masked member, the smallest visible cell (by
   ``size_col``, aid by default) is masked too, or the margin when every cell is masked.
2. *Linear combinations*: a masked value can also be recovered by combining several equations
   (e.g. a masked cell that is the only link between two groups of masked cells in a 2-D table).
   A masked value is exactly recoverable iff every solution of the equations restricted to masked
   values agrees on it, i.e. iff it has zero weight in every null-space vector of that system.
   Such values get one more cell masked (the smallest visible member of an equation they are in).

That protects one table against exact recovery only (no protection interval). Masked value
columns are set to null, never 0. The control column ``max_firm_share`` (and its per-amount
variants) reveals the largest firm's amount: it is dropped from the output by default.
The algorithm, guarantees and limits of :func:`protect_publication` are in its docstring.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from analyse.cellkeys import DIM_ORDER, OUTSIDE, Scope, cell_key
from analyse.errors import ParameterError
from analyse.estimate.leverage import MARGIN_COL

if TYPE_CHECKING:  # scipy is imported by the functions that solve (report kernels never do)
    import scipy.sparse as sp

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


# ============================================================================================
# Publication-wide protection
# ============================================================================================

#: (territory dimension, in/out dimension) of each phase: ``ti_pX=hors`` is ``in_ti_pX=non``.
TI_DIMS: tuple[tuple[str, str], ...] = (("ti_p1", "in_ti_p1"), ("ti_p2", "in_ti_p2"))
#: Dimensions that split any cell (a territory may straddle régions).
PLAIN_DIMS: tuple[str, ...] = ("region_code", "sector", "firm_size", "decision_year")
#: Measures that add up over disjoint cells (protected by secondary suppression).
ADDITIVE_MEASURES: tuple[str, ...] = (
    "n_projects",
    "aid_eur",
    "investment_eur",
    "jobs_created",
    "jobs_maintained",
)
#: Additive measures that are whole numbers: an attacker rounds his bounds to integers.
INTEGER_MEASURES = frozenset({"n_projects", "jobs_created", "jobs_maintained"})
#: Protection interval: an attacker must not bound a masked value within +-25 %.
PROTECTION = 0.25


def canonical_scope(scope: Scope) -> dict[str, str] | None:
    """One spelling per set of projects: ``ti_pX=hors`` -> ``in_ti_pX=non``, and
    ``in_ti_pX=oui`` dropped next to a territory. None when contradictory (always empty)."""
    out = dict(scope)
    for ti, flag in TI_DIMS:
        territory, inside = out.get(ti), out.get(flag)
        if territory == OUTSIDE:
            if inside == "oui":
                return None
            del out[ti]
            out[flag] = "non"
        elif territory is not None:
            if inside == "non":
                return None
            out.pop(flag, None)
    return {d: out[d] for d in DIM_ORDER if d in out}


@dataclass
class Domains:
    """Values each dimension takes (in the data, or in a publication).

    ``plain``: values of each dimension of :data:`PLAIN_DIMS`; ``territories``: territories of
    each phase; ``ti_regions`` / ``region_tis``: which régions a territory lies in and which
    territories a région holds (co-occurrence of the two in the same cell).
    """

    plain: dict[str, set[str]] = field(default_factory=dict)
    territories: dict[str, set[str]] = field(default_factory=dict)
    ti_regions: dict[tuple[str, str], set[str]] = field(default_factory=dict)
    region_tis: dict[tuple[str, str], set[str]] = field(default_factory=dict)

    @classmethod
    def from_cells(cls, cells: Iterable[Scope]) -> Domains:
        dom = cls()
        for cell in cells:
            for d in PLAIN_DIMS:
                if d in cell:
                    dom.plain.setdefault(d, set()).add(cell[d])
            region = cell.get("region_code")
            for ti, _ in TI_DIMS:
                territory = cell.get(ti)
                if territory is None or territory == OUTSIDE:
                    continue
                dom.territories.setdefault(ti, set()).add(territory)
                if region is not None:
                    dom.ti_regions.setdefault((ti, territory), set()).add(region)
                    dom.region_tis.setdefault((ti, region), set()).add(territory)
        return dom


def breakdowns(cells: Sequence[Scope | None]) -> dict[tuple[str, str], list[int]]:
    """The breakdowns the canonical ``cells`` belong to: ``(key of the cell broken down, how) ->
    indices of its parts``. ``how`` is a plain dimension; ``in_ti_pX`` (in / out of the phase's
    territories); ``ti_pX`` (the territories of an ``in_ti_pX=oui`` cell); ``ti_pX+hors`` (the
    territories and "hors"). The parts listed are those among ``cells``; whether they cover the
    cell is for the caller to check (atoms, or the values a publication shows). None is skipped.
    """
    out: dict[tuple[str, str], list[int]] = {}

    def add(parent: Scope, how: str, i: int) -> None:
        out.setdefault((cell_key(parent), how), []).append(i)

    for i, cell in enumerate(cells):
        if cell is None:
            continue
        for d in PLAIN_DIMS:
            if d in cell:
                add({k: v for k, v in cell.items() if k != d}, d, i)
        for ti, flag in TI_DIMS:
            if ti in cell:
                base = {k: v for k, v in cell.items() if k != ti}
                add({**base, flag: "oui"}, ti, i)
                add(base, f"{ti}+{OUTSIDE}", i)
            elif flag in cell:
                base = {k: v for k, v in cell.items() if k != flag}
                add(base, flag, i)
                if cell[flag] == "non":
                    add(base, f"{ti}+{OUTSIDE}", i)
    return out


def breakdown_values(parent: Scope, how: str, dom: Domains) -> set[str]:
    """Every value the parts of a breakdown (see :func:`breakdowns`) take according to ``dom``
    (for ``ti_pX+hors``, "hors" stands for the ``in_ti_pX=non`` part)."""
    if how in PLAIN_DIMS:
        values = set(dom.plain.get(how, set()))
        if how == "region_code":
            for ti, _ in TI_DIMS:
                if ti in parent:
                    values &= dom.ti_regions.get((ti, parent[ti]), set())
        return values
    if how.startswith("in_ti"):
        return {"oui", "non"}
    ti = how.split("+")[0]
    region = parent.get("region_code")
    found = (
        dom.region_tis.get((ti, region), set())
        if region is not None
        else dom.territories.get(ti, set())
    )
    return set(found) | ({OUTSIDE} if how.endswith(OUTSIDE) else set())


def part_value(cell: Scope, how: str) -> str:
    """The value of a part of a breakdown on the breakdown's dimension (``hors`` for the
    ``in_ti_pX=non`` part of ``ti_pX+hors``)."""
    if how in cell:
        return cell[how]
    ti = how.split("+")[0]
    if ti in cell:
        return cell[ti]
    return OUTSIDE


def protection_targets(
    values: np.ndarray, measure: str, protection: float = PROTECTION
) -> tuple[np.ndarray, np.ndarray]:
    """Highest lower bound and lowest upper bound an attacker may reach on masked values ``v``.

    ``lo <= (1 - p) v`` and ``hi >= (1 + p) v``. Whole-number measures are rounded outward (an
    attacker rounds his bounds to integers: one project needs the bounds [0, 2]). A zero must not
    be recovered either: ``hi >= 1`` when ``v = 0``.
    """
    v = np.asarray(values, dtype=np.float64)
    lo, hi = (1 - protection) * v, (1 + protection) * v
    if measure in INTEGER_MEASURES:
        lo, hi = np.floor(lo + 1e-9), np.ceil(hi - 1e-9)
    return lo, np.where(v <= 0, np.maximum(hi, 1.0), hi)


class LinearBounds:
    """Optima of linear functions over ``{x : col_lo <= x <= col_hi, row_lo <= A x <= row_hi}``.

    One HiGHS model (the solver bundled with scipy) is kept between solves. A new objective, new
    row bounds or new coefficients restart the primal simplex from the last basis (warm start:
    about ten pivots instead of hundreds), so the hundreds of small solves of a protection or an
    audit stay cheap. Falls back to ``scipy.optimize.linprog(method="highs")`` (cold starts)
    when scipy's binding is unavailable.
    """

    def __init__(
        self,
        a: Any,
        row_lo: np.ndarray,
        row_hi: np.ndarray,
        col_lo: np.ndarray,
        col_hi: np.ndarray,
    ) -> None:
        import scipy.sparse as sp

        self.a = sp.csc_array(a, dtype=np.float64)
        self.a.sort_indices()
        self.row_lo = np.asarray(row_lo, dtype=np.float64).copy()
        self.row_hi = np.asarray(row_hi, dtype=np.float64).copy()
        self.col_lo = np.asarray(col_lo, dtype=np.float64)
        self.col_hi = np.asarray(col_hi, dtype=np.float64)
        self.n_solves = 0
        self._changes: list[tuple[int, np.ndarray, np.ndarray]] = []
        self._core: Any = None
        try:
            from scipy.optimize._highspy import _core
        except ImportError:  # pragma: no cover - scipy moved its binding
            return
        self._core = _core
        n_row, n_col = self.a.shape
        lp = _core.HighsLp()
        lp.num_col_, lp.num_row_ = n_col, n_row
        lp.col_cost_ = np.zeros(n_col)
        lp.col_lower_, lp.col_upper_ = self.col_lo, self.col_hi
        lp.row_lower_, lp.row_upper_ = self.row_lo, self.row_hi
        lp.a_matrix_.format_ = _core.MatrixFormat.kColwise
        lp.a_matrix_.num_col_, lp.a_matrix_.num_row_ = n_col, n_row
        lp.a_matrix_.start_ = self.a.indptr.astype(np.int32)
        lp.a_matrix_.index_ = self.a.indices.astype(np.int32)
        lp.a_matrix_.value_ = self.a.data
        self._highs = _core._Highs()
        for option, value in (("output_flag", False), ("simplex_strategy", 4), ("presolve", "off")):
            self._highs.setOptionValue(option, value)
        self._highs.passModel(lp)
        self._all = np.arange(n_col, dtype=np.int32)

    def set_row_bounds(self, row: int, lo: float, hi: float) -> None:
        """Change one row's bounds (``-inf``/``inf`` frees it)."""
        self.row_lo[row], self.row_hi[row] = lo, hi
        if self._core is not None:
            self._highs.changeRowBounds(int(row), float(lo), float(hi))

    def set_coefficients(self, row: int, cols: np.ndarray, values: np.ndarray) -> None:
        """Set ``A[row, cols] = values`` (0 removes an entry)."""
        self._changes.append((row, cols, values))
        if self._core is not None:
            for col, value in zip(
                cols.tolist(), np.broadcast_to(values, len(cols)).tolist(), strict=True
            ):
                self._highs.changeCoeff(int(row), int(col), float(value))

    def solve(self, cost: np.ndarray, *, maximise: bool = False) -> tuple[float, np.ndarray | None]:
        """Optimal value of ``cost @ x`` and a solution (``+-inf`` and None when unbounded).

        Raises ParameterError when the constraints are infeasible.
        """
        self.n_solves += 1
        cost = np.asarray(cost, dtype=np.float64)
        if self._core is None:  # pragma: no cover - exercised only without scipy's binding
            return self._solve_cold(cost, maximise)
        core, highs = self._core, self._highs
        highs.changeColsCost(len(cost), self._all, cost)
        highs.changeObjectiveSense(core.ObjSense.kMaximize if maximise else core.ObjSense.kMinimize)
        highs.run()
        status = highs.getModelStatus()
        if status == core.HighsModelStatus.kOptimal:
            x = np.asarray(highs.getSolution().col_value)
            return float(cost @ x), x
        if status == core.HighsModelStatus.kUnbounded:
            return (np.inf if maximise else -np.inf), None
        highs.clearSolver()  # infeasible from a warm start, or unclear: confirm from scratch
        return self._solve_cold(cost, maximise)

    def _solve_cold(self, cost: np.ndarray, maximise: bool) -> tuple[float, np.ndarray | None]:
        import scipy.sparse as sp
        from scipy.optimize import linprog

        if self._changes:
            lil = self.a.tolil()
            for row, cols, values in self._changes:
                lil[row, cols] = values
            self.a, self._changes = sp.csc_array(lil), []
        a = self.a.tocsr()
        hi_rows, lo_rows = np.isfinite(self.row_hi), np.isfinite(self.row_lo)
        a_ub = sp.vstack([a[hi_rows], -a[lo_rows]]).tocsr()
        b_ub = np.concatenate([self.row_hi[hi_rows], -self.row_lo[lo_rows]])
        bounds = [
            (lo if np.isfinite(lo) else None, hi if np.isfinite(hi) else None)
            for lo, hi in zip(self.col_lo.tolist(), self.col_hi.tolist(), strict=True)
        ]
        res = linprog(
            -cost if maximise else cost,
            A_ub=a_ub if a_ub.shape[0] else None,
            b_ub=b_ub if a_ub.shape[0] else None,
            bounds=bounds,
            method="highs",
        )
        if res.status == 3:
            return (np.inf if maximise else -np.inf), None
        if res.status == 2:
            raise ParameterError("the published values are inconsistent (infeasible system)")
        if res.status != 0:
            raise ParameterError(f"linear programme failed: {res.message}")
        return float(cost @ res.x), np.asarray(res.x)


def _check_projects(projects: pl.DataFrame, measures: Sequence[str]) -> pl.DataFrame:
    """Dimensions, a firm id (null SIREN = a firm of its own) and the amounts (null = 0)."""
    amounts = [
        m for m in dict.fromkeys(["aid_eur", "investment_eur", *measures]) if m != "n_projects"
    ]
    missing = [c for c in [*DIM_ORDER, "siren", *amounts] if c not in projects.columns]
    if missing:
        raise ParameterError(
            f"protect_publication: projects lack columns {missing} (add the dimensions first)"
        )
    bad = [d for d in DIM_ORDER if projects.schema[d] != pl.String or projects[d].null_count()]
    if bad:
        raise ParameterError(f"protect_publication: dimensions {bad} must be strings without nulls")
    firm = pl.col("siren").cast(pl.String)
    return projects.with_row_index("_row").select(
        *DIM_ORDER,
        pl.when(firm.is_null()).then(pl.format("#{}", "_row")).otherwise(firm).alias("_firm"),
        *[pl.col(m).cast(pl.Float64).fill_null(0.0) for m in amounts],
    )


def _unique_scopes(scopes: Sequence[Scope]) -> tuple[list[dict[str, str]], list[str]]:
    """Distinct scopes (first occurrence order) and their keys."""
    out: dict[str, dict[str, str]] = {}
    for scope in scopes:
        bad = {d: v for d, v in scope.items() if not isinstance(v, str)}
        if bad:
            raise ParameterError(f"protect_publication: scope values must be strings: {bad}")
        out.setdefault(cell_key(scope), {d: scope[d] for d in DIM_ORDER if d in scope})
    return list(out.values()), list(out)


def _atoms(frame: pl.DataFrame) -> tuple[pl.DataFrame, np.ndarray]:
    """Distinct combinations of the dimensions among the projects, and each project's atom."""
    atoms = frame.select(DIM_ORDER).unique().sort(DIM_ORDER).with_row_index("_atom")
    atom_of = frame.join(atoms, on=list(DIM_ORDER), how="left", maintain_order="left")["_atom"]
    return atoms.drop("_atom"), atom_of.to_numpy().astype(np.int64)


def _membership(atoms: pl.DataFrame, scopes: Sequence[Scope]) -> sp.csr_array:
    """Scopes x atoms 0/1 matrix: which atoms each scope holds."""
    import scipy.sparse as sp

    columns = {d: atoms[d].to_numpy() for d in DIM_ORDER}
    rows, cols = [], []
    for i, scope in enumerate(scopes):
        hit = np.ones(atoms.height, dtype=bool)
        for d, v in scope.items():
            hit &= columns[d] == v
        idx = np.flatnonzero(hit)
        rows.append(np.full(len(idx), i))
        cols.append(idx)
    r, c = (
        np.concatenate([[], *rows]).astype(np.int64),
        np.concatenate([[], *cols]).astype(np.int64),
    )
    return sp.csr_array((np.ones(len(r)), (r, c)), shape=(len(scopes), atoms.height))


def _firm_rules(
    frame: pl.DataFrame, atom_of: np.ndarray, member: sp.csr_array, min_firms: int, max_share: float
) -> dict[str, np.ndarray]:
    """n_projects, n_firms and the primary rules of every scope (exact, from the projects)."""
    firm = frame["_firm"].rank("dense").to_numpy().astype(np.int64) - 1
    amounts = {c: frame[c].to_numpy() for c in ("aid_eur", "investment_eur") if c in frame.columns}
    by_project = (member[:, atom_of]).tocsr()
    n = member.shape[0]
    n_projects, n_firms = np.zeros(n, np.int64), np.zeros(n, np.int64)
    dominated = np.zeros(n, dtype=bool)
    for i in range(n):
        idx = by_project.indices[by_project.indptr[i] : by_project.indptr[i + 1]]
        n_projects[i] = len(idx)
        if not len(idx):
            continue
        firms, inverse = np.unique(firm[idx], return_inverse=True)
        n_firms[i] = len(firms)
        shares = []
        for values in amounts.values():
            per_firm = np.bincount(inverse, weights=values[idx])
            total = per_firm.sum()
            if total > 0:
                shares.append(per_firm.max() / total)
        dominated[i] = (max(shares) > max_share) if shares else True
    frequency = (n_projects > 0) & (n_firms < min_firms)
    return {
        "n_projects": n_projects,
        "n_firms": n_firms,
        "frequency": frequency,
        "dominance": (n_projects > 0) & ~frequency & dominated,
    }


def _alias_groups(member: sp.csr_array) -> tuple[np.ndarray, np.ndarray]:
    """Group of each scope (scopes holding the same atoms are one cell) and empty groups."""
    seen: dict[bytes, int] = {}
    group = np.empty(member.shape[0], dtype=np.int64)
    empty: list[bool] = []
    for i in range(member.shape[0]):
        idx = member.indices[member.indptr[i] : member.indptr[i + 1]]
        key = np.sort(idx).tobytes() if len(idx) else f"empty-{i}".encode()
        if key not in seen:
            seen[key] = len(seen)
            empty.append(not len(idx))
        group[i] = seen[key]
    return group, np.array(empty, dtype=bool)


def _group_equations(
    scopes: Sequence[Scope], member: sp.csr_array, group: np.ndarray
) -> list[tuple[int, tuple[int, ...]]]:
    """Equations "cell = sum of the published cells splitting it by one dimension", checked on
    the atoms (a breakdown counts only when its published parts hold every atom of the cell)."""
    canon = [canonical_scope(s) for s in scopes]
    index = {cell_key(c): i for i, c in reversed(list(enumerate(canon))) if c is not None}
    nonempty = np.diff(member.indptr) > 0
    out: set[tuple[int, tuple[int, ...]]] = set()
    for (parent_key, _), parts in breakdowns(canon).items():
        i = index.get(parent_key)
        if i is None or not nonempty[i]:
            continue
        parts = sorted({index[cell_key(canon[j])] for j in parts})  # type: ignore[arg-type]
        covered = np.asarray(member[parts].sum(axis=0)).ravel()
        if not np.array_equal(covered, member[[i]].toarray().ravel()):
            continue
        kids = {int(group[j]) for j in parts if nonempty[j]}
        if int(group[i]) not in kids:
            out.add((int(group[i]), tuple(sorted(kids))))
    return sorted(out)


class _Suppressor:
    """Secondary suppression over groups of scopes (one group = one set of projects).

    The attacker, for measure ``k``: unknowns ``x >= 0`` per atom, every published group's sum
    fixed to its exact value. A masked group ``g`` is protected on ``k`` when some feasible ``x``
    puts it at or below ``lo_t`` and some at or above ``hi_t`` (:func:`protection_targets`).
    Feasible points found along the way are kept as *witnesses*: masking more groups only removes
    constraints, so a witness stays feasible and a protected group stays protected.
    """

    def __init__(
        self,
        member: sp.csr_array,
        values: np.ndarray,
        measures: Sequence[str],
        protection: float,
        equations: Sequence[tuple[int, tuple[int, ...]]],
        masked: np.ndarray,
        empty: np.ndarray,
        cost: np.ndarray,
        totals: np.ndarray,
    ) -> None:
        self.member, self.values, self.measures = member, values, list(measures)
        self.n_groups, self.n_atoms = member.shape
        targets = [protection_targets(values[:, k], m, protection) for k, m in enumerate(measures)]
        self.lo_t = np.column_stack([t[0] for t in targets])
        self.hi_t = np.column_stack([t[1] for t in targets])
        # LPs in units of a typical atom: HiGHS's tolerances are absolute (1e-7)
        self.scale = np.maximum(totals / max(1, self.n_atoms), 1e-9)
        self.cap = 10.0 * totals / self.scale + 10.0
        self.lo_s, self.hi_s = self.lo_t / self.scale, self.hi_t / self.scale
        self.values_s = values / self.scale
        self.tol = 1e-6 * np.maximum(1.0, np.abs(self.values_s))
        self.equations = list(equations)
        self.masked, self.empty, self.cost = masked.copy(), empty, cost
        self.solvers: list[LinearBounds | None] = [None] * len(measures)
        self.relaxations: list[LinearBounds | None] = [None] * len(measures)
        self.targets: list[np.ndarray] = [np.zeros(0, dtype=np.int64) for _ in measures]
        self.witnesses: list[list[np.ndarray]] = [[] for _ in measures]
        self.pending: list[set[tuple[int, int]]] = [set() for _ in measures]
        for g in np.flatnonzero(self.masked):
            self._add_pending(int(g))
        self.rounds = 0

    # -- state ---------------------------------------------------------------------------------
    def _add_pending(self, g: int) -> None:
        for pend in self.pending:
            pend.update({(g, 0), (g, 1)})

    def mask(self, g: int) -> None:
        self.masked[g] = True
        self._add_pending(g)
        for model in (*self.solvers, *self.relaxations):
            if model is not None:
                model.set_row_bounds(g, -np.inf, np.inf)

    def _row_bounds(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        free = self.masked | self.empty
        v = self.values_s[:, k]
        return np.where(free, -np.inf, v), np.where(free, np.inf, v)

    def solver(self, k: int) -> LinearBounds:
        """The attacker's LP of measure ``k`` (atoms >= 0, published groups fixed)."""
        if self.solvers[k] is None:
            lo, hi = self._row_bounds(k)
            cap = np.full(self.n_atoms, self.cap[k])  # keeps every LP bounded; never binding
            self.solvers[k] = LinearBounds(self.member, lo, hi, np.zeros(self.n_atoms), cap)
        return self.solvers[k]  # type: ignore[return-value]

    def relaxation(self, k: int) -> LinearBounds:
        """The attacker's LP where each published group may deviate (``A x - s+ + s- = b``), plus
        one target row on a masked group: the cheapest deviations that reach the target."""
        if self.relaxations[k] is None:
            import scipy.sparse as sp

            lo, hi = self._row_bounds(k)
            eye = sp.eye_array(self.n_groups, format="csr")
            a = sp.vstack(
                [
                    sp.hstack([self.member, -eye, eye]),
                    sp.csr_array((1, self.n_atoms + 2 * self.n_groups)),
                ]
            )
            n_col = self.n_atoms + 2 * self.n_groups
            col_hi = np.concatenate(
                [np.full(self.n_atoms, self.cap[k]), np.full(2 * self.n_groups, np.inf)]
            )
            self.relaxations[k] = LinearBounds(
                a, np.append(lo, -np.inf), np.append(hi, np.inf), np.zeros(n_col), col_hi
            )
        return self.relaxations[k]  # type: ignore[return-value]

    # -- verification --------------------------------------------------------------------------
    def _met(self, k: int, g: int, d: int, value: float) -> bool:
        if d == 0:
            return value <= self.lo_s[g, k] + self.tol[g, k]
        return value >= self.hi_s[g, k] - self.tol[g, k]

    def _unwitnessed(
        self, k: int, pairs: Iterable[tuple[int, int]], xs: Sequence[np.ndarray]
    ) -> list[tuple[int, int]]:
        pairs = list(pairs)
        if not xs or not pairs:
            return pairs
        groups = sorted({g for g, _ in pairs})
        pos = {g: i for i, g in enumerate(groups)}
        sums = self.member[groups] @ np.column_stack(xs)  # groups x witnesses
        low, high = sums.min(axis=1), sums.max(axis=1)
        return [
            (g, d)
            for g, d in pairs
            if not self._met(k, g, d, float(low[pos[g]] if d == 0 else high[pos[g]]))
        ]

    def _solve_many(self, k: int, groups: Sequence[int], d: int) -> np.ndarray | None:
        weights = 1.0 / np.maximum(1.0, np.abs(self.values_s[list(groups), k]))
        _, x = self.solver(k).solve(self.member[list(groups)].T @ weights, maximise=d == 1)
        if x is not None:
            self.witnesses[k].append(x)
        return x

    def exposed(self, k: int) -> list[tuple[int, int]]:
        """Pending (group, direction) pairs of measure ``k`` an attacker bounds too tightly
        (direction 0: his lower bound is too high; 1: his upper bound too low)."""
        pairs, self.pending[k] = sorted(self.pending[k]), set()
        todo = self._unwitnessed(k, pairs, self.witnesses[k])
        for d in (0, 1):  # one LP for many groups at once, while it settles some of them
            batch = [p for p in todo if p[1] == d]
            while len(batch) > 1:
                x = self._solve_many(k, [g for g, _ in batch], d)
                left = self._unwitnessed(k, batch, [x] if x is not None else [])
                if len(left) == len(batch):
                    break
                batch = left
        todo = self._unwitnessed(k, todo, self.witnesses[k])
        out = []
        for g, d in todo:
            if not self._unwitnessed(k, [(g, d)], self.witnesses[k][-1:]):
                continue
            value, x = self.solver(k).solve(self.member[[g]].toarray().ravel(), maximise=d == 1)
            if x is not None:
                self.witnesses[k].append(x)
            if not self._met(k, g, d, value):
                out.append((g, d))
        return out

    # -- choice of the secondary cells ---------------------------------------------------------
    def release(self, k: int, g: int, d: int) -> list[int]:
        """Published groups to mask so that the attacker can reach ``g``'s target on measure
        ``k``: the cheapest deviations of the relaxation (cost per unit grows with the group's
        size, so small inner cells go before margins). Its solution becomes a witness."""
        relax = self.relaxation(k)
        target = self.n_groups
        relax.set_coefficients(target, self.targets[k], np.zeros(len(self.targets[k])))
        atoms = self.member.indices[self.member.indptr[g] : self.member.indptr[g + 1]]
        relax.set_coefficients(target, atoms, np.ones(len(atoms)))
        self.targets[k] = atoms.astype(np.int64)
        if d == 0:
            relax.set_row_bounds(target, -np.inf, self.lo_s[g, k])
        else:
            relax.set_row_bounds(target, self.hi_s[g, k], np.inf)
        unit = np.where(self.masked | self.empty, 0.0, 1.0 + np.sqrt(np.abs(self.values_s[:, k])))
        _, z = relax.solve(np.concatenate([np.zeros(self.n_atoms), unit, unit]))
        assert z is not None  # the relaxation is feasible: every group may deviate
        self.witnesses[k].append(z[: self.n_atoms])
        shift = z[self.n_atoms : self.n_atoms + self.n_groups] + z[self.n_atoms + self.n_groups :]
        return [int(h) for h in np.flatnonzero((shift > self.tol[:, k]) & ~self.masked)]

    def pick(self, need: np.ndarray, cands: Sequence[int]) -> int:
        """The cheapest candidate whose values cover ``need`` on the most measures."""

        def score(h: int) -> tuple[int, float, int]:
            short = int(np.sum(self.values_s[h] + self.tol[h] < need / self.scale))
            return short, float(self.cost[h]), h

        return min(cands, key=score)

    def subtract(self) -> None:
        """Equations with one masked member: mask a partner large enough for the protection."""
        need = np.maximum(self.hi_t - self.values, self.values - self.lo_t)
        changed = True
        while changed:
            changed = False
            for parent, children in self.equations:
                nodes = (parent, *children)
                hidden = [g for g in nodes if self.masked[g]]
                if len(hidden) != 1:
                    continue
                cands = [h for h in nodes if not self.masked[h] and not self.empty[h]]
                if cands:
                    self.mask(self.pick(need[hidden[0]], cands))
                    changed = True

    def run(self, max_rounds: int) -> None:
        """Subtraction pass, then verify / release until every masked group is protected."""
        self.subtract()
        for _ in range(max_rounds):
            self.rounds += 1
            found = False
            for k in range(len(self.measures)):
                for g, d in self.exposed(k):
                    found = True
                    if not self._unwitnessed(k, [(g, d)], self.witnesses[k][-8:]):
                        continue  # settled by a release made for another cell
                    for h in self.release(k, g, d):
                        self.mask(h)
            if not found:
                return
            self.subtract()
        raise RuntimeError("secondary suppression did not converge")  # pragma: no cover


def protect_publication(
    projects: pl.DataFrame,
    scopes: Sequence[Scope],
    *,
    min_firms: int = MIN_FIRMS,
    max_share: float = MAX_FIRM_SHARE,
    protection: float = PROTECTION,
    measures: Sequence[str] = ADDITIVE_MEASURES,
    diagnostics: dict[str, Any] | None = None,
) -> pl.DataFrame:
    """Primary and secondary secrecy of every scope published anywhere in a run, solved jointly.

    ``projects``: the dimension columns of :data:`DIM_ORDER` (strings, no nulls), ``siren`` (null
    = an unknown firm of its own) and the amounts of ``measures`` (null counts as 0).
    ``scopes``: every scope printed anywhere (dicts {dimension: value}; duplicates by key are
    merged). Returns one row per scope: ``cell_key``, the 8 dimensions (null = all),
    ``n_projects``, ``n_firms``, ``is_masked`` and ``mask_reason`` (``primary_frequency`` >
    ``primary_dominance`` > ``secondary``). A masked cell hides every measure, counts included.

    **Primary rules**: fewer than ``min_firms`` distinct firms, or one firm above ``max_share`` of
    the aid or of the investment (no amount at all counts as dominated). An empty scope carries
    no firm's data: it is published (as 0), never masked.

    **Attacker** (one linear programme per measure): unknowns are the *atoms*, the non-empty
    combinations of all 8 dimensions among the projects, each ``>= 0``; every published scope
    fixes the exact sum of its atoms. This attacker is at least as strong as one who reads the
    pages: he knows which combinations are empty and reads values unrounded, and he sees every
    breakdown the pages print (régions, sectors, both phases, "hors TI", sheets) at once.
    **Requirement**: for every masked cell and every measure of ``measures``, his bounds satisfy
    ``lo <= (1 - p) v`` and ``hi >= (1 + p) v`` (``p = protection``; integers rounded outward, a
    zero must reach 1: :func:`protection_targets`).

    **Algorithm**: (1) in every equation "cell = sum of the published cells splitting it by one
    dimension" (checked on the atoms) with a single masked member, mask the cheapest member
    (least aid) whose values cover the needed protection; (2) solve the attacker's LPs for the
    masked cells (HiGHS, warm-started; one LP settles many cells at once through the feasible
    points it returns, which stay valid as more cells are masked); (3) for each cell still bounded
    too tightly, mask the cheapest visible cell sharing an equation with it whose values cover the
    shortfall; repeat (2)-(3) until every masked cell passes.

    **Limits**: the attacker is linear (no integer programming beyond rounding his bounds: on
    tables that are not networks an integer attacker can be slightly sharper); ratios and
    intervals of masked cells must never be printed (the figures stage prints ``s``), and
    ``n_firms`` is not additive so it is not modelled. Cells that cannot be protected (no visible
    neighbour left) are reported by a warning. ``diagnostics`` (a dict) receives counts and
    timings.
    """
    start = time.perf_counter()
    measures = list(measures)
    unknown = [m for m in measures if m not in ADDITIVE_MEASURES]
    if unknown or not measures:
        raise ParameterError(f"measures must be among {ADDITIVE_MEASURES}, got {measures}")
    if not 0 < protection < 1:
        raise ParameterError(f"protection must lie in (0, 1), got {protection}")
    frame = _check_projects(projects, measures)
    scope_list, given_order = _unique_scopes(scopes)
    keys = sorted(given_order)  # solved in key order: the result does not depend on the input's
    scope_list = [scope_list[i] for i in np.argsort(given_order, kind="stable")]
    atoms, atom_of = _atoms(frame)
    member = _membership(atoms, scope_list)
    rules = _firm_rules(frame, atom_of, member, min_firms, max_share)
    group, empty = _alias_groups(member)
    first = np.unique(group, return_index=True)[1]
    member_g = member[first]
    atom_values = np.column_stack(
        [
            np.bincount(atom_of, minlength=atoms.height).astype(np.float64)
            if m == "n_projects"
            else np.bincount(atom_of, weights=frame[m].to_numpy(), minlength=atoms.height)
            for m in measures
        ]
    )
    values = member_g @ atom_values
    primary = rules["frequency"] | rules["dominance"]
    masked0 = np.zeros(len(first), dtype=bool)
    masked0[group[primary]] = True
    size_col = measures.index("aid_eur") if "aid_eur" in measures else 0
    suppressor = _Suppressor(
        member_g,
        values,
        measures,
        protection,
        _group_equations(scope_list, member, group),
        masked0,
        empty,
        values[:, size_col],
        atom_values.sum(axis=0),
    )
    suppressor.run(max_rounds=len(first) + 1)
    is_masked = suppressor.masked[group]
    reason = np.where(
        rules["frequency"],
        PRIMARY_FREQUENCY,
        np.where(rules["dominance"], PRIMARY_DOMINANCE, np.where(is_masked, SECONDARY, "")),
    )
    if diagnostics is not None:
        diagnostics.update(
            n_scopes=len(keys),
            n_atoms=atoms.height,
            n_groups=len(first),
            n_equations=len(suppressor.equations),
            n_primary=int(primary.sum()),
            n_secondary=int((is_masked & ~primary).sum()),
            n_rounds=suppressor.rounds,
            n_lp_solves=sum(
                s.n_solves for s in (*suppressor.solvers, *suppressor.relaxations) if s is not None
            ),
            seconds=round(time.perf_counter() - start, 3),
        )
    out = pl.DataFrame(
        {
            "cell_key": keys,
            **{d: [s.get(d) for s in scope_list] for d in DIM_ORDER},
            "n_projects": rules["n_projects"],
            "n_firms": rules["n_firms"],
            "is_masked": is_masked,
            "mask_reason": [r or None for r in reason.tolist()],
        },
        schema={
            "cell_key": pl.String,
            **dict.fromkeys(DIM_ORDER, pl.String),
            "n_projects": pl.Int64,
            "n_firms": pl.Int64,
            "is_masked": pl.Boolean,
            "mask_reason": pl.String,
        },
    )
    position = {k: i for i, k in enumerate(keys)}
    return out[[position[k] for k in given_order]]
