"""Notebook-side chart display that survives papermill and opens offline.

Call :func:`enable_offline_charts` at the top of every report notebook::

    from analyse.report.display import enable_offline_charts

    enable_offline_charts()

Three modes:

* ``"html"`` (used automatically inside ``analyse report`` batches, which set the environment
  variable :data:`BATCH_ENV`): every Altair chart becomes a small ``text/html`` output holding a
  ``<div class="analyse-chart">`` container and the chart's Vega-Lite spec as inline JSON (no
  executable code, no network address). The HTML export of :mod:`analyse.report.html` adds the
  vega / vega-lite / vega-embed bundle once per page and one script that draws every container.
* ``"svg"`` (the default elsewhere, e.g. JupyterLab): Altair's static SVG renderer through
  vl-convert, which needs no network either.
* ``"interactive"`` (asked for explicitly, e.g. by ``notebooks/explore``): the ``html`` snippet
  plus the bundle and drawing script inline, so selections and linked views work in a live
  JupyterLab session with no network.

Why not Altair's defaults: the ``html`` renderer loads vega from a CDN, and the
``mimetype``/``jupyterlab`` renderer of Altair 6 emits ``application/vnd.vegalite.v6.json``,
which is not a valid nbformat mimebundle key for JSON data (only ``application/*+json`` is), so
papermill's output notebook fails validation.

The chart data stays embedded in the spec: aggregate before charting (Altair refuses more than
5,000 rows by default, and that limit is deliberately kept).
"""

from __future__ import annotations

import hashlib
import html
import itertools
import json
import os
from typing import Any, Literal

import altair as alt

from analyse.report.assets import (  # noqa: F401 - BATCH_ENV re-exported
    BATCH_ENV,
    CHART_CLASS,
    CHART_SCRIPT,
    SPEC_CLASS,
    get_vega_bundle,
)

#: Name under which the offline HTML renderer is registered in ``alt.renderers``.
RENDERER_NAME = "analyse-offline"

PLACEHOLDER = "Graphique interactif : il s'affiche dans le rapport HTML publié."

_counter = itertools.count(1)

Mode = Literal["auto", "html", "svg", "interactive"]


def dump_script_json(data: Any) -> str:
    """JSON safe to place inside a ``<script>`` element (``<``, ``>``, ``&`` escaped)."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def build_chart_html(spec: dict[str, Any], embed_options: dict[str, Any] | None = None) -> str:
    """The ``text/html`` snippet of one chart: an empty container plus its spec as JSON."""
    payload = dump_script_json(spec)
    digest = hashlib.sha1(payload.encode("utf-8")).hexdigest()[:10]
    chart_id = f"{CHART_CLASS}-{digest}-{next(_counter)}"
    options = html.escape(dump_script_json(embed_options or {}), quote=True)
    description = spec.get("description") or spec.get("title") or "graphique"
    if isinstance(description, dict):
        description = description.get("text", "graphique")
    if isinstance(description, list):
        description = " ".join(str(part) for part in description)
    label = html.escape(str(description), quote=True)
    return (
        f'<div class="{CHART_CLASS}" id="{chart_id}" role="img" aria-label="{label}" '
        f'data-embed-options="{options}">'
        f'<p class="analyse-chart-placeholder">{html.escape(PLACEHOLDER)}</p></div>\n'
        f'<script type="application/json" class="{SPEC_CLASS}" id="{chart_id}-spec">'
        f"{payload}</script>"
    )


def offline_html_renderer(spec: dict[str, Any], **metadata: Any) -> dict[str, str]:
    """Altair renderer: ``text/html`` chart snippet (+ ``text/plain``), nbformat-valid."""
    embed_options = metadata.get("embed_options")
    return {
        "text/html": build_chart_html(spec, embed_options),
        "text/plain": f"<Graphique Altair ({spec.get('$schema', 'vega-lite')})>",
    }


def interactive_html_renderer(spec: dict[str, Any], **metadata: Any) -> dict[str, str]:
    """Altair renderer for JupyterLab with no network: the chart snippet plus the vega bundle
    and the drawing script inline, so selections and linked views work in a live notebook.

    JupyterLab runs the scripts of outputs produced in the session (trusted); a reopened,
    untrusted notebook shows the placeholder until the cell is run again. Each output carries
    the bundle (about 1 MB): use it for the few interactive charts of an exploration notebook.
    """
    snippet = build_chart_html(spec, metadata.get("embed_options"))
    return {
        "text/html": f"{snippet}\n<script>{get_vega_bundle()}</script>\n<script>{CHART_SCRIPT}</script>",
        "text/plain": f"<Graphique Altair interactif ({spec.get('$schema', 'vega-lite')})>",
    }


INTERACTIVE_RENDERER_NAME = "analyse-interactive"


def resolve_mode(mode: Mode = "auto") -> Literal["html", "svg", "interactive"]:
    """``auto`` -> ``html`` inside an ``analyse report`` batch, else ``svg``."""
    if mode == "auto":
        return "html" if os.environ.get(BATCH_ENV) else "svg"
    if mode not in ("html", "svg", "interactive"):
        raise ValueError(f"mode must be 'auto', 'html', 'svg' or 'interactive', got {mode!r}")
    return mode


def enable_offline_charts(
    mode: Mode = "auto", *, embed_options: dict[str, Any] | None = None
) -> None:
    """Register and enable an Altair renderer that works with no network.

    ``mode``: ``auto`` (``html`` inside an ``analyse report`` batch, ``svg`` elsewhere),
    ``html``, ``svg`` or ``interactive`` (live JupyterLab selections, bundle inline); ``alt.renderers.active`` tells which one is on. ``embed_options``
    are passed to ``vegaEmbed`` in the published page (``actions`` is off and ``renderer`` is
    ``svg`` unless given). Returns nothing, so that calling it last in a cell prints nothing.
    """
    chosen = resolve_mode(mode)
    if RENDERER_NAME not in alt.renderers.names():
        alt.renderers.register(RENDERER_NAME, offline_html_renderer)
    if chosen == "html":
        alt.renderers.enable(RENDERER_NAME, embed_options=embed_options or {})
    elif chosen == "interactive":
        if INTERACTIVE_RENDERER_NAME not in alt.renderers.names():
            alt.renderers.register(INTERACTIVE_RENDERER_NAME, interactive_html_renderer)
        alt.renderers.enable(INTERACTIVE_RENDERER_NAME, embed_options=embed_options or {})
    else:
        alt.renderers.enable("svg")
