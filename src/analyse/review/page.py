"""One report page: what it reads (a figures bundle and its snapshot), how it numbers its tables
and figures, and the blocks every page carries (banner naming what is synthetic, breadcrumb,
"Ce qu'il faut retenir", captions with Champ / Lecture / Source, data-table alternative of each
chart, provenance).

Every data-borne string reaches the page through :func:`esc` (HTML escaping, once, here):
notebooks display the HTML these functions return and never put data into Markdown.
"""

from __future__ import annotations

import html
import posixpath
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from analyse import formatting as fmt
from analyse.figures.store import FiguresBundle, read_bundle
from analyse.tables import read_metadata, read_quality

#: Kinds of page and their place in the site (job names of ``analyse report all``).
NATIONAL_PAGE = "national"
INDEX_PAGE = "index"

PAGE_CSS = """
.analyse-breadcrumb { font-size: .9rem; margin: 0 0 1rem 0; }
.analyse-breadcrumb ol { list-style: none; padding: 0; margin: 0; display: flex; flex-wrap: wrap; }
.analyse-breadcrumb li + li::before { content: "›"; padding: 0 .5em; color: #666; }
.analyse-key-messages { border-left: 6px solid #000091; background: #f5f5fe; padding: .75rem 1.25rem;
  margin: 1rem 0 1.5rem 0; }
.analyse-key-messages h2 { margin-top: 0; font-size: 1.15rem; }
.analyse-key-messages li { margin: .3rem 0; }
.analyse-figure-title { font-weight: 700; margin: 1.5rem 0 .25rem 0; }
.analyse-figure-notes { font-size: .8rem; color: #3a3a3a; margin: .25rem 0 1rem 0; }
.analyse-chart-data summary { font-size: .85rem; cursor: pointer; color: #000091; }
.analyse-note { font-size: .85rem; color: #3a3a3a; }
.analyse-nd-list { font-size: .85rem; }
@media print { .analyse-chart-data { display: none; } }
""".strip()


def esc(value: Any) -> str:
    """HTML-escape a data-borne value (names, labels, codes) for a page."""
    return html.escape("" if value is None else str(value), quote=True)


def relative_href(from_page: str, to_page: str) -> str:
    """Link from one page to another of the same run (``regions/84`` -> ``national.html``)."""
    start = posixpath.dirname(from_page) or "."
    return posixpath.relpath(f"{to_page}.html", start)


@dataclass
class Page:
    """A page being written: its job name, its data, and counters for tables and figures."""

    name: str
    figures: FiguresBundle
    metadata: dict[str, Any]
    quality: dict[str, Any]
    processed_dir: Path
    n_tables: int = 0
    n_figures: int = 0
    parameters: dict[str, Any] = field(default_factory=dict)
    _core: dict[str, pl.DataFrame] = field(default_factory=dict)

    def core(self, name: str) -> pl.DataFrame:
        """A core table of the page's snapshot (read once)."""
        if name not in self._core:
            from analyse.tables import read_core_table

            self._core[name] = read_core_table(name, self.processed_dir)
        return self._core[name]

    # ---------------------------------------------------------------- what the page reads

    @property
    def mode(self) -> str:
        """``demo``, ``operator``, ``public`` or ``synthetic`` (see ``analyse clean``)."""
        return str(
            self.metadata.get("mode")
            or ("synthetic" if self.metadata.get("synthetic") else "operator")
        )

    @property
    def has_fund_extract(self) -> bool:
        return "cells" in self.figures

    def href(self, target: str) -> str:
        """Relative link to another page of the run (``national``, ``regions/84``...)."""
        return relative_href(self.name, target)

    # ---------------------------------------------------------------- numbering

    def next_table(self) -> int:
        self.n_tables += 1
        return self.n_tables

    def next_figure(self) -> int:
        self.n_figures += 1
        return self.n_figures

    def table(self, df: pl.DataFrame, caption: str, **kwargs: Any) -> str:
        """A numbered table (``Tableau n – caption``); see :func:`formatting.to_html_table`."""
        return fmt.to_html_table(df, caption, number=self.next_table(), **kwargs)


def open_page(
    name: str,
    processed_dir: str | Path,
    figures_dir: str | Path | None,
    parameters: Mapping[str, Any] | None = None,
) -> Page:
    """Open a page on a snapshot and its figures bundle (computed now if no folder is given:
    interactive use; report batches always pass the bundle of the run)."""
    if figures_dir is None:
        from analyse.figures import ensure_figures

        bundle = ensure_figures(processed_dir)
    else:
        bundle = read_bundle(figures_dir)
    return Page(
        name=name,
        figures=bundle,
        metadata=read_metadata(processed_dir),
        quality=read_quality(processed_dir),
        processed_dir=Path(processed_dir),
        parameters=dict(parameters or {}),
    )


