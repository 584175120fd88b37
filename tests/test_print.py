"""Printing: the national review, a région page and a territory sheet of the session's run,
printed to PDF (A4) by headless Chromium.

Two readings, each robust on its own: the print layout measured in the browser (media print,
viewport as wide as the printed page's content box: no table, cell, chart or figure wider than
the page, the table of contents not printed), and the PDF itself read back with a small
standard-library text extractor (the title and the synthetic-data banner on every printed page,
page numbers, page 1 not a table of contents).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyse.report.browser import Browser, find_chromium, print_page
from analyse.report.html import build_page, printable_width_px
from analyse.report.meta import BANNER_HEADLINES

ARTIFACTS = Path(__file__).resolve().parent / "artifacts" / "print"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(find_chromium() is None, reason="chromium not installed"),
]


@pytest.fixture(scope="module")
def browser():
    with Browser() as opened:
        yield opened


@pytest.fixture(scope="module")
def printed(report_run, browser) -> dict:
    """The three pages printed once (PDFs kept in tests/artifacts/print)."""
    _, run_dir, _ = report_run
    territory = sorted((run_dir / "territoires").glob("ti-84*.html"))[0]
    pages = {
        "national": run_dir / "national.html",
        "région": run_dir / "regions" / "84.html",
        "territoire": territory,
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    out = {}
    for kind, path in pages.items():
        check = print_page(browser, path)
        (ARTIFACTS / f"{kind}.pdf").write_bytes(check.pdf)
        out[kind] = check
    return out


def _title(path: Path) -> str:
    h1 = re.search(r"<h1\b[^>]*>(.*?)</h1>", path.read_text(encoding="utf-8"), re.S)
    text = re.sub(r"<a\b[^>]*anchor-link.*?</a>|<[^>]+>", "", h1.group(1))
    return " ".join(text.replace("&#x27;", "'").replace("&amp;", "&").split())


@pytest.mark.parametrize("kind", ["national", "région", "territoire"])
def test_every_printed_page_carries_title_banner_and_number(printed, kind: str) -> None:
    check = printed[kind]
    n = len(check.page_texts)
    assert n >= 3, (kind, n)
    assert check.pages_without(BANNER_HEADLINES["demo"]) == []
    assert check.pages_without(_title(check.path)) == []
    for number, text in enumerate(check.page_texts, 1):
        assert f"Page{number}sur{n}" in "".join(text.split()), (kind, number)
    first = "".join(check.page_texts[0].split())
    assert "Sommaire" not in first  # page 1 is the start of the text, not a table of contents
    assert "Cequ'ilfautretenir" in first or "Cequ’ilfautretenir" in first


@pytest.mark.parametrize("kind", ["national", "région", "territoire"])
def test_nothing_is_cut_at_the_margin(printed, kind: str) -> None:
    assert printed[kind].layout_problems == []


def test_a_table_column_cut_at_the_margin_is_caught(browser, tmp_path: Path) -> None:
    """The layout check fails on what issue 12 saw: a wide table whose last column prints
    outside the page (here a cell that may not wrap)."""
    wide = "x" * 40
    head = "".join(f"<th>Colonne {i}</th>" for i in range(9))
    row = "".join(f'<td style="white-space:nowrap">{wide} {i}</td>' for i in range(9))
    body = f"<h2 id='t'>Tableau</h2><table><caption>Large</caption><thead><tr>{head}</tr></thead><tbody><tr>{row}</tr></tbody></table>"
    page = tmp_path / "large.html"
    page.write_text(
        build_page(body, title="Essai", banner="Données en partie synthétiques : essai")
    )
    check = print_page(browser, page)
    assert any(p.startswith("Large:") for p in check.layout_problems), check.layout_problems
    assert check.pages_without("Données en partie synthétiques") == []
    assert printable_width_px() == pytest.approx(703, abs=1)


def test_the_pdf_reader_reads_each_page(browser, tmp_path: Path) -> None:
    paragraphs = "".join(f"<p>Paragraphe n° {i} : été, août, « œuvre ».</p>" for i in range(120))
    page = tmp_path / "long.html"
    page.write_text(build_page(paragraphs, title="Long <titre> & co"), encoding="utf-8")
    check = print_page(browser, page)
    assert len(check.page_texts) >= 3
    assert check.pages_without("Long <titre> & co") == []
    assert "Paragraphe n° 0 : été, août, « œuvre »." in check.page_texts[0]
    assert "Paragraphe n° 119" in check.page_texts[-1]
    assert check.pages_without("synthétiques") == list(range(1, len(check.page_texts) + 1))
