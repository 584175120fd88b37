"""Offline HTML pages for reviewers, from executed notebooks.

nbconvert's ``lab``/``classic`` templates load require.js and MathJax from a CDN, so the pages
are built from the ``basic`` template (a bare fragment, no script) with code, input and output
prompts removed, wrapped in this module's own page: a table of contents from the markdown
headings, a print-friendly stylesheet, and, only when the page holds charts, the vega /
vega-lite / vega-embed bundle of vl-convert (either as the shared file
``assets/vega-bundle.js`` referenced relatively, or inlined for a self-contained page) plus one
script drawing every ``.analyse-chart`` container (see :mod:`analyse.report.display`).

No page references anything over the network. Files are written to a temporary name and
renamed, so an interrupted run never leaves a half-written page.
"""

from __future__ import annotations

import copy
import functools
import html
import os
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, Literal

import nbformat

from analyse.files import write_text_atomic
from analyse.report.assets import (  # noqa: F401 - re-exported
    CHART_CLASS,
    CHART_SCRIPT,
    SPEC_CLASS,
    VEGA_ASSET,
    get_vega_bundle,
    write_vega_asset,
)

#: Class of the synthetic-data banner a notebook may display itself (analyse.review.blocks):
#: the page then adds none of its own.
NOTEBOOK_BANNER_CLASS = "analyse-synthetic-banner"

#: Cells with one of these tags are left out of the reviewer's page.
REMOVE_CELL_TAGS = frozenset({"parameters", "injected-parameters", "remove_cell", "remove-cell"})
#: Cells with one of these tags keep their input hidden and their output removed.
REMOVE_OUTPUT_TAGS = frozenset({"remove_output", "remove-output"})

BundleMode = Literal["asset", "inline", "none"]


STYLE = """
:root { --ink: #1d2630; --muted: #5b6670; --rule: #d8dde2; --accent: #1f5f99;
        --ok: #1e7b34; --bad: #b3261e; --warn-bg: #fff4ce; --warn-ink: #5c4400; }
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       "Noto Sans", "Liberation Sans", sans-serif; }
a { color: var(--accent); }
.page { max-width: 78rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
.report-header { border-bottom: 1px solid var(--rule); margin-bottom: 1.25rem; padding-bottom: .5rem; }
.report-header .crumbs { font-size: .9rem; margin: 0 0 .25rem; }
.report-header .meta { color: var(--muted); font-size: .9rem; margin: .25rem 0; }
.banner { border: 2px solid #c99a00; background: var(--warn-bg); color: var(--warn-ink);
          padding: .6rem .9rem; border-radius: 4px; font-weight: 600; margin: .5rem 0 1rem; }
.layout { display: block; }
nav.toc { font-size: .92rem; border: 1px solid var(--rule); border-radius: 4px;
          padding: .5rem .9rem; margin-bottom: 1.5rem; background: #f7f9fa; }
nav.toc h2 { font-size: 1rem; margin: .2rem 0 .4rem; }
nav.toc ol { margin: 0; padding-left: 1.2rem; }
nav.toc ul.toc-sub { margin: .1rem 0 .2rem; padding-left: 1rem; font-size: .88rem;
                    list-style-type: circle; }
@media (min-width: 70rem) {
  .layout { display: grid; grid-template-columns: 15rem minmax(0, 1fr); gap: 2rem; }
  nav.toc { position: sticky; top: 1rem; align-self: start; max-height: calc(100vh - 2rem);
            overflow-y: auto; }
}
main { min-width: 0; }
main p, main li { max-width: 46rem; }
h1, h2, h3, h4 { line-height: 1.25; }
h1 { font-size: 1.8rem; } h2 { font-size: 1.4rem; margin-top: 2rem; } h3 { font-size: 1.15rem; }
.anchor-link { visibility: hidden; text-decoration: none; margin-left: .3rem; color: var(--muted); }
h1:hover .anchor-link, h2:hover .anchor-link, h3:hover .anchor-link { visibility: visible; }
.output_area, .cell { margin: .4rem 0; }
pre { background: #f5f7f8; padding: .5rem .75rem; overflow-x: auto; font-size: .85rem;
      border-radius: 3px; white-space: pre-wrap; }
table { border-collapse: collapse; margin: .75rem 0; font-size: .9rem;
        font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .6rem; text-align: left;
         vertical-align: top; }
thead th { border-bottom: 2px solid var(--ink); }
tbody tr:nth-child(even) { background: #fafbfc; }
.output_html, .output_png, .output_svg, .output_markdown { overflow-x: auto; max-width: 100%; }
img, svg { max-width: 100%; height: auto; }
.analyse-chart { margin: .75rem 0; min-height: 2rem; }
.analyse-chart-placeholder { color: var(--muted); font-style: italic; }
.chart-error { color: var(--bad); }
.status-ok, .status-cached { color: var(--ok); font-weight: 600; }
.status-failed, .status-interrupted { color: var(--bad); font-weight: 600; }
tr.failed { background: #fdecea !important; }
details summary { cursor: pointer; }
footer { margin-top: 3rem; color: var(--muted); font-size: .85rem; border-top: 1px solid var(--rule);
         padding-top: .5rem; }
@media print {
  @page { margin: 15mm 12mm; }
  html { font-size: 11pt; }
  .page { max-width: none; padding: 0; }
  .layout { display: block; }
  nav.toc { position: static; max-height: none; background: none; break-after: page; }
  .anchor-link, .no-print { display: none !important; }
  a { color: inherit; text-decoration: none; }
  h1, h2, h3 { break-after: avoid; }
  .output_area, .analyse-chart, table, img, svg { break-inside: avoid; }
  .banner { border-width: 1px; }
  pre { white-space: pre-wrap; }
}
"""