# -------------------------------------------------------------------- blocks


def render_breadcrumb(page: Page, trail: Sequence[tuple[str, str | None]]) -> str:
    """``Accueil › Revue nationale › Région … › Territoire …``: ``(label, target page or None)``."""
    items = [("Accueil (catalogue des rapports)", INDEX_PAGE), *trail]
    parts = []
    for label, target in items:
        if target is None or target == page.name:
            parts.append(f'<li aria-current="page">{esc(label)}</li>')
        else:
            parts.append(f'<li><a href="{esc(page.href(target))}">{esc(label)}</a></li>')
    return (
        f"<style>{PAGE_CSS}</style>"
        f'<nav class="analyse-breadcrumb" aria-label="Fil d\'Ariane"><ol>{"".join(parts)}</ol></nav>'
    )


def render_key_messages(messages: Iterable[str]) -> str:
    """The "Ce qu'il faut retenir" box: 3 to 5 messages computed from the figures (HTML items,
    already escaped by their authors)."""
    items = "".join(f"<li>{m}</li>" for m in messages if m)
    return (
        '<section class="analyse-key-messages" aria-labelledby="retenir">'
        f'<h2 id="retenir">Ce qu\'il faut retenir</h2><ul>{items}</ul></section>'
    )


def render_figure_title(page: Page, title: str) -> str:
    """``Figure n – title`` above a chart (numbered in page order)."""
    return f'<p class="analyse-figure-title">Figure {page.next_figure()} – {esc(title)}</p>'


def render_figure_notes(
    *,
    champ: str | None = None,
    reading: str | None = None,
    source: str | None = None,
    note: str | None = None,
    data_table: str | None = None,
    number: int | None = None,
) -> str:
    """The lines under a chart (Champ, Lecture, note, Source) and its data-table alternative."""
    lines = [
        fmt._prefixed(champ, "Champ"),
        fmt._prefixed(reading, "Lecture"),
        note,
        fmt._prefixed(source, "Source"),
    ]
    body = "<br>".join(esc(line) for line in lines if line)
    details = ""
    if data_table:
        label = f"Données de la figure {number}" if number else "Données de la figure"
        details = (
            f'<details class="analyse-chart-data"><summary>{esc(label)} (tableau)</summary>'
            f"{data_table}</details>"
        )
    return f'<p class="analyse-figure-notes">{body}</p>{details}'


class ChartOutput:
    """A chart spec shown through the active Altair renderer (offline HTML in report batches,
    SVG in JupyterLab), without its title: the page's numbered caption carries it."""

    def __init__(self, spec: dict[str, Any]) -> None:
        self.spec = spec

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, Any]:
        import altair as alt

        return alt.renderers.get()(self.spec)


def strip_chart_title(chart: Any, description: str) -> dict[str, Any]:
    """The chart's Vega-Lite spec with its title removed and ``description`` (the accessible
    name: title and reading) set."""
    if hasattr(chart, "to_dict"):
        # In report batches the chart builders are tested elsewhere: skip Altair's JSON-schema
        # validation (about 0.1 s a page); interactive use keeps it.
        import os

        from analyse.report.display import BATCH_ENV

        spec = chart.to_dict(validate=not os.environ.get(BATCH_ENV))
    else:
        spec = dict(chart)
    spec.pop("title", None)
    spec["description"] = description
    return spec


def show_figure(
    page: Page,
    chart: Any,
    title: str,
    *,
    champ: str | None = None,
    reading: str | None = None,
    source: str | None = None,
    note: str | None = None,
    data: pl.DataFrame | None = None,
    data_cells: Mapping[str, Sequence[fmt.CellRef]] | None = None,
) -> None:
    """Display a numbered figure: title, chart, Champ / Lecture / Source, and the chart's data
    as a table (the values as printed, with their cell keys) for readers who cannot see it."""
    from IPython.display import HTML, display

    display(HTML(render_figure_title(page, title)))
    number = page.n_figures
    description = f"Figure {number} – {title}. {reading or ''}".strip()
    display(ChartOutput(strip_chart_title(chart, description)))
    table = None
    if data is not None and data.height:
        table = fmt.to_html_table(
            data, f"Données de la figure {number}", source or "", cells=data_cells
        )
    display(
        HTML(
            render_figure_notes(
                champ=champ,
                reading=reading,
                source=source,
                note=note,
                data_table=table,
                number=number,
            )
        )
    )
