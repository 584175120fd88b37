"""``analyse audit-secrecy RUN_DIR``: attack a published run as a whole, as a reader could.

**What it reads.** Every value the pages print (:mod:`analyse.audit.pages`): annotated table
cells and prose spans, and the chart data. Each printed number stands for the interval its
rounding allows; ``s`` marks a masked value.

**The attacker.** One linear programme per additive measure (``n_projects``, ``aid_eur``,
``investment_eur``, ``jobs_created``, ``jobs_maintained``). Unknowns: one value ``>= 0`` per
cell a page names, plus the cells the keys imply (coarser cells: a région's "in TI" part, the
France total...) and the missing parts of a breakdown (free, or 0 with ``zero_fill``).
Constraints: every printed value lies in its rounding interval (``n_projects`` exactly), and a
cell equals the sum of its parts whenever the publication shows that breakdown's full set of
values (:func:`analyse.estimate.secrecy.breakdowns`): a dimension's values anywhere in the run;
for territories, those shown with the cell's région; ``ti_pX=hors`` is the ``in_ti_pX=non``
part. For every masked (cell, measure) it solves the minimum and the maximum (HiGHS).

**Verdicts** per masked (cell, measure), bounds rounded outward to integers for whole-number
measures:

- ``recovered``: the bounds meet (the value is known);
- ``bounded``: with true values (``--truth``, tests), ``lo > 0.75 v`` or ``hi < 1.25 v``
  (the ministry's +-25 % rule). Without them the auditor does not know ``v``: a cell is bounded
  when *no* value in ``[lo, hi]`` could satisfy that rule, i.e. ``hi (1 - p) < lo (1 + p)``
  (equivalently, the interval's half-width is below 25 % of its mid-point; the attacker can then
  name the value within +-25 % whatever it is). :func:`analyse.estimate.secrecy.protect_publication`
  guarantees against a stronger attacker (exact values, known empty combinations), so a run it
  protected passes both rules;
- ``empty``: the cell's project count is bounded to 0 (an empty cell holds no firm's data);
- ``protected`` otherwise.

**Consistency.** The same (cell, measure) printed differently on two pages, masked on one page
and printed on another, a chart number with more digits than the printed text, a ratio or
count printed for a cell whose amounts are masked, an unreadable annotated value: each is an
issue. The exit code is 1 when any value is recovered or bounded or any such issue is found
(breakdowns that do not add up are dropped from the attack and reported as warnings).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from analyse.audit.pages import COUNT_MEASURES, Printed, Reading, format_for, read_printed, read_run
from analyse.cellkeys import cell_key, parse_cell_key
from analyse.errors import ParameterError
from analyse.estimate.secrecy import (
    ADDITIVE_MEASURES,
    INTEGER_MEASURES,
    PROTECTION,
    Domains,
    LinearBounds,
    breakdown_values,
    breakdowns,
    canonical_scope,
    part_value,
)

#: Issues that make the audit fail (the others are warnings).
FAILING_ISSUES = frozenset(
    {
        "printed_differently",
        "masked_and_printed",
        "derived_from_masked",
        "chart_precision",
        "unreadable",
        "bad_key",
        "bad_chart",
        "nothing_read",
    }
)
RECOVERED, BOUNDED, EMPTY, PROTECTED = "recovered", "bounded", "empty", "protected"


@dataclass
class CellVerdict:
    """The attacker's bounds on one masked value and the verdict."""

    cell_key: str
    measure: str
    lo: float
    hi: float
    status: str
    pages: list[str]
    truth: float | None = None


@dataclass
class AuditResult:
    """Outcome of :func:`audit_secrecy` (``failed``: exit non-zero)."""

    run_dir: str
    pages: int
    values_html: int
    values_chart: int
    protection: float
    rule: str
    verdicts: list[CellVerdict] = field(default_factory=list)
    issues: list[dict[str, Any]] = field(default_factory=list)
    n_cells: int = 0
    n_equations: int = 0

    @property
    def failures(self) -> list[CellVerdict]:
        return [v for v in self.verdicts if v.status in (RECOVERED, BOUNDED)]

    @property
    def failing_issues(self) -> list[dict[str, Any]]:
        return [i for i in self.issues if i["kind"] in FAILING_ISSUES]

    @property
    def failed(self) -> bool:
        return bool(self.failures or self.failing_issues)

    def to_json(self) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for v in self.verdicts:
            counts[v.status] = counts.get(v.status, 0) + 1
        return {
            "tool": "analyse audit-secrecy",
            "run_dir": self.run_dir,
            "ok": not self.failed,
            "rule": self.rule,
            "protection": self.protection,
            "pages": self.pages,
            "values": {"html": self.values_html, "chart": self.values_chart},
            "lp": {"cells": self.n_cells, "equations": self.n_equations},
            "masked_values": len(self.verdicts),
            "masked_cells": len({v.cell_key for v in self.verdicts}),
            "counts": counts,
            "failures": [_verdict_json(v) for v in self.failures],
            "issues": self.issues,
            "verdicts": [_verdict_json(v) for v in self.verdicts],
        }


