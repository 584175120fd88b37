"""Open a published page in headless Chromium with no network and check what a reader sees.

:func:`render_page` loads a copy of the page (same folder, so relative assets resolve) with a
small error collector injected first, lets Chromium run it for a virtual-time budget with every
host name unresolvable (``--host-resolver-rules=MAP * ~NOTFOUND``), dumps the DOM and optionally
takes a screenshot, and returns a :class:`PageCheck`: script errors, ``console.error`` calls and
failed resource loads, and for every chart container whether it holds a rendered ``<svg>`` or
``<canvas>``.

Chromium is Debian's ``chromium`` (or ``$ANALYSE_CHROMIUM``); :func:`find_chromium` returns
``None`` when it is absent so tests can skip with a reason.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from analyse.report.display import CHART_CLASS

ERRORS_ID = "__pagecheck_errors"
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

#: Injected before anything else: records errors into a hidden element that --dump-dom shows.
COLLECTOR = """<script>(function () {
  var errs = [], box = null;
  function flush() {
    if (!document.body) { return; }
    if (!box) {
      box = document.createElement("pre");
      box.id = "__ID__";
      box.style.display = "none";
      document.body.appendChild(box);
    }
    box.textContent = JSON.stringify(errs);
  }
  function push(message) { errs.push(message); flush(); }
  window.addEventListener("error", function (e) {
    var t = e.target;
    if (t && t !== window && (t.src || t.href)) { push("resource failed: " + (t.src || t.href)); }
    else { push("error: " + (e.message || "unknown") +
                (e.filename ? " at " + e.filename + ":" + e.lineno : "")); }
  }, true);
  window.addEventListener("unhandledrejection", function (e) {
    var r = e.reason; push("unhandled rejection: " + ((r && r.message) || r));
  });
  var original = console.error;
  console.error = function () {
    push("console.error: " + Array.prototype.map.call(arguments, String).join(" "));
    return original.apply(console, arguments);
  };
  document.addEventListener("DOMContentLoaded", flush);
  window.addEventListener("load", flush);
})();</script>""".replace("__ID__", ERRORS_ID)

_EXTERNAL_RE = re.compile(
    r"<(?:script\b[^>]*?\bsrc|link\b[^>]*?\bhref)\s*=\s*[\"']?\s*((?:https?:)?//[^\"'\s>]*)",
    re.IGNORECASE,
)


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
    """One chart container of the rendered DOM."""

    chart_id: str
    rendered: bool
    error: str | None = None


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

    @property
    def unrendered(self) -> list[str]:
        """Ids of chart containers holding no ``<svg>``/``<canvas>``."""
        return [c.chart_id for c in self.charts if not c.rendered]

    @property
    def ok(self) -> bool:
        """No error, no network reference, every chart drawn."""
        return not self.errors and not self.external_references and not self.unrendered

    def describe(self) -> str:
        """A one-paragraph account (for assertion messages)."""
        return (
            f"{self.path}: {len(self.charts)} charts, unrendered {self.unrendered}, "
            f"errors {self.errors}, external references {self.external_references}"
        )


class _DomParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: list[ChartState] = []
        self._open: list[list] = []  # [state, div depth]
        self._in_errors = False
        self.errors_text: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "pre" and attributes.get("id") == ERRORS_ID:
            self._in_errors = True
            self.errors_text = ""
            return
        classes = (attributes.get("class") or "").split()
        if tag == "div" and CHART_CLASS in classes:
            state = ChartState(
                chart_id=attributes.get("id") or f"#{len(self.charts) + 1}",
                rendered=False,
                error=attributes.get("data-chart-error"),
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
        if tag == "pre" and self._in_errors:
            self._in_errors = False
        elif tag == "div" and self._open:
            self._open[-1][1] -= 1
            if self._open[-1][1] == 0:
                self._open.pop()

    def handle_data(self, data: str) -> None:
        if self._in_errors:
            self.errors_text = (self.errors_text or "") + data


def inspect_dom(dom: str) -> tuple[list[ChartState], list[str] | None]:
    """Chart containers of a dumped DOM, and the collector's errors (None if it did not run)."""
    parser = _DomParser()
    parser.feed(dom)
    parser.close()
    errors = None
    if parser.errors_text is not None:
        try:
            errors = [str(e) for e in json.loads(parser.errors_text or "[]")]
        except ValueError:
            errors = [f"unreadable error log: {parser.errors_text[:200]}"]
    return parser.charts, errors


def _inject(page: str) -> str:
    match = re.search(r"<head[^>]*>", page, re.IGNORECASE)
    if match:
        return page[: match.end()] + COLLECTOR + page[match.end() :]
    return COLLECTOR + page


def chromium_command(
    chromium: str,
    url: str,
    profile: Path,
    *,
    budget_ms: int,
    window_size: tuple[int, int],
    screenshot: Path | None,
) -> list[str]:
    """Headless, offline, throw-away profile; dumps the DOM (and a screenshot)."""
    cmd = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--disable-default-apps",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-quic",
        "--mute-audio",
        "--hide-scrollbars",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--enable-logging=stderr",
        "--v=0",
        f"--user-data-dir={profile}",
        f"--virtual-time-budget={budget_ms}",
        f"--window-size={window_size[0]},{window_size[1]}",
        "--dump-dom",
    ]
    if screenshot is not None:
        cmd.append(f"--screenshot={screenshot}")
    cmd.append(url)
    return cmd


def render_page(
    html_path: Path | str,
    screenshot: Path | str | None = None,
    *,
    budget_ms: int = 15000,
    window_size: tuple[int, int] = (1280, 2000),
    chromium: str | None = None,
    timeout_s: float = 120,
) -> PageCheck:
    """Render ``html_path`` offline in headless Chromium and report what happened.

    Raises ``FileNotFoundError`` when no Chromium is installed (see :func:`find_chromium`).
    """
    html_path = Path(html_path).resolve()
    browser = chromium or find_chromium()
    if browser is None:
        raise FileNotFoundError("no chromium executable found (apt-get install chromium)")
    page = html_path.read_text(encoding="utf-8")
    external = find_external_references(page)
    shot = Path(screenshot).resolve() if screenshot is not None else None
    if shot is not None:
        shot.parent.mkdir(parents=True, exist_ok=True)
        shot.unlink(missing_ok=True)
    fd, copy_name = tempfile.mkstemp(
        dir=html_path.parent, prefix=f".pagecheck-{html_path.stem}-", suffix=".html"
    )
    copy_path = Path(copy_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(_inject(page))
        with tempfile.TemporaryDirectory(prefix="analyse-chromium-") as profile:
            cmd = chromium_command(
                browser,
                copy_path.as_uri(),
                Path(profile),
                budget_ms=budget_ms,
                window_size=window_size,
                screenshot=shot,
            )
            proc = subprocess.run(
                cmd, capture_output=True, text=True, timeout=timeout_s, check=False
            )
    finally:
        copy_path.unlink(missing_ok=True)
    dom = proc.stdout
    console = [line for line in proc.stderr.splitlines() if ":CONSOLE" in line]
    charts, errors = inspect_dom(dom)
    if proc.returncode != 0:
        errors = [*(errors or []), f"chromium exited with {proc.returncode}: {proc.stderr[-500:]}"]
    elif errors is None:
        errors = ["the error collector did not run (page did not load?)"]
    return PageCheck(
        path=html_path,
        dom=dom,
        errors=errors,
        charts=charts,
        external_references=external,
        screenshot=shot if shot is not None and shot.is_file() else None,
        console=console,
    )
