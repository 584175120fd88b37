"""Accessibility of the published pages: axe-core (axe-playwright-python) on the system
Chromium, on the catalogue, the national review, one région page and one territory sheet of
the session's run; and the charts' text alternatives (an image named by its label, then its
data table, reachable from the keyboard)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyse.report.browser import CHARTS_SETTLED, Browser, find_chromium

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium not installed"),
]

#: Impacts that fail the test (axe-core: minor, moderate, serious, critical).
BLOCKING = ("serious", "critical")


@pytest.fixture(scope="module")
def browser():
    with Browser(viewport=(1280, 900)) as opened:
        yield opened


def _territory(run_dir: Path) -> Path:
    return sorted((run_dir / "territoires").glob("ti-84*.html"))[0]


def _open(browser: Browser, path: Path):
    page, seen = browser.new_page()
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function(CHARTS_SETTLED, timeout=30000)
    return page, seen


@pytest.mark.parametrize("which", ["index", "national", "région", "territoire"])
def test_no_serious_or_critical_axe_violation(report_run, browser, which: str) -> None:
    from axe_playwright_python.sync_playwright import Axe

    _, run_dir, _ = report_run
    path = {
        "index": run_dir / "index.html",
        "national": run_dir / "national.html",
        "région": run_dir / "regions" / "84.html",
        "territoire": _territory(run_dir),
    }[which]
    page, _ = _open(browser, path)
    try:
        results = Axe().run(page)
    finally:
        page.close()
    violations = results.response["violations"]
    blocking = [
        f"{v['id']} ({v['impact']}): {v['help']} — {[n['target'] for n in v['nodes'][:3]]}"
        for v in violations
        if v["impact"] in BLOCKING
    ]
    assert blocking == [], "\n".join(blocking)
    assert results.response["passes"] or results.response.get("testEngine")  # axe did run


def test_each_chart_is_a_named_image_with_a_reachable_data_table(report_run, browser) -> None:
    _, run_dir, _ = report_run
    page, seen = _open(browser, run_dir / "regions" / "84.html")
    try:
        charts = page.eval_on_selector_all(
            "div.analyse-chart",
            "els => els.map(e => [e.getAttribute('role'), e.getAttribute('aria-label'),"
            " !!e.querySelector('svg[aria-hidden=true]')])",
        )
        assert charts and all(role == "img" and label and hidden for role, label, hidden in charts)
        assert all(label.startswith("Figure ") for _, label, _ in charts)
        summaries = page.locator("details.analyse-chart-data > summary")
        assert summaries.count() == len(charts)
        # from the keyboard: tab to the first data table's summary, open it with Enter
        first = summaries.first
        page.keyboard.press("Tab")
        for _ in range(400):
            if first.evaluate("s => s === document.activeElement"):
                break
            page.keyboard.press("Tab")
        assert first.evaluate("s => s === document.activeElement")
        page.keyboard.press("Enter")
        table = page.locator("details.analyse-chart-data").first.locator("table")
        assert table.is_visible()
        assert table.locator("th[scope=col]").count() >= 2
        assert seen["errors"] == []
    finally:
        page.close()