def _verdict_json(v: CellVerdict) -> dict[str, Any]:
    out = asdict(v)
    for k in ("lo", "hi", "truth"):
        if isinstance(out[k], float) and not math.isfinite(out[k]):
            out[k] = None if math.isnan(out[k]) else ("inf" if out[k] > 0 else "-inf")
    return out


def known_measures() -> frozenset[str]:
    """Measure names read from chart data (additive, counts, amounts and ratios)."""
    from analyse.estimate.leverage import RATIO_METRICS, SUM_COLUMNS

    return frozenset({*ADDITIVE_MEASURES, *COUNT_MEASURES, *RATIO_METRICS, *SUM_COLUMNS})


# --------------------------------------------------------------------------------------------
# Readings: printed texts and chart numbers -> intervals, with the consistency checks
# --------------------------------------------------------------------------------------------


def _reading(item: Printed, issues: list[dict[str, Any]]) -> Reading:
    if item.number is None:
        reading = read_printed(item.text or "")
        if reading.kind == "unparsed":
            issues.append(_issue("unreadable", item, text=item.text))
        return reading
    text = format_for(item.measure, item.number)
    reading = read_printed(text)
    if abs(item.number - reading.mid) > 1e-9 * max(1.0, abs(reading.mid)):
        issues.append(_issue("chart_precision", item, number=item.number, printed=text))
        return Reading("value", item.number, item.number, item.number)
    return reading


def _issue(kind: str, item: Printed, **extra: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "cell_key": item.cell_key,
        "measure": item.measure,
        "page": item.page,
        **extra,
    }


def _check_consistency(
    by_value: Mapping[tuple[str, str], list[tuple[Printed, Reading]]], issues: list[dict[str, Any]]
) -> None:
    """Same value printed differently, or masked on one page and printed on another."""
    for (key, measure), items in by_value.items():
        kinds = {r.kind for _, r in items}
        pages = sorted({p.page for p, _ in items})
        if "masked" in kinds and "value" in kinds:
            issues.append(
                {"kind": "masked_and_printed", "cell_key": key, "measure": measure, "pages": pages}
            )
        texts = {p.text for p, _ in items if p.source == "html" and p.text is not None}
        mids = {round(r.mid, 9) for _, r in items if r.kind == "value"}
        if len(texts) > 1 or len(mids) > 1:
            issues.append(
                {
                    "kind": "printed_differently",
                    "cell_key": key,
                    "measure": measure,
                    "texts": sorted(texts),
                    "pages": pages,
                }
            )


def _check_derived(
    by_value: Mapping[tuple[str, str], list[tuple[Printed, Reading]]],
    masked_cells: set[str],
    issues: list[dict[str, Any]],
) -> None:
    """Ratios and counts of a cell whose additive values are masked must not be printed."""
    for (key, measure), items in by_value.items():
        if key in masked_cells and measure not in ADDITIVE_MEASURES:
            shown = [p for p, r in items if r.kind == "value"]
            if shown:
                issues.append(
                    {
                        "kind": "derived_from_masked",
                        "cell_key": key,
                        "measure": measure,
                        "pages": sorted({p.page for p in shown}),
                    }
                )


# --------------------------------------------------------------------------------------------
# The linked cells of a publication
# --------------------------------------------------------------------------------------------


@dataclass
class LinkedCells:
    """Cells (canonical scopes) of the attack and the equations "cell = sum of its parts"."""

    cells: list[dict[str, str]]
    index: dict[str, int]
    completed: np.ndarray  # missing parts added to complete a breakdown (not printed)
    equations: list[tuple[int, tuple[int, ...]]]


def _part(parent: Mapping[str, str], how: str, value: str) -> dict[str, str]:
    if how.startswith("in_ti"):
        return {**parent, how: value}
    if how.startswith("ti_"):
        ti = how.split("+")[0]
        flag = "in_" + ti
        if value == "hors":
            return {**parent, flag: "non"}
        return {**{k: v for k, v in parent.items() if k != flag}, ti: value}
    return {**parent, how: value}


