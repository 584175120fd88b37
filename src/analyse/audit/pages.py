"""What the pages of a report run print: annotated fund values and chart data, as intervals.

Every printed fund value is ``<td data-cell="{cell_key}" data-measure="{measure}">{printed}</td>``
(or a ``<span>``); charts embed their Vega-Lite spec as ``<script type="application/json"
class="analyse-chart-spec">``, whose data rows carry ``"cell": cell_key`` and one field per
measure (in ``datasets``, ``data.values``, layers or concatenations: every JSON object with a
``cell`` field is read). A printed text is turned back into the interval of true values its
rounding allows (inverse of :mod:`analyse.formatting`): ``"12,3 M€"`` -> [12.25e6, 12.35e6],
``"1 416"`` -> [1415.5, 1416.5], ``"9,4"`` -> [9.35, 9.45]; ``"s"`` is a masked value and
``"n.d."`` a value not given. A chart number is read as the text the figures stage prints for
it (the number must be that text's value: a chart must not carry more digits than the tables).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from analyse import formatting as fmt

#: CSS class of the ``<script type="application/json">`` holding a chart's spec.
SPEC_CLASS = "analyse-chart-spec"
#: Measures printed as counts (format_int) and as amounts in euros (format_eur).
COUNT_MEASURES = frozenset({"n_projects", "n_firms", "jobs_created", "jobs_maintained"})
_EUR_UNITS = {"€": 1.0, "k€": 1e3, "M€": 1e6, "Md€": 1e9}
_NUMBER = re.compile(
    r"^(?P<sign>[-+]?)(?P<int>\d+)(?:,(?P<dec>\d+))?(?:\s*(?P<unit>Md€|M€|k€|€|%))?(?:\s+\D.*)?$"
)
_GROUPS = re.compile(r"(?<=\d) (?=\d{3}(?!\d))")
_SPACES = dict.fromkeys(map(ord, [fmt.NNBSP, "\u2009"]), None)


@dataclass(frozen=True)
class Printed:
    """One value printed on a page: a table cell or prose span (``text``) or a chart datum
    (``number``)."""

    page: str
    cell_key: str
    measure: str
    source: str  # "html" or "chart"
    text: str | None = None
    number: float | None = None


@dataclass(frozen=True)
class Reading:
    """What a printed value tells: ``kind`` is ``value`` (with ``lo <= true <= hi``),
    ``masked``, ``missing`` (n.d.) or ``unparsed``."""

    kind: str
    lo: float = float("nan")
    hi: float = float("nan")
    mid: float = float("nan")


def is_amount(measure: str) -> bool:
    """Measures printed in euros (format_eur)."""
    return measure.endswith("_eur") and "_per_aid" not in measure


def format_for(measure: str, value: float) -> str:
    """The text the figures stage prints for ``value`` (format_eur / format_int / format_ratio):
    its own ``format_measure`` when present, else the same rule."""
    try:
        from analyse.figures.fund import format_measure
    except ImportError:  # pragma: no cover - figures stage absent
        pass
    else:
        return format_measure(measure, value)
    if is_amount(measure):
        return fmt.format_eur(value)
    if measure in COUNT_MEASURES:
        return fmt.format_int(value)
    return fmt.format_ratio(value, 1)


def read_printed(text: str) -> Reading:
    """The interval of true values a French printed text allows (inverse of the formatters)."""
    clean = " ".join(text.translate(_SPACES).replace(fmt.NBSP, " ").split())
    clean = _GROUPS.sub("", clean)  # "1 416" typed with ordinary spaces
    if clean == fmt.MASKED:
        return Reading("masked")
    if clean in (fmt.NOT_AVAILABLE, "", "-", "—"):
        return Reading("missing")
    match = _NUMBER.match(clean.replace(fmt.MINUS, "-"))
    if match is None:
        return Reading("unparsed")
    dec = match.group("dec") or ""
    value = Decimal(f"{match.group('sign')}{match.group('int')}.{dec or '0'}")
    half = Decimal(5).scaleb(-len(dec) - 1)
    unit = Decimal(repr(_EUR_UNITS.get(match.group("unit") or "", 1.0)))
    lo, hi = (value - half) * unit, (value + half) * unit
    return Reading("value", float(lo), float(hi), float(value * unit))


class _PageParser(HTMLParser):
    """Collects annotated elements' text and chart specs' JSON of one page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: list[tuple[str, str, str]] = []  # (cell, measure, text)
        self.specs: list[str] = []
        self._open: list[dict[str, Any]] = []  # annotated elements being read
        self._script: list[str] | None = None
        self.unannotated_masked = 0  # "s" marks outside any annotated element

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        for item in self._open:
            if item["tag"] == tag:
                item["depth"] += 1
        if tag == "abbr" and attr.get("title") == "secret statistique" and not self._open:
            self.unannotated_masked += 1
        if tag == "script" and SPEC_CLASS in attr.get("class", "").split():
            self._script = []
        elif "data-cell" in attr and "data-measure" in attr:
            self._open.append(
                {
                    "tag": tag,
                    "depth": 1,
                    "cell": attr["data-cell"],
                    "measure": attr["data-measure"],
                    "text": [],
                }
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._script is not None:
            self.specs.append("".join(self._script))
            self._script = None
            return
        for item in list(self._open):
            if item["tag"] == tag:
                item["depth"] -= 1
                if item["depth"] == 0:
                    self._open.remove(item)
                    self.values.append((item["cell"], item["measure"], "".join(item["text"])))

    def handle_data(self, data: str) -> None:
        if self._script is not None:
            self._script.append(data)
        for item in self._open:
            item["text"].append(data)


def _chart_rows(node: Any) -> Iterator[dict[str, Any]]:
    """Every JSON object holding a ``cell`` field, anywhere in a spec."""
    if isinstance(node, dict):
        if isinstance(node.get("cell"), str):
            yield node
        for value in node.values():
            yield from _chart_rows(value)
    elif isinstance(node, list):
        for value in node:
            yield from _chart_rows(value)


def read_page(path: Path, page: str, measures: frozenset[str]) -> tuple[list[Printed], list[str]]:
    """The printed values of one page (chart fields named as one of ``measures``), and problems
    met while reading it (unreadable chart specs, masked values printed without annotation)."""
    parser = _PageParser()
    parser.feed(path.read_text(encoding="utf-8"))
    parser.close()
    out = [Printed(page, c.strip(), m.strip(), "html", text=t.strip()) for c, m, t in parser.values]
    problems = []
    if parser.unannotated_masked:
        problems.append(
            f"{page}: {parser.unannotated_masked} masked value(s) printed without data-cell"
        )
    for i, spec in enumerate(parser.specs):
        try:
            data = json.loads(spec)
        except json.JSONDecodeError as exc:
            problems.append(f"{page}: chart {i + 1} is not valid JSON ({exc})")
            continue
        for row in _chart_rows(data):
            for measure, value in row.items():
                if measure in measures and measure != "cell":
                    number = (
                        value
                        if isinstance(value, int | float) and not isinstance(value, bool)
                        else None
                    )
                    text = None if number is not None else (None if value is None else str(value))
                    out.append(
                        Printed(page, row["cell"], measure, "chart", text=text, number=number)
                    )
    return out, problems


def read_run(run_dir: Path, measures: frozenset[str]) -> tuple[list[Printed], list[str], list[str]]:
    """Every printed value of every HTML page under ``run_dir`` (pages, values, problems)."""
    pages = sorted(p for p in Path(run_dir).rglob("*.html") if p.is_file())
    values: list[Printed] = []
    problems: list[str] = []
    for path in pages:
        page = path.relative_to(run_dir).as_posix()
        found, issues = read_page(path, page, measures)
        values += found
        problems += issues
    return values, [p.relative_to(run_dir).as_posix() for p in pages], problems
