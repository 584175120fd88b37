"""The headless Chromium check itself: it sees drawn charts, and it does fail when it should."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_report_html import executed_notebook

from analyse.report.browser import find_chromium, render_page
from analyse.report.html import build_page, write_report_html, write_vega_asset

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        find_chromium() is None,
        reason="chromium not installed (apt-get install chromium; tasks.py test does it)",
    ),
]


def test_shared_bundle_page_draws_its_chart(tmp_path: Path) -> None:
    write_vega_asset(tmp_path)
    dest = tmp_path / "territoires" / "ti-8401.html"
    write_report_html(executed_notebook(), dest, title="Fiche", run_dir=tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    check = render_page(dest, screenshot=ARTIFACTS / "report_shared_bundle.png")
    assert check.ok, check.describe()
    assert len(check.charts) == 1 and check.charts[0].rendered
    assert 'data-rendered="true"' in check.dom


def test_missing_bundle_is_caught(tmp_path: Path) -> None:
    dest = tmp_path / "national.html"  # run folder without assets/vega-bundle.js
    write_report_html(executed_notebook(), dest, title="x", run_dir=tmp_path)
    check = render_page(dest)
    assert not check.ok
    assert check.unrendered == [check.charts[0].chart_id]
    assert any("resource failed" in e and "vega-bundle.js" in e for e in check.errors)
    assert any("bibliothèque vega absente" in e for e in check.errors)


def test_network_reference_is_caught_without_any_traffic(tmp_path: Path) -> None:
    page = build_page("<h2 id='a'>A</h2><p>texte</p>", title="x").replace(
        "</head>", '<script src="https://cdn.example.invalid/require.js"></script></head>'
    )
    dest = tmp_path / "page.html"
    dest.write_text(page, encoding="utf-8")
    check = render_page(dest, budget_ms=3000)
    assert check.external_references == ["https://cdn.example.invalid/require.js"]
    assert any("resource failed: https://cdn.example.invalid" in e for e in check.errors)
    assert not check.ok


def test_script_error_is_caught(tmp_path: Path) -> None:
    page = build_page("<p>texte</p>", title="x").replace(
        "</body>", "<script>undefinedFunction();</script></body>"
    )
    dest = tmp_path / "page.html"
    dest.write_text(page, encoding="utf-8")
    check = render_page(dest, budget_ms=3000)
    assert any("undefinedFunction" in e for e in check.errors), check.errors