def link_cells(printed: Sequence[Mapping[str, str]]) -> LinkedCells:
    """The attack's cells: the printed ones, every coarser cell they imply, and the missing
    parts of each breakdown; equations for every breakdown whose full set of values is known."""
    cells: list[dict[str, str]] = []
    index: dict[str, int] = {}

    def add(cell: Mapping[str, str]) -> int:
        canon = canonical_scope(cell)
        assert canon is not None
        key = cell_key(canon)
        if key not in index:
            index[key] = len(cells)
            cells.append(canon)
        return index[key]

    for cell in printed:
        add(cell)
    n_printed, size = len(cells), -1
    while size != len(cells):  # coarser cells, to a fixed point
        size = len(cells)
        for parent_key, _ in list(breakdowns(cells)):
            add(parse_cell_key(parent_key))
    n_closed = len(cells)
    dom = Domains.from_cells(cells[:n_printed])
    for (parent_key, how), parts in breakdowns(cells[:n_closed]).items():
        parent = cells[index[parent_key]]
        present = {part_value(cells[j], how) for j in parts}
        for value in sorted(breakdown_values(parent, how, dom) - present):
            add(_part(parent, how, value))
    equations: set[tuple[int, tuple[int, ...]]] = set()
    for (parent_key, how), parts in breakdowns(cells).items():
        i = index.get(parent_key)
        if i is None:
            continue
        present = {part_value(cells[j], how) for j in parts}
        if present >= breakdown_values(cells[i], how, dom) and i not in parts:
            equations.add((i, tuple(sorted(set(parts)))))
    completed = np.zeros(len(cells), dtype=bool)
    completed[n_closed:] = True
    return LinkedCells(cells, index, completed, sorted(equations))


def _equation_matrix(linked: LinkedCells, keep: Sequence[int]) -> sp.csr_array:
    rows, cols, vals = [], [], []
    for r, e in enumerate(keep):
        parent, parts = linked.equations[e]
        rows += [r] * (len(parts) + 1)
        cols += [parent, *parts]
        vals += [1.0] + [-1.0] * len(parts)
    return sp.csr_array((vals, (rows, cols)), shape=(len(keep), len(linked.cells)))


def _inconsistent_equations(
    linked: LinkedCells, keep: list[int], lo: np.ndarray, hi: np.ndarray
) -> list[int]:
    """Equations the printed intervals cannot all satisfy (elastic LP: least total deviation)."""
    a = _equation_matrix(linked, keep)
    m = a.shape[0]
    eye = sp.eye_array(m, format="csr")
    elastic = LinearBounds(
        sp.hstack([a, -eye, eye]),
        np.zeros(m),
        np.zeros(m),
        np.concatenate([lo, np.zeros(2 * m)]),
        np.concatenate([hi, np.full(2 * m, np.inf)]),
    )
    cost = np.concatenate([np.zeros(len(lo)), np.ones(2 * m)])
    _, z = elastic.solve(cost)
    assert z is not None
    n = len(lo)
    shift = z[n : n + m] + z[n + m :]
    return [keep[r] for r in np.flatnonzero(shift > 1e-6 * np.maximum(1.0, abs(a) @ np.abs(z[:n])))]


# --------------------------------------------------------------------------------------------
# Verdicts
# --------------------------------------------------------------------------------------------


def classify(
    lo: float, hi: float, *, integer: bool, protection: float, truth: float | None = None
) -> tuple[float, float, str]:
    """Bounds rounded outward to integers (whole-number measures) and the verdict (module doc)."""
    if integer:
        lo = math.ceil(lo - 1e-6) if math.isfinite(lo) else lo
        hi = math.floor(hi + 1e-6) if math.isfinite(hi) else hi
    tol = 1e-6 * max(1.0, abs(hi) if math.isfinite(hi) else 1.0)
    if math.isfinite(hi) and hi - lo <= tol:
        return lo, hi, RECOVERED
    if truth is not None:
        tol_v = 1e-6 * max(1.0, abs(truth))
        if lo > (1 - protection) * truth + tol_v or hi < (1 + protection) * truth - tol_v:
            return lo, hi, BOUNDED
    elif math.isfinite(hi) and hi * (1 - protection) < lo * (1 + protection) - tol:
        return lo, hi, BOUNDED
    return lo, hi, PROTECTED


