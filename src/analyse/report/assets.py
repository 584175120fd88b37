"""What the chart outputs of the notebooks and the published pages share: the container
classes, the script drawing every chart, and the vega / vega-lite / vega-embed bundle.

Imported by both :mod:`analyse.report.display` (notebook side, kept light: no nbconvert) and
:mod:`analyse.report.html` (page side), so neither imports the other.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from pathlib import Path

from analyse.files import write_text_atomic

#: Environment variable set by the report runner in its workers (inherited by the kernels).
BATCH_ENV = "ANALYSE_REPORT_BATCH"
#: CSS class of every chart container (the HTML export and the browser check look for it).
CHART_CLASS = "analyse-chart"
#: CSS class of the ``<script type="application/json">`` holding a chart's spec.
SPEC_CLASS = "analyse-chart-spec"
#: Shared bundle, relative to a run folder.
VEGA_ASSET = "assets/vega-bundle.js"


#: Draws every chart container of the page with the bundle's global ``vegaEmbed``.
CHART_SCRIPT = """
(function () {
  "use strict";
  function fail(el, message) {
    el.setAttribute("data-chart-error", message);
    el.innerHTML = "";
    var p = document.createElement("p");
    p.className = "chart-error";
    p.textContent = "Graphique indisponible : " + message;
    el.appendChild(p);
    console.error("analyse chart " + el.id + ": " + message);
  }
  // French number and date formats for axes, legends and tooltips (d3-format/d3-time-format)
  var FORMAT_FR = {decimal: ",", thousands: "\u202f", grouping: [3], currency: ["", "\u00a0€"],
                   minus: "\u2212", percent: "\u202f%"};
  var TIME_FR = {dateTime: "%A %e %B %Y à %X", date: "%d/%m/%Y", time: "%H:%M:%S",
                 periods: ["", ""],
                 days: ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
                 shortDays: ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
                 months: ["janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
                          "septembre", "octobre", "novembre", "décembre"],
                 shortMonths: ["janv.", "févr.", "mars", "avr.", "mai", "juin", "juil.", "août",
                               "sept.", "oct.", "nov.", "déc."]};
  function drawAll() {
    var charts = document.querySelectorAll("div.__CHART__");
    for (var i = 0; i < charts.length; i++) {
      (function (el) {
        var source = document.getElementById(el.id + "-spec");
        if (!source) { fail(el, "spécification absente"); return; }
        if (typeof window.vegaEmbed !== "function") {
          fail(el, "bibliothèque vega absente de la page"); return;
        }
        var spec, options;
        try {
          spec = JSON.parse(source.textContent);
          options = JSON.parse(el.getAttribute("data-embed-options") || "{}");
        } catch (err) { fail(el, "spécification illisible (" + err + ")"); return; }
        if (options.actions === undefined) { options.actions = false; }
        if (options.renderer === undefined) { options.renderer = "svg"; }
        if (options.formatLocale === undefined) { options.formatLocale = FORMAT_FR; }
        if (options.timeFormatLocale === undefined) { options.timeFormatLocale = TIME_FR; }
        el.innerHTML = "";
        window.vegaEmbed(el, spec, options).then(function () {
          // vega-embed makes the container a "graphics-document": keep it one image named by
          // its label (the data table after it gives the values)
          el.setAttribute("role", "img");
          el.removeAttribute("aria-roledescription");
          var drawn = el.querySelectorAll("svg, canvas");
          for (var j = 0; j < drawn.length; j++) { drawn[j].setAttribute("aria-hidden", "true"); }
          el.setAttribute("data-rendered", "true");
        }).catch(function (err) { fail(el, String(err)); });
      })(charts[i]);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else { drawAll(); }
})();
""".replace("__CHART__", CHART_CLASS)


def _bundle_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "analyse"


@functools.cache
def get_vega_bundle() -> str:
    """vega + vega-lite + vega-embed (from vl-convert), wrapped so its top-level names stay
    private (classic scripts share one global scope); it sets ``window.vegaEmbed``.

    vl-convert builds the bundle in a few seconds; it is kept in ``~/.cache/analyse`` (or
    ``$XDG_CACHE_HOME/analyse``) per vl-convert and Vega-Lite version.
    """
    import altair as alt
    import vl_convert as vlc

    wanted = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    available = vlc.get_vegalite_versions()
    vl_version = wanted if wanted in available else available[-1]
    cached = _bundle_cache_dir() / f"vega-bundle-{vlc.__version__}-vl{vl_version}.js"
    with contextlib.suppress(OSError):
        return cached.read_text(encoding="utf-8")
    bundle = vlc.javascript_bundle(vl_version=vl_version)
    if re.search(r"</script", bundle, re.IGNORECASE):  # pragma: no cover - defensive
        bundle = re.sub(r"</(script)", r"<\\/\1", bundle, flags=re.IGNORECASE)
    text = (
        f"/* vega, vega-lite {vl_version}, vega-embed via vl-convert {vlc.__version__} */\n"
        f"(function () {{\n{bundle}\n}})();\n"
    )
    with contextlib.suppress(OSError):
        write_text_atomic(cached, text)
    return text


def write_vega_asset(run_dir: Path) -> Path:
    """Write the shared chart bundle to ``<run_dir>/assets/vega-bundle.js`` (atomically)."""
    path = run_dir / VEGA_ASSET
    write_text_atomic(path, get_vega_bundle())
    return path
