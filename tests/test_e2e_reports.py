"""End to end, as a user would: `analyse report all` on the demo data, then every page in a
headless browser with no network, the secrecy audit on the run, and the links of every page.

One batch per session (``report_run`` in conftest: national + every région + every phase-2
territory); the tests here, in test_print.py and in test_accessibility.py read it.
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import polars as pl
import pytest

from analyse.report.browser import Browser, check_pages, find_chromium, find_external_references
from analyse.tables import read_core_table

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts" / "e2e"

pytestmark = pytest.mark.slow
needs_chromium = pytest.mark.skipif(find_chromium() is None, reason="chromium not installed")


def _pages(run_dir: Path) -> list[Path]:
    return sorted(run_dir.rglob("*.html"))


def _figures_dir(run_dir: Path) -> Path:
    return Path(json.loads((run_dir / "logs" / "run.json").read_text())["figures_dir"])


def test_report_all_succeeds_and_writes_every_page(report_run) -> None:
    proc, run_dir, processed = report_run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    regions = read_core_table("communes", processed)["region_code"].unique().to_list()
    territories = (
        read_core_table("territories", processed).filter(pl.col("ti_phase") == 2)["ti_id"].to_list()
    )
    assert (run_dir / "index.html").is_file() and (run_dir / "national.html").is_file()
    assert (run_dir / "run.html").is_file()
    assert sorted(p.stem for p in (run_dir / "regions").glob("*.html")) == sorted(regions)
    assert sorted(p.stem for p in (run_dir / "territoires").glob("*.html")) == sorted(territories)
    run = json.loads((run_dir / "logs" / "run.json").read_text(encoding="utf-8"))
    statuses = {r["status"] for r in run["reports"]}
    assert statuses == {"ok"}, statuses
    assert not list(run_dir.rglob("*.tmp")) and not list(run_dir.rglob(".*.html"))


def _visible_text(page: str) -> str:
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S | re.I)
    return re.sub(r"<[^>]+>", " ", page)


def test_every_page_is_offline_french_dated_and_says_the_data_are_synthetic(report_run) -> None:
    _, run_dir, _ = report_run
    pages = _pages(run_dir)
    assert len(pages) > 100
    for page in pages:
        text = page.read_text(encoding="utf-8")
        assert find_external_references(text) == [], page
        assert not re.search(r"<(?:script|link)[^>]+(?:src|href)=[\"']https?://", text), page
        assert '<html lang="fr">' in text, page
        assert "synthétiques" in text.lower(), page
        assert "<pre" not in text or "In&nbsp;[" not in text  # no code prompts
        visible = _visible_text(text)
        assert "Produit le " in visible, page
        iso = re.findall(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|\+00:00|\d{2}:\d{2}:\d{2} UTC", visible)
        assert iso == [], (page, iso[:3])
    national = (run_dir / "national.html").read_text(encoding="utf-8")
    assert 'class="toc"' in national and "Sommaire" in national
    assert "Provenance" in national and "sha" in national.lower()
    title = re.search(r"<title>(.*?)</title>", national).group(1)
    assert "revue à trois ans" in title


def test_masked_cells_read_s_never_zero(report_run) -> None:
    """Every masked published cell printed on a page reads ``s`` (an abbreviation saying
    "secret statistique"), inside its data-cell span; never 0 or a number."""
    _, run_dir, _ = report_run
    from analyse.audit.pages import read_page
    from analyse.audit.secrecy import known_measures

    cells = pl.read_parquet(_figures_dir(run_dir) / "cells.parquet")
    masked = set(cells.filter(pl.col("is_masked")).select("cell_key", "measure").iter_rows())
    national = run_dir / "national.html"
    markup = re.compile(
        r'<span data-cell="[^"]+" data-measure="[^"]+"><abbr title="secret statistique">s</abbr>'
        r"</span>"
    )
    assert markup.search(national.read_text(encoding="utf-8"))
    seen = 0
    for page in _pages(run_dir):
        values, problems = read_page(page, page.name, known_measures())
        assert problems == [], problems
        for value in values:
            if value.source == "html" and (value.cell_key, value.measure) in masked:
                seen += 1
                assert value.text == "s", (page, value)
    assert seen > 100  # the demo has small overseas régions and territories under secrecy


def test_secrecy_audit_of_the_run_passes(report_run) -> None:
    _, run_dir, _ = report_run
    proc = subprocess.run(
        [sys.executable, "-m", "analyse", "audit-secrecy", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attr = dict(attrs)
        if attr.get("id"):
            self.ids.add(attr["id"] or "")
        for name in ("href", "src"):
            if attr.get(name) and tag in ("a", "link", "script", "img", "area"):
                self.links.append(attr[name] or "")


def test_every_link_points_to_a_file_of_the_run(report_run) -> None:
    _, run_dir, _ = report_run
    broken = []
    for page in _pages(run_dir):
        parser = _Links()
        parser.feed(page.read_text(encoding="utf-8"))
        for link in parser.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc:
                broken.append((page.name, link, "leaves the run"))
            elif not parts.path:
                if {parts.fragment, unquote(parts.fragment)}.isdisjoint(parser.ids):
                    broken.append((page.name, link, "no such anchor"))
            else:
                target = (page.parent / unquote(parts.path)).resolve()
                if not target.is_file() or run_dir not in target.parents:
                    broken.append((page.relative_to(run_dir).as_posix(), link, "no such file"))
    assert broken == [], broken[:10]


def test_index_is_a_catalogue_of_html_pages(report_run) -> None:
    _, run_dir, processed = report_run
    index = (run_dir / "index.html").read_text(encoding="utf-8")
    hrefs = re.findall(r'href="([^"#]+)"', index)
    assert hrefs and all(h.endswith(".html") for h in hrefs), [h for h in hrefs if ".ipynb" in h]
    assert "run.html" in hrefs
    # grouped by région: one collapsed block per région, national first
    blocks = re.findall(r'<details class="region" id="region-(\w+)"', index)
    regions = read_core_table("communes", processed)["region_code"].unique().to_list()
    assert sorted(blocks) == sorted(regions)
    assert index.index('href="national.html"') < index.index('class="region"')
    # key figures are the published cells, printed as in the figures bundle
    cells = pl.read_parquet(_figures_dir(run_dir) / "cells.parquet")
    printed = {(k, m): p for k, m, p in cells.select("cell_key", "measure", "printed").iter_rows()}
    shown = re.findall(
        r'<span data-cell="([^"]+)" data-measure="([^"]+)">(.*?)</span>', index, flags=re.S
    )
    assert len(shown) > 3 * 150
    for key, measure, text in shown:
        text = html.unescape(re.sub(r"<[^>]+>", "", text))
        assert printed[(html.unescape(key), measure)] == text
    # no run log on the catalogue: durations and parameters are on run.html
    assert "n_boot" not in index and "seed" not in index
    run_page = (run_dir / "run.html").read_text(encoding="utf-8")
    assert "n_boot" in run_page and 'data-status="ok"' in run_page


@pytest.mark.browser
@needs_chromium
def test_index_search_finds_a_commune_and_is_compact(report_run) -> None:
    _, run_dir, processed = report_run
    communes = read_core_table("communes", processed)
    links = read_core_table("commune_territories", processed).filter(pl.col("ti_phase") == 2)
    row = (
        links.join(communes, on="commune_insee")
        .filter(pl.col("commune_name").str.len_chars() > 8)
        .sort("commune_insee")
        .row(0, named=True)
    )
    with Browser(viewport=(1280, 900)) as browser:
        page, seen = browser.new_page()
        page.goto((run_dir / "index.html").as_uri())
        height = page.evaluate("document.documentElement.scrollHeight")
        assert height < 4000, height
        page.fill("#recherche", row["commune_name"].upper())
        hrefs = page.eval_on_selector_all("#recherche-resultats a", "els => els.map(a => a.href)")
        assert any(h.endswith(f"territoires/{row['ti_id']}.html") for h in hrefs), hrefs
        assert seen["errors"] == [] and seen["requests"] == []
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "index_search.png"))
        page.close()


@pytest.mark.browser
@needs_chromium
def test_every_page_shows_its_charts_as_their_data_say(report_run) -> None:
    """Every page of the run in one Chromium (two, in two threads): no script error, no network
    request, every chart drawn with no NaN or empty mark, legends matching marks, a data table
    after each chart, and chart values equal to the values printed in that table."""
    _, run_dir, _ = report_run
    pages = _pages(run_dir)
    checks = check_pages(pages, workers=2, keep_dom=False)
    failures = [c.describe() for c in checks if not c.ok or c.missing_alternatives]
    assert failures == [], "\n".join(failures[:5])
    by_name = {c.path.relative_to(run_dir).as_posix(): c for c in checks}
    for name, check in by_name.items():
        if name not in ("index.html", "run.html"):
            assert check.charts, f"{name} has no chart"
    n_charts = sum(len(c.charts) for c in checks)
    n_items = sum(ch.items for c in checks for ch in c.charts)
    assert n_charts > 500 and n_items > 10 * n_charts


@pytest.mark.browser
@needs_chromium
def test_screenshots_of_a_few_pages(report_run) -> None:
    """Full-page screenshots for a reviewer (tests/artifacts/e2e), the pages checked again."""
    _, run_dir, _ = report_run
    territory = sorted((run_dir / "territoires").glob("*.html"))[0]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with Browser(viewport=(1280, 900)) as browser:
        for page in (
            run_dir / "index.html",
            run_dir / "national.html",
            run_dir / "regions" / "84.html",
            territory,
        ):
            name = page.relative_to(run_dir).as_posix()
            shot = ARTIFACTS / (name.replace("/", "_").removesuffix(".html") + ".png")
            check = browser.check(page, screenshot=shot, compare_tables=False)
            assert check.ok, check.describe()
            assert check.screenshot is not None and check.screenshot.stat().st_size > 5_000