def _column_bounds(
    linked: LinkedCells,
    readings: Mapping[tuple[str, str], list[tuple[Printed, Reading]]],
    measure: str,
    zero_fill: bool,
    issues: list[dict[str, Any]],
) -> tuple[np.ndarray, np.ndarray]:
    n = len(linked.cells)
    lo, hi = np.zeros(n), np.full(n, np.inf)
    if zero_fill:
        hi[linked.completed] = 0.0
    for (key, m), items in readings.items():
        if m != measure or key not in linked.index:
            continue
        j = linked.index[key]
        for _, r in items:
            if r.kind != "value":
                continue
            r_lo, r_hi = (r.mid, r.mid) if measure == "n_projects" else (r.lo, r.hi)
            new_lo, new_hi = max(lo[j], r_lo), min(hi[j], r_hi)
            if new_lo > new_hi:  # aliases printed inconsistently: keep the hull, report
                issues.append({"kind": "printed_differently", "cell_key": key, "measure": m})
                new_lo, new_hi = min(lo[j], r_lo), max(hi[j], r_hi)
            lo[j], hi[j] = new_lo, new_hi
    return np.maximum(lo, 0.0), hi


def _bounds_for(
    linked: LinkedCells,
    lo: np.ndarray,
    hi: np.ndarray,
    targets: Sequence[int],
    issues: list[dict[str, Any]],
    measure: str,
) -> dict[int, tuple[float, float]]:
    """Min and max of each target cell; equations the printed values contradict are dropped."""
    keep = list(range(len(linked.equations)))
    for _ in range(3):
        a = _equation_matrix(linked, keep)
        solver = LinearBounds(a, np.zeros(len(keep)), np.zeros(len(keep)), lo, hi)
        try:
            solver.solve(np.zeros(len(lo)))
        except ParameterError:
            bad = set(_inconsistent_equations(linked, keep, lo, hi))
            for e in sorted(bad):
                parent, parts = linked.equations[e]
                issues.append(
                    {
                        "kind": "equation_dropped",
                        "measure": measure,
                        "cell_key": cell_key(linked.cells[parent]),
                        "parts": [cell_key(linked.cells[j]) for j in parts],
                    }
                )
            keep = [e for e in keep if e not in bad]
            continue
        out = {}
        for j in targets:
            unit = np.zeros(len(lo))
            unit[j] = 1.0
            out[j] = (solver.solve(unit)[0], solver.solve(unit, maximise=True)[0])
        return out
    raise ParameterError(
        f"{measure}: the printed values stay inconsistent after dropping equations"
    )


