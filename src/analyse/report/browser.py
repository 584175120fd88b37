"""Open published pages in headless Chromium with no network and check what a reader sees.

:class:`Browser` drives the system Chromium through Playwright (``executable_path``; never a
downloaded browser) with every host name unresolvable and every non-file request aborted and
recorded. :meth:`Browser.check` loads one page, waits until every chart container is drawn (or
has failed), and returns a :class:`PageCheck`:

* script errors, ``console.error`` calls, failed resource loads and network requests;
* for every chart, what its rendered SVG shows (:data:`CHART_PROBE`): no ``NaN`` / ``Infinity``
  in geometry or text, no empty mark layer (unless the layer is a filtered subset of its data,
  e.g. labels for masked rows when none is masked), at least one drawn item, and legends that
  match the marks (each legend entry's colour and dash are used by some mark; no ``NaN`` or
  empty label);
* each chart's accessible name (``role="img"`` with a label) and its data-table alternative;
* each chart's data against its table (:func:`chart_table_problems`): every value a chart
  carries for a published cell (``cell`` + a measure field) equals the number printed in the
  ``<details>`` table that follows it, for the same ``data-cell`` and ``data-measure``.

One browser serves many pages (the end-to-end test checks every page of a run with one).
:func:`render_page` keeps the one-page call of earlier versions. Chromium is Debian's
``chromium`` (or ``$ANALYSE_CHROMIUM``); :func:`find_chromium` returns ``None`` when it is
absent so tests can skip with a reason.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from analyse.report.assets import CHART_CLASS, SPEC_CLASS

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
#: Class of the ``<details>`` holding a chart's data table (analyse.review.page).
CHART_DATA_CLASS = "analyse-chart-data"
#: Class of a numbered table (analyse.formatting.to_html_table): a map's table may follow it.
TABLE_CLASS = "analyse-table"
#: URL schemes a page may load (everything else is a network request).
LOCAL_SCHEMES = ("file:", "data:", "blob:", "about:")
CHROMIUM_ARGS = (
    "--host-resolver-rules=MAP * ~NOTFOUND",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-default-apps",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-quic",
    "--mute-audio",
)

_EXTERNAL_RE = re.compile(
    r"<(?:script\b[^>]*?\bsrc|link\b[^>]*?\bhref)\s*=\s*[\"']?\s*((?:https?:)?//[^\"'\s>]*)",
    re.IGNORECASE,
)

#: Waits until every chart container is drawn or has failed.
CHARTS_SETTLED = """() => Array.from(document.querySelectorAll("div.__CHART__")).every(
  function (el) { return el.getAttribute("data-rendered") === "true" ||
                         el.hasAttribute("data-chart-error"); })""".replace(
    "__CHART__", CHART_CLASS
)

#: What each chart's SVG shows (run in the page after drawing).
CHART_PROBE = r"""() => {
  var GEOMETRY = ["d", "transform", "x", "y", "x1", "x2", "y1", "y2", "width", "height", "cx",
                  "cy", "r", "points", "font-size"];
  var BAD_TEXT = /^(NaN|undefined|null|Infinity|-Infinity)$|NaN/;
  function layerNode(spec, cls) {
    var m = /(?:^|\s)((?:[a-z]+_\d+_)*)marks(?:\s|$)/.exec(cls);
    if (!m) { return null; }
    var node = spec, path = m[1].split("_").filter(Boolean);
    var chain = [spec];
    for (var i = 0; i + 1 < path.length; i += 2) {
      var key = path[i], idx = Number(path[i + 1]);
      var next = node && node[key] && node[key][idx];
      if (!next) { return chain; }
      node = next; chain.push(node);
    }
    return chain;
  }
  function filtered(chain) {
    if (!chain) { return true; }  // unknown layer: give it the benefit of the doubt
    return chain.some(function (n) {
      return Array.isArray(n.transform) && n.transform.some(function (t) { return "filter" in t; });
    });
  }
  function paint(node) {
    function norm(v) { return (v || "").trim().toLowerCase(); }
    var fill = norm(node.getAttribute("fill")), stroke = norm(node.getAttribute("stroke"));
    var dash = (node.getAttribute("stroke-dasharray") || "").replace(/\s+/g, "");
    return {fill: fill, stroke: stroke, dash: dash};
  }
  function visible(c) { return c && c !== "none" && c !== "transparent" && c.indexOf("url(") !== 0; }
  return Array.from(document.querySelectorAll("div.analyse-chart")).map(function (el) {
    var out = {id: el.id, rendered: false, error: el.getAttribute("data-chart-error"),
               problems: [], items: 0, role: el.getAttribute("role"),
               label: el.getAttribute("aria-label") || "", alternative: false};
    var svg = el.querySelector("svg");
    var canvas = el.querySelector("canvas");
    out.rendered = !!(svg || canvas);
    // the data-table alternative: the next <details class="analyse-chart-data"> or numbered
    // table (figure.analyse-table) before any other chart
    var all = Array.from(document.querySelectorAll(
      "div.analyse-chart, details.analyse-chart-data, figure.analyse-table"));
    var at = all.indexOf(el);
    for (var k = at + 1; k < all.length; k++) {
      if (all[k].matches("div.analyse-chart")) { break; }
      if (all[k].querySelector("table")) { out.alternative = true; break; }
    }
    if (!svg) { return out; }
    var spec = null;
    var source = document.getElementById(el.id + "-spec");
    try { spec = source ? JSON.parse(source.textContent) : null; } catch (e) { spec = null; }
    Array.from(svg.querySelectorAll("*")).forEach(function (node) {
      GEOMETRY.forEach(function (name) {
        var v = node.getAttribute(name);
        if (v && /NaN|Infinity/.test(v)) {
          var where = node.closest("g.role-mark, g.role-legend, g[class*='role-axis']");
          out.problems.push("NaN in " + node.tagName + " " + name + " (" +
                            (where ? where.getAttribute("class") : "chart") + "): " + v.slice(0, 60));
        }
      });
    });
    var marks = Array.from(svg.querySelectorAll("g.role-mark"));
    var paints = [];
    marks.forEach(function (g) {
      var n = g.children.length;
      out.items += n;
      var cls = g.getAttribute("class");
      if (n === 0 && !filtered(spec && layerNode(spec, cls))) {
        out.problems.push("empty mark layer " + cls);
      }
      Array.from(g.children).forEach(function (item) {
        paints.push(paint(item));
        if (item.tagName === "text" && BAD_TEXT.test(item.textContent.trim())) {
          out.problems.push("text mark reads '" + item.textContent.trim() + "' (" + cls + ")");
        }
      });
    });
    if (marks.length && out.items === 0) { out.problems.push("no mark drawn"); }
    Array.from(svg.querySelectorAll("g.role-legend")).forEach(function (legend) {
      var title = legend.querySelector("g.role-legend-title text");
      var name = title ? title.textContent : "(sans titre)";
      Array.from(legend.querySelectorAll("g.role-legend-label text")).forEach(function (t) {
        var text = t.textContent.trim();
        if (!text || BAD_TEXT.test(text)) {
          out.problems.push("legend " + name + ": label '" + text + "'");
        }
      });
      var symbols = Array.from(legend.querySelectorAll("g.role-legend-symbol > *"));
      var labels = Array.from(legend.querySelectorAll("g.role-legend-label text"));
      symbols.forEach(function (symbol, i) {
        var p = paint(symbol);
        var colours = [p.fill, p.stroke].filter(visible);
        var used = paints.some(function (q) {
          var colourOk = colours.length === 0 || colours.some(function (c) {
            return c === q.fill || c === q.stroke;
          });
          var dashOk = !p.dash || p.dash === q.dash;
          return colourOk && dashOk;
        });
        if (!used) {
          var label = labels[i] ? labels[i].textContent : "?";
          out.problems.push("legend " + name + ": entry '" + label + "' (" + colours.join("/") +
                            (p.dash ? ", dash " + p.dash : "") + ") matches no mark");
        }
      });
    });
    return out;
  });
}"""


#: In print layout (media print, viewport as wide as the printed page's content): what does
#: not fit the width, i.e. what a printed page would cut (argument: the width in CSS px).
PRINT_PROBE = r"""(W) => {
  var out = [];
  function name(t, i) {
    var cap = t.querySelector("caption");
    return (cap ? cap.textContent : "table " + (i + 1)).trim().slice(0, 70);
  }
  document.querySelectorAll("table").forEach(function (t, i) {
    var r = t.getBoundingClientRect();
    if (!r.width) { return; }
    if (r.right > W + 0.5 || r.left < -0.5) {
      out.push(name(t, i) + ": table spans " + r.left.toFixed(0) + " to " + r.right.toFixed(0));
    }
    if (t.scrollWidth > t.clientWidth + 1) {
      out.push(name(t, i) + ": table content " + t.scrollWidth + " px wide in " + t.clientWidth);
    }
    t.querySelectorAll("th, td").forEach(function (c) {
      var b = c.getBoundingClientRect();
      if (b.width && (b.right > W + 0.5 || b.left < -0.5)) {
        out.push(name(t, i) + ": cell '" + c.textContent.trim().slice(0, 30) + "' ends at " +
                 b.right.toFixed(0));
      } else if (c.scrollWidth > c.clientWidth + 1) {
        out.push(name(t, i) + ": cell '" + c.textContent.trim().slice(0, 30) + "' overflows");
      }
    });
  });
  document.querySelectorAll("div.analyse-chart svg, div.analyse-chart canvas, img, pre, figure")
    .forEach(function (e) {
      var b = e.getBoundingClientRect();
      if (b.width && b.right > W + 0.5) {
        out.push(e.tagName.toLowerCase() + " " + (e.id || e.className || "") + " ends at " +
                 b.right.toFixed(0));
      }
    });
  var toc = document.querySelector("nav.toc");
  if (toc && getComputedStyle(toc).display !== "none") { out.push("table of contents printed"); }
  return out;
}"""


def find_chromium() -> str | None:
    """Path of a Chromium executable, or None."""
    override = os.environ.get("ANALYSE_CHROMIUM")
    if override:
        return override if Path(override).exists() else shutil.which(override)
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def find_external_references(html_text: str) -> list[str]:
    """Addresses of ``<script src=...>`` and ``<link href=...>`` going over the network."""
    return _EXTERNAL_RE.findall(html_text)


@dataclass
class ChartState:
    """One chart container: drawn or not, and what its drawing shows."""

    chart_id: str
    rendered: bool
    error: str | None = None
    problems: list[str] = field(default_factory=list)
    items: int = 0
    label: str = ""
    role: str | None = None
    alternative: bool = False


@dataclass
class PageCheck:
    """What headless Chromium made of one page."""

    path: Path
    dom: str
    errors: list[str]
    charts: list[ChartState] = field(default_factory=list)
    external_references: list[str] = field(default_factory=list)
    screenshot: Path | None = None
    console: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    data_problems: list[str] = field(default_factory=list)

    @property
    def unrendered(self) -> list[str]:
        """Ids of chart containers holding no ``<svg>``/``<canvas>``."""
        return [c.chart_id for c in self.charts if not c.rendered]

    @property
    def chart_problems(self) -> list[str]:
        """What the drawn charts show wrong (NaN, empty layers, legends), and charts without
        an accessible name or a data-table alternative."""
        out = [f"{c.chart_id}: {p}" for c in self.charts for p in c.problems]
        out += [f"{c.chart_id}: no role=img with a label" for c in self.charts if not _named(c)]
        return out

    @property
    def missing_alternatives(self) -> list[str]:
        """Charts with no data table after them."""
        return [c.chart_id for c in self.charts if not c.alternative]

    @property
    def ok(self) -> bool:
        """No error, no network use, every chart drawn and showing what its data say."""
        return not (
            self.errors
            or self.external_references
            or self.requests
            or self.unrendered
            or self.chart_problems
            or self.data_problems
        )

    def describe(self) -> str:
        """A one-paragraph account (for assertion messages)."""
        return (
            f"{self.path}: {len(self.charts)} charts, unrendered {self.unrendered}, "
            f"errors {self.errors}, external references {self.external_references}, "
            f"network requests {self.requests}, chart problems {self.chart_problems}, "
            f"data problems {self.data_problems}, "
            f"without data table {self.missing_alternatives}"
        )


def _named(chart: ChartState) -> bool:
    return chart.role == "img" and bool(chart.label.strip())


# ------------------------------------------------------------------------------ static reading


class _DomParser(HTMLParser):
    """Chart containers of an HTML text (drawn when they hold an ``<svg>``/``<canvas>``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: list[ChartState] = []
        self._open: list[list[Any]] = []  # [state, div depth]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        classes = (attributes.get("class") or "").split()
        if tag == "div" and CHART_CLASS in classes:
            state = ChartState(
                chart_id=attributes.get("id") or f"#{len(self.charts) + 1}",
                rendered=False,
                error=attributes.get("data-chart-error"),
                label=attributes.get("aria-label") or "",
                role=attributes.get("role"),
            )
            self.charts.append(state)
            self._open.append([state, 1])
            return
        if self._open:
            if tag == "div":
                self._open[-1][1] += 1
            elif tag in ("svg", "canvas"):
                for entry in self._open:
                    entry[0].rendered = True

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._open and tag in ("svg", "canvas"):
            for entry in self._open:
                entry[0].rendered = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "div" and self._open:
            self._open[-1][1] -= 1
            if self._open[-1][1] == 0:
                self._open.pop()


def inspect_dom(dom: str) -> tuple[list[ChartState], list[str] | None]:
    """Chart containers of an HTML text (a page as written, or a DOM dumped after drawing), and
    ``None`` (kept for callers of the former collector)."""
    parser = _DomParser()
    parser.feed(dom)
    parser.close()
    return parser.charts, None


class _ChartTableParser(HTMLParser):
    """In document order: chart specs, and the ``data-cell`` values of each table that may be a
    chart's data (a chart-data ``<details>`` or a numbered table ``figure.analyse-table``)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.events: list[tuple[str, Any]] = []  # ("spec", text) | ("table", {(cell, m): text})
        self._spec: list[str] | None = None
        self._box: list[Any] | None = None  # [tag, depth] of the table container being read
        self._table: dict[tuple[str, str], str] = {}
        self._cell: list[Any] | None = None  # [tag, depth, cell, measure, texts]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = {k: v or "" for k, v in attrs}
        classes = attr.get("class", "").split()
        if tag == "script" and SPEC_CLASS in classes:
            self._spec = []
        elif self._box is None and (
            (tag == "details" and CHART_DATA_CLASS in classes)
            or (tag == "figure" and TABLE_CLASS in classes)
        ):
            self._box, self._table = [tag, 1], {}
        elif self._box is not None and tag == self._box[0]:
            self._box[1] += 1
        if self._box is not None and self._cell is None and "data-cell" in attr:
            self._cell = [tag, 1, attr["data-cell"], attr.get("data-measure", ""), []]
        elif self._cell is not None and tag == self._cell[0]:
            self._cell[1] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "script" and self._spec is not None:
            self.events.append(("spec", "".join(self._spec)))
            self._spec = None
            return
        if self._cell is not None and tag == self._cell[0]:
            self._cell[1] -= 1
            if self._cell[1] == 0:
                key = (self._cell[2].strip(), self._cell[3].strip())
                self._table[key] = " ".join("".join(self._cell[4]).split())
                self._cell = None
        if self._box is not None and tag == self._box[0]:
            self._box[1] -= 1
            if self._box[1] == 0:
                self.events.append(("table", self._table))
                self._box = None

    def handle_data(self, data: str) -> None:
        if self._spec is not None:
            self._spec.append(data)
        elif self._cell is not None:
            self._cell[4].append(data)


def _rows(node: Any) -> list[dict[str, Any]]:
    """Every JSON object holding a ``cell`` field in a spec (datasets given as JSON text too)."""
    out: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if isinstance(node.get("cell"), str):
            out.append(node)
        for value in node.values():
            out += _rows(value)
    elif isinstance(node, list):
        for value in node:
            out += _rows(value)
    elif isinstance(node, str) and node[:1] in "[{" and '"cell"' in node:
        with contextlib.suppress(ValueError):
            out += _rows(json.loads(node))
    return out


def _same(measure: str, value: Any, text: str | None) -> bool:
    from analyse import formatting as fmt
    from analyse.audit.pages import read_printed

    if text is None:
        return False
    reading = read_printed(text)
    if value is None or (isinstance(value, str) and value.strip() in (fmt.MASKED, "")):
        return reading.kind in ("masked", "missing")
    if isinstance(value, str):
        return " ".join(value.split()) == text
    if isinstance(value, bool) or not isinstance(value, int | float) or reading.kind != "value":
        return False
    return math.isclose(float(value), reading.mid, rel_tol=1e-9, abs_tol=1e-9)


def chart_table_problems(page_html: str) -> list[str]:
    """Charts whose data differ from the table printed after them (the chart's data-table
    ``<details>``, or the numbered table following a map): for every chart datum with a
    ``cell`` and a measure field, the table must print that cell and measure, and the number it
    prints must be the chart's value (masked: ``s`` in the table, no number in the chart).
    Values of the chart's measures the table prints and the chart leaves out are reported
    too."""
    from analyse.audit.secrecy import known_measures

    measures = known_measures()
    parser = _ChartTableParser()
    parser.feed(page_html)
    parser.close()
    problems: list[str] = []
    events = parser.events
    for i, (kind, payload) in enumerate(events):
        if kind != "spec":
            continue
        try:
            rows = _rows(json.loads(payload))
        except ValueError:
            problems.append(f"chart {i}: spec is not valid JSON")
            continue
        data = [(r["cell"], m, r[m]) for r in rows for m in r if m in measures]
        if not data:
            continue  # not a chart of published fund cells
        following = events[i + 1] if i + 1 < len(events) else ("spec", None)
        if following[0] != "table":
            problems.append(f"chart {i}: published values but no data table after it")
            continue
        table: dict[tuple[str, str], str] = following[1]
        drawn = set()
        for cell, measure, value in data:
            drawn.add((cell, measure))
            text = table.get((cell, measure))
            if text is None:
                problems.append(f"chart {i}: {cell} {measure}={value!r} is not in its table")
            elif not _same(measure, value, text):
                problems.append(f"chart {i}: {cell} {measure}: chart {value!r}, table {text!r}")
        chart_measures = {m for _, m, _ in data}
        for (cell, measure), text in table.items():
            if measure in chart_measures and (cell, measure) not in drawn:
                problems.append(
                    f"chart {i}: table prints {cell} {measure}={text!r}, chart has no row"
                )
    return problems


# ------------------------------------------------------------------------------ the browser


class Browser:
    """One headless Chromium (Playwright on the system executable) for many page checks.

    Use as a context manager. Pages open with no network: host names do not resolve and any
    request that is not ``file:``/``data:``/``blob:`` is aborted and recorded.
    """

    def __init__(
        self,
        chromium: str | None = None,
        *,
        viewport: tuple[int, int] = (1280, 900),
    ) -> None:
        self.executable = chromium or find_chromium()
        if self.executable is None:
            raise FileNotFoundError("no chromium executable found (apt-get install chromium)")
        self.viewport = viewport
        self._playwright: Any = None
        self.browser: Any = None
        self.context: Any = None
        self._tab: tuple[Any, dict[str, list[str]]] | None = None

    def __enter__(self) -> Browser:
        from playwright.sync_api import sync_playwright

        self._playwright = sync_playwright().start()
        try:
            self.browser = self._playwright.chromium.launch(
                executable_path=self.executable, args=list(CHROMIUM_ARGS)
            )
            self.context = self.browser.new_context(
                viewport={"width": self.viewport[0], "height": self.viewport[1]},
                locale="fr-FR",
                service_workers="block",
            )
            self.context.route(re.compile(r"^(?!file:|data:|blob:|about:)"), _abort)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the browser and Playwright (idempotent)."""
        self._close_tab()
        for closing in (self.context, self.browser):
            if closing is not None:
                with contextlib.suppress(Exception):  # already gone
                    closing.close()
        self.context = self.browser = None
        if self._playwright is not None:
            self._playwright.stop()
            self._playwright = None

    def new_page(self) -> tuple[Any, dict[str, list[str]]]:
        """A fresh page and the lists its listeners fill: ``errors`` (script errors,
        ``console.error``, failed loads), ``console`` (every message), ``requests`` (network)."""
        page = self.context.new_page()
        seen: dict[str, list[str]] = {"errors": [], "console": [], "requests": []}

        def on_console(message: Any) -> None:
            seen["console"].append(f"{message.type}: {message.text}")
            if message.type == "error":
                seen["errors"].append(f"console.error: {message.text}")

        def on_request(request: Any) -> None:
            if not request.url.startswith(LOCAL_SCHEMES):
                seen["requests"].append(request.url)

        def on_failed(request: Any) -> None:
            seen["errors"].append(f"resource failed: {request.url} ({request.failure})")

        page.on("console", on_console)
        page.on("pageerror", lambda exc: seen["errors"].append(f"error: {exc}"))
        page.on("request", on_request)
        page.on("requestfailed", on_failed)
        return page, seen

    def check(
        self,
        html_path: Path | str,
        screenshot: Path | str | None = None,
        *,
        timeout_ms: int = 30000,
        full_page: bool = True,
        compare_tables: bool = True,
        keep_dom: bool = True,
    ) -> PageCheck:
        """Load one page, wait for its charts, and report what a reader would see
        (``keep_dom``: keep the DOM as drawn, in :attr:`PageCheck.dom`)."""
        path = Path(html_path).resolve()
        text = path.read_text(encoding="utf-8")
        page, seen = self._reused_tab()
        try:
            page.goto(path.as_uri(), wait_until="load", timeout=timeout_ms)
            try:
                page.wait_for_function(CHARTS_SETTLED, timeout=timeout_ms)
            except Exception:  # noqa: BLE001 - reported below as unrendered charts
                seen["errors"].append(f"charts not drawn within {timeout_ms} ms")
            charts = [_chart_state(c) for c in page.evaluate(CHART_PROBE)]
            shot = None
            if screenshot is not None:
                shot = Path(screenshot).resolve()
                shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(shot), full_page=full_page)
            dom = page.content() if keep_dom else ""
        except BaseException:
            self._close_tab()
            raise
        return PageCheck(
            path=path,
            dom=dom,
            errors=list(seen["errors"]),
            charts=charts,
            external_references=find_external_references(text),
            screenshot=shot,
            console=list(seen["console"]),
            requests=list(seen["requests"]),
            data_problems=chart_table_problems(text) if compare_tables else [],
        )

    def _reused_tab(self) -> tuple[Any, dict[str, list[str]]]:
        """The tab :meth:`check` navigates from page to page (about 2.5 times faster than a new
        tab per page: the chart library's compiled code is reused), its lists emptied."""
        if self._tab is None or self._tab[0].is_closed():
            self._tab = self.new_page()
        for found in self._tab[1].values():
            found.clear()
        return self._tab

    def _close_tab(self) -> None:
        if self._tab is not None:
            with contextlib.suppress(Exception):
                self._tab[0].close()
            self._tab = None


