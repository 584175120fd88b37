"""Interactive charts for JupyterLab work with no network: the linked explorer draws in a browser."""

from __future__ import annotations

from pathlib import Path

import altair as alt
import polars as pl
import pytest

from analyse import charts
from analyse.report.browser import find_chromium, find_external_references, render_page
from analyse.report.display import enable_offline_charts

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


def _explorer() -> alt.TopLevelMixin:
    frame = pl.DataFrame(
        {
            "ti_name": [f"Territoire {i}" for i in range(6)],
            "region_code": ["84", "84", "11", "11", "53", "53"],
            "aid_eur": [1e6, 2e6, 3e6, 4e6, 5e6, 6e6],
            "investment_eur": [9e6, 15e6, 40e6, 30e6, 52e6, 70e6],
            "n_projects": [3, 4, 5, 6, 7, 8],
        }
    )
    return charts.chart_linked_explorer(frame)


def test_interactive_output_is_self_sufficient() -> None:
    previous = alt.renderers.active
    try:
        enable_offline_charts("interactive")
        assert alt.renderers.active == "analyse-interactive"
        bundle = _explorer()._repr_mimebundle_()
    finally:
        alt.renderers.enable(previous)
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    page = data["text/html"]
    assert "vegaEmbed" in page and "analyse-chart" in page
    assert find_external_references(page) == []


@pytest.mark.browser
@pytest.mark.skipif(find_chromium() is None, reason="chromium not installed")
def test_interactive_output_draws_offline(tmp_path: Path) -> None:
    previous = alt.renderers.active
    try:
        enable_offline_charts("interactive")
        bundle = _explorer()._repr_mimebundle_()
    finally:
        alt.renderers.enable(previous)
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    page = tmp_path / "cell_output.html"
    page.write_text(
        f"<!DOCTYPE html><html><head><meta charset='utf-8'></head><body>{data['text/html']}"
        "</body></html>",
        encoding="utf-8",
    )
    ARTIFACTS.mkdir(exist_ok=True)
    check = render_page(page, screenshot=ARTIFACTS / "interactive_explorer.png")
    assert check.ok, check.describe()
    assert check.charts and all(c.rendered for c in check.charts)
