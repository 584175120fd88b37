"""The headless Chromium check itself: it sees drawn charts, and it does fail when it should."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_report_html import executed_notebook

from analyse.report.browser import Browser, find_chromium, render_page
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


def _chart_page(tmp_path: Path, specs: dict[str, dict], extra: str = "") -> Path:
    from analyse.report.display import build_chart_html

    body = "".join(
        f"<h2 id='{name}'>{name}</h2>" + build_chart_html({**spec, "description": name}) + extra
        for name, spec in specs.items()
    )
    dest = tmp_path / "page.html"
    dest.write_text(build_page(body, title="x", bundle="inline"), encoding="utf-8")
    return dest


def _points(values: list[dict], **encoding: dict) -> dict:
    return {
        "data": {"values": values},
        "mark": "point",
        "encoding": {
            "x": {"field": "x", "type": "quantitative"},
            "y": {"field": "y", "type": "quantitative"},
            **encoding,
        },
    }


def test_the_check_sees_nan_marks_empty_layers_and_stray_legends(tmp_path: Path) -> None:
    """What issue 12 found on the région pages: marks at NaN behind a size scale that knows
    only one category, a legend entry no mark uses, a bar layer drawing nothing."""
    one = [{"x": 1, "y": 2, "k": "Le territoire", "c": "A"}]
    specs = {
        "nan": _points(
            one,
            size={"field": "k", "type": "nominal", "scale": {"domain": ["Autres"], "range": [30]}},
        ),
        "legend": _points(
            one,
            color={
                "field": "c",
                "type": "nominal",
                "scale": {"domain": ["A", "B"], "range": ["#111111", "#ee0000"]},
            },
        ),
        "empty": {
            "data": {"values": [{"x": "abc", "y": 2}]},
            "mark": "bar",
            "encoding": {
                "x": {"field": "x", "type": "quantitative"},
                "y": {"field": "y", "type": "quantitative"},
            },
        },
        "fine": _points(one),
    }
    with Browser() as browser:
        check = browser.check(_chart_page(tmp_path, specs))
    problems = {c.label: c.problems for c in check.charts}
    assert any("NaN" in p for p in problems["nan"]), problems
    assert any("entry 'B'" in p and "matches no mark" in p for p in problems["legend"])
    assert "no mark drawn" in problems["empty"]
    assert problems["fine"] == []
    assert check.missing_alternatives  # no data table after these charts
    assert not check.ok


def test_a_filtered_layer_may_be_empty_and_a_data_table_counts_as_alternative(
    tmp_path: Path,
) -> None:
    values = [{"x": 1, "y": 2, "shown": True}]
    spec = {
        "data": {"values": values},
        "layer": [
            {"mark": "point", "encoding": {"x": {"field": "x", "type": "quantitative"},
                                           "y": {"field": "y", "type": "quantitative"}}},
            {"mark": "text", "transform": [{"filter": "!datum.shown"}],
             "encoding": {"x": {"field": "x", "type": "quantitative"},
                          "y": {"field": "y", "type": "quantitative"},
                          "text": {"value": "s"}}},
        ],
    }  # fmt: skip
    table = (
        '<details class="analyse-chart-data"><summary>Données</summary><table><tr><th>x</th>'
        "<td>1</td></tr></table></details>"
    )
    with Browser() as browser:
        check = browser.check(_chart_page(tmp_path, {"layers": spec}, extra=table))
    assert check.ok, check.describe()
    assert check.missing_alternatives == [] and check.charts[0].role == "img"


def test_chart_values_must_equal_the_printed_table() -> None:
    from analyse.report.browser import chart_table_problems
    from analyse.report.display import build_chart_html

    def page(rows: list[dict], cells: list[tuple[str, str, str]]) -> str:
        spans = "".join(
            f'<tr><td><span data-cell="{c}" data-measure="{m}">{t}</span></td></tr>'
            for c, m, t in cells
        )
        return build_chart_html({"data": {"values": rows}, "mark": "bar"}) + (
            f'<details class="analyse-chart-data"><table>{spans}</table></details>'
        )

    cell = "region_code=84"
    good = page(
        [{"cell": cell, "aid_eur": 110e6}, {"cell": "region_code=11", "aid_eur": None}],
        [(cell, "aid_eur", "110 M€"), ("region_code=11", "aid_eur", "s")],
    )
    assert chart_table_problems(good) == []
    wrong = page([{"cell": cell, "aid_eur": 120e6}], [(cell, "aid_eur", "110 M€")])
    assert chart_table_problems(wrong) == [
        "chart 0: region_code=84 aid_eur: chart 120000000.0, table '110 M€'"
    ]
    missing = page([{"cell": cell, "aid_eur": 110e6}], [("region_code=11", "aid_eur", "3 M€")])
    assert len(chart_table_problems(missing)) == 2  # one not in the table, one not drawn
    alone = build_chart_html({"data": {"values": [{"cell": cell, "aid_eur": 1.0}]}, "mark": "bar"})
    assert "no data table" in chart_table_problems(alone)[0]
