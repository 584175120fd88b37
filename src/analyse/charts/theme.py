"""The ``analyse_dsfr`` theme: DSFR palette, Marianne font stack, French d3 locales."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

import altair as alt

from analyse.formatting import MINUS, MONTHS_FR, NBSP, NNBSP, NOT_AVAILABLE

# --------------------------------------------------------------------------- palette

#: DSFR "bleu France" (blue-france-sun-113): main colour, single-series marks.
BLUE_FRANCE = "#000091"
#: DSFR "rouge Marianne" (red-marianne-main-472): highlight of the key item.
RED_MARIANNE = "#E1000F"
#: DSFR blue-france-main-525, lighter blue for bars under dark error bars.
BLUE_FRANCE_MAIN = "#6A6AF4"
#: DSFR blue-france-850 / 925, light tints for areas and map fills.
BLUE_FRANCE_850 = "#CACAFB"
BLUE_FRANCE_925 = "#E3E3FD"
#: DSFR text greys (grey-50-1000 and grey-200-850) and border grey.
TEXT = "#161616"
TEXT_MENTION = "#3A3A3A"
GREY_MID = "#666666"
GREY_BORDER = "#DDDDDD"

#: Categorical palette: bleu France, then DSFR illustrative colours (``*-main-*`` tokens),
#: ordered from the darkest (best contrast on white and in grey print) to the lightest.
CATEGORY_PALETTE: list[str] = [
    BLUE_FRANCE,
    "#465F9D",  # blue-ecume-main-400
    "#009081",  # green-menthe-main-548
    "#CE614A",  # pink-tuile-main-556
    "#A558A0",  # purple-glycine-main-494
    "#417DC4",  # blue-cumulus-main-526
    "#68A532",  # green-bourgeon-main-640
    "#E4794A",  # orange-terre-battue-main-645
    "#C08C65",  # brown-caramel-main-648
    "#C3992A",  # yellow-moutarde-main-679
    "#009099",  # green-archipel-main-557
    "#BD987A",  # brown-opera-main-680
]
#: Sequential ramp (light to dark bleu France) for quantities on maps.
SEQUENTIAL_BLUE: list[str] = [BLUE_FRANCE_925, "#8585F6", BLUE_FRANCE]
#: Choropleth ramp: starts at blue-france-850 so the lowest class stays visible on white.
MAP_RAMP: list[str] = [BLUE_FRANCE_850, BLUE_FRANCE_MAIN, BLUE_FRANCE]
#: Diverging ramp: rouge Marianne - neutral - bleu France.
DIVERGING: list[str] = [RED_MARIANNE, "#F6F6F6", BLUE_FRANCE]
#: Dash patterns paired with series, so lines differ without colour.
DASHES: list[list[int]] = [[1, 0], [6, 3], [2, 2], [8, 3, 2, 3]]

# --------------------------------------------------------------------------- line styles

#: One line style per meaning, the same on every page and in every line chart: the territory
#: studied is solid rouge Marianne, its région dashed bleu France, France dotted grey; the
#: legend and end labels use ``label``. Keys are the meanings charts accept (``roles``).
LINE_STYLES: dict[str, dict[str, Any]] = {
    "territoire": {"label": "Territoire", "color": RED_MARIANNE, "dash": [1, 0], "width": 2.5},
    "region": {"label": "Région", "color": BLUE_FRANCE, "dash": [7, 3], "width": 2},
    "france": {"label": "France", "color": GREY_MID, "dash": [2, 2], "width": 2},
}
#: Styles of series with no reserved meaning (other zones compared), in order: colours and
#: dashes that no meaning above uses.
OTHER_LINE_STYLES: list[dict[str, Any]] = [
    {"color": color, "dash": dash, "width": 2}
    for color, dash in zip(
        ["#009081", "#A558A0", "#C3992A", "#465F9D", "#E4794A", "#68A532"],
        [[1, 0], [8, 3, 2, 3], [4, 2], [1, 0], [8, 3, 2, 3], [4, 2]],
        strict=True,
    )
]
#: A dated event on a time axis (e.g. the labellisation): dark dash-dot vertical rule.
EVENT_LINE: dict[str, Any] = {"color": TEXT, "dash": [8, 3, 2, 3], "width": 1.2}


def line_role(label: str) -> str | None:
    """The meaning (key of :data:`LINE_STYLES`) whose label is ``label``, ignoring case and
    accents ("Région", "region", "FRANCE"), else None."""

    def norm(text: str) -> str:
        decomposed = unicodedata.normalize("NFKD", text.strip().lower())
        return "".join(c for c in decomposed if not unicodedata.combining(c))

    wanted = norm(label)
    return next((k for k, s in LINE_STYLES.items() if norm(s["label"]) == wanted), None)


#: Marianne (the State's typeface) when installed, else common fallbacks.
FONT = "Marianne, Arial, sans-serif"

# --------------------------------------------------------------------------- locale

#: d3-format locale (French): comma decimal, narrow no-break space thousands, minus sign,
#: no-break space before € and % (same convention as :mod:`analyse.formatting`).
FR_NUMBER_LOCALE: dict[str, Any] = {
    "decimal": ",",
    "thousands": NNBSP,
    "grouping": [3],
    "currency": ["", f"{NBSP}€"],
    "minus": MINUS,
    "percent": f"{NBSP}%",
    "nan": NOT_AVAILABLE,
}
#: d3-time-format locale (French).
FR_TIME_LOCALE: dict[str, Any] = {
    "dateTime": "%A %e %B %Y à %X",
    "date": "%d/%m/%Y",
    "time": "%H:%M:%S",
    "periods": ["AM", "PM"],
    "days": ["dimanche", "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi"],
    "shortDays": ["dim.", "lun.", "mar.", "mer.", "jeu.", "ven.", "sam."],
    "months": list(MONTHS_FR),
    "shortMonths": [
        "janv.",
        "févr.",
        "mars",
        "avr.",
        "mai",
        "juin",
        "juil.",
        "août",
        "sept.",
        "oct.",
        "nov.",
        "déc.",
    ],
}

#: vega-embed options for report pages: French locales, no action menu.
VEGA_EMBED_OPTIONS: dict[str, Any] = {
    "formatLocale": FR_NUMBER_LOCALE,
    "timeFormatLocale": FR_TIME_LOCALE,
    "actions": False,
    "renderer": "svg",
}

#: Vega expression for euro axis labels in French scales (``500 k€``, ``1,5 M€``, ``2 Md€``);
#: ``format`` follows ``config.locale``.
EUR_LABEL_EXPR = (
    "abs(datum.value) >= 1e9 ? format(datum.value / 1e9, ',.3~f') + '\u00a0Md€'"
    " : abs(datum.value) >= 1e6 ? format(datum.value / 1e6, ',.3~f') + '\u00a0M€'"
    " : abs(datum.value) >= 1e4 ? format(datum.value / 1e3, ',.3~f') + '\u00a0k€'"
    " : format(datum.value, ',.0f') + '\u00a0€'"
)

#: Largest frame a builder accepts: charts get aggregated data, never raw rows.
MAX_ROWS = 5000

THEME_NAME = "analyse_dsfr"

# --------------------------------------------------------------------------- theme


@alt.theme.register(THEME_NAME, enable=False)
def theme_analyse_dsfr() -> alt.theme.ThemeConfig:
    """The ``analyse_dsfr`` theme: DSFR colours, Marianne font stack, French locale."""
    axis = {
        "labelColor": TEXT,
        "titleColor": TEXT,
        "labelFont": FONT,
        "titleFont": FONT,
        "labelFontSize": 11,
        "titleFontSize": 12,
        "titleFontWeight": "normal",
        "gridColor": GREY_BORDER,
        "domainColor": GREY_MID,
        "tickColor": GREY_MID,
    }
    return {
        "config": {
            "locale": {"number": FR_NUMBER_LOCALE, "time": FR_TIME_LOCALE},
            "font": FONT,
            "background": "#FFFFFF",
            "padding": 8,
            "view": {"stroke": None, "continuousWidth": 560, "continuousHeight": 300},
            "title": {
                "anchor": "start",
                "font": FONT,
                "fontSize": 16,
                "fontWeight": "bold",
                "color": TEXT,
                "subtitleFont": FONT,
                "subtitleFontSize": 12,
                "subtitleColor": TEXT_MENTION,
                "subtitlePadding": 6,
                "offset": 14,
            },
            "axis": axis,
            "axisX": {"labelAngle": 0},
            "axisBand": {"grid": False, "domain": False, "ticks": False},
            "legend": {
                "labelFont": FONT,
                "titleFont": FONT,
                "labelColor": TEXT,
                "titleColor": TEXT,
                "labelFontSize": 11,
                "titleFontSize": 12,
                "titleFontWeight": "normal",
                "orient": "bottom",
            },
            "header": {"labelFont": FONT, "titleFont": FONT, "labelColor": TEXT},
            "range": {
                "category": CATEGORY_PALETTE,
                "ramp": SEQUENTIAL_BLUE,
                "heatmap": SEQUENTIAL_BLUE,
                "diverging": DIVERGING,
            },
            "mark": {"color": BLUE_FRANCE},
            "bar": {"color": BLUE_FRANCE},
            "line": {"color": BLUE_FRANCE, "strokeWidth": 2},
            "point": {"color": BLUE_FRANCE, "filled": True, "size": 60},
            "rule": {"color": TEXT},
            "text": {"font": FONT, "color": TEXT, "fontSize": 11},
            "geoshape": {"stroke": "#FFFFFF", "strokeWidth": 0.5},
        }
    }


def enable_theme() -> str:
    """Enable the ``analyse_dsfr`` theme and French vega-embed options; return its name.

    Call once per notebook (``from analyse.charts import enable_theme; enable_theme()``).
    """
    alt.theme.enable(THEME_NAME)
    alt.renderers.set_embed_options(
        format_locale=FR_NUMBER_LOCALE, time_format_locale=FR_TIME_LOCALE, actions=False
    )
    return THEME_NAME


def chart_to_dict(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """Return the Vega-Lite spec of ``chart`` with the ``analyse_dsfr`` theme applied."""
    with alt.theme.enable(THEME_NAME):
        return chart.to_dict()


def chart_to_svg(chart: alt.TopLevelMixin | Mapping[str, Any]) -> str:
    """Render a chart (or a Vega-Lite spec) to SVG offline with ``vl_convert``, French locale."""
    import vl_convert

    spec = dict(chart) if isinstance(chart, Mapping) else chart_to_dict(chart)
    return vl_convert.vegalite_to_svg(
        spec, format_locale=FR_NUMBER_LOCALE, time_format_locale=FR_TIME_LOCALE
    )