def check_pages(
    paths: Sequence[Path], *, workers: int = 1, chromium: str | None = None, **options: Any
) -> list[PageCheck]:
    """Check many pages (:meth:`Browser.check` options), in ``workers`` browsers run by as many
    threads (one Playwright each); results in the order of ``paths``."""
    paths = list(paths)
    workers = max(1, min(workers, len(paths)))

    def run(chunk: list[tuple[int, Path]]) -> list[tuple[int, PageCheck]]:
        with Browser(chromium) as browser:
            return [(i, browser.check(path, **options)) for i, path in chunk]

    chunks = [list(enumerate(paths))[k::workers] for k in range(workers)]
    if workers == 1:
        done = run(chunks[0])
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(workers) as pool:
            done = [item for part in pool.map(run, chunks) for item in part]
    return [check for _, check in sorted(done, key=lambda item: item[0])]


@dataclass
class PrintCheck:
    """A page printed to PDF (A4, the page's own print stylesheet): what its print layout cuts,
    and the text of each printed page."""

    path: Path
    layout_problems: list[str]
    page_texts: list[str]
    pdf: bytes = b""

    def pages_without(self, text: str) -> list[int]:
        """Printed pages (1-based) whose text lacks ``text`` (whitespace ignored)."""
        wanted = "".join(text.split())
        return [
            n for n, page in enumerate(self.page_texts, 1) if wanted not in "".join(page.split())
        ]


