"""Offline HTML pages and the notebook chart renderer (no kernel, no browser: fast)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import altair as alt
import nbformat
import pytest

from analyse.report import html as report_html
from analyse.report.browser import find_external_references, inspect_dom
from analyse.report.display import (
    BATCH_ENV,
    RENDERER_NAME,
    enable_offline_charts,
    offline_html_renderer,
)
from analyse.report.html import VEGA_ASSET, write_report_html, write_text_atomic


@pytest.fixture()
def restore_renderer():
    active = alt.renderers.active
    options = dict(alt.renderers.options)
    yield
    alt.renderers.enable(active, **options)


def make_chart(title: str = "Projets par année") -> alt.Chart:
    data = alt.Data(values=[{"year": "2021", "n": 640}, {"year": "2022", "n": 656}])
    return alt.Chart(data, title=title).mark_bar().encode(x="year:O", y="n:Q")


def chart_output(chart: alt.Chart) -> nbformat.NotebookNode:
    bundle = offline_html_renderer(chart.to_dict())
    return nbformat.v4.new_output("display_data", data=bundle)


def executed_notebook(with_chart: bool = True) -> nbformat.NotebookNode:
    """What papermill hands back: parameters cells, code, stdout, a stderr warning, a chart."""
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("processed_dir = 'x'")
    params.metadata["tags"] = ["parameters"]
    injected = nbformat.v4.new_code_cell("processed_dir = '/secret/injected'")
    injected.metadata["tags"] = ["injected-parameters"]
    code = nbformat.v4.new_code_cell(
        "SECRET_CODE = compute()",
        outputs=[
            nbformat.v4.new_output("stream", name="stdout", text="résultat visible\n"),
            nbformat.v4.new_output("stream", name="stderr", text="FutureWarning: bruit\n"),
        ],
        execution_count=1,
    )
    cells = [
        nbformat.v4.new_markdown_cell("# Revue nationale\n\nIntroduction."),
        params,
        injected,
        nbformat.v4.new_markdown_cell("## Projets par année\n\n### Détail\n\nTexte."),
        code,
        nbformat.v4.new_markdown_cell("## Méthode & limites"),
    ]
    if with_chart:
        cells.append(nbformat.v4.new_code_cell("chart", outputs=[chart_output(make_chart())]))
    nb.cells = cells
    nbformat.validate(nb)
    return nb


def test_chart_output_survives_nbformat_validation(restore_renderer: None) -> None:
    enable_offline_charts("html")
    assert alt.renderers.active == RENDERER_NAME
    bundle = make_chart()._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert set(data) == {"text/html", "text/plain"}
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "chart", outputs=[nbformat.v4.new_output("display_data", data=data)]
        )
    ]
    nbformat.validate(nb)
    nbformat.validate(nbformat.reads(nbformat.writes(nb), as_version=4))
    assert 'class="analyse-chart"' in data["text/html"]
    assert "<script src" not in data["text/html"]


def test_auto_mode_is_html_in_batches_and_svg_elsewhere(
    restore_renderer: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(BATCH_ENV, raising=False)
    enable_offline_charts()
    assert alt.renderers.active == "svg"
    monkeypatch.setenv(BATCH_ENV, "1")
    enable_offline_charts()
    assert alt.renderers.active == RENDERER_NAME


def test_chart_spec_cannot_break_out_of_its_script() -> None:
    hostile = "</script><script>alert(1)</script>"
    snippet = offline_html_renderer(make_chart(title=hostile).to_dict())["text/html"]
    assert "</script><script>alert" not in snippet
    payload = re.search(r'<script type="application/json"[^>]*>(.*?)</script>', snippet, re.S)
    assert payload is not None
    assert json.loads(payload.group(1))["title"] == hostile


def test_reviewer_page_has_toc_outputs_and_no_code(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    dest = run_dir / "regions" / "84.html"
    size = write_report_html(
        executed_notebook(), dest, title="Région 84", run_dir=run_dir, banner="Données synthétiques"
    )
    page = dest.read_text(encoding="utf-8")
    assert size == len(page.encode("utf-8"))
    assert "SECRET_CODE" not in page and "/secret/injected" not in page
    assert "FutureWarning" not in page
    assert "résultat visible" in page
    assert "Données synthétiques" in page
    toc = re.search(r'<nav class="toc".*?</nav>', page, re.S)
    assert toc is not None
    assert "Projets par année" in toc.group(0) and "Détail" in toc.group(0)
    assert "Méthode &amp; limites" in toc.group(0)
    # every TOC link points at an id present in the page
    for anchor in re.findall(r'href="#([^"]+)"', toc.group(0)):
        assert f'id="{anchor}"' in page
    assert find_external_references(page) == []
    scripts = re.findall(r"<script[^>]*\bsrc=\"([^\"]+)\"", page)
    assert scripts == [f"../{VEGA_ASSET}"]
    charts, _ = inspect_dom(page)
    assert len(charts) == 1 and not charts[0].rendered  # drawn only by the browser


def test_notebook_banner_replaces_the_page_banner(tmp_path: Path) -> None:
    nb = executed_notebook(with_chart=False)
    own = '<div class="analyse-synthetic-banner">DONNÉES SYNTHÉTIQUES</div>'
    nb.cells[4].outputs.append(
        nbformat.v4.new_output("display_data", data={"text/html": own, "text/plain": "x"})
    )
    dest = tmp_path / "national.html"
    write_report_html(nb, dest, title="x", banner="Bannière de la page")
    page = dest.read_text(encoding="utf-8")
    body = page[page.index("<body>") :]
    assert "DONNÉES SYNTHÉTIQUES" in body and "Bannière de la page" not in body
    # the printed pages still repeat the banner in their margin
    assert '@top-right { content: "Bannière de la page"' in page


def test_one_title_one_trail_and_the_meta_line_under_the_title(tmp_path: Path) -> None:
    nb = executed_notebook(with_chart=False)
    own = (
        '<nav class="analyse-breadcrumb" aria-label="Fil d\'Ariane"><ol><li>'
        '<a href="../index.html">Accueil</a></li></ol></nav><h1>Ardèche Drôme Nord</h1>'
    )
    nb.cells[0] = nbformat.v4.new_code_cell(
        "x", execution_count=1,
        outputs=[nbformat.v4.new_output("display_data", data={"text/html": own, "text/plain": "x"})],
    )  # fmt: skip
    dest = tmp_path / "territoires" / "ti-8401.html"
    write_report_html(
        nb, dest, title="Territoire (ti-8401)", meta=["Produit le 1er mars 2026"],
        index_href="../index.html",
    )  # fmt: skip
    page = dest.read_text(encoding="utf-8")
    assert page.count("<h1") == 1 and "Territoire (ti-8401)" not in page
    assert "Catalogue des rapports" not in page  # the notebook's own trail links back
    assert re.search(r"<h1>Ardèche Drôme Nord</h1><p class=\"meta\">Produit le 1er mars", page)
    assert "<title>Ardèche Drôme Nord — Territoires d&#x27;industrie" in page
    assert '@top-left { content: "Ardèche Drôme Nord"' in page


def test_print_margin_text_cannot_break_out_of_the_style() -> None:
    hostile = 'Nom"; } </style><script>window.__pwned=1</script>\\'
    style = report_html.print_style(hostile, "Données en partie synthétiques")
    assert "</style" not in style and "<script" not in style
    assert '"; }' not in style.split("@top-left")[1].split("font:")[0]
    assert report_html.css_string('a"b\\c<') == '"a\\22 b\\5c c\\3c "'


def test_page_meta_is_french_without_iso_timestamps() -> None:
    from analyse.report.meta import banner_for, page_meta

    metadata = {"cleaned_at": "2026-11-30T21:05:00+00:00", "package_version": "0.1.0",
                "mode": "demo", "synthetic": True}  # fmt: skip
    (line,) = page_meta(metadata, "2026-11-30T21:35:04+00:00", "20261130T210500Z-abc123")
    assert line == (
        "Produit le 30\u00a0novembre 2026 à 21\u00a0h\u00a035 (UTC) · jeu de données "
        "20261130T210500Z-abc123 (nettoyé le 30\u00a0novembre 2026) · analyse 0.1.0"
    )
    assert banner_for(metadata).startswith("Données en partie synthétiques")
    assert banner_for({**metadata, "mode": "synthetic"}).startswith("Données entièrement")
    assert banner_for({**metadata, "mode": "operator", "synthetic": False}) is None
    assert banner_for(None) is None


def test_short_banners_say_what_the_notebook_banners_say() -> None:
    from analyse.report.meta import BANNER_HEADLINES, SHORT_BANNERS
    from analyse.review.blocks import render_banner

    for mode, headline in BANNER_HEADLINES.items():
        assert headline.upper() in render_banner({"mode": mode})
        assert SHORT_BANNERS[mode].startswith(headline)


def test_page_without_charts_has_no_script(tmp_path: Path) -> None:
    dest = tmp_path / "national.html"
    write_report_html(executed_notebook(with_chart=False), dest, title="x", run_dir=tmp_path)
    page = dest.read_text(encoding="utf-8")
    assert "<script" not in page
    assert "<link" not in page


def test_self_contained_page_inlines_the_bundle_once(tmp_path: Path) -> None:
    dest = tmp_path / "page.html"
    size = write_report_html(executed_notebook(), dest, title="x", self_contained=True)
    page = dest.read_text(encoding="utf-8")
    assert page.count("window.vegaEmbed=") == 1
    assert re.findall(r"<script[^>]*\bsrc=", page) == []
    assert find_external_references(page) == []
    assert size < 3_000_000


def test_external_references_are_detected() -> None:
    page = (
        '<script src="https://cdn.example/require.js"></script>'
        "<link rel=stylesheet href='//fonts.example/css'>"
        '<script src="assets/vega-bundle.js"></script><a href="https://ok.example">lien</a>'
    )
    assert find_external_references(page) == [
        "https://cdn.example/require.js",
        "//fonts.example/css",
    ]


def test_interrupted_write_leaves_no_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "regions" / "84.html"

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(report_html.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_report_html(executed_notebook(), dest, title="x", run_dir=tmp_path)
    assert not dest.exists()
    assert list(dest.parent.iterdir()) == []  # temporary file removed too


def test_interrupted_rewrite_keeps_the_previous_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest = tmp_path / "index.html"
    write_text_atomic(dest, "<html>v1</html>")

    def interrupted(src: str, dst: str) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(report_html.os, "replace", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_text_atomic(dest, "<html>v2 " + "x" * 100_000)
    assert dest.read_text(encoding="utf-8") == "<html>v1</html>"
    assert [p.name for p in tmp_path.iterdir()] == ["index.html"]


def _report_imports() -> dict[str, set[str]]:
    """Module -> ``analyse.report`` modules it imports (top level or inside functions)."""
    import ast

    folder = Path(report_html.__file__).parent
    graph: dict[str, set[str]] = {}
    for path in folder.glob("*.py"):
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
                "analyse.report"
            ):
                deps.add(node.module)
                if node.module == "analyse.report":
                    deps |= {f"analyse.report.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("analyse.report")}
        graph[f"analyse.report.{path.stem}"] = deps - {f"analyse.report.{path.stem}"}
    return graph


def test_no_import_circle_in_the_report_package() -> None:
    graph = _report_imports()
    assert "analyse.report.html" in graph["analyse.report.index"]  # the walk sees imports

    def reaches(start: str, target: str, seen: set[str]) -> bool:
        for dep in graph.get(start, ()):
            if dep == target or (dep not in seen and reaches(dep, target, seen | {dep})):
                return True
        return False

    circles = sorted(m for m in graph if reaches(m, m, {m}))
    assert circles == []


def test_notebook_side_modules_stay_light() -> None:
    code = (
        "import sys, analyse.report.display, analyse.report.batch; "
        "heavy = ['nbconvert', 'papermill', 'analyse.report.html', 'analyse.report.warm']; "
        "print([m for m in heavy if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
