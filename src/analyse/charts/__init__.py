"""Altair chart layer: the ``analyse_dsfr`` theme (DSFR palette, French number and date
formats) and pure chart builders for the reports.

Theme. ``import analyse.charts`` registers the theme :data:`THEME_NAME` (``"analyse_dsfr"``)
with ``alt.theme.register``; a notebook enables it once with :func:`enable_theme` (or
``alt.theme.enable("analyse_dsfr")``). Every chart's ``to_dict()`` then carries the theme's
``config``, including ``config.locale`` (Vega-Lite 5+/6 ``Config.locale``: a d3 number
locale and a d3 time locale). Vega reads ``config.locale`` at parse time, so axis numbers and
dates come out French (``1 250,5``, ``−3``, ``novembre 2018``) in every renderer that runs the
spec: JupyterLab's Vega renderer, vega-embed in the offline HTML reports and ``vl_convert``
(SVG/PNG). :data:`VEGA_EMBED_OPTIONS` carries the same locales as vega-embed's
``formatLocale`` / ``timeFormatLocale`` options, for an embedding page that wants them
globally (``vegaEmbed(el, spec, VEGA_EMBED_OPTIONS)``); :func:`enable_theme` also sets them
as Altair's embed options. :func:`chart_to_svg` renders offline with ``vl_convert``
(static fallback, tests). Labels drawn as text (values, tooltips) are formatted in Python
with :mod:`analyse.formatting`, so they do not depend on the renderer at all.

Builders. Each ``chart_*`` function takes a small, tidy, already aggregated Polars frame
(fewer than :data:`MAX_ROWS` rows), reshapes it for display only (sorting, labels, French
strings) and returns an Altair chart carrying its title, its one-line reading
(``Lecture : ...``) and its source line (``Source : ...``) as title and subtitle. Frames
with ``is_synthetic`` true get a visible "données synthétiques" line. Nothing here computes
a figure: estimates, intervals and secrecy masks come from :mod:`analyse.estimate`.
Key messages never rely on colour alone: highlighted items also change shape and carry a
text label; lines also differ by dash and carry end labels; masked cells read ``s``.
"""

from __future__ import annotations

from analyse.charts.estimates import chart_event_study, chart_leverage_bars, chart_ranked_dots
from analyse.charts.explorer import chart_linked_explorer
from analyse.charts.maps import (
    OVERSEAS_ORDER,
    chart_territory_map,
    read_outlines,
    rewind_geometry,
)
from analyse.charts.theme import (
    BLUE_FRANCE,
    CATEGORY_PALETTE,
    FONT,
    FR_NUMBER_LOCALE,
    FR_TIME_LOCALE,
    LINE_STYLES,
    MAP_RAMP,
    MAX_ROWS,
    RED_MARIANNE,
    THEME_NAME,
    VEGA_EMBED_OPTIONS,
    chart_to_dict,
    chart_to_svg,
    enable_theme,
    theme_analyse_dsfr,
)
from analyse.charts.timelines import chart_timeline, chart_unemployment_trend, scope_role

__all__ = [
    "BLUE_FRANCE",
    "CATEGORY_PALETTE",
    "FONT",
    "FR_NUMBER_LOCALE",
    "FR_TIME_LOCALE",
    "LINE_STYLES",
    "MAP_RAMP",
    "MAX_ROWS",
    "OVERSEAS_ORDER",
    "RED_MARIANNE",
    "THEME_NAME",
    "VEGA_EMBED_OPTIONS",
    "chart_event_study",
    "chart_leverage_bars",
    "chart_linked_explorer",
    "chart_ranked_dots",
    "chart_territory_map",
    "chart_timeline",
    "chart_to_dict",
    "chart_to_svg",
    "chart_unemployment_trend",
    "enable_theme",
    "read_outlines",
    "rewind_geometry",
    "scope_role",
    "theme_analyse_dsfr",
]
