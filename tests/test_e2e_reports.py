"""End to end, as a user would: `analyse report all` on the demo data, then the pages in a
headless browser with no network.

One batch per session (national + every région + every phase-2 territory); the tests read it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

from analyse.report.browser import find_chromium, find_external_references, render_page
from analyse.tables import read_core_table

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts" / "e2e"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def report_run(demo_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    _, processed = demo_dirs
    out = tmp_path_factory.mktemp("reports")
    env = {**os.environ, "ANALYSE_PROCESSED_DIR": str(processed)}
    proc = subprocess.run(
        [sys.executable, "-m", "analyse", "report", "all", "--out", str(out), "--workers", "2"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    run_dir = (out / "latest").resolve()
    return proc, run_dir, processed


def test_report_all_succeeds_and_writes_every_page(report_run) -> None:
    proc, run_dir, processed = report_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    regions = read_core_table("communes", processed)["region_code"].unique().to_list()
    territories = (
        read_core_table("territories", processed).filter(pl.col("ti_phase") == 2)["ti_id"].to_list()
    )
    assert (run_dir / "index.html").is_file() and (run_dir / "national.html").is_file()
    assert sorted(p.stem for p in (run_dir / "regions").glob("*.html")) == sorted(regions)
    assert sorted(p.stem for p in (run_dir / "territoires").glob("*.html")) == sorted(territories)
    run = json.loads((run_dir / "logs" / "run.json").read_text(encoding="utf-8"))
    statuses = {r["status"] for r in run["reports"]}
    assert statuses == {"ok"}, statuses
    assert not list(run_dir.rglob("*.tmp")) and not list(run_dir.rglob(".*.html"))


def test_every_page_is_offline_and_says_the_data_are_synthetic(report_run) -> None:
    _, run_dir, _ = report_run
    pages = sorted(run_dir.rglob("*.html"))
    assert len(pages) > 100
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert find_external_references(text) == [], page
        assert not re.search(r"<(?:script|link)[^>]+(?:src|href)=[\"']https?://", text), page
        assert "DONNÉES SYNTHÉTIQUES" in text or "synthétique" in text.lower(), page
        assert "<pre" not in text or "In&nbsp;[" not in text  # no code prompts
    national = (run_dir / "national.html").read_text(encoding="utf-8")
    assert 'class="toc"' in national and "Sommaire" in national
    assert "Provenance" in national and "sha" in national.lower()


def test_masked_cells_read_s_never_zero(report_run) -> None:
    _, run_dir, processed = report_run
    from analyse.estimate import apply_secrecy, summarise_leverage

    projects = read_core_table("projects", processed)
    masked = apply_secrecy(
        summarise_leverage(projects, ["region_code"], margins=True), keys=["region_code"]
    ).filter(pl.col("is_masked") & pl.col("total_over").is_null())
    assert masked.height > 0  # the demo has small overseas régions under secrecy
    national = (run_dir / "national.html").read_text(encoding="utf-8")
    cell = '<td class="num"><abbr title="secret statistique">s</abbr></td>'
    rows = re.findall(r"<tr><td>([^<]+)</td>((?:<td[^>]*>.*?</td>)+)</tr>", national)
    masked_rows = {name for name, cells in rows if cells.count(cell) >= 5}
    from analyse.reference import REGION_NAMES

    assert {REGION_NAMES[c] for c in masked["region_code"]} <= masked_rows


@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed")
@pytest.mark.parametrize(
    "page", ["index.html", "national.html", "regions/94.html", "regions/01.html", "TERRITORY"]
)
def test_pages_render_every_chart_in_a_browser_without_network(report_run, page: str) -> None:
    _, run_dir, processed = report_run
    if page == "TERRITORY":
        first = sorted((run_dir / "territoires").glob("*.html"))[0]
        page = f"territoires/{first.name}"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / (page.replace("/", "_").removesuffix(".html") + ".png")
    check = render_page(run_dir / page, screenshot=shot, window_size=(1280, 4000))
    assert check.ok, check.describe()
    if page != "index.html":
        assert check.charts, f"{page} has no chart"
        assert all(c.rendered for c in check.charts), check.describe()