def prepare_for_reviewers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy without parameter cells, stderr streams (warnings) or tagged removals."""
    out = copy.deepcopy(nb)
    cells = []
    for cell in out.cells:
        tags = set(cell.get("metadata", {}).get("tags", []))
        if tags & REMOVE_CELL_TAGS:
            continue
        if cell.cell_type == "code":
            if tags & REMOVE_OUTPUT_TAGS:
                cell.outputs = []
            else:
                cell.outputs = [
                    o
                    for o in cell.get("outputs", [])
                    if not (o.get("output_type") == "stream" and o.get("name") == "stderr")
                ]
        cells.append(cell)
    out.cells = cells
    return out


@functools.cache
def _exporter() -> Any:
    """nbconvert's HTML exporter, built once per process (imported here: 1 s, only where
    pages are exported)."""
    from nbconvert import HTMLExporter

    return HTMLExporter(
        template_name="basic",
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )


def export_body(nb: nbformat.NotebookNode) -> str:
    """The notebook as an HTML fragment: outputs and markdown only, no prompts, no script."""
    body, _ = _exporter().from_notebook_node(prepare_for_reviewers(nb))
    return body


def warm_exporter() -> None:
    """Build the exporter and compile its templates now (once per worker, before any page):
    the first export of a process costs about 0.3 s more than the next ones."""
    nb = nbformat.v4.new_notebook()
    nb.metadata["language_info"] = {"name": "python", "pygments_lexer": "ipython3"}
    output = nbformat.v4.new_output(
        "display_data", data={"text/html": "<b>x</b>", "text/markdown": "*x*", "text/plain": "x"}
    )
    nb.cells = [
        nbformat.v4.new_markdown_cell("# x\n\n`x` **x**"),
        nbformat.v4.new_code_cell(
            "x",
            execution_count=1,
            outputs=[output, nbformat.v4.new_output("stream", name="stdout", text="x")],
        ),
    ]
    export_body(nb)


@dataclass(frozen=True)
class Heading:
    """A heading of the page body (for the table of contents)."""

    level: int
    anchor: str
    text: str


class _HeadingParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[Heading] = []
        self._current: tuple[int, str] | None = None
        self._text: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if re.fullmatch(r"h[1-3]", tag) and self._current is None:
            anchor = dict(attrs).get("id")
            if anchor:
                self._current = (int(tag[1]), anchor)
                self._text = []
        elif (
            self._current is not None
            and tag == "a"
            and "anchor-link" in (dict(attrs).get("class") or "")
        ):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if self._current is not None and tag == "a" and self._skip:
            self._skip -= 1
        elif self._current is not None and tag == f"h{self._current[0]}":
            text = " ".join("".join(self._text).split())
            if text:
                self.headings.append(Heading(self._current[0], self._current[1], text))
            self._current = None

    def handle_data(self, data: str) -> None:
        if self._current is not None and not self._skip:
            self._text.append(data)


def collect_headings(body: str) -> list[Heading]:
    """Headings h1-h3 carrying an id, in page order."""
    parser = _HeadingParser()
    parser.feed(body)
    parser.close()
    return parser.headings


def render_toc(headings: list[Heading]) -> str:
    """A ``<nav>`` table of contents: h2 entries with their h3 nested (h1 too when the page has
    several)."""
    n_h1 = sum(h.level == 1 for h in headings)
    shown = [h for h in headings if h.level >= 2 or n_h1 > 1]
    if not shown:
        return ""
    top = min(h.level for h in shown)

    def link(h: Heading) -> str:
        return f'<a href="#{html.escape(h.anchor, quote=True)}">{html.escape(h.text)}</a>'

    items: list[str] = []
    children: list[str] = []

    def close_item() -> None:
        if items and children:
            items[-1] += '<ul class="toc-sub">' + "".join(children) + "</ul>"
        children.clear()

    for h in shown:
        if h.level == top:
            close_item()
            items.append(link(h))
        elif h.level == top + 1:
            if items:
                children.append(f"<li>{link(h)}</li>")
            else:
                items.append(link(h))
    close_item()
    body = "\n".join(f"<li>{item}</li>" for item in items)
    return f'<nav class="toc" aria-label="Sommaire"><h2>Sommaire</h2><ol>\n{body}\n</ol></nav>'


def build_page(
    body: str,
    *,
    title: str,
    meta: list[str] | None = None,
    banner: str | None = None,
    crumbs: str | None = None,
    bundle: BundleMode = "none",
    asset_href: str = VEGA_ASSET,
    toc: bool = True,
) -> str:
    """Wrap an HTML fragment in a complete offline page.

    ``crumbs`` is trusted HTML (e.g. a link back to the index); ``title``, ``meta`` and
    ``banner`` are text. ``bundle``: ``asset`` references ``asset_href``, ``inline`` embeds the
    bundle, ``none`` adds no chart script (use it only for pages without charts).
    """
    headings = collect_headings(body)
    has_h1 = any(h.level == 1 for h in headings)
    head_script = ""
    tail_script = ""
    if bundle == "asset":
        head_script = f'<script src="{html.escape(asset_href, quote=True)}"></script>'
    elif bundle == "inline":
        head_script = f"<script>{get_vega_bundle()}</script>"
    if bundle != "none":
        tail_script = f"<script>{CHART_SCRIPT}</script>"
    header = ['<header class="report-header">']
    if crumbs:
        header.append(f'<p class="crumbs no-print">{crumbs}</p>')
    if banner:
        header.append(f'<p class="banner" role="note">{html.escape(banner)}</p>')
    if not has_h1:
        header.append(f"<h1>{html.escape(title)}</h1>")
    header.extend(f'<p class="meta">{html.escape(line)}</p>' for line in meta or [])
    header.append("</header>")
    nav = render_toc(headings) if toc else ""
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
{head_script}
</head>
<body>
<div class="page">
{"".join(header)}
<div class="layout">
{nav}
<main>
{body}
</main>
</div>
</div>
{tail_script}
</body>
</html>
"""


