"""The review layer on the demo snapshot and its figures: what a page prints is the published
cell, annotated with its key; rankings only among cells with an interval; banners name what is
synthetic; data-borne text is escaped once."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from analyse import formatting as fmt
from analyse.figures import FiguresOptions, ensure_figures
from analyse.review import blocks, fund, programme, summary
from analyse.review import page as page_mod
from analyse.review.cells import FundCells
from analyse.review.page import relative_href


@pytest.fixture(scope="module")
def page(demo_dirs: tuple[Path, Path], tmp_path_factory: pytest.TempPathFactory):
    _, processed = demo_dirs
    bundle = ensure_figures(processed, FiguresOptions(), root=tmp_path_factory.mktemp("fig"))
    return page_mod.open_page("regions/84", processed, bundle.path)


def test_relative_links_between_pages() -> None:
    assert relative_href("regions/84", "national") == "../national.html"
    assert relative_href("national", "regions/84") == "regions/84.html"
    assert relative_href("territoires/ti-8401", "regions/84") == "../regions/84.html"
    assert relative_href("territoires/phase1/ti-8401", "index") == "../../index.html"


def test_tables_and_figures_are_numbered_in_page_order(page) -> None:
    page.n_tables = page.n_figures = 0
    first = page.table(pl.DataFrame({"a": ["x"]}), "Premier", source="s")
    second = page.table(pl.DataFrame({"a": ["y"]}), "Second", source="s")
    assert "Tableau 1 – Premier" in first and "Tableau 2 – Second" in second
    assert "Figure 1 – " in page_mod.render_figure_title(page, "Carte")


def test_breakdown_prints_the_published_cells_with_their_keys(page) -> None:
    frame = fund.breakdown(page, ["region_code"])
    html = fund.render_breakdown_table(page, frame, "Région", "Par région")
    cells = page.figures["cells"]
    for row in frame.head(5).iter_rows(named=True):
        printed = cells.filter(
            (pl.col("cell_key") == row["cell_key"]) & (pl.col("measure") == "aid_eur")
        )["printed"][0]
        span = f'data-cell="{row["cell_key"]}" data-measure="aid_eur">'
        assert span in html
        shown = "<abbr" if printed == fmt.MASKED else printed.replace("\u00a0", "\u00a0")
        assert html.split(span, 1)[1].startswith(shown)
    assert "Auvergne-Rhône-Alpes" in html  # names, not codes


def test_rankings_only_among_cells_with_an_interval() -> None:
    frame = pl.DataFrame(
        {
            "label": ["A", "B", "C"],
            "cell_key": ["region_code=1", "region_code=2", "region_code=3"],
            "is_masked": [False, False, True],
            "investment_per_aid_eur": ["9,0", "12,0", "s"],
            "investment_per_aid_eur__shown": [9.0, 12.0, None],
            "investment_per_aid_eur__ci": ["[8,0\u00a0; 10,0]", None, None],
            "investment_per_aid_eur__ci_reason": [None, "too_few_clusters", None],
        }
    )
    reading = fund.describe_ranking(frame, "investment_per_aid_eur")
    assert "le plus élevé" not in reading  # a single row with an interval: no superlative
    assert "2 ligne(s) sans intervalle" in reading
    assert fund.ranked(frame, "investment_per_aid_eur")["label"].to_list() == ["A"]
    apart = fund.render_unranked(frame, "investment_per_aid_eur")
    assert "B (12,0 ; trop peu d&#x27;intercommunalités" in apart and "secret statistique" in apart


def test_scope_with_no_project_and_masked_scope_are_said_plainly(page) -> None:
    assert "Aucun projet" in fund.describe_scope(page, {"region_code": "zz"}, "Nulle part")
    cells = page.figures["cells"]
    masked = cells.filter(pl.col("is_masked") & (pl.col("measure") == "n_projects"))
    if masked.height:
        key = masked["cell_key"][0]
        assert "secret statistique" in fund.describe_scope(page, key, "X")
    assert FundCells(cells).printed({"region_code": "zz"}, "n_projects") == "0"


def test_banner_names_what_is_synthetic_in_each_mode() -> None:
    demo = blocks.render_banner({"mode": "demo"})
    assert "simulés" in demo and "réels" in demo and "INSEE" in demo
    assert "ENTIÈREMENT" in blocks.render_banner({"mode": "synthetic"})
    public = blocks.render_banner({"mode": "public"})
    assert "Données publiques uniquement" in public and "synthétique" not in public.lower()
    assert "secret statistique" in blocks.render_banner({"mode": "operator"})


def test_quality_table_is_french(page) -> None:
    html = blocks.render_quality(page.quality)
    for code in ("commune_siren", "missing_rate", "territory x grouping"):
        assert code not in html
    assert "Lues" in html and "Mises de côté" in html


def test_provenance_gives_snapshot_attribution_and_french_vintages(page) -> None:
    html = blocks.render_provenance(page.metadata, {"region_code": "84"})
    assert page.metadata["snapshot_id"] in html
    assert "Licence Ouverte" in html and "INSEE" in html
    assert "final list" not in html and "probably" not in html


def test_hostile_names_are_escaped_everywhere(page) -> None:
    hostile = '<img src=x onerror="window.__pwned=1">'
    territories = page.core("territories").with_columns(pl.lit(hostile).alias("ti_name"))
    page._core["territories"] = territories
    try:
        frame = fund.breakdown(page, ["ti_p2"])
        html = fund.render_breakdown_table(page, frame, "Territoire", "T")
        assert "<img" not in html and "&lt;img" in html
        message = summary.fund_message(page, {"ti_p2": frame["ti_p2"][0]}, hostile)
        assert message is None or "<img" not in message
        assert "<img" not in page_mod.render_breadcrumb(page, [(hostile, None)])
        assert "<img" not in programme.render_members(page, frame["ti_p2"][0], 2)
    finally:
        page._core.pop("territories")


def test_key_messages_box_has_three_to_five_messages(page) -> None:
    from analyse.review import regional

    html = regional.render_key_messages_region(page, "84")
    assert "Ce qu'il faut retenir" in html
    assert 3 <= html.count("<li>") <= 5
