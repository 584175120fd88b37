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
#: Class of the breadcrumb a notebook may display (analyse.review.page): the page then adds no
#: link of its own back to the index.
BREADCRUMB_CLASS = "analyse-breadcrumb"

#: Cells with one of these tags are left out of the reviewer's page.
REMOVE_CELL_TAGS = frozenset({"parameters", "injected-parameters", "remove_cell", "remove-cell"})
#: Cells with one of these tags keep their input hidden and their output removed.
REMOVE_OUTPUT_TAGS = frozenset({"remove_output", "remove-output"})

BundleMode = Literal["asset", "inline", "none"]


STYLE = """
:root { --ink: #1d2630; --muted: #4f5a64; --rule: #d8dde2; --accent: #1f5f99;
        --ok: #1e6b2f; --bad: #a8231b; --warn-bg: #feecec; --warn-ink: #161616;
        --warn-rule: #e1000f; }
* { box-sizing: border-box; }
html { font-size: 16px; }
body { margin: 0; color: var(--ink); background: #fff; line-height: 1.5;
       font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       "Noto Sans", "Liberation Sans", sans-serif; }
a { color: var(--accent); }
.skip-link { position: absolute; left: -999rem; }
.skip-link:focus { left: 1rem; top: .5rem; background: #fff; padding: .25rem .5rem; z-index: 10; }
.page { max-width: 78rem; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
.report-header { margin-bottom: .75rem; }
.report-header .crumbs { font-size: .9rem; margin: 0 0 .25rem; }
.meta { color: var(--muted); font-size: .9rem; margin: -.5rem 0 1.25rem; }
.banner { border: 4px solid var(--warn-rule); background: var(--warn-bg); color: var(--warn-ink);
          padding: .75rem 1.25rem; margin: .5rem 0 1rem; }
.layout { display: block; }
nav.toc { font-size: .92rem; border: 1px solid var(--rule); border-radius: 4px;
          padding: .5rem .9rem; margin-bottom: 1.5rem; background: #f7f9fa; }
nav.toc h2 { font-size: 1rem; margin: .2rem 0 .4rem; }
nav.toc ol { margin: 0; padding-left: 1.2rem; }
nav.toc ul.toc-sub { margin: .1rem 0 .2rem; padding-left: 1rem; font-size: .88rem;
                    list-style-type: circle; }
@media (min-width: 70rem) {
  .layout { display: grid; grid-template-columns: 15rem minmax(0, 1fr); gap: 2rem; }
  .layout.no-toc { display: block; }
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
caption { text-align: left; font-weight: 700; padding: .25rem 0; }
th, td { border-bottom: 1px solid var(--rule); padding: .3rem .6rem; text-align: left;
         vertical-align: top; }
th.num, td.num { text-align: right; }
thead th { border-bottom: 2px solid var(--ink); }
tbody tr:nth-child(even) { background: #fafbfc; }
figure { margin: 1rem 0; }
figcaption { font-size: .85rem; color: #3a3a3a; }
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
  @page { size: A4; margin: __MARGINS__; }
  html { font-size: 10pt; }
  body { line-height: 1.35; }
  .page { max-width: none; padding: 0; }
  .layout { display: block; }
  nav.toc, .skip-link, .anchor-link, .no-print, .crumbs, .analyse-breadcrumb { display: none !important; }
  a { color: inherit; text-decoration: none; }
  main p, main li { max-width: none; }
  h1, h2, h3, h4, caption, .analyse-figure-title { break-after: avoid; break-inside: avoid; }
  .output_html, .output_png, .output_svg, .output_markdown { overflow: visible; }
  .analyse-chart, .vega-embed, img, svg, figcaption, .analyse-figure-notes,
  .analyse-key-messages, tr { break-inside: avoid; }
  .analyse-chart { max-width: 100%; }
  .vega-embed { display: block !important; max-width: 100%; }
  .vega-embed svg { width: auto; max-width: 100%; height: auto; }
  table { width: 100%; font-size: 8.5pt; break-inside: auto; }
  thead { display: table-header-group; }
  th, td { padding: .15rem .3rem; overflow-wrap: anywhere; }
  th.num, td.num { overflow-wrap: normal; white-space: nowrap; }
  .analyse-table-wide table { font-size: 7.5pt; }
  .analyse-table-wide th, .analyse-table-wide td { padding: .1rem .2rem; }
  .analyse-table-wide th.num, .analyse-table-wide td.num { white-space: normal; }
  tbody tr:nth-child(even) { background: none; }
  pre { white-space: pre-wrap; overflow-wrap: anywhere; overflow: visible; }
  .banner, .analyse-synthetic-banner { border-width: 2px !important; break-inside: avoid; }
}
"""


#: Printed page: A4 portrait with these margins (mm): top, sides, bottom. The title and banner
#: print in the top margin (CSS page-margin boxes), the page number in the bottom one.
PAGE_SIZE_MM = (210, 297)
PAGE_MARGINS_MM = (20, 12, 15)
STYLE = STYLE.replace("__MARGINS__", " ".join(f"{m}mm" for m in PAGE_MARGINS_MM))


def printable_width_px() -> float:
    """Width of a printed page's content box in CSS pixels (96 per inch)."""
    return (PAGE_SIZE_MM[0] - 2 * PAGE_MARGINS_MM[1]) / 25.4 * 96


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