def print_page(browser: Browser, html_path: Path | str, *, timeout_ms: int = 30000) -> PrintCheck:
    """Lay ``html_path`` out for print at the printed page's width and measure what would be
    cut (:data:`PRINT_PROBE`), then print it to PDF with Chromium and read each page's text
    (:mod:`analyse.report.pdftext`)."""
    from analyse.report.html import printable_width_px
    from analyse.report.pdftext import pdf_page_texts

    path = Path(html_path).resolve()
    width = printable_width_px()
    page, _ = browser.new_page()
    try:
        page.set_viewport_size({"width": int(width), "height": 1100})
        page.emulate_media(media="print")
        page.goto(path.as_uri(), wait_until="load", timeout=timeout_ms)
        page.wait_for_function(CHARTS_SETTLED, timeout=timeout_ms)
        problems = page.evaluate(PRINT_PROBE, width)
        pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    finally:
        page.close()
    return PrintCheck(path, problems, pdf_page_texts(pdf), pdf)


def _abort(route: Any) -> None:
    route.abort("internetdisconnected")


def _chart_state(raw: dict[str, Any]) -> ChartState:
    return ChartState(
        chart_id=raw.get("id") or "?",
        rendered=bool(raw.get("rendered")),
        error=raw.get("error"),
        problems=list(raw.get("problems") or []),
        items=int(raw.get("items") or 0),
        label=raw.get("label") or "",
        role=raw.get("role"),
        alternative=bool(raw.get("alternative")),
    )


def render_page(
    html_path: Path | str,
    screenshot: Path | str | None = None,
    *,
    budget_ms: int = 15000,
    window_size: tuple[int, int] = (1280, 2000),
    chromium: str | None = None,
    timeout_s: float = 120,
) -> PageCheck:
    """Check one page in a browser of its own (see :meth:`Browser.check`).

    Raises ``FileNotFoundError`` when no Chromium is installed (see :func:`find_chromium`).
    """
    del timeout_s  # the wait is bounded by budget_ms
    with Browser(chromium, viewport=window_size) as browser:
        return browser.check(html_path, screenshot, timeout_ms=budget_ms)