def page_has_charts(body: str) -> bool:
    """Whether an HTML fragment holds chart containers from :mod:`analyse.report.display`."""
    return f'class="{SPEC_CLASS}"' in body


def write_report_html(
    nb: nbformat.NotebookNode,
    dest: Path,
    *,
    title: str,
    run_dir: Path | None = None,
    self_contained: bool = False,
    meta: list[str] | None = None,
    banner: str | None = None,
    index_href: str | None = None,
) -> int:
    """Export an executed notebook to ``dest`` (atomically); return the page size in bytes.

    Charts use ``<run_dir>/assets/vega-bundle.js`` through a relative path (written by the
    caller with :func:`write_vega_asset`), or an inlined bundle when ``self_contained`` or when
    ``run_dir`` is None.
    """
    body = export_body(nb)
    if banner and NOTEBOOK_BANNER_CLASS in body:
        banner = None  # the notebook shows its own synthetic-data banner
    bundle: BundleMode = "none"
    asset_href = VEGA_ASSET
    if page_has_charts(body):
        if self_contained or run_dir is None:
            bundle = "inline"
        else:
            bundle = "asset"
            asset_href = os.path.relpath(run_dir / VEGA_ASSET, dest.parent).replace(os.sep, "/")
    crumbs = None
    if index_href:
        crumbs = f'<a href="{html.escape(index_href, quote=True)}">← Tous les rapports</a>'
    page = build_page(
        body,
        title=title,
        meta=meta,
        banner=banner,
        crumbs=crumbs,
        bundle=bundle,
        asset_href=asset_href,
    )
    return write_text_atomic(dest, page)