def audit_secrecy(
    run_dir: Path | str,
    *,
    protection: float = PROTECTION,
    truth: Mapping[tuple[str, str], float] | None = None,
    zero_fill: bool = False,
) -> AuditResult:
    """Attack every masked value of a report run (see the module docstring).

    ``truth`` maps (cell_key, measure) to the true value (tests, ``--truth``): the +-25 % rule
    is then applied to it instead of the truth-free rule.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise ParameterError(f"no report run folder at {run_dir}")
    values, pages, problems = read_run(run_dir, known_measures())
    issues: list[dict[str, Any]] = [
        {"kind": "unannotated_masked" if "without data-cell" in p else "bad_chart", "detail": p}
        for p in problems
    ]
    if not values:
        issues.append(
            {"kind": "nothing_read", "detail": f"no annotated value in {len(pages)} pages"}
        )
    readings: dict[tuple[str, str], list[tuple[Printed, Reading]]] = {}
    scopes: dict[str, dict[str, str]] = {}
    for item in values:
        try:
            scope = canonical_scope(parse_cell_key(item.cell_key))
        except ParameterError as exc:
            issues.append(_issue("bad_key", item, detail=str(exc)))
            continue
        if scope is None:
            issues.append(_issue("bad_key", item, detail="contradictory dimensions"))
            continue
        key = cell_key(scope)
        scopes.setdefault(key, scope)
        readings.setdefault((key, item.measure), []).append((item, _reading(item, issues)))
    _check_consistency(readings, issues)
    masked = {
        key_measure: sorted({p.page for p, r in items if r.kind == "masked"})
        for key_measure, items in readings.items()
        if key_measure[1] in ADDITIVE_MEASURES and any(r.kind == "masked" for _, r in items)
    }
    _check_derived(readings, {k for k, _ in masked}, issues)
    rule = (
        f"true value v known: bounded when lo > {1 - protection:g} v or hi < {1 + protection:g} v"
        if truth is not None
        else f"bounded when hi*(1-{protection:g}) < lo*(1+{protection:g}) (no value in [lo, hi] "
        f"can be protected at +-{protection:.0%})"
    )
    result = AuditResult(
        str(run_dir),
        len(pages),
        sum(1 for v in values if v.source == "html"),
        sum(1 for v in values if v.source == "chart"),
        protection,
        rule,
        issues=issues,
    )
    if not masked:
        return result
    linked = link_cells(list(scopes.values()))
    result.n_cells, result.n_equations = len(linked.cells), len(linked.equations)
    truth_by_canon = _canonical_truth(truth) if truth is not None else {}
    bounds: dict[tuple[str, str], tuple[float, float]] = {}
    for measure in ADDITIVE_MEASURES:
        targets = sorted({linked.index[k] for k, m in masked if m == measure})
        if not targets:
            continue
        lo, hi = _column_bounds(linked, readings, measure, zero_fill, issues)
        for j, b in _bounds_for(linked, lo, hi, targets, issues, measure).items():
            bounds[(cell_key(linked.cells[j]), measure)] = b
    for (key, measure), where in sorted(masked.items()):
        lo_b, hi_b = bounds[(key, measure)]
        count = bounds.get((key, "n_projects"))
        if count is not None and count[1] <= 1e-6:
            result.verdicts.append(CellVerdict(key, measure, 0.0, 0.0, EMPTY, where))
            continue
        value = truth_by_canon.get((key, measure))
        lo_r, hi_r, status = classify(
            lo_b, hi_b, integer=measure in INTEGER_MEASURES, protection=protection, truth=value
        )
        result.verdicts.append(CellVerdict(key, measure, lo_r, hi_r, status, where, value))
    return result


def _canonical_truth(truth: Mapping[tuple[str, str], float]) -> dict[tuple[str, str], float]:
    out = {}
    for (key, measure), value in truth.items():
        scope = canonical_scope(parse_cell_key(key))
        if scope is not None and value is not None:
            out[(cell_key(scope), measure)] = float(value)
    return out


def read_truth(path: Path | str) -> dict[tuple[str, str], float]:
    """True values from a parquet file with columns ``cell_key``, ``measure``, ``value``."""
    import polars as pl

    frame = pl.read_parquet(path)
    missing = {"cell_key", "measure", "value"} - set(frame.columns)
    if missing:
        raise ParameterError(f"{path}: truth file lacks columns {sorted(missing)}")
    rows = frame.filter(pl.col("value").is_not_null()).select("cell_key", "measure", "value")
    return {(k, m): float(v) for k, m, v in rows.iter_rows()}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def write_audit(result: AuditResult, path: Path | str) -> Path:
    """Write ``audit.json`` (atomically)."""
    from analyse.files import write_text_atomic

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, json.dumps(result.to_json(), ensure_ascii=False, indent=1) + "\n")
    return path


def summarise(result: AuditResult, *, limit: int = 10) -> str:
    """A short French / English summary naming the failing cells."""
    from analyse.formatting import NBSP, format_int

    counts = {s: sum(1 for v in result.verdicts if v.status == s) for s in (RECOVERED, BOUNDED)}
    n_issues = len(result.failing_issues)
    cells = len({v.cell_key for v in result.verdicts})
    verdict = "ÉCHEC / FAILED" if result.failed else "OK"
    lines = [
        f"audit du secret : {result.pages} pages, {format_int(result.values_html + result.values_chart)} "
        f"valeurs lues (dont {format_int(result.values_chart)} dans les graphiques), {cells} cellules "
        f"masquées ({len(result.verdicts)} valeurs) : {counts[RECOVERED]} retrouvée(s), "
        f"{counts[BOUNDED]} encadrée(s) à ±{result.protection * 100:g}{NBSP}%, {n_issues} problème(s) de publication. {verdict}",
        f"secrecy audit: {result.pages} pages, {len(result.verdicts)} masked values in {cells} cells: "
        f"{counts[RECOVERED]} recovered, {counts[BOUNDED]} bounded within ±{result.protection * 100:g} %, "
        f"{n_issues} publication issue(s). {verdict}",
    ]
    for v in result.failures[:limit]:
        lines.append(
            f"  {v.status}: {v.cell_key} {v.measure} in [{v.lo:g}, {v.hi:g}] ({', '.join(v.pages[:3])})"
        )
    for issue in result.failing_issues[:limit]:
        where = issue.get("pages") or issue.get("page") or issue.get("detail", "")
        lines.append(
            f"  {issue['kind']}: {issue.get('cell_key', '')} {issue.get('measure', '')} ({where})"
        )
    return "\n".join(lines)