_H1 = re.compile(r"<h1\b[^>]*>(.*?)</h1\s*>", re.S | re.I)
_ANCHOR = re.compile(r"<a\b[^>]*\banchor-link\b[^>]*>.*?</a\s*>", re.S | re.I)
_TAG = re.compile(r"<[^>]*>")
#: Characters kept as they are in a CSS string (everything else is escaped as ``\hex ``).
_CSS_SAFE = frozenset(" .,:;!?'()-–—«»/%€+=_")
#: Name of the site, added to a page's ``<title>`` when its heading does not say it.
SITE_NAME = "Territoires d'industrie : revue à trois ans"


def first_h1(body: str) -> tuple[str | None, int]:
    """Text of the body's first ``<h1>`` (any, with or without id) and the offset just after it
    (-1 when there is none)."""
    match = _H1.search(body)
    if match is None:
        return None, -1
    text = html.unescape(_TAG.sub("", _ANCHOR.sub("", match.group(1))))
    return " ".join(text.split()) or None, match.end()


def css_string(text: str) -> str:
    """``text`` as a double-quoted CSS string that nothing can break out of (quotes, backslashes,
    ``<`` and line breaks are written as hexadecimal escapes)."""
    out = []
    for char in text:
        if char.isalnum() or char in _CSS_SAFE:
            out.append(char)
        else:
            out.append(f"\\{ord(char):x} ")
    return '"' + "".join(out) + '"'


def print_style(title: str, banner: str | None) -> str:
    """The page's running header and footer in print (CSS page-margin boxes): the title on the
    left and the data banner on the right of every printed page, the page number below."""
    boxes = [
        f"@top-left {{ content: {css_string(title)}; font: 7.5pt/1.25 sans-serif; color: #333;"
        " vertical-align: bottom; padding-bottom: 2mm; width: 45%; }",
        '@bottom-right { content: "Page " counter(page) " sur " counter(pages);'
        " font: 7.5pt sans-serif; color: #333; }",
    ]
    if banner:
        boxes.append(
            f"@top-right {{ content: {css_string(banner)}; font: 700 7.5pt/1.25 sans-serif;"
            " color: #a8000c; vertical-align: bottom; text-align: right; padding-bottom: 2mm;"
            " width: 55%; }"
        )
    return "@media print { @page { " + " ".join(boxes) + " } }"


def _page_title(title: str, heading: str | None) -> str:
    """The ``<title>``: the page's own heading when it has one (with the site's name when the
    heading does not say it), else ``title``."""
    if not heading:
        return title
    return heading if "Territoires d'industrie" in heading else f"{heading} — {SITE_NAME}"


def build_page(
    body: str,
    *,
    title: str,
    meta: list[str] | None = None,
    banner: str | None = None,
    print_banner: str | None = None,
    crumbs: str | None = None,
    bundle: BundleMode = "none",
    asset_href: str = VEGA_ASSET,
    toc: bool = True,
    head_extra: str = "",
) -> str:
    """Wrap an HTML fragment in a complete offline page.

    ``crumbs`` and ``head_extra`` are trusted HTML; ``title``, ``meta``, ``banner`` and
    ``print_banner`` are text. The body's own ``<h1>`` (a notebook's title) is the page's title
    when there is one (the meta line goes just under it), else ``title`` is shown as the
    ``<h1>``. ``banner`` is shown at the top of the page; ``print_banner`` (default ``banner``)
    is repeated in the margin of every printed page. ``bundle``: ``asset`` references
    ``asset_href``, ``inline`` embeds the bundle, ``none`` adds no chart script (use it only for
    pages without charts).
    """
    heading, after_h1 = first_h1(body)
    meta_html = "".join(f'<p class="meta">{html.escape(line)}</p>' for line in meta or [])
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
        header.append(f'<nav class="crumbs" aria-label="Retour">{crumbs}</nav>')
    if banner:
        header.append(f'<p class="banner" role="note">{html.escape(banner)}</p>')
    if heading is None:
        header.append(f"<h1>{html.escape(title)}</h1>{meta_html}")
    else:
        body = body[:after_h1] + meta_html + body[after_h1:]
    header.append("</header>")
    if len(header) == 2:  # nothing of its own: the notebook shows banner, trail and title
        header = []
    nav = render_toc(collect_headings(body)) if toc else ""
    running = print_style(heading or title, print_banner or banner)
    return f"""<!DOCTYPE html>
<html lang="fr">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(_page_title(title, heading))}</title>
<style>{STYLE}</style>
<style>{running}</style>
{head_extra}{head_script}
</head>
<body>
<a class="skip-link" href="#contenu">Aller au contenu</a>
<div class="page">
{"".join(header)}
<div class="layout{"" if nav else " no-toc"}">
{nav}
<main id="contenu">
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
    bundle: BundleMode = "none"
    asset_href = VEGA_ASSET
    if page_has_charts(body):
        if self_contained or run_dir is None:
            bundle = "inline"
        else:
            bundle = "asset"
            asset_href = os.path.relpath(run_dir / VEGA_ASSET, dest.parent).replace(os.sep, "/")
    print_banner = banner
    if banner and NOTEBOOK_BANNER_CLASS in body:
        banner = None  # the notebook shows its own banner; the print margin still repeats it
    crumbs = None
    if index_href and BREADCRUMB_CLASS not in body:
        crumbs = f'<a href="{html.escape(index_href, quote=True)}">← Catalogue des rapports</a>'
    page = build_page(
        body,
        title=title,
        meta=meta,
        banner=banner,
        print_banner=print_banner,
        crumbs=crumbs,
        bundle=bundle,
        asset_href=asset_href,
    )
    return write_text_atomic(dest, page)
